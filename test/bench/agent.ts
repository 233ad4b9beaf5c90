// npm run bench -- agent [--local 1000] [--remote 10000] [--policies 500] [--changes 20]
// etcd write -> kernel, through the whole agent (watch, cache, calc, dataplane) in a
// throwaway namespace, at the dataplane bench's scale and with its resources: one policy
// rule edit and one endpoint add (median, p90; target 50 ms), the no-drift resync, and the
// RSS of the agent process.
import { execa } from 'execa';
import { performance } from 'node:perf_hooks';
import { startAgent } from '../../src/agent/index.js';
import { loadDaemonConfig } from '../../src/config/index.js';
import { policyChain } from '../../src/dataplane/index.js';
import { createNetns, testNetnsPrefix } from '../../src/lab/index.js';
import { silentLogger } from '../../src/log/index.js';
import { freePort, openStore, type Store } from '../../src/store/index.js';
import { startTestEtcd } from '../helpers/etcd.js';
import { addr, build, iface, policy, wep } from './dataplane.js';
import { median, percentile, rssMiB } from './_stats.js';

const NODE = 'node0';

async function until(fn: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the kernel');
  }
}

async function applyAll(store: Store, resources: Parameters<Store['apply']>[0][], parallel = 32): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (next < resources.length) await store.apply(resources[next++]!);
  }));
}

export async function run(params: Record<string, string>): Promise<Record<string, unknown>> {
  const local = Number(params.local ?? 1000);
  const remote = Number(params.remote ?? 10000);
  const policies = Number(params.policies ?? 500);
  const changes = Number(params.changes ?? 20);
  const etcd = await startTestEtcd();
  const ns = await createNetns(`${testNetnsPrefix()}bag`);
  const store = openStore({ endpoints: etcd.endpoints });
  try {
    // A veth per local endpoint, plus the ones added during the bench (routes need their devices).
    const extra = Array.from({ length: changes }, (_, k) => local + remote + k);
    const lines = [...Array.from({ length: local }, (_, i) => i), ...extra]
      .flatMap((i) => [`link add ${iface(i)} type veth peer name trlp${i}`, `link set ${iface(i)} up`]);
    await execa('ip', ['-n', ns.name, '-batch', '-'], { input: `${lines.join('\n')}\n` });
    const t0 = performance.now();
    await applyAll(store, build(local, remote, policies));
    const loadMs = performance.now() - t0;

    const config = loadDaemonConfig({
      env: {}, defaultFile: '/nonexistent',
      overrides: { nodeName: NODE, etcdEndpoints: etcd.endpoints, apiListen: `127.0.0.1:${await freePort()}`, resyncIntervalSeconds: 0, logLevel: 'silent' },
    }).config;
    const t1 = performance.now();
    const agent = await startAgent(config, { netns: ns.name, logger: silentLogger(), defaultMetrics: false });
    await agent.ready(300_000);
    const coldStartMs = performance.now() - t1;

    // A policy edit is seen in the kernel when its chain's rules change; `nft list chain`
    // reads that one chain, where iptables-save would dump all 30 000 rules on every poll.
    const chainText = async (chain: string) => {
      const r = await execa('ip', ['netns', 'exec', ns.name, 'nft', 'list', 'chain', 'ip', 'filter', chain], { reject: false });
      return r.exitCode === 0 ? String(r.stdout) : null;
    };
    const ruleEdit: number[] = [];
    const ruleEditApply: number[] = [];
    for (let k = 0; k < changes; k++) {
      const j = 2 * (k % Math.max(1, Math.floor(policies / 2))); // namespaced policies: np<even>
      const edited = policy(j, 1 + k);
      const chain = policyChain(`NetworkPolicy/ns${j % 50}/np${j}`, 'ingress');
      await agent.idle();
      const before = await chainText(chain);
      if (before === null) throw new Error(`chain ${chain} of np${j} is not in the kernel`);
      const s = performance.now();
      await store.apply(edited);
      await until(async () => { const now = await chainText(chain); return now !== null && now !== before; });
      ruleEdit.push(performance.now() - s);
      await agent.idle();
      ruleEditApply.push(agent.status().lastApply?.durationMs ?? NaN);
    }
    const routed = async (a: string) => String((await execa('ip', ['-n', ns.name, 'route', 'show', `${a}/32`])).stdout).includes('trlw');
    const epAdd: number[] = [];
    const epAddApply: number[] = [];
    for (const i of extra) {
      await agent.idle();
      const s = performance.now();
      await store.apply(wep(i, NODE));
      await until(() => routed(addr(i)));
      epAdd.push(performance.now() - s);
      await agent.idle();
      epAddApply.push(agent.status().lastApply?.durationMs ?? NaN);
    }
    await agent.idle();
    const r0 = performance.now();
    await agent.resync();
    const resyncMs = performance.now() - r0;
    const repairs = /^trellis_resync_repairs_total (\S+)$/m.exec(await agent.metrics.registry.metrics())?.[1];
    const rss = rssMiB();
    await agent.stop();
    const r = (xs: number[]) => ({ median: Math.round(median(xs) * 10) / 10, p90: Math.round(percentile(xs, 90) * 10) / 10 });
    return {
      scale: { local, remote, policies, changes },
      etcdLoadMs: Math.round(loadMs),
      coldStartMs: Math.round(coldStartMs),
      policyRuleEditMs: r(ruleEdit),
      endpointAddMs: r(epAdd),
      policyRuleEditApplyMs: r(ruleEditApply),
      endpointAddApplyMs: r(epAddApply),
      targetMs: 50,
      noDriftResyncMs: Math.round(resyncMs),
      noDriftResyncRepairs: Number(repairs ?? NaN),
      note: 'from the etcd write returning to the change visible in the kernel (polled: nft list chain for the edited policy chain, ip route for the new endpoint). In-process with netns set, every dataplane command runs under ip netns exec, which trellisd in its own namespace does not pay.',
      applyNote: '*ApplyMs: the agent apply alone (calc + dataplane reconcile) for that change, from /status lastApply.durationMs',
      agentProcessRssMiB: rss,
    };
  } finally {
    await store.close();
    await ns.destroy();
    await etcd.stop();
  }
}
