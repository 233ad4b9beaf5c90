// npm run bench -- routes [--routes 100000] [--rounds 5]
// The two route writers (src/dataplane/route-writer.ts) on the same work, in a throwaway
// namespace: `routes` proto 79 host routes added into an empty table, then all deleted.
// netlink: the requests handed to native/rtnetlink (encoding included); ip: the same ops
// as `ip -force -batch` lines, which is also the raw floor of the iproute2 way. Rounds
// alternate which writer goes first; medians, p90 and the ratio netlink / ip.
import { performance } from 'node:perf_hooks';
import { createNetns, testNetnsPrefix } from '../../src/lab/index.js';
import { createExec } from '../../src/dataplane/exec.js';
import { ipBatchRouteWriter, netlinkRouteWriter, type RouteWriter } from '../../src/dataplane/route-writer.js';
import { RouteOpList, type RouteOp } from '../../src/dataplane/route-ops.js';
import { msStats } from './_stats.js';
import type { BenchParams } from './run.js';

export async function run(params: BenchParams): Promise<Record<string, unknown>> {
  const n = Number(params.routes ?? 100_000);
  const rounds = Number(params.rounds ?? 5);
  const ns = await createNetns(`${testNetnsPrefix()}bwr`);
  try {
    await ns.run(['ip', '-batch', '-'], { input: 'link add up0 type veth peer name up1\nlink set up0 up\nlink set up1 up\naddr add 10.255.0.1/24 dev up0\n' });
    const nl = netlinkRouteWriter(ns.name);
    if (!('write' in nl)) throw new Error(nl.error);
    const writers: RouteWriter[] = [nl, ipBatchRouteWriter(createExec(ns.name))];
    const adds: RouteOp[] = Array.from({ length: n }, (_, i) => ({ op: 'add', dst: `10.${64 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/32`, family: 4, via: '10.255.0.2' }));
    const dels: RouteOp[] = adds.map((o) => ({ op: 'del', dst: o.dst, family: 4, via: o.via! }));
    const [addList, delList] = [RouteOpList.of(adds), RouteOpList.of(dels)];
    const ms: Record<string, { add: number[]; del: number[] }> = { netlink: { add: [], del: [] }, ip: { add: [], del: [] } };
    const timed = async (w: RouteWriter, ops: RouteOpList) => {
      const t = performance.now();
      const r = await w.write(ops, 79);
      if (!r.ok) throw new Error(`${w.name}: ${r.errors.slice(0, 3).join('; ')}`);
      return performance.now() - t;
    };
    for (let i = 0; i < rounds; i++) {
      for (const w of i % 2 ? [...writers].reverse() : writers) {
        ms[w.name]!.add.push(await timed(w, addList));
        ms[w.name]!.del.push(await timed(w, delList));
      }
    }
    const stats = Object.fromEntries(Object.entries(ms).map(([k, v]) => [k, { add: msStats(v.add), del: msStats(v.del) }]));
    const ratio = (k: 'add' | 'del') => Math.round((stats.netlink![k].medianMs / stats.ip![k].medianMs) * 100) / 100;
    return { routes: n, rounds, ...stats, ratioNetlinkOverIp: { add: ratio('add'), del: ratio('del') } };
  } finally {
    await ns.destroy();
  }
}
