// npm run bench -- docker [--n 20] [--reach 10]
// On a 2-host docker lab (`npm run lab -- up --runtime docker --hosts 2`: a dockerd per
// host, trellisd serving its network and IPAM driver, BGP through the ToR), on h1:
//  - the wall time of `docker run -d --net tenant-a` and of `docker rm -f`, against the
//    anchor, the same commands with `--net none` (Docker with no network work at all),
//    alternated in the same run;
//  - Trellis's share: the time trellisd spent in the driver calls of that run
//    (RequestAddress, CreateEndpoint, Join, ProgramExternalConnectivity) and of that rm
//    (RevokeExternalConnectivity, Leave, DeleteEndpoint, ReleaseAddress), from its own
//    per-call timings in its log (debug). Join includes the wait for the local dataplane;
//  - time to reachable from another host: from `docker run --ip A` starting on h1 to A
//    answering TCP/80 from h2's tenant-a client (probes launched every 50 ms from the start;
//    A lies in h1's block, which the ToR already carries, so what is timed is Docker,
//    the driver, h1's dataplane and the container's listener starting).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testNetnsPrefix } from '../../src/lab/index.js';
import { labDown, labUp, waitConverged, type Lab } from '../../src/lab/lab.js';
import { trellisdLog } from '../../src/lab/cluster.js';
import { hostDocker, LISTEN_FLAGS } from '../../src/lab/dockerlab.js';
import { probeTcp } from '../../src/lab/matrix.js';
import { median, percentile } from './_stats.js';
import { firstReflecting, PROBE_EVERY_MS } from './_probe.js';
import type { BenchParams } from './run.js';

const round = (x: number) => Math.round(x * 10) / 10;
const stats = (xs: number[]) => ({ median: round(median(xs)), p90: round(percentile(xs, 90)), n: xs.length });

const RUN_CALLS = ['/IpamDriver.RequestAddress', '/NetworkDriver.CreateEndpoint', '/NetworkDriver.Join', '/NetworkDriver.ProgramExternalConnectivity'];
const RM_CALLS = ['/NetworkDriver.RevokeExternalConnectivity', '/NetworkDriver.Leave', '/NetworkDriver.DeleteEndpoint', '/IpamDriver.ReleaseAddress'];
const IMAGE = ['local/busybox', 'nc', LISTEN_FLAGS, '-p', '80', '-e', 'echo', 'ok'];

interface Call { call: string; ms: number }
function logLines(lab: Lab, msg: string): Array<Record<string, unknown>> {
  return readFileSync(trellisdLog(lab.stateDir, 'h1'), 'utf8').split('\n').flatMap((l) => {
    if (!l.includes(`"msg":"${msg}"`)) return [];
    try { return [JSON.parse(l) as Record<string, unknown>]; } catch { return []; }
  });
}
const calls = (lab: Lab): Call[] => logLines(lab, 'docker plugin call').map((j) => ({ call: String(j.call), ms: Number(j.ms) }));

async function timed(lab: Lab, args: string[]): Promise<number> {
  const t = performance.now();
  const r = await hostDocker(lab.stateDir, 'h1', args);
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')} on h1: ${r.stderr}`);
  return performance.now() - t;
}

/** An address of h1's first block the lab's containers do not use (they take its first few). */
async function spareAddress(lab: Lab): Promise<string> {
  const block = (await lab.status('h1')).bgp.advertised[0];
  const m = /^(\d+\.\d+\.\d+)\.(\d+)\/(\d+)$/.exec(block ?? '');
  if (!m || Number(m[3]) > 26) throw new Error(`h1 advertises no /26 or larger block (${block})`);
  return `${m[1]}.${Number(m[2]) + 50}`;
}

