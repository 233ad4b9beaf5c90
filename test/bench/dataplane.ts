// npm run bench -- dataplane --local 1000 --policies 500 --remote 10000 [--iterations 10] [--rounds 3] [--hostPolicies 50]   (DP_TRACE=1: log every command)
// In throwaway namespaces (one per measurement, each with a veth pair per local endpoint):
//  - cold start: a fresh dataplane programming the whole state (reads, diff, writes) vs. the
//    raw floor: one ipset restore + one iptables-restore per table and family + one ip -batch
//    + one sysctl -w of the same final state (ratio; goal <= 1.25);
//  - no drift: writes (must be 0) and duration of a full resync (kernel read back) and of a
//    plain reconcile (diffed against the last write);
//  - one policy rule edit and one endpoint add through the calculator + reconcile (median);
//  - host endpoints (after the workload figures, so they are measured as before): one
//    all-interfaces HostEndpoint with `hostPolicies` policies added, a cold start of that state vs.
//    its raw floor, and one host policy rule edit (median);
//  - RSS of this process.
import { performance } from 'node:perf_hooks';
import { createCalculator, type DesiredState } from '../../src/calc/index.js';
import { createDataplane, type ApplyReport, type Dataplane, renderSysctls, renderWorkloadRoutes } from '../../src/dataplane/index.js';
import { renderFullRestore, renderIptables, renderSets, renderSetsRestore } from '../../src/dataplane/iptables/index.js';
import { createNetns, testNetnsPrefix, type Netns } from '../../src/lab/index.js';
import { createLogger, silentLogger } from '../../src/log/index.js';
import { schemas, type Resource } from '../../src/model/index.js';
import { median, percentile, rssMiB } from './_stats.js';

const API = 'projectcalico.org/v3';
const NAMESPACES = 50;
const APPS = 20;
const NODE = 'node0';

export const addr = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
export const iface = (i: number) => `trlw${i}`;

export function wep(i: number, node: string): Resource {
  const ns = `ns${i % NAMESPACES}`;
  return schemas.WorkloadEndpoint.parse({
    apiVersion: API, kind: 'WorkloadEndpoint',
    metadata: { name: `ep${i}`, namespace: ns, labels: { app: `app${i % APPS}`, tier: String(i % 3) } },
    spec: {
      node, interfaceName: iface(i), ipNetworks: [`${addr(i)}/32`], profiles: [ns],
      ports: i % 3 === 0 ? [{ name: 'http', protocol: 'TCP', port: 8080, ...(node === NODE && i % 10 === 0 ? { hostPort: 20000 + i } : {}) }] : [],
    },
  });
}

export function policy(j: number, variant = 0): Resource {
  const app = (k: number) => `app${k % APPS}`;
  const ingress = [
    { action: 'Allow', protocol: 'TCP', source: { selector: `app == "${app(j + 1)}"` }, destination: { ports: [80 + variant, 'http'] } },
    { action: 'Allow', source: { namespaceSelector: `team == "t${j % 5}"`, selector: `tier in {"0", "1"}` } },
    { action: 'Deny', source: { nets: [`192.168.${j % 256}.0/24`] } },
  ];
  const egress = [{ action: 'Allow', destination: { selector: `app == "${app(j + 2)}"` } }, { action: 'Pass' }];
  if (j % 2 === 0) {
    return schemas.NetworkPolicy.parse({ apiVersion: API, kind: 'NetworkPolicy', metadata: { name: `np${j}`, namespace: `ns${j % NAMESPACES}` },
      spec: { order: 100 + (j % 50), selector: `app == "${app(j)}"`, ingress, egress } });
  }
  return schemas.GlobalNetworkPolicy.parse({ apiVersion: API, kind: 'GlobalNetworkPolicy', metadata: { name: `gnp${j}` },
    spec: { order: 50 + (j % 30), selector: `app == "${app(j)}" && tier == "${j % 3}"`, ingress, egress } });
}

/** A policy of the host's all-interfaces endpoint: workloads of one app to TCP 80+variant, SSH from a net, egress to one app. */
export function hostPolicy(j: number, variant = 0): Resource {
  return schemas.GlobalNetworkPolicy.parse({ apiVersion: API, kind: 'GlobalNetworkPolicy', metadata: { name: `host${j}` }, spec: {
    order: 10 + j, selector: 'role == "host"',
    ingress: [
      { action: 'Allow', protocol: 'TCP', source: { selector: `app == "app${j % APPS}"` }, destination: { ports: [80 + variant] } },
      { action: 'Allow', protocol: 'TCP', source: { nets: [`172.16.${j % 256}.0/24`] }, destination: { ports: [22] } },
    ],
    egress: [{ action: 'Allow', destination: { selector: `app == "app${(j + 1) % APPS}"` } }],
  } });
}
export const allInterfacesHep = (): Resource => schemas.HostEndpoint.parse({
  apiVersion: API, kind: 'HostEndpoint', metadata: { name: `${NODE}-all`, labels: { role: 'host' } }, spec: { node: NODE, interfaceName: '*' },
});

