// Shared set-up for the CNI tests: a real etcd (root namespace, loopback), a "host"
// namespace the plugin runs in (as a runtime on a Trellis host would run it), and a
// socat bridge so that 127.0.0.1:2379 inside the host namespace reaches that etcd
// through a unix socket (no change to the root namespace's network).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createNetns, testNetnsPrefix, type Netns } from '../../src/lab/index.js';
import { openStore, startEtcdServer, type EtcdServer, type Store } from '../../src/store/index.js';
import { API_VERSION } from '../../src/model/index.js';

export const ROOT = resolve(import.meta.dirname, '../..');
export const PLUGIN = join(ROOT, 'src/cni/main.ts');

export interface Harness {
  host: Netns;
  store: Store;
  prefix: string;
  /** etcd as seen from inside the host namespace. */
  endpoint: string;
  dir: string;
  /** A container namespace for this test file, removed by stop(). */
  sandbox(tag: string): Promise<Netns>;
  stop(): Promise<void>;
}

function startDaemon(argv: string[]): ChildProcess {
  const p = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  p.stderr?.on('data', () => undefined);
  return p;
}

async function waitFor(what: string, ok: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await ok()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export async function setupHarness(tag: string, pools: Array<{ name: string; cidr: string }>): Promise<Harness> {
  const dir = mkdtempSync(join('/dev/shm', `trellis-cni-${tag}-`));
  const cleanups: Array<() => Promise<void> | void> = [() => rmSync(dir, { recursive: true, force: true })];
  const stop = async () => { for (const c of cleanups.reverse()) await c(); };
  try {
    const etcd: EtcdServer = await startEtcdServer({ dataDir: join(dir, 'etcd') });
    cleanups.push(() => etcd.stop());
    const prefix = `/cni-${tag}/`;
    const store = openStore({ endpoints: [etcd.clientUrl], prefix });
    cleanups.push(() => store.close());
    for (const p of pools) await store.create({ apiVersion: API_VERSION, kind: 'IPPool', metadata: { name: p.name }, spec: { cidr: p.cidr } });
    const host = await createNetns(`${testNetnsPrefix()}${tag}`);
    cleanups.push(() => host.destroy());
    // What the dataplane sets on a real host: forwarding between container veths.
    await host.run(['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    const sock = join(dir, 'etcd.sock');
    const port = new URL(etcd.clientUrl).port;
    // nodelay on both TCP legs: gRPC's small HTTP/2 frames otherwise wait out Nagle and
    // delayed ACKs at the bridge (≈ 40 ms per etcd request), which a direct client never sees.
    const outside = startDaemon(['socat', `UNIX-LISTEN:${sock},fork`, `TCP:127.0.0.1:${port},nodelay`]);
    cleanups.push(() => { outside.kill('SIGKILL'); });
    await waitFor('the unix side of the etcd bridge', async () => (await import('node:fs')).existsSync(sock));
    const inside = startDaemon(['ip', 'netns', 'exec', host.name, 'socat', 'TCP-LISTEN:2379,bind=127.0.0.1,fork,reuseaddr,nodelay', `UNIX-CONNECT:${sock}`]);
    cleanups.push(() => { inside.kill('SIGKILL'); });
    await waitFor('the etcd bridge in the host namespace', async () =>
      (await host.exec(['bash', '-c', 'exec 3<>/dev/tcp/127.0.0.1/2379'])).exitCode === 0);
    const sandbox = async (tag: string) => {
      const ns = await createNetns(`${testNetnsPrefix()}${tag}`);
      cleanups.push(() => ns.destroy());
      return ns;
    };
    return { host, store, prefix, endpoint: 'http://127.0.0.1:2379', dir, sandbox, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

export interface PluginCall {
  command: 'ADD' | 'DEL' | 'CHECK' | 'VERSION' | 'GC' | 'STATUS';
  containerID?: string;
  netns?: string;
  ifname?: string;
  args?: string;
  env?: Record<string, string>;
}

export interface PluginResult { code: number; stdout: string; stderr: string; json: Record<string, unknown> | null }

/** Runs the plugin as a runtime does: CNI_* env, config on stdin, inside the host namespace. */
export function runPlugin(h: Harness, call: PluginCall, conf: Record<string, unknown>, argv = ['node', '--import', 'tsx', PLUGIN]): Promise<PluginResult> {
  return new Promise((done) => {
    const child = spawn('ip', ['netns', 'exec', h.host.name, ...argv], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
        CNI_COMMAND: call.command,
        ...(call.containerID ? { CNI_CONTAINERID: call.containerID } : {}),
        ...(call.netns ? { CNI_NETNS: call.netns } : {}),
        ...(call.ifname ? { CNI_IFNAME: call.ifname } : {}),
        ...(call.args ? { CNI_ARGS: call.args } : {}),
        CNI_PATH: '/usr/lib/cni',
        ...call.env,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('close', (code) => {
      let json: Record<string, unknown> | null = null;
      try { json = stdout.trim() ? JSON.parse(stdout) as Record<string, unknown> : null; } catch { /* not JSON */ }
      done({ code: code ?? -1, stdout, stderr, json });
    });
    child.stdin.end(JSON.stringify(conf));
  });
}

export function netConf(h: Harness, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    cniVersion: '1.0.0', name: 'trellis', type: 'trellis-cni',
    etcdEndpoints: [h.endpoint], etcdPrefix: h.prefix, nodeName: 'host1', logLevel: 'warn', ...extra,
  };
}

export function containerId(n: number): string {
  return `${n.toString(16).padStart(8, '0')}${'ab'.repeat(28)}`;
}
