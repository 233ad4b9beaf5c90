// One lab per e2e test file: built in namespaces named with the file's test prefix, its
// records in a temporary directory, taken down afterwards (the runner sweeps the prefix
// too). The lab runs the built trellisd/trellisctl/trellis-cni from dist/ (npm test builds first).
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { testNetnsPrefix } from '../../src/lab/index.js';
import { labUp, waitConverged, type Lab } from '../../src/lab/lab.js';
import { DIST } from '../../src/lab/cluster.js';
import type { Runtime } from '../../src/lab/plan.js';
import { ROUTE_PROTO_BGP } from '../../src/calc/index.js';

export async function startLab(opts: { hosts: number; etcd?: 1 | 3; tag: string; runtime?: Runtime }): Promise<Lab> {
  for (const bin of ['agent/main.js', 'cli/main.js', 'cni/main.js']) {
    if (!existsSync(join(DIST, bin))) throw new Error(`dist/${bin} is missing: run "npm run build" first (npm test does)`);
  }
  const stateDir = mkdtempSync(join(tmpdir(), `trellis-lab-${opts.tag}-`));
  const lab = await labUp({
    prefix: `${testNetnsPrefix()}${opts.tag}`, stateDir, hosts: opts.hosts, etcdMembers: opts.etcd ?? 1, runtime: opts.runtime ?? 'cni',
    timers: { holdTime: 9, keepalive: 3, resyncIntervalSeconds: 30 },
  }).catch(async (err: Error) => {
    const { labDown } = await import('../../src/lab/lab.js');
    await labDown(stateDir);
    throw err;
  });
  await waitConverged(lab, 60_000);
  return lab;
}

export async function stopLab(lab: Lab | undefined): Promise<void> {
  if (!lab) return;
  await lab.down();
  rmSync(lab.stateDir, { recursive: true, force: true });
}

/** BGP-learned kernel routes on a host: "10.244.1.0/26 via 10.10.1.1". */
export async function learnedRoutes(lab: Lab, host: string): Promise<string[]> {
  const r = await execa('ip', ['-n', lab.host(host).netns, '-j', 'route', 'show', 'proto', String(ROUTE_PROTO_BGP)]);
  return (JSON.parse(String(r.stdout) || '[]') as Array<{ dst: string; gateway?: string }>).map((x) => `${x.dst} via ${x.gateway ?? '?'}`).sort();
}

/** The host's full dataplane as text (rules, sets, routes) without counters: equal means untouched. */
export async function dataplaneSnapshot(lab: Lab, host: string): Promise<string> {
  const ns = lab.host(host).netns;
  const run = async (argv: string[]) => String((await execa('ip', ['netns', 'exec', ns, ...argv])).stdout);
  const ipt = (await run(['iptables-save'])).replace(/^#.*$/gm, '').replace(/\[\d+:\d+\]/g, '[]');
  const sets = await run(['ipset', 'save']);
  const routes = await run(['ip', 'route', 'show', 'table', 'main']);
  return `${ipt}\n${sets}\n${routes}`;
}

export async function waitUntil(what: string, fn: () => Promise<boolean>, timeoutMs: number, stepMs = 200): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await fn()) return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

export function addressOf(lab: Lab, container: string): string {
  const a = lab.addresses[container];
  if (!a) throw new Error(`container ${container} has no address in the lab`);
  return a;
}