export function build(local: number, remote: number, policies: number): Resource[] {
  const out: Resource[] = [];
  for (let n = 0; n < NAMESPACES; n++) {
    out.push(schemas.Namespace.parse({ apiVersion: API, kind: 'Namespace', metadata: { name: `ns${n}`, labels: { team: `t${n % 5}` } } }));
    out.push(schemas.Profile.parse({ apiVersion: API, kind: 'Profile', metadata: { name: `ns${n}` }, spec: {
      egress: [{ action: 'Allow' }], ingress: [{ action: 'Allow', source: { namespaceSelector: `projectcalico.org/name == "ns${n}"` } }] } }));
  }
  for (let i = 0; i < local; i++) out.push(wep(i, NODE));
  for (let i = local; i < local + remote; i++) out.push(wep(i, `node${1 + (i % 50)}`));
  for (let j = 0; j < policies; j++) out.push(policy(j));
  out.push(schemas.IPPool.parse({ apiVersion: API, kind: 'IPPool', metadata: { name: 'pool' }, spec: { cidr: '10.0.0.0/8', natOutgoing: true } }));
  return out;
}

/** A host namespace with a veth pair (up) for each local endpoint index given. */
async function hostNs(name: string, ifIndexes: number[]): Promise<Netns> {
  const ns = await createNetns(name);
  const lines = ifIndexes.flatMap((i) => [`link add ${iface(i)} type veth peer name trlp${i}`, `link set ${iface(i)} up`, `link set trlp${i} up`]);
  await ns.run(['ip', '-batch', '-'], { input: `${lines.join('\n')}\n`, timeoutMs: 300_000 });
  return ns;
}

/** The raw floor: the same final state written with one command per tool and table, text rendered beforehand. */
async function rawApply(ns: Netns, ds: DesiredState): Promise<number> {
  const rendered = renderIptables(ds);
  const sets = renderSetsRestore(renderSets(ds, rendered.setRefs));
  const tables = rendered.tables.map((t) => ({ cmd: t.family === 4 ? 'iptables-restore' : 'ip6tables-restore', text: renderFullRestore(t) }));
  const routes = `${renderWorkloadRoutes(ds.routes).join('\n')}\n`;
  const sysctls = [...renderSysctls(ds, null)].map(([k, v]) => `${k}=${v}`);
  const t0 = performance.now();
  await ns.run(['ipset', 'restore'], { input: sets, timeoutMs: 300_000 });
  for (const t of tables) await ns.run([t.cmd, '-w', '5', '--noflush'], { input: t.text, timeoutMs: 300_000 });
  await ns.run(['ip', '-batch', '-'], { input: routes, timeoutMs: 300_000 });
  await ns.run(['sysctl', '-q', '-w', ...sysctls], { timeoutMs: 300_000 });
  return performance.now() - t0;
}

const round = (x: number) => Math.round(x * 10) / 10;

