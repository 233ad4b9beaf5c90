// `npm run bench -- bgp --sender frr [--prefixes 100000] [--rounds 1] [--cycles 1]`: a top-of-rack
// (FRR bgpd) sends a full table to trellisd's BGP path (agent port + learned-route queue
// + dataplane, in its own process and namespace), and the same table to BIRD 2 with a
// kernel protocol as the anchor, one after the other in the same run. For each: time
// from Established to every route in the receiver's kernel (load), from F's withdraw to
// none left (withdraw), from F's re-send to all back (reload). For trellisd also the
// event-loop delay (perf_hooks, 10 ms resolution) and settled RSS per phase (a second after a
// full collection; also as read at the collection), and whether an unrelated peer with a 3 s
// hold time stayed up throughout. With --cycles N, trellisd goes through N - 1 more
// withdraw-reload cycles back to back after the first (timed as the first only), and its
// settled RSS after every reload is reported: memory that grows from cycle to cycle is a
// leak, and a step up is garbage promoted to V8's old space faster than it is collected (#11). Beside trellisd's event-loop
// delay, the same measure of an idle Node process over the same phases: on a shared machine
// the scheduler's delays show in every event loop, and the anchor says how much of ours is
// the machine's. Topology: test/bgp/_table.ts.
import { readFileSync } from 'node:fs';
import { startTableLab, type TableLab } from '../bgp/_table.js';
import { startSpeakerHost, type SpeakerHost } from '../bgp/_host.js';
import { waitFor } from '../bgp/_helpers.js';
import { median } from './_stats.js';

interface Eld { p50Ms: number; p99Ms: number; maxMs: number; count: number; cpuMs?: number; childCpuMs?: number; gcTotalMs?: number }
/** CPU time (user + system) a process has used, from /proc (clock ticks of 10 ms). */
function cpuMsOf(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) * 10;
}
const MiB = (b: number) => Math.round((b / 1048576) * 10) / 10;
const progress = (msg: string) => { if (process.env.BENCH_DEBUG) process.stderr.write(`[bgp frr] ${msg}\n`); };

async function trellisRound(lab: TableLab, idle: SpeakerHost, cycles: number) {
  const h = await lab.startTrellis();
  // Settled RSS (a second after a full collection), and as read at the collection itself.
  const atCollection: number[] = [];
  const rss = async () => {
    const m = await h.call<{ rss: number; atCollection: number }>('memory');
    atCollection.push(MiB(m.atCollection));
    return MiB(m.rss);
  };
  const idleEld: Eld[] = [];
  // Both read and reset back to back: the anchor covers the same span as trellisd's figure.
  const eld = async (reset = true) => {
    const [t, i] = await Promise.all([h.call<Eld>('eld', { reset }), idle.call<Eld>('eld', { reset })]);
    idleEld.push(i);
    return t;
  };
  const before = await lab.keepSession();
  const rssIdle = await rss();
  await eld();
  progress('trellis: load');
  const est = await lab.open('t');
  const loadMs = (await lab.waitKernel('t', lab.n)) - est;
  const eldLoad = await eld();
  const rssLoad = await rss();
  progress('trellis: withdraw');
  let t0 = Date.now();
  await lab.setExport('t', false);
  const withdrawMs = (await lab.waitKernel('t', 0)) - t0;
  const eldWithdraw = await eld();
  const rssWithdrawn = await rss();
  progress('trellis: reload');
  t0 = Date.now();
  await lab.setExport('t', true);
  const reloadMs = (await lab.waitKernel('t', lab.n)) - t0;
  const eldReload = await eld();
  const rssReload = await rss();
  const afterReloads = [rssReload];
  for (let c = 1; c < cycles; c++) {
    progress(`trellis: cycle ${c + 1}`);
    await lab.setExport('t', false);
    await lab.waitKernel('t', 0);
    await lab.setExport('t', true);
    await lab.waitKernel('t', lab.n);
    afterReloads.push(await rss());
  }
  const after = await lab.keepSession();
  await lab.shut('t');
  await lab.stopTrellis();
  return {
    loadMs, withdrawMs, reloadMs,
    eld: { load: eldLoad, withdraw: eldWithdraw, reload: eldReload },
    // [0] is the reset before the load.
    idleEld: { load: idleEld[1]!, withdraw: idleEld[2]!, reload: idleEld[3]! },
    rssMiB: { idle: rssIdle, afterLoad: rssLoad, afterWithdraw: rssWithdrawn, afterReload: rssReload, afterReloads },
    // The same readings in the same order (idle, load, withdraw, reload, further reloads), taken at the collection.
    rssAtCollectionMiB: atCollection,
    secondPeerStayedUp: before.up && after.up && before.since === after.since,
  };
}

