// Drift seen from the kernel's change notifications, not the timer: with the periodic resync
// off, a workload route or a chain jump deleted by hand, or a whole `iptables -F`, is put
// back by trellisd on its own, logged naming what changed and counted; no denied flow gets
// through meanwhile; trellisd's own writes are never taken for drift; /readyz says not
// ready while drift is outstanding. Also a foreign iptables-restore of the whole filter table
// followed by ipset destroy, and `ip route flush proto 78`.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { pino } from 'pino';
import { startAgent, type Agent } from '../../src/agent/index.js';
import { createAgentStatus, readinessOf } from '../../src/agent/status.js';
import { ROUTE_PROTO_WORKLOAD } from '../../src/calc/index.js';
import type { Resource } from '../../src/model/index.js';
import type { Store } from '../../src/store/index.js';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { createLab, HOST_UPLINK_IP, OUTSIDE_IP, tcp, waitServing, type Lab } from '../dataplane/_lab.js';
import { agentConfig, routesIn, storeFor, waitFor } from './helpers.js';

const IF = 'trlfd1';
const IP = '10.66.7.5';
const api = 'trellis.dev/v1';

let etcd: TestEtcd;
let store: Store;
let lab: Lab;
let agent: Agent;
const logs: Array<Record<string, unknown>> = [];

/** Long enough for a loaded two-core machine; the periodic resync is off, so only the watch can repair. */
const REPAIR_WAIT_MS = 5000;

const resources: Resource[] = [
  { apiVersion: api, kind: 'Namespace', metadata: { name: 'drift' }, spec: {} },
  { apiVersion: api, kind: 'Profile', metadata: { name: 'open' }, spec: { ingress: [{ action: 'Allow' }], egress: [{ action: 'Allow' }] } },
  {
    apiVersion: api, kind: 'NetworkPolicy', metadata: { name: 'deny-81', namespace: 'drift' },
    spec: { order: 1, selector: 'all()', types: ['Egress'], egress: [{ action: 'Deny', protocol: 'TCP', destination: { ports: [81] } }, { action: 'Pass' }] },
  },
  {
    apiVersion: api, kind: 'WorkloadEndpoint', metadata: { name: 'web', namespace: 'drift', labels: { app: 'web' } },
    spec: { node: 'fd', interfaceName: IF, ipNetworks: [`${IP}/32`], profiles: ['open'] },
  },
] as Resource[];

test.before(async () => {
  etcd = await startTestEtcd();
  store = storeFor(etcd.endpoints);
  lab = await createLab('fd', [{ iface: IF, ip: IP }]);
  await lab.outside.run(['ip', 'route', 'add', `${IP}/32`, 'via', HOST_UPLINK_IP]);
  lab.serve(lab.outside, 80);
  lab.serve(lab.outside, 81);
  for (const r of resources) await store.apply(r);
  const logger = pino({ level: 'info' }, { write: (s: string) => { logs.push(JSON.parse(s) as Record<string, unknown>); } });
  agent = await startAgent(await agentConfig('fd', etcd.endpoints), { netns: lab.host.name, logger, defaultMetrics: false });
  await agent.ready(20_000);
  await waitServing(lab.outside, '127.0.0.1', 81);
  await waitServing(web(), OUTSIDE_IP, 80);
});

test.after(async () => {
  await agent?.stop();
  await store?.close();
  await lab?.destroy();
  await etcd?.stop();
});

const web = () => lab.containers.get(IF)!;