export async function run(params: Record<string, string>): Promise<Record<string, unknown>> {
  const local = Number(params.local ?? 1000);
  const remote = Number(params.remote ?? 10000);
  const policies = Number(params.policies ?? 500);
  const iterations = Number(params.iterations ?? 10);
  const rounds = Number(params.rounds ?? 3);
  const hostPolicies = Number(params.hostPolicies ?? 50);
  const prefix = `${testNetnsPrefix()}dpb`;
  const made: Netns[] = [];
  try {
    const resources = build(local, remote, policies);
    const calc = createCalculator(NODE);
    const tc = performance.now();
    for (const r of resources) calc.upsert(r);
    const ds = calc.state();
    const calcLoadMs = performance.now() - tc;
    const localIdx = Array.from({ length: local }, (_, i) => i);
    const extra = Array.from({ length: iterations }, (_, k) => local + remote + k);

    // Cold start vs. the raw floor, each on a fresh namespace, `rounds` times alternating
    // which goes first (the host is shared: medians of pairs, not one lucky run).
    const rawRuns: number[] = [];
    const coldRuns: number[] = [];
    const logger = process.env.DP_TRACE ? createLogger({ name: 'bench', level: 'debug' }) : silentLogger();
    let last: { ns: Netns; dp: Dataplane; cold: ApplyReport } | undefined;
    const measureRaw = async () => {
      const raw = await hostNs(`${prefix}r`, localIdx);
      made.push(raw);
      rawRuns.push(await rawApply(raw, ds));
      await raw.destroy();
    };
    const measureCold = async (previous: Netns | undefined) => {
      if (previous) await previous.destroy();
      const ns = await hostNs(`${prefix}c`, [...localIdx, ...extra]);
      made.push(ns);
      const dp = createDataplane({ netns: ns.name, logger });
      const t0 = performance.now();
      const cold = await dp.reconcile(ds);
      coldRuns.push(performance.now() - t0);
      return { ns, dp, cold };
    };
    for (let round = 0; round < rounds; round++) {
      if (round % 2 === 0) {
        await measureRaw();
        last = await measureCold(last?.ns);
      } else {
        last = await measureCold(last?.ns);
        await measureRaw();
      }
    }
    if (!last) throw new Error('no cold start measured (rounds must be >= 1)');
    const { ns, dp, cold } = last;
    const coldMs = median(coldRuns);
    const rawMs = median(rawRuns);

    // No drift: a full resync (kernel read back, as periodically and after a restart) and a
    // plain reconcile (diffed against the last write) both write nothing.
    const resyncs: number[] = [];
    const steady: number[] = [];
    let resyncWrites = 0;
    let steadyWrites = 0;
    for (let k = 0; k < 3; k++) {
      let t = performance.now();
      const r = await dp.reconcile(ds, { resync: true });
      resyncs.push(performance.now() - t);
      resyncWrites += r.counts.writeCommands;
      t = performance.now();
      const q = await dp.reconcile(ds);
      steady.push(performance.now() - t);
      steadyWrites += q.counts.writeCommands;
    }
    const restart = await createDataplane({ netns: ns.name, logger: silentLogger() }).reconcile(ds);

    // One policy rule edit, then one endpoint add, each through the calculator and a reconcile.
    const policyEdit: number[] = [];
    const policyEditCalc: number[] = [];
    for (let k = 0; k < iterations; k++) {
      const t = performance.now();
      calc.upsert(policy(k % policies, 1 + (k % 5)));
      const s = calc.state();
      policyEditCalc.push(performance.now() - t);
      await dp.reconcile(s);
      policyEdit.push(performance.now() - t);
    }
    const endpointAdd: number[] = [];
    for (const i of extra) {
      const t = performance.now();
      calc.upsert(wep(i, NODE));
      await dp.reconcile(calc.state());
      endpointAdd.push(performance.now() - t);
    }
    const stats = (xs: number[]) => ({ medianMs: round(median(xs)), p90Ms: round(percentile(xs, 90)) });

    // Host endpoints: added to the programmed state, then a cold start of the whole and its raw floor, then edits.
    let host: Record<string, unknown> | null = null;
    if (hostPolicies > 0) {
      const t = performance.now();
      calc.upsert(allInterfacesHep());
      for (let j = 0; j < hostPolicies; j++) calc.upsert(hostPolicy(j));
      const added = await dp.reconcile(calc.state());
      const addMs = performance.now() - t;
      const hds = calc.state();
      const raw = await hostNs(`${prefix}hr`, [...localIdx, ...extra]);
      made.push(raw);
      const hostRawMs = await rawApply(raw, hds);
      await raw.destroy();
      const cns = await hostNs(`${prefix}hc`, [...localIdx, ...extra]);
      made.push(cns);
      const t0 = performance.now();
      await createDataplane({ netns: cns.name, logger }).reconcile(hds);
      const hostColdMs = performance.now() - t0;
      await cns.destroy();
      const hostEdit: number[] = [];
      for (let k = 0; k < iterations; k++) {
        const te = performance.now();
        calc.upsert(hostPolicy(k % hostPolicies, 1 + (k % 5)));
        await dp.reconcile(calc.state());
        hostEdit.push(performance.now() - te);
      }
      host = {
        policies: hostPolicies, addMs: round(addMs), addCounts: added.counts,
        coldStart: { ms: round(hostColdMs), rawFloorMs: round(hostRawMs), ratio: Math.round((hostColdMs / hostRawMs) * 100) / 100 },
        hostPolicyRuleEdit: stats(hostEdit),
      };
    }
    return {
      scale: { local, remote, policies, iterations },
      state: {
        endpoints: ds.endpoints.length, policies: ds.policies.length, profiles: ds.profiles.length, ipsets: ds.ipsets.length,
        members: ds.ipsets.reduce((a, s) => a + s.members.length, 0),
        chains: renderIptables(ds).tables.reduce((a, t) => a + t.chains.length, 0),
        rules: renderIptables(ds).tables.reduce((a, t) => a + t.chains.reduce((b, c) => b + c.rules.length, 0), 0),
      },
      calcLoadMs: round(calcLoadMs),
      coldStart: {
        medianMs: round(coldMs), rawFloorMedianMs: round(rawMs), ratio: Math.round((coldMs / rawMs) * 100) / 100,
        runsMs: coldRuns.map(round), rawRunsMs: rawRuns.map(round), counts: cold.counts,
      },
      noDriftResync: { writeCommands: resyncWrites, ...stats(resyncs) },
      noDriftReconcile: { writeCommands: steadyWrites, ...stats(steady) },
      restartOnProgrammedKernel: { writeCommands: restart.counts.writeCommands, ms: round(restart.durationMs) },
      policyRuleEdit: { ...stats(policyEdit), calcOnlyMedianMs: round(median(policyEditCalc)) },
      endpointAdd: stats(endpointAdd),
      hostEndpoints: host,
      // Filled in by the agent bench (etcd write -> kernel programmed, through trellisd): not measured here.
      agentEtcdToKernel: null,
      rssMiB: rssMiB(),
    };
  } finally {
    for (const n of made) await n.destroy();
  }
}
