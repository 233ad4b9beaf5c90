// npm run bench -- cni --n 200 --parallel 20
// trellis-cni ADD and DEL latency through the process interface (spawned as a runtime
// does, inside a host namespace, etcd on loopback), serial and in parallel. The plugin is
// bundled once (our code only; packages load from node_modules) so that the figures are
// those of an installed plugin, not of tsx compiling TypeScript. VERSION calls measure
// what every call pays before any work: starting node and loading the modules.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createNetns, testNetnsPrefix, type Netns } from '../../src/lab/index.js';
import { containerId, netConf, ROOT, runPlugin, setupHarness, type Harness } from '../cni/_harness.js';
import { median, percentile } from './_stats.js';
import type { BenchParams } from './run.js';

async function bundle(): Promise<string> {
  const out = join(ROOT, 'node_modules/.cache/trellis-bench/cni.mjs');
  mkdirSync(join(out, '..'), { recursive: true });
  const esbuild = await import('esbuild');
  await esbuild.build({
    entryPoints: [join(ROOT, 'src/cni/main.ts')], bundle: true, platform: 'node', format: 'esm',
    target: 'node20', packages: 'external', outfile: out, logLevel: 'warning',
  });
  return out;
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
  const plugin = await bundle();
  const argv = ['node', plugin];
  const h: Harness = await setupHarness('cbn', [{ name: 'bench', cidr: '10.62.0.0/16' }]);
  const sandboxes: Netns[] = [];
  try {
    for (let i = 0; i < n; i++) sandboxes.push(await createNetns(`${testNetnsPrefix()}b${i}`));
    const conf = netConf(h);
    // Inside the plugin (TRELLIS_CNI_TIMING): ms since process start when its modules were
    // loaded, when etcd3 was loaded, and when it finished.
    const phases: Record<string, { modules: number[]; store: number[]; work: number[] }> = {};
    const timed = async (call: Parameters<typeof runPlugin>[1], label = ''): Promise<number> => {
      const t = process.hrtime.bigint();
      const r = await runPlugin(h, { ...call, env: { TRELLIS_CNI_TIMING: '1' } }, conf, argv);
      if (r.code !== 0) throw new Error(`${call.command} failed: ${r.stdout} ${r.stderr}`);
      const took = ms(process.hrtime.bigint() - t);
      const line = r.stderr.split('\n').find((l) => l.includes('timingMs'));
      if (line && label) {
        const tm = (JSON.parse(line) as { timingMs: Record<string, number> }).timingMs;
        const p = (phases[label] ??= { modules: [], store: [], work: [] });
        p.modules.push(tm.modulesLoaded ?? NaN);
        p.store.push((tm.storeLoaded ?? NaN) - (tm.modulesLoaded ?? NaN));
        p.work.push((tm.done ?? NaN) - (tm.storeLoaded ?? NaN));
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
    for (const [label, par] of [['serial', 1], [`parallel${parallel}`, parallel]] as const) {
      const add: number[] = [];
      const del: number[] = [];
      const ids = Array.from({ length: n }, (_, i) => i);
      let t = process.hrtime.bigint();
      await pool(ids, par, async (i) => { add.push(await timed(call('ADD', i), `${label}Add`)); });
      const addWall = ms(process.hrtime.bigint() - t);
      t = process.hrtime.bigint();
      await pool(ids, par, async (i) => { del.push(await timed(call('DEL', i), `${label}Del`)); });
      const delWall = ms(process.hrtime.bigint() - t);
      result[label] = {
        addMs: summary(add), delMs: summary(del),
        addPerSec: round(n / (addWall / 1000)), delPerSec: round(n / (delWall / 1000)),
      };
    }
    const left = (await h.store.list('WorkloadEndpoint')).length;
    if (left !== 0) throw new Error(`${left} endpoints left after DEL`);
    const serial = result.serial as { addMs: { median: number }; delMs: { median: number } };
    result.processStartMs = {
      nodeEmpty: summary(bare),
      pluginVersion: summary(version),
      etcd3Load: summary(etcdLoad),
      note: 'every CNI call starts node (nodeEmpty) and loads etcd3/gRPC (etcd3Load) before any work',
    };
    void serial;
    result.insidePluginMs = Object.fromEntries(Object.entries(phases).map(([k, p]) => [k, {
      startAndModules: round(median(p.modules)), etcd3Import: round(median(p.store)), work: summary(p.work),
    }]));
    return result;
  } finally {
    for (const s of sandboxes) await s.destroy();
    await h.stop();
  }
}
