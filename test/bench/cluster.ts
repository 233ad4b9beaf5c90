// npm run bench -- cluster [--changes 20] [--hosts 3] [--containers 3] [--restarts 3]
// On a lab cluster (namespaces, BIRD ToR, etcd, trellisd per host):
//  - policy change latency: from `trellisctl apply -f` (and `delete -f`) starting to the
//    flow it governs changing on every host, median over the changes;
//  - new container reachability: from the CNI ADD starting to its address answering TCP/80
//    from a container on every other host (the route has to travel by BGP through the ToR);
//  - trellisd RSS on each host;
//  - restart-all: every trellisd stopped (SIGTERM) at the same moment and started again;
//    from the last start to every API ready, to the ToR's sessions all Established with
//    every host's learned routes back, and to the full matrix (as declared, probed from
//    every container) holding from then on. The bound of #11 is 15 s from the last start.
// Probes are launched every `probeEveryMs` on every host; a host has "reflected" the change
// at the launch time of its first probe that shows the new state.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testNetnsPrefix } from '../../src/lab/index.js';
import { labDown, labUp, waitConverged, type Lab } from '../../src/lab/lab.js';
import { cni, startContainer } from '../../src/lab/cluster.js';
import { declaredFrom, measureMatrix, probeTcp } from '../../src/lab/matrix.js';
import type { ContainerPlan } from '../../src/lab/plan.js';
import { median, percentile } from './_stats.js';
import { firstReflecting, PROBE_EVERY_MS } from './_probe.js';

function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 102.4) / 10 : NaN;
}

interface RestartRound {
  readyMs: number; sessionsMs: number; matrixMs: number; allBackMs: number;
  /** Matrix measurements launched after the last start that did not match the declared one. */
  matrixShortfalls: { atMs: number; matching: number; total: number }[];
}

/**
 * One restart-all round. Probes run from the last start until the sessions are back and
 * a full matrix was launched after that; the matrix is "back" at the launch of the first
 * full measurement after which none fell short.
 */
async function restartAll(l: Lab, declared: (from: string, to: string) => boolean | null, learnedBefore: number[]): Promise<RestartRound> {
  const hosts = l.plan.hosts.map((h) => h.name);
  const targets = l.plan.containers.filter((c) => l.addresses[c.name]).map((c) => ({ name: c.name, netns: c.netns, address: l.addresses[c.name]! }));
  await Promise.all(hosts.map((h) => l.stopTrellisd(h, 'SIGTERM')));
  for (const h of hosts) l.startTrellisd(h);
  const t0 = performance.now();
  const since = () => performance.now() - t0;
  const deadline = 60_000;
  const ready = Promise.all(hosts.map(async (h) => { await l.waitReady(h, deadline); return since(); })).then((xs) => Math.max(...xs));
  let sessionsMs = NaN;
  const sessions = (async () => {
    while (since() < deadline) {
      const launched = since();
      const protos = await l.birdProtocols();
      if (hosts.every((h) => protos[h] === 'Established')) {
        const st = await Promise.all(hosts.map((h) => l.status(h).catch(() => null)));
        const back = st.every((s, i) => s && s.bgp.peers.length > 0 && s.bgp.peers.every((p) => p.state === 'Established') && s.bgp.learned >= learnedBefore[i]!);
        if (back) { sessionsMs = launched; return; }
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`restart-all: sessions not back with every learned route after ${deadline} ms`);
  })();
  const runs: { atMs: number; matching: number; total: number }[] = [];
  for (;;) {
    const atMs = since();
    const m = await measureMatrix(targets, declared);
    runs.push({ atMs, matching: m.matching, total: m.total });
    if (!Number.isNaN(sessionsMs) && atMs >= sessionsMs && m.matching === m.total) break;
    if (atMs > deadline) throw new Error(`restart-all: matrix not back after ${deadline} ms (${m.matching}/${m.total})`);
  }
  await sessions;
  const readyMs = await ready;
  let first = runs.length - 1;
  while (first > 0 && runs[first - 1]!.matching === runs[first - 1]!.total) first--;
  const matrixMs = runs[first]!.atMs;
  return {
    readyMs: Math.round(readyMs), sessionsMs: Math.round(sessionsMs), matrixMs: Math.round(matrixMs),
    allBackMs: Math.round(Math.max(readyMs, sessionsMs, matrixMs)),
    matrixShortfalls: runs.filter((r) => r.matching !== r.total).map((r) => ({ ...r, atMs: Math.round(r.atMs) })),
  };
}

export async function run(params: Record<string, string>): Promise<Record<string, unknown>> {
  const changes = Number(params.changes ?? 20);
  const hosts = Number(params.hosts ?? 3);
  const newContainers = Number(params.containers ?? 3);
  const restarts = Number(params.restarts ?? 3);
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

    // Every trellisd restarted at once, `restarts` times; the lab is converged before each.
    const rounds: RestartRound[] = [];
    if (restarts > 0) {
      const declared = declaredFrom(await l.declaredMatrix());
      for (let k = 0; k < restarts; k++) {
        await waitConverged(l, 60_000);
        const learnedBefore = await Promise.all(l.plan.hosts.map(async (h) => (await l.status(h.name)).bgp.learned));
        rounds.push(await restartAll(l, declared, learnedBefore));
      }
    }
    return {
      hosts, changes, probeEveryMs: PROBE_EVERY_MS,
      ...(changes > 0 ? {
        policyChangeMsFromTrellisctlStart: stat(fromStart),
        policyChangeMsAfterTrellisctlReturned: stat(fromReturn),
      } : {}),
      ...(newContainers > 0 ? { newContainerReachableFromEveryHostMs: stat(reach) } : {}),
      trellisdRssMiB: rss,
      ...(restarts > 0 ? {
        restartAll: {
          boundMs: 15_000,
          readyMsFromLastStart: stat(rounds.map((r) => r.readyMs)),
          sessionsAndLearnedRoutesBackMs: stat(rounds.map((r) => r.sessionsMs)),
          fullMatrixFromMs: stat(rounds.map((r) => r.matrixMs)),
          allBackMs: stat(rounds.map((r) => r.allBackMs)),
          withinBound: rounds.every((r) => r.allBackMs <= 15_000),
          matrixShortfalls: rounds.map((r) => r.matrixShortfalls),
        },
      } : {}),
    };
  } finally {
    if (lab) await labDown(stateDir);
    rmSync(stateDir, { recursive: true, force: true });
  }
}
