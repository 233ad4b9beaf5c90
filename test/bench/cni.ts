// npm run bench -- cni --n 200 --parallel 20 [--via agent|plugin|both]   (after npm run build)
// trellis-cni ADD and DEL latency through the process interface (spawned as a runtime
// does, inside a host namespace, etcd on loopback), serial and in parallel, two ways:
// handed to trellisd's CNI socket (the server trellisd runs, in the host namespace), and
// done by the plugin itself (nobody listening). The plugin is the built one (dist/), as
// installed. VERSION calls measure what every in-process call pays before any work.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createNetns, testNetnsPrefix, type Netns } from '../../src/lab/index.js';
import { containerId, netConf, ROOT, runPlugin, setupHarness, type Harness } from '../cni/_harness.js';
import { median, percentile } from './_stats.js';
import type { BenchParams } from './run.js';

/** The CNI server trellisd runs, on a socket in the harness directory, inside the host namespace. */
async function startAgentSocket(h: Harness): Promise<{ path: string; cpuMs(): { self: number; children: number }; stop(): Promise<void> }> {
  const path = join(h.dir, 'agent', 'cni.sock');
  const p: ChildProcess = spawn('ip', ['netns', 'exec', h.host.name, process.execPath, '--import', 'tsx', join(ROOT, 'test/cni/_agent-socket.ts'), path], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    p.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('serving')) resolve(); });
    p.on('exit', (code) => reject(new Error(`CNI socket server exited ${code}`)));
  });
  // `ip netns exec` execs node in place: the pid is the server's. Its CPU and its children's
  // (the ip/nsenter it runs), in ms (clock ticks of 10 ms).
  const cpuMs = () => {
    const stat = readFileSync(`/proc/${p.pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
    return { self: (f[11]! + f[12]!) * 10, children: (f[13]! + f[14]!) * 10 };
  };
  return { path, cpuMs, stop: async () => { if (p.exitCode === null) { p.kill('SIGTERM'); await new Promise((r) => p.once('exit', r)); } } };
}

const ms = (ns: bigint) => Number(ns) / 1e6;
const round = (x: number) => Math.round(x * 10) / 10;
const summary = (xs: number[]) => ({ median: round(median(xs)), p99: round(percentile(xs, 99)), max: round(Math.max(...xs)) });

async function pool<T>(items: T[], parallel: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(parallel, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

export async function run(params: BenchParams): Promise<Record<string, unknown>> {
  const n = Number(params.n ?? 200);
  const parallel = Number(params.parallel ?? 20);
  const modes = params.via === 'agent' ? ['agent'] : params.via === 'plugin' ? ['plugin'] : ['agent', 'plugin'];
  const plugin = join(ROOT, 'dist/cni/main.js');
  if (!existsSync(plugin)) throw new Error(`${plugin} is missing: run npm run build first`);
  const argv = ['node', plugin];
  const h: Harness = await setupHarness('cbn', [{ name: 'bench', cidr: '10.62.0.0/16' }]);
  const agent = await startAgentSocket(h);
  const sandboxes: Netns[] = [];
  try {
    for (let i = 0; i < n; i++) sandboxes.push(await createNetns(`${testNetnsPrefix()}b${i}`));
    const conf = netConf(h);
    // Inside the plugin (TRELLIS_CNI_TIMING): ms since process start when main began, when
    // the in-process modules were loaded or trellisd answered, and when it finished.
    const phases: Record<string, { start: number[]; load: number[]; work: number[] }> = {};
    let socketEnv: Record<string, string> = {};
    const timed = async (call: Parameters<typeof runPlugin>[1], label = ''): Promise<number> => {
      const t = process.hrtime.bigint();
      const r = await runPlugin(h, { ...call, env: { TRELLIS_CNI_TIMING: '1', ...socketEnv } }, conf, argv);
      if (r.code !== 0) throw new Error(`${call.command} failed: ${r.stdout} ${r.stderr}`);
      const took = ms(process.hrtime.bigint() - t);
      const line = r.stderr.split('\n').find((l) => l.includes('timingMs'));
      if (line && label) {
        const tm = (JSON.parse(line) as { timingMs: Record<string, number> }).timingMs;
        const p = (phases[label] ??= { start: [], load: [], work: [] });
        const ready = tm.modulesLoaded ?? tm.started ?? NaN;
        p.start.push(tm.started ?? NaN);
        p.load.push(ready - (tm.started ?? NaN));
        p.work.push((tm.done ?? NaN) - ready);
      }
      return took;
    };
    const call = (command: 'ADD' | 'DEL', i: number) => ({ command, containerID: containerId(i), netns: `/run/netns/${sandboxes[i]!.name}`, ifname: 'eth0' });

    const version: number[] = [];
    for (let i = 0; i < 20; i++) version.push(await timed({ command: 'VERSION' }));
    const bare: number[] = [];
    for (let i = 0; i < 10; i++) {
      const t = process.hrtime.bigint();
      await runPlugin(h, { command: 'VERSION' }, {}, ['node', '-e', '']);
      bare.push(ms(process.hrtime.bigint() - t));
    }

    const etcdLoad: number[] = [];
    for (let i = 0; i < 10; i++) {
      const t = process.hrtime.bigint();
      await runPlugin(h, { command: 'VERSION' }, {}, ['node', '--input-type=module', '-e', "await import('etcd3')"]);
      etcdLoad.push(ms(process.hrtime.bigint() - t) - median(bare));
    }
    const result: Record<string, unknown> = { n, parallel };
    const rounds = modes.flatMap((m) => [[`${m}Serial`, 1, m], [`${m}Parallel${parallel}`, parallel, m]] as const);
    for (const [label, par, mode] of rounds) {
      socketEnv = { TRELLIS_CNI_SOCKET: mode === 'agent' ? agent.path : '' };
      const add: number[] = [];
      const del: number[] = [];
      const ids = Array.from({ length: n }, (_, i) => i);
      const cpu0 = agent.cpuMs();
      let t = process.hrtime.bigint();
      await pool(ids, par, async (i) => { add.push(await timed(call('ADD', i), `${label}Add`)); });
      const addWall = ms(process.hrtime.bigint() - t);
      const cpu1 = agent.cpuMs();
      t = process.hrtime.bigint();
      await pool(ids, par, async (i) => { del.push(await timed(call('DEL', i), `${label}Del`)); });
      const delWall = ms(process.hrtime.bigint() - t);
      const cpu2 = agent.cpuMs();
      result[label] = {
        addMs: summary(add), delMs: summary(del),
        addPerSec: round(n / (addWall / 1000)), delPerSec: round(n / (delWall / 1000)),
        ...(mode === 'agent' ? {
          daemonCpuMsPerCall: {
            add: { self: round((cpu1.self - cpu0.self) / n), children: round((cpu1.children - cpu0.children) / n) },
            del: { self: round((cpu2.self - cpu1.self) / n), children: round((cpu2.children - cpu1.children) / n) },
          },
        } : {}),
      };
    }
    const left = (await h.store.list('WorkloadEndpoint')).length;
    if (left !== 0) throw new Error(`${left} endpoints left after DEL`);
    result.processStartMs = {
      nodeEmpty: summary(bare),
      pluginVersion: summary(version),
      etcd3Load: summary(etcdLoad),
      note: 'every CNI call starts node (nodeEmpty) and loads etcd3/gRPC (etcd3Load) before any work',
    };
    result.insidePluginMs = Object.fromEntries(Object.entries(phases).map(([k, p]) => [k, {
      nodeStart: round(median(p.start)), inProcessModules: round(median(p.load)), work: summary(p.work),
    }]));
    result.note = 'agent*: handed to trellisd over its CNI socket (warm etcd connection); plugin*: nobody listening, the plugin loads etcd3 and does the work itself. work = from modules loaded (or main start) to done.';
    return result;
  } finally {
    for (const s of sandboxes) await s.destroy();
    await agent.stop();
    await h.stop();
  }
}
