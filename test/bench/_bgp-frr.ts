// `npm run bench -- bgp --sender frr [--prefixes 100000] [--rounds 1]`: a top-of-rack
// (FRR bgpd) sends a full table to trellisd's BGP path (agent port + learned-route queue
// + dataplane, in its own process and namespace), and the same table to BIRD 2 with a
// kernel protocol as the anchor, one after the other in the same run. For each: time
// from Established to every route in the receiver's kernel (load), from F's withdraw to
// none left (withdraw), from F's re-send to all back (reload). For trellisd also the
// event-loop delay (perf_hooks, 10 ms resolution) and settled RSS per phase, and whether
// an unrelated peer with a 3 s hold time stayed up throughout. Topology: test/bgp/_table.ts.
import { startTableLab, type TableLab } from '../bgp/_table.js';
import { median } from './_stats.js';

interface Eld { p50Ms: number; p99Ms: number; maxMs: number; count: number }
const MiB = (b: number) => Math.round((b / 1048576) * 10) / 10;
const progress = (msg: string) => { if (process.env.BENCH_DEBUG) process.stderr.write(`[bgp frr] ${msg}\n`); };

async function trellisRound(lab: TableLab) {
  const h = await lab.startTrellis();
  const rss = async () => MiB((await h.call<{ rss: number }>('memory')).rss);
  const eld = (reset = true) => h.call<Eld>('eld', { reset });
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
  const after = await lab.keepSession();
  await lab.shut('t');
  await lab.stopTrellis();
  return {
    loadMs, withdrawMs, reloadMs,
    eld: { load: eldLoad, withdraw: eldWithdraw, reload: eldReload },
    rssMiB: { idle: rssIdle, afterLoad: rssLoad, afterWithdraw: rssWithdrawn, afterReload: rssReload },
    secondPeerStayedUp: before.up && after.up && before.since === after.since,
  };
}

async function birdRound(lab: TableLab) {
  await lab.startAnchor();
  progress('bird: load');
  const est = await lab.open('b');
  const loadMs = (await lab.waitKernel('b', lab.n)) - est;
  progress('bird: withdraw');
  let t0 = Date.now();
  await lab.setExport('b', false);
  const withdrawMs = (await lab.waitKernel('b', 0)) - t0;
  progress('bird: reload');
  t0 = Date.now();
  await lab.setExport('b', true);
  const reloadMs = (await lab.waitKernel('b', lab.n)) - t0;
  await lab.shut('b');
  await lab.stopAnchor();
  return { loadMs, withdrawMs, reloadMs };
}

export async function runFrr(params: Record<string, string>): Promise<Record<string, unknown>> {
  const n = Number(params.prefixes ?? 100000);
  const rounds = Number(params.rounds ?? 1);
  const lab = await startTableLab('b', n);
  const t: Awaited<ReturnType<typeof trellisRound>>[] = [];
  const b: Awaited<ReturnType<typeof birdRound>>[] = [];
  try {
    for (let i = 0; i < rounds; i++) {
      t.push(await trellisRound(lab));
      b.push(await birdRound(lab));
    }
  } finally {
    await lab.close();
  }
  const med = (xs: number[]) => Math.round(median(xs));
  const ratio = (a: number, c: number) => Math.round((a / c) * 100) / 100;
  const phase = (k: 'loadMs' | 'withdrawMs' | 'reloadMs') => {
    const tm = med(t.map((r) => r[k])); const bm = med(b.map((r) => r[k]));
    return { trellisMs: t.map((r) => r[k]), birdMs: b.map((r) => r[k]), trellisMedianMs: tm, birdMedianMs: bm, ratioTrellisOverBird: ratio(tm, bm) };
  };
  const all = t.flatMap((r) => [r.eld.load, r.eld.withdraw, r.eld.reload]);
  return {
    sender: 'frr', prefixes: n, rounds,
    load: phase('loadMs'), withdraw: phase('withdrawMs'), reload: phase('reloadMs'),
    eventLoop: {
      p99MaxOverPhasesMs: Math.max(...all.map((e) => e.p99Ms)), maxMs: Math.max(...all.map((e) => e.maxMs)),
      perRound: t.map((r) => r.eld),
    },
    rss: {
      perRound: t.map((r) => r.rssMiB),
      reloadOverLoad: t.map((r) => ratio(r.rssMiB.afterReload, r.rssMiB.afterLoad)),
    },
    secondPeerStayedUp: t.map((r) => r.secondPeerStayedUp),
  };
}
