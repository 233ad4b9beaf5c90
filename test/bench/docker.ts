// npm run bench -- docker [--n 20]
// A real dockerd (Engine 20.10) in a host namespace with trellisd serving its network and
// IPAM driver (as test/docker/dockerd.test.ts sets up). Per container: the wall time of
// `docker run -d --net trellis-net` and `docker rm -f`, against the anchor, the same
// commands with `--net none` (Docker with no network work at all), in the same run; and
// Trellis's share: the time trellisd spent in the driver calls of that run
// (RequestAddress, CreateEndpoint, Join, ProgramExternalConnectivity) and of that rm
// (RevokeExternalConnectivity, Leave, DeleteEndpoint, ReleaseAddress), from its own
// per-call timings in its log. Join includes the wait for the local dataplane.
import { setupHarness } from '../cni/_harness.js';
import { addUplink, startDockerd, startDockerTrellisd, type Dockerd } from '../docker/_dockerd.js';
import { median, percentile } from './_stats.js';
import type { BenchParams } from './run.js';

const round = (x: number) => Math.round(x * 10) / 10;
const stats = (xs: number[]) => ({ median: round(median(xs)), p90: round(percentile(xs, 90)), n: xs.length });

const RUN_CALLS = ['/IpamDriver.RequestAddress', '/NetworkDriver.CreateEndpoint', '/NetworkDriver.Join', '/NetworkDriver.ProgramExternalConnectivity'];
const RM_CALLS = ['/NetworkDriver.RevokeExternalConnectivity', '/NetworkDriver.Leave', '/NetworkDriver.DeleteEndpoint', '/IpamDriver.ReleaseAddress'];

interface Call { call: string; ms: number; time: number }
function calls(log: string): Call[] {
  return log.split('\n').flatMap((l) => {
    if (!l.includes('"docker plugin call"')) return [];
    try { const j = JSON.parse(l) as Call; return [{ call: j.call, ms: j.ms, time: j.time }]; } catch { return []; }
  });
}

async function timed(d: Dockerd, args: string[]): Promise<number> {
  const t = process.hrtime.bigint();
  const r = await d.docker(args);
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')}: ${r.stderr}`);
  return Number(process.hrtime.bigint() - t) / 1e6;
}

export async function run(params: BenchParams): Promise<Record<string, unknown>> {
  const n = Number(params.n ?? 20);
  const h = await setupHarness('dkb', [{ name: 'bench', cidr: '10.64.0.0/16' }]);
  let d: Dockerd | null = null;
  let t: Awaited<ReturnType<typeof startDockerTrellisd>> | null = null;
  try {
    await addUplink(h, '10.99.8.1');
    d = await startDockerd({ netns: h.host.name, tag: 'dkb' });
    t = await startDockerTrellisd(h, d);
    await timed(d, ['network', 'create', '-d', 'trellis', '--ipam-driver', 'trellis', '--subnet', '10.64.0.0/16', 'bnet']);
    const run = { trellis: [] as number[], anchor: [] as number[] };
    const rm = { trellis: [] as number[], anchor: [] as number[] };
    const share = { run: [] as number[], rm: [] as number[], join: [] as number[] };
    for (let i = 0; i < n; i++) {
      // Alternating, so that load on the machine falls on both alike.
      run.anchor.push(await timed(d, ['run', '-d', '--stop-timeout', '1', '--name', `a${i}`, '--net', 'none', 'local/busybox', 'sleep', '600']));
      const before = calls(t.log()).length;
      run.trellis.push(await timed(d, ['run', '-d', '--stop-timeout', '1', '--name', `t${i}`, '--net', 'bnet', 'local/busybox', 'sleep', '600']));
      const c1 = calls(t.log()).slice(before);
      share.run.push(c1.filter((c) => RUN_CALLS.includes(c.call)).reduce((s, c) => s + c.ms, 0));
      share.join.push(c1.filter((c) => c.call === '/NetworkDriver.Join').reduce((s, c) => s + c.ms, 0));
      rm.anchor.push(await timed(d, ['rm', '-f', `a${i}`]));
      const mid = calls(t.log()).length;
      rm.trellis.push(await timed(d, ['rm', '-f', `t${i}`]));
      share.rm.push(calls(t.log()).slice(mid).filter((c) => RM_CALLS.includes(c.call)).reduce((s, c) => s + c.ms, 0));
    }
    const joins = t.log().split('\n').flatMap((l) => {
      if (!l.includes('"docker endpoint joined"')) return [];
      try { return [(JSON.parse(l) as { phases: Record<string, number> }).phases]; } catch { return []; }
    });
    const joinPhases = Object.fromEntries(['lookup', 'records', 'attach', 'dataplane'].map((k) => [k, stats(joins.map((j) => j[k] ?? 0))]));
    const ratio = (a: number[], b: number[]) => Math.round(median(a) / median(b) * 100) / 100;
    return {
      containers: n,
      dockerRun: { trellis: stats(run.trellis), anchorNetNone: stats(run.anchor), ratio: ratio(run.trellis, run.anchor) },
      dockerRm: { trellis: stats(rm.trellis), anchorNetNone: stats(rm.anchor), ratio: ratio(rm.trellis, rm.anchor) },
      trellisShareMs: { run: stats(share.run), join: stats(share.join), joinPhases, rm: stats(share.rm), goalRunMedianMs: 100 },
      notes: 'ms; share = time inside trellisd\'s driver calls (its own timings); Join includes waiting for the local dataplane to program the endpoint',
    };
  } finally {
    await d?.stop().catch(() => undefined);
    await t?.stop().catch(() => undefined);
    await h.stop();
  }
}
