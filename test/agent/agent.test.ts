// The agent against a real etcd and a real kernel (in a namespace): changes reach the
// kernel, resync repairs drift and writes nothing otherwise, a store outage leaves the
// dataplane as it is, and a restart converges without removing what is live.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execa } from 'execa';
import { startAgent, type Agent } from '../../src/agent/index.js';
import { ROUTE_PROTO_WORKLOAD } from '../../src/calc/index.js';
import { silentLogger } from '../../src/log/index.js';
import type { Resource } from '../../src/model/index.js';
import type { Store } from '../../src/store/index.js';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { agentConfig, hostWithContainers, routesIn, storeFor, tenantResources, waitFor, workload } from './helpers.js';

let etcd: TestEtcd;
let store: Store;
let net: Awaited<ReturnType<typeof hostWithContainers>>;
let agent: Agent | null = null;

const IF1 = 'trlag1';
const IF2 = 'trlag2';

test.before(async () => {
  etcd = await startTestEtcd();
  store = storeFor(etcd.endpoints);
  net = await hostWithContainers('ag', [IF1, IF2]);
});

test.after(async () => {
  await agent?.stop();
  await store?.close();
  await net?.destroy();
  await etcd?.stop();
});

async function metric(a: Agent, name: string): Promise<number> {
  const text = await a.metrics.registry.metrics();
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

test('a workload endpoint written to etcd becomes a kernel route', async () => {
  for (const r of tenantResources()) await store.apply(r);
  await store.apply(workload('web-1', 'n1', IF1, '10.65.0.5'));
  agent = await startAgent(await agentConfig('n1', etcd.endpoints), { netns: net.host.name, logger: silentLogger(), defaultMetrics: false });
  await agent.ready(20_000);
  await waitFor('the route to web-1', () => routesIn(net.host.name, ROUTE_PROTO_WORKLOAD), (r) => r.includes(`10.65.0.5 dev ${IF1}`));
  const st = agent.status();
  assert.is(st.node, 'n1');
  assert.ok(st.endpoints.some((e) => e.id === 'WorkloadEndpoint/tenant-a/web-1' && e.local && e.tenant === 'a'), 'status lists web-1 as a local endpoint of tenant a');
  assert.ok(st.profiles.includes('Profile/tenant-a'), `profile in force: ${JSON.stringify(st.profiles)}`);
});

test('a second endpoint added and then deleted comes and goes', async () => {
  await store.apply(workload('web-2', 'n1', IF2, '10.65.0.6'));
  await waitFor('the route to web-2', () => routesIn(net.host.name, ROUTE_PROTO_WORKLOAD), (r) => r.includes(`10.65.0.6 dev ${IF2}`));
  await store.delete({ kind: 'WorkloadEndpoint', namespace: 'tenant-a', name: 'web-2' });
  const after = await waitFor('web-2 route removed', () => routesIn(net.host.name, ROUTE_PROTO_WORKLOAD), (r) => !r.some((x) => x.startsWith('10.65.0.6 ')));
  assert.ok(after.includes(`10.65.0.5 dev ${IF1}`), 'web-1 route untouched by deleting web-2');
});

test('a policy change reaches iptables', async () => {
  const pol = {
    apiVersion: 'trellis.dev/v1', kind: 'NetworkPolicy',
    metadata: { name: 'agent-test-deny', namespace: 'tenant-a' },
    spec: { selector: 'app == "web"', types: ['Ingress'], ingress: [{ action: 'Deny', protocol: 'TCP', destination: { ports: [4711] } }] },
  } as Resource;
  await store.apply(pol);
  const save = () => execa('ip', ['netns', 'exec', net.host.name, 'iptables-save', '-t', 'filter']).then((r) => String(r.stdout));
  await waitFor('the policy rule for port 4711', save, (t) => t.includes('4711'));
  await store.delete({ kind: 'NetworkPolicy', namespace: 'tenant-a', name: 'agent-test-deny' });
  await waitFor('the policy rule gone', save, (t) => !t.includes('4711'));
});

test('a resync repairs drift and counts no repair when nothing drifted', async () => {
  const a = agent!;
  await a.idle();
  const before = await metric(a, 'trellis_resync_repairs_total');
  await a.resync();
  assert.is(await metric(a, 'trellis_resync_repairs_total'), before, 'a resync with no drift wrote nothing');
  // Drift no kernel notification reports (the kernel watch repairs routes and rules by itself): a set emptied.
  const sets = async () => String((await execa('ip', ['netns', 'exec', net.host.name, 'ipset', 'save'])).stdout);
  const member = /^add (trl4-\S+) 10\.65\.0\.5$/m.exec(await sets());
  assert.ok(member, 'a set holds web-1');
  await execa('ip', ['netns', 'exec', net.host.name, 'ipset', 'flush', member[1]!]);
  await a.resync();
  assert.ok((await sets()).includes(`add ${member[1]!} 10.65.0.5`), 'resync put the set member back');
  assert.is(await metric(a, 'trellis_resync_repairs_total'), before + 1, 'the repair is counted');
});

test('etcd down: the dataplane stays as it is; back: changes flow again', async () => {
  const a = agent!;
  const routesBefore = await routesIn(net.host.name, ROUTE_PROTO_WORKLOAD);
  const rulesBefore = String((await execa('ip', ['netns', 'exec', net.host.name, 'iptables-save', '-t', 'filter'])).stdout).replace(/^#.*$/gm, '').replace(/\[\d+:\d+\]/g, '');
  const { clientPort, peerPort } = etcd.server.options;
  await etcd.server.stop();
  await a.resync();
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(await routesIn(net.host.name, ROUTE_PROTO_WORKLOAD), routesBefore, 'routes unchanged while etcd is down');
  const rulesDuring = String((await execa('ip', ['netns', 'exec', net.host.name, 'iptables-save', '-t', 'filter'])).stdout).replace(/^#.*$/gm, '').replace(/\[\d+:\d+\]/g, '');
  assert.is(rulesDuring, rulesBefore, 'iptables unchanged while etcd is down');
  void clientPort; void peerPort;
  await etcd.restart();
  await store.apply(workload('web-3', 'n1', IF2, '10.65.0.7'));
  await waitFor('the route to web-3 after etcd returned', () => routesIn(net.host.name, ROUTE_PROTO_WORKLOAD), (r) => r.includes(`10.65.0.7 dev ${IF2}`), 20_000);
});

test('a restart with etcd down removes nothing, and converges when etcd returns', async () => {
  const cfg = agent!.config;
  await agent!.stop();
  agent = null;
  const live = await routesIn(net.host.name, ROUTE_PROTO_WORKLOAD);
  assert.ok(live.length >= 2, `routes survive a stop: ${JSON.stringify(live)}`);
  await etcd.server.stop();
  agent = await startAgent(cfg, { netns: net.host.name, logger: silentLogger(), defaultMetrics: false });
  await new Promise((r) => setTimeout(r, 1000));
  assert.not.ok(agent.readiness().ready, 'not ready without a snapshot');
  assert.equal(await routesIn(net.host.name, ROUTE_PROTO_WORKLOAD), live, 'nothing removed before the first snapshot');
  await etcd.restart();
  await agent.ready(20_000);
  await store.delete({ kind: 'WorkloadEndpoint', namespace: 'tenant-a', name: 'web-3' });
  await waitFor('web-3 removed after the restart', () => routesIn(net.host.name, ROUTE_PROTO_WORKLOAD), (r) => !r.some((x) => x.startsWith('10.65.0.7 ')), 10_000);
});

test('a failing apply is retried with backoff, reported in /status and metrics, then recovers', async () => {
  const { realParts } = await import('../../src/agent/wiring.js');
  let failures = 3;
  const a = await startAgent(await agentConfig('n1', etcd.endpoints), {
    netns: net.host.name, logger: silentLogger(), defaultMetrics: false,
    parts: async (ctx) => {
      const real = await realParts(ctx);
      return {
        ...real,
        dataplane: {
          // The real dataplane behind a fault injector: the first applies fail as a kernel error would.
          reconcile: async (d) => { if (failures-- > 0) throw new Error('iptables-restore: injected failure'); return real.dataplane.reconcile(d); },
          syncLearnedRoutes: (r) => real.dataplane.syncLearnedRoutes(r),
        },
      };
    },
  });
  try {
    const failed = await waitFor('a reported failure', async () => a.status().lastError, (e) => e !== null, 5000);
    assert.match(failed!.message, /injected failure/);
    assert.not.ok(a.readiness().ready, 'not ready while applies fail');
    await a.ready(10_000);
    assert.is(a.status().lastError, null, 'lastError cleared after a success');
    assert.is(await metric(a, 'trellis_dataplane_apply_failures_total'), 3, 'three failures counted');
    assert.is(await metric(a, 'trellis_dataplane_consecutive_failures'), 0);
  } finally {
    await a.stop();
  }
});

test.run();
