// npm run bench -- agent [--endpoints 200] [--changes 20]
// etcd write -> kernel, through the whole agent (watch, cache, calc, dataplane) in a
// throwaway namespace: one policy rule edit and one endpoint add (median, p90; target
// 50 ms), the no-drift resync, and the RSS of the agent process.
import { execa } from 'execa';
import { startAgent } from '../../src/agent/index.js';
import { loadDaemonConfig } from '../../src/config/index.js';
import { connectNetns, createNetns, testNetnsPrefix } from '../../src/lab/index.js';
import { silentLogger } from '../../src/log/index.js';
import type { Resource } from '../../src/model/index.js';
import { freePort, openStore } from '../../src/store/index.js';
import { startTestEtcd } from '../helpers/etcd.js';
import { median, percentile, rssMiB } from './_stats.js';

const API = 'trellis.dev/v1';
const addr = (i: number) => `10.70.${(i >> 8) & 255}.${i & 255}`;

function wep(i: number): Resource {
  const ns = `tenant-${i % 2 ? 'a' : 'b'}`;
  return {
    apiVersion: API, kind: 'WorkloadEndpoint',
    metadata: { name: `ep${i}`, namespace: ns, labels: { app: i % 3 ? 'web' : 'client' } },
    spec: { node: 'bench', interfaceName: `trlb${i}`, ipNetworks: [`${addr(i)}/32`], profiles: [ns] },
  } as Resource;
}

function policy(port: number): Resource {
  return {
    apiVersion: API, kind: 'NetworkPolicy', metadata: { name: 'bench-edit', namespace: 'tenant-a' },
    spec: { selector: 'app == "web"', types: ['Ingress'], ingress: [{ action: 'Allow', protocol: 'TCP', source: { namespaceSelector: 'tenant == "b"' }, destination: { ports: [port] } }, { action: 'Pass' }] },
  } as Resource;
}

async function until(fn: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error('timed out');
  }
}

export async function run(params: Record<string, string>): Promise<Record<string, unknown>> {
  const endpoints = Number(params.endpoints ?? 200);
  const changes = Number(params.changes ?? 20);
  const etcd = await startTestEtcd();
  const ns = await createNetns(`${testNetnsPrefix()}bag`);
  const peer = await createNetns(`${testNetnsPrefix()}bagp`);
  const store = openStore({ endpoints: etcd.endpoints });
  try {
    // Veths for every endpoint plus the ones added during the bench (routes need their devices).
    const batchHost: string[] = [];
    for (let i = 0; i < endpoints + changes; i++) batchHost.push(`link add trlb${i} type veth peer name p${i} netns ${peer.name}`);
    await execa('ip', ['-n', ns.name, '-batch', '-'], { input: batchHost.join('\n') + '\n' });
    await execa('ip', ['-n', ns.name, '-batch', '-'], { input: Array.from({ length: endpoints + changes }, (_, i) => `link set trlb${i} up`).join('\n') + '\n' });
    void connectNetns;
    for (const t of ['a', 'b']) {
      await store.apply({ apiVersion: API, kind: 'Namespace', metadata: { name: `tenant-${t}`, labels: { tenant: t } }, spec: {} } as Resource);
      await store.apply({ apiVersion: API, kind: 'Profile', metadata: { name: `tenant-${t}` }, spec: { egress: [{ action: 'Allow' }], ingress: [{ action: 'Allow', source: { namespaceSelector: `tenant == "${t}"` } }] } } as Resource);
    }
    for (let i = 0; i < endpoints; i++) await store.apply(wep(i));
    await store.apply(policy(1000));
    const config = loadDaemonConfig({
      env: {}, defaultFile: '/nonexistent',
      overrides: { nodeName: 'bench', etcdEndpoints: etcd.endpoints, apiListen: `127.0.0.1:${await freePort()}`, resyncIntervalSeconds: 0, logLevel: 'silent' },
    }).config;
    const t0 = performance.now();
    const agent = await startAgent(config, { netns: ns.name, logger: silentLogger(), defaultMetrics: false });
    await agent.ready(120_000);
    const coldStartMs = performance.now() - t0;

    const save = async () => String((await execa('ip', ['netns', 'exec', ns.name, 'iptables-save', '-t', 'filter'])).stdout);
    const ruleEdit: number[] = [];
    const applyOnly: number[] = [];
    for (let k = 1; k <= changes; k++) {
      const port = 1000 + k;
      await agent.idle();
      const s = performance.now();
      await store.apply(policy(port));
      await until(async () => { const t = await save(); return t.includes(`--dport ${port}`) || t.includes(`dports ${port}`); });
      ruleEdit.push(performance.now() - s);
      applyOnly.push(agent.status().lastApply?.durationMs ?? NaN);
    }
    const routeOf = async (a: string) => String((await execa('ip', ['-n', ns.name, 'route', 'show', `${a}/32`])).stdout).includes('trlb');
    const epAdd: number[] = [];
    const epApplyOnly: number[] = [];
    for (let k = 0; k < changes; k++) {
      const i = endpoints + k;
      await agent.idle();
      const s = performance.now();
      await store.apply(wep(i));
      await until(() => routeOf(addr(i)));
      epAdd.push(performance.now() - s);
      await agent.idle();
      epApplyOnly.push(agent.status().lastApply?.durationMs ?? NaN);
    }
    await agent.idle();
    const r0 = performance.now();
    await agent.resync();
    const resyncMs = performance.now() - r0;
    const repairs = /^trellis_resync_repairs_total (\S+)$/m.exec(await agent.metrics.registry.metrics())?.[1];
    const rss = rssMiB();
    const lastApplyMs = agent.status().lastApply?.durationMs ?? null;
    await agent.stop();
    const r = (xs: number[]) => ({ median: Math.round(median(xs) * 10) / 10, p90: Math.round(percentile(xs, 90) * 10) / 10 });
    return {
      endpoints, changes,
      coldStartMs: Math.round(coldStartMs),
      policyRuleEditMs: r(ruleEdit),
      endpointAddMs: r(epAdd),
      policyRuleEditApplyMs: r(applyOnly),
      endpointAddApplyMs: r(epApplyOnly),
      targetMs: 50,
      noDriftResyncMs: Math.round(resyncMs),
      noDriftResyncRepairs: Number(repairs ?? NaN),
      note: 'from the etcd write returning to the change visible in the kernel (polled with iptables-save / ip route). In-process with netns set, every dataplane command runs under ip netns exec, which trellisd in its own namespace does not pay.',
      lastApplyDurationMs: lastApplyMs,
      applyNote: '*ApplyMs: the agent apply alone (calc + dataplane reconcile) for that change, from /status lastApply.durationMs',
      agentProcessRssMiB: rss,
    };
  } finally {
    await store.close();
    await peer.destroy();
    await ns.destroy();
    await etcd.stop();
  }
}
