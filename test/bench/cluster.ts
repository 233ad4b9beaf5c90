// npm run bench -- cluster [--changes 20] [--hosts 3] [--containers 3]
// On a lab cluster (namespaces, BIRD ToR, etcd, trellisd per host):
//  - policy change latency: from `trellisctl apply -f` (and `delete -f`) starting to the
//    flow it governs changing on every host, median over the changes;
//  - new container reachability: from the CNI ADD starting to its address answering TCP/80
//    from a container on every other host (the route has to travel by BGP through the ToR);
//  - trellisd RSS on each host.
// Probes are launched every `probeEveryMs` on every host; a host has "reflected" the change
// at the launch time of its first probe that shows the new state.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testNetnsPrefix } from '../../src/lab/index.js';
import { labDown, labUp, waitConverged, type Lab } from '../../src/lab/lab.js';
import { cni, startContainer } from '../../src/lab/cluster.js';
import { probeTcp } from '../../src/lab/matrix.js';
import type { ContainerPlan } from '../../src/lab/plan.js';
import { median, percentile } from './_stats.js';
import { firstReflecting, PROBE_EVERY_MS } from './_probe.js';

function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 102.4) / 10 : NaN;
}

export async function run(params: Record<string, string>): Promise<Record<string, unknown>> {
  const changes = Number(params.changes ?? 20);
  const hosts = Number(params.hosts ?? 3);
  const newContainers = Number(params.containers ?? 3);
  const stateDir = mkdtempSync(join(tmpdir(), 'trellis-bench-cluster-'));
  let lab: Lab | undefined;
  try {
    lab = await labUp({ prefix: `${testNetnsPrefix()}bc`, stateDir, hosts });
    await waitConverged(lab, 60_000);
    const l = lab;
    const file = join(stateDir, 'bench-policy.yaml');
    writeFileSync(file, [
      'apiVersion: trellis.dev/v1', 'kind: GlobalNetworkPolicy', 'metadata:', '  name: bench-deny-a-to-web', 'spec:', '  order: 5',
      '  selector: app == "web"', '  types: [Ingress]', '  ingress:', '    - action: Deny', '      protocol: TCP',
      '      source:', '        namespaceSelector: tenant == "a"', '',
    ].join('\n'));
    // On every host: its tenant-a client probes the tenant-a web server on the next host.
    const pairs = l.plan.hosts.map((h, i) => {
      const next = l.plan.hosts[(i + 1) % l.plan.hosts.length]!;
      return { from: l.container(`${h.name}-a-client`).netns, to: l.addresses[`${next.name}-a-web`]! };
    });
    const fromStart: number[] = [];
    const fromReturn: number[] = [];
    for (let k = 0; k < changes; k++) {
      const applying = k % 2 === 0;
      const t0 = performance.now();
      const cli = l.trellisctl([applying ? 'apply' : 'delete', '-f', file]);
      const reflected = Promise.all(pairs.map((p) => firstReflecting(t0, !applying, () => probeTcp(p.from, p.to, 80, 0.3))));
      await cli;
      const tReturn = performance.now() - t0;
      const all = Math.max(...(await reflected));
      fromStart.push(all);
      fromReturn.push(Math.max(0, all - tReturn));
      await new Promise((r) => setTimeout(r, 300));
    }
    if (changes % 2 === 1) await l.trellisctl(['delete', '-f', file]);

    // New containers on h1, reached from tenant-a clients on every other host.
    const reach: number[] = [];
    const extra: ContainerPlan[] = [];
    for (let k = 0; k < newContainers; k++) {
      const c: ContainerPlan = {
        name: `h1-a-new${k}`, netns: `${l.plan.prefix}h1anew${k}`, host: 'h1', tenant: 'a', namespace: 'tenant-a',
        app: 'web', workload: `new${k}-h1`, containerId: `labbenchnew${k}`,
      };
      extra.push(c);
      const { RecordBook } = await import('../../src/lab/records.js');
      const book = new RecordBook(stateDir, l.plan.prefix);
      const t0 = performance.now();
      const addr = await startContainer(l.plan, c, book, stateDir);
      const others = l.plan.hosts.filter((h) => h.name !== 'h1').map((h) => l.container(`${h.name}-a-client`).netns);
      const times = await Promise.all(others.map((ns) => firstReflecting(t0, true, () => probeTcp(ns, addr, 80, 0.3), 60_000)));
      reach.push(Math.max(...times));
    }
    for (const c of extra) await cni(l.plan, c, 'DEL', l.stateDir).catch(() => undefined);

    const rss = Object.fromEntries(l.plan.hosts.map((h) => [h.name, rssOf(l.trellisd(h.name)!.pid)]));
    const stat = (xs: number[]) => ({ median: Math.round(median(xs)), p90: Math.round(percentile(xs, 90)), samples: xs.map(Math.round) });
    return {
      hosts, changes, probeEveryMs: PROBE_EVERY_MS,
      policyChangeMsFromTrellisctlStart: stat(fromStart),
      policyChangeMsAfterTrellisctlReturned: stat(fromReturn),
      newContainerReachableFromEveryHostMs: stat(reach),
      trellisdRssMiB: rss,
    };
  } finally {
    if (lab) await labDown(stateDir);
    rmSync(stateDir, { recursive: true, force: true });
  }
}