export async function run(params: BenchParams): Promise<Record<string, unknown>> {
  const n = Number(params.n ?? 20);
  const reachN = Number(params.reach ?? 10);
  const stateDir = mkdtempSync(join(tmpdir(), 'trellis-bench-docker-'));
  // The per-call timings are debug lines; TRELLIS_* settings win over the lab's file.
  const level = process.env.TRELLIS_LOG_LEVEL;
  process.env.TRELLIS_LOG_LEVEL = 'debug';
  let lab: Lab | undefined;
  try {
    lab = await labUp({ prefix: `${testNetnsPrefix()}bd`, stateDir, hosts: 2, runtime: 'docker' });
    if (level === undefined) delete process.env.TRELLIS_LOG_LEVEL; else process.env.TRELLIS_LOG_LEVEL = level;
    await waitConverged(lab, 60_000);
    const l = lab;
    const run = { trellis: [] as number[], anchor: [] as number[] };
    const rm = { trellis: [] as number[], anchor: [] as number[] };
    const share = { run: [] as number[], rm: [] as number[], join: [] as number[] };
    // The lab's own containers joined at up: only the bench's joins count.
    const joinedAtUp = logLines(l, 'docker endpoint joined').length;
    for (let i = 0; i < n; i++) {
      // Alternating, so that load on the machine falls on both alike.
      run.anchor.push(await timed(l, ['run', '-d', '--stop-timeout', '1', '--name', `a${i}`, '--net', 'none', ...IMAGE]));
      const before = calls(l).length;
      run.trellis.push(await timed(l, ['run', '-d', '--stop-timeout', '1', '--name', `t${i}`, '--net', 'tenant-a', '--label', 'app=bench', ...IMAGE]));
      const c1 = calls(l).slice(before);
      share.run.push(c1.filter((c) => RUN_CALLS.includes(c.call)).reduce((s, c) => s + c.ms, 0));
      share.join.push(c1.filter((c) => c.call === '/NetworkDriver.Join').reduce((s, c) => s + c.ms, 0));
      rm.anchor.push(await timed(l, ['rm', '-f', `a${i}`]));
      const mid = calls(l).length;
      rm.trellis.push(await timed(l, ['rm', '-f', `t${i}`]));
      share.rm.push(calls(l).slice(mid).filter((c) => RM_CALLS.includes(c.call)).reduce((s, c) => s + c.ms, 0));
    }
    const joins = logLines(l, 'docker endpoint joined').slice(joinedAtUp).map((j) => j.phases as Record<string, number>);
    const joinPhases = Object.fromEntries(['lookup', 'records', 'attach', 'dataplane'].map((k) => [k, stats(joins.map((j) => j[k] ?? 0))]));

    const address = await spareAddress(l);
    const from = l.container('h2-a-client').netns;
    const reach: number[] = [];
    const reachRun: number[] = [];
    for (let i = 0; i < reachN; i++) {
      const t0 = performance.now();
      const reached = firstReflecting(t0, true, () => probeTcp(from, address, 80, 0.3), 30_000);
      reached.catch(() => undefined);
      reachRun.push(await timed(l, ['run', '-d', '--stop-timeout', '1', '--name', `r${i}`, '--net', 'tenant-a', '--ip', address, '--label', 'app=web', ...IMAGE]));
      reach.push(await reached);
      await timed(l, ['rm', '-f', `r${i}`]);
    }
    const ratio = (a: number[], b: number[]) => Math.round(median(a) / median(b) * 100) / 100;
    return {
      hosts: 2, containers: n,
      dockerRun: { trellis: stats(run.trellis), anchorNetNone: stats(run.anchor), ratio: ratio(run.trellis, run.anchor) },
      dockerRm: { trellis: stats(rm.trellis), anchorNetNone: stats(rm.anchor), ratio: ratio(rm.trellis, rm.anchor) },
      trellisShareMs: { run: stats(share.run), join: stats(share.join), joinPhases, rm: stats(share.rm), goalRunMedianMs: 100 },
      reachableFromOtherHostMs: { fromRunStart: stats(reach), dockerRunWithIp: stats(reachRun), probeEveryMs: PROBE_EVERY_MS },
      notes: 'ms, on h1 of a 2-host docker lab; share = time inside trellisd\'s driver calls (its own timings); Join includes waiting for the local dataplane; reachable = docker run --ip on h1 starting until h2-a-client connects to TCP/80',
    };
  } finally {
    if (level === undefined) delete process.env.TRELLIS_LOG_LEVEL; else process.env.TRELLIS_LOG_LEVEL = level;
    // From the records, even when up failed half-way.
    await labDown(stateDir);
    rmSync(stateDir, { recursive: true, force: true });
  }
}