async function metric(name: string, label = ''): Promise<number> {
  const text = await agent.metrics.registry.metrics();
  const m = new RegExp(`^${name}${label ? `\\{${label}\\}` : '(?:\\{[^}]*\\})?'} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

/** Probes the denied port until told to stop; returns what got through (must be nothing). */
function probeDenied(): { stop(): Promise<string[]> } {
  const through: string[] = [];
  let on = true;
  const loop = (async () => {
    while (on) {
      const r = await tcp(web(), OUTSIDE_IP, 81);
      if (r) through.push(r);
    }
  })();
  return { async stop() { on = false; await loop; return through; } };
}

const driftLogs = () => logs.filter((l) => l.msg === 'kernel changed behind trellisd; repairing');

test('a workload route deleted by hand is back without a resync, logged and counted', async () => {
  await agent.idle();
  const before = await metric('trellis_dataplane_drift_events_total', 'part="routes"');
  const started = Date.now();
  await lab.host.run(['ip', 'route', 'del', `${IP}/32`, 'dev', IF]);
  await waitFor('the route back', () => routesIn(lab.host.name, ROUTE_PROTO_WORKLOAD), (r) => r.includes(`${IP} dev ${IF}`), REPAIR_WAIT_MS);
  console.log(`  route repaired ${Date.now() - started} ms after its deletion`);
  assert.ok(await metric('trellis_dataplane_drift_events_total', 'part="routes"') > before, 'the drift is counted under part="routes"');
  const line = driftLogs().find((l) => JSON.stringify(l.changes).includes(`route ${IP}/32`));
  assert.ok(line, `a warning names the deleted route; drift logs: ${JSON.stringify(driftLogs())}`);
  assert.ok(await tcp(web(), OUTSIDE_IP, 80), 'the allowed flow works again');
  await waitFor('ready again', async () => agent.readiness().ready, (r) => r, REPAIR_WAIT_MS);
});

test('a deleted chain jump is back without a resync, and the denied port never answers meanwhile', async () => {
  await agent.idle();
  const probe = probeDenied();
  const started = Date.now();
  await lab.host.run(['iptables', '-D', 'FORWARD', '-j', 'trl-forward']);
  const save = () => lab.host.run(['iptables-save', '-t', 'filter']);
  await waitFor('the FORWARD jump back', save, (t) => t.includes('-A FORWARD -j trl-forward'), REPAIR_WAIT_MS);
  console.log(`  jump repaired ${Date.now() - started} ms after its deletion`);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(await probe.stop(), [], 'no connection to the denied port got through');
  assert.ok(await tcp(web(), OUTSIDE_IP, 80), 'the allowed flow works after the repair');
  const line = driftLogs().find((l) => /delete rule ip filter FORWARD .*by process \d+ \(iptables\)/.test(JSON.stringify(l.changes)));
  assert.ok(line, `a warning names the deleted rule and who deleted it; drift logs: ${JSON.stringify(driftLogs().map((l) => l.changes))}`);
});

test('iptables -F of every chain is repaired without a resync, closed meanwhile', async () => {
  await agent.idle();
  const probe = probeDenied();
  await lab.host.run(['iptables', '-F']);
  await waitFor('the denied rule back', () => lab.host.run(['iptables-save', '-t', 'filter']), (t) => t.includes('--dports 81 ') && t.includes('-A FORWARD -j trl-forward'), REPAIR_WAIT_MS);
  await waitFor('the allowed flow back', () => tcp(web(), OUTSIDE_IP, 80), (r) => r !== null, REPAIR_WAIT_MS);
  assert.equal(await probe.stop(), [], 'no connection to the denied port got through');
  assert.ok(await metric('trellis_dataplane_drift_repairs_total') >= 2, 'repairs are counted');
});

test('a foreign minimal iptables-restore, then ipset destroy, is repaired without a resync, closed meanwhile', async () => {
  await agent.idle();
  const probe = probeDenied();
  // The classic admin reload: a filter table of its own (iptables-restore without --noflush
  // replaces the whole table, Trellis's chains included), then every unused set destroyed.
  await lab.host.run(['sh', '-c', 'printf "*filter\\n:INPUT ACCEPT [0:0]\\n:FORWARD ACCEPT [0:0]\\n:OUTPUT ACCEPT [0:0]\\nCOMMIT\\n" | iptables-restore && (ipset destroy || true)']);
  await waitFor('the denied rule back', () => lab.host.run(['iptables-save', '-t', 'filter']), (t) => t.includes('--dports 81 ') && t.includes('-A FORWARD -j trl-forward'), REPAIR_WAIT_MS);
  await waitFor('the allowed flow back', () => tcp(web(), OUTSIDE_IP, 80), (r) => r !== null, REPAIR_WAIT_MS);
  assert.equal(await probe.stop(), [], 'no connection to the denied port got through');
  const line = driftLogs().find((l) => /by process \d+ \(iptables-restor/.test(JSON.stringify(l.changes)));
  assert.ok(line, `a warning names the reload and its process; drift logs: ${JSON.stringify(driftLogs().slice(-3).map((l) => l.changes))}`);
  await waitFor('ready again', async () => agent.readiness().ready, (r) => r, REPAIR_WAIT_MS);
});

test('ip route flush proto 78 is repaired without a resync', async () => {
  await agent.idle();
  const before = await metric('trellis_dataplane_drift_events_total', 'part="routes"');
  await lab.host.run(['ip', 'route', 'flush', 'proto', String(ROUTE_PROTO_WORKLOAD)]);
  await waitFor('the route back', () => routesIn(lab.host.name, ROUTE_PROTO_WORKLOAD), (r) => r.includes(`${IP} dev ${IF}`), REPAIR_WAIT_MS);
  await waitFor('the allowed flow back', () => tcp(web(), OUTSIDE_IP, 80), (r) => r !== null, REPAIR_WAIT_MS);
  assert.ok(await metric('trellis_dataplane_drift_events_total', 'part="routes"') > before, 'the flush is counted under part="routes"');
});

test("trellisd's own writes (a policy edit, an endpoint's route) are not drift", async () => {
  await agent.idle();
  await new Promise((r) => setTimeout(r, 200));
  const before = await metric('trellis_dataplane_drift_events_total', 'part="policy"') + await metric('trellis_dataplane_drift_events_total', 'part="routes"');
  const pol = resources[2]!;
  await store.apply({ ...pol, spec: { ...pol.spec, egress: [{ action: 'Deny', protocol: 'TCP', destination: { ports: [81, 82] } }, { action: 'Pass' }] } } as Resource);
  await waitFor('the edited rule', () => lab.host.run(['iptables-save', '-t', 'filter']), (t) => t.includes('81,82'), REPAIR_WAIT_MS);
  await store.apply(pol);
  await waitFor('the rule as before', () => lab.host.run(['iptables-save', '-t', 'filter']), (t) => !t.includes('81,82'), REPAIR_WAIT_MS);
  await agent.idle();
  await new Promise((r) => setTimeout(r, 300));
  const after = await metric('trellis_dataplane_drift_events_total', 'part="policy"') + await metric('trellis_dataplane_drift_events_total', 'part="routes"');
  assert.is(after, before, `our own writes counted as drift: ${JSON.stringify(driftLogs().slice(-3).map((l) => l.changes))}`);
});

test('/readyz is not ready while drift is outstanding, and ready once an apply begun after it succeeded', () => {
  const st = createAgentStatus();
  st.synced('1');
  st.programmed({ endpoints: [], policies: [], profiles: [], ipsets: [], routes: [] } as never, { rules: 0, sets: 0, routes: 0 });
  assert.ok(readinessOf(st.state, 0, null).ready, 'ready before any drift');
  const upTo = st.driftSeq;
  st.drifted(['route 10.0.0.1/32 dev x deleted']);
  const r = readinessOf(st.state, 0, null);
  assert.not.ok(r.ready, 'not ready with drift outstanding');
  assert.match(r.checks.dataplane!.detail, /kernel drift since .* not repaired yet: route 10\.0\.0\.1\/32 dev x deleted/);
  assert.equal(st.driftRepaired(upTo), [], 'an apply that began before the drift does not repair it');
  assert.not.ok(readinessOf(st.state, 0, null).ready, 'still not ready');
  assert.equal(st.driftRepaired(st.driftSeq), ['route 10.0.0.1/32 dev x deleted']);
  assert.ok(readinessOf(st.state, 0, null).ready, 'ready once repaired');
  assert.is(st.state.dataplane.drift.repaired, 1);
});

test.run();