async function birdRound(lab: TableLab) {
  const bird = await lab.startAnchor();
  const cpu: number[] = [cpuMsOf(bird.pid)];
  const lap = () => { cpu.push(cpuMsOf(bird.pid)); return cpu.at(-1)! - cpu.at(-2)!; };
  progress('bird: load');
  const est = await lab.open('b');
  const loadMs = (await lab.waitKernel('b', lab.n)) - est;
  const cpuLoad = lap();
  progress('bird: withdraw');
  let t0 = Date.now();
  await lab.setExport('b', false);
  const withdrawMs = (await lab.waitKernel('b', 0)) - t0;
  const cpuWithdraw = lap();
  progress('bird: reload');
  t0 = Date.now();
  await lab.setExport('b', true);
  const reloadMs = (await lab.waitKernel('b', lab.n)) - t0;
  const cpuReload = lap();
  await lab.shut('b');
  await lab.stopAnchor();
  return { loadMs, withdrawMs, reloadMs, cpuMs: { load: cpuLoad, withdraw: cpuWithdraw, reload: cpuReload } };
}

export async function runFrr(params: Record<string, string>): Promise<Record<string, unknown>> {
  const n = Number(params.prefixes ?? 100000);
  const rounds = Number(params.rounds ?? 1);
  const cycles = Math.max(1, Number(params.cycles ?? 1));
  const lab = await startTableLab('b', n);
  const idle = startSpeakerHost({}, undefined, [], 'eld-idle.ts');
  const t: Awaited<ReturnType<typeof trellisRound>>[] = [];
  const b: Awaited<ReturnType<typeof birdRound>>[] = [];
  try {
    await waitFor('idle anchor ready', () => idle.events.some((e) => e.event === 'ready'), 30_000);
    for (let i = 0; i < rounds; i++) {
      t.push(await trellisRound(lab, idle, cycles));
      b.push(await birdRound(lab));
    }
  } finally {
    idle.kill();
    await idle.exited;
    await lab.close();
  }
  const med = (xs: number[]) => Math.round(median(xs));
  const ratio = (a: number, c: number) => Math.round((a / c) * 100) / 100;
  const phase = (k: 'loadMs' | 'withdrawMs' | 'reloadMs') => {
    const tm = med(t.map((r) => r[k])); const bm = med(b.map((r) => r[k]));
    return { trellisMs: t.map((r) => r[k]), birdMs: b.map((r) => r[k]), trellisMedianMs: tm, birdMedianMs: bm, ratioTrellisOverBird: ratio(tm, bm) };
  };
  const all = t.flatMap((r) => [r.eld.load, r.eld.withdraw, r.eld.reload]);
  const allIdle = t.flatMap((r) => [r.idleEld.load, r.idleEld.withdraw, r.idleEld.reload]);
  return {
    sender: 'frr', prefixes: n, rounds, cycles,
    load: phase('loadMs'), withdraw: phase('withdrawMs'), reload: phase('reloadMs'),
    eventLoop: {
      p99MaxOverPhasesMs: Math.max(...all.map((e) => e.p99Ms)), maxMs: Math.max(...all.map((e) => e.maxMs)),
      goal: { p99Ms: 50, maxMs: 200 },
      perRound: t.map((r) => r.eld),
      idleAnchor: {
        p99MaxOverPhasesMs: Math.max(...allIdle.map((e) => e.p99Ms)), maxMs: Math.max(...allIdle.map((e) => e.maxMs)),
        perRound: t.map((r) => r.idleEld),
      },
    },
    rss: {
      perRound: t.map((r) => r.rssMiB),
      reloadOverLoad: t.map((r) => ratio(r.rssMiB.afterReload, r.rssMiB.afterLoad)),
      ...(cycles > 1 ? {
        lastReloadOverLoad: t.map((r) => ratio(r.rssMiB.afterReloads.at(-1)!, r.rssMiB.afterLoad)),
        worstReloadOverLoad: t.map((r) => ratio(Math.max(...r.rssMiB.afterReloads), r.rssMiB.afterLoad)),
      } : {}),
      atCollection: {
        perRound: t.map((r) => r.rssAtCollectionMiB),
        reloadOverLoad: t.map((r) => ratio(r.rssAtCollectionMiB[3]!, r.rssAtCollectionMiB[1]!)),
      },
      goal: 'settled RSS after a reload within 10% of the first load (ratio <= 1.10)',
    },
    secondPeerStayedUp: t.map((r) => r.secondPeerStayedUp),
    // CPU time per phase: trellisd's BGP path (its process, whose thread pool writes the
    // routes, and its children: the spawner and the kernel monitors) and BIRD
    // (which writes by netlink itself): the work done, less bent by a busy machine than the
    // wall-clock times above.
    cpuMs: (() => {
      const phases = ['load', 'withdraw', 'reload'] as const;
      const tr = t.map((r) => Object.fromEntries(phases.map((p) => [p, { own: r.eld[p].cpuMs ?? 0, children: r.eld[p].childCpuMs ?? 0 }])) as Record<typeof phases[number], { own: number; children: number }>);
      const bi = b.map((r) => r.cpuMs);
      const ratios = Object.fromEntries(phases.map((p) => [p, ratio(median(tr.map((r) => r[p].own + r[p].children)), median(bi.map((r) => r[p])))]));
      return { trellis: tr, bird: bi, ratioTrellisOverBird: ratios };
    })(),
  };
}
