// A real dockerd for a test, confined to a host namespace and a directory of the test's:
// started the way the lab's `--runtime docker` starts it (src/lab/dockerd.ts: nsenter --net,
// a mount namespace of its own, the plugin directory ours); here it is the test's child,
// its output kept for failure messages. stop() removes the containers, dockerd, its cgroups
// and its directory.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  busyboxTarball, cgroupsWithPrefix, dockerCli, dockerdArgv, dockerdPid, importBusybox, prepareDockerd, sweepCgroup, trellisPluginSocket, waitDockerd,
  type DockerOut,
} from '../../src/lab/dockerd.js';
import { ROOT, type Harness } from '../cni/_harness.js';

export type { DockerOut };

/**
 * Proxy ARP answers the containers' 169.254.1.1 only with a route covering it out another
 * interface: the host gets a default route over a veth pair with both ends in its namespace
 * (no traffic leaves it).
 */
export async function addUplink(h: Harness, address: string): Promise<void> {
  await h.host.run(['ip', 'link', 'add', 'up0', 'type', 'veth', 'peer', 'name', 'up1']);
  await h.host.run(['ip', 'link', 'set', 'up0', 'up']);
  await h.host.run(['ip', 'link', 'set', 'up1', 'up']);
  await h.host.run(['ip', 'addr', 'add', `${address}/32`, 'dev', 'up0']);
  await h.host.run(['ip', 'route', 'add', 'default', 'dev', 'up0']);
}

export interface Dockerd {
  dir: string;
  /** Docker's API socket. */
  apiSocket: string;
  /** The directory dockerd sees as /run/docker/plugins. */
  pluginDir: string;
  docker(args: string[], timeoutMs?: number): Promise<DockerOut>;
  /** Stops dockerd (SIGTERM, then SIGKILL) and waits for it; start() brings it back on the same data. */
  restart(): Promise<void>;
  log(): string;
  stop(): Promise<void>;
}

function wait(ms: number) { return new Promise((r) => setTimeout(r, ms)); }

/** What an earlier run of this tag left after a crash: cgroups named for a pid that is gone. */
function sweepStale(tag: string): void {
  for (const n of cgroupsWithPrefix(`trl-${tag}-`)) {
    const pid = Number(n.slice(`trl-${tag}-`.length));
    if (Number.isInteger(pid) && !existsSync(`/proc/${pid}`)) sweepCgroup(n);
  }
  for (const n of readdirTmp(`trl-${tag}-`)) {
    const dir = join('/tmp', n);
    let pid = 0;
    try { pid = Number(readFileSync(join(dir, 'docker.pid'), 'utf8').trim()); } catch { /* never started */ }
    const old = Date.now() - statSync(dir).mtimeMs > 600_000;
    if (pid ? !existsSync(`/proc/${pid}`) : old) rmSync(dir, { recursive: true, force: true });
  }
}

function readdirTmp(prefix: string): string[] {
  try { return readdirSync('/tmp').filter((x) => x.startsWith(prefix)); } catch { return []; }
}

/** dockerd (src/lab/dockerd.ts) in the test's host namespace, its output kept for failure messages. */
export async function startDockerd(o: { netns: string; tag: string }): Promise<Dockerd> {
  sweepStale(o.tag);
  const dir = mkdtempSync(`/tmp/trl-${o.tag}-`);
  const cgroup = `trl-${o.tag}-${process.pid}`;
  const paths = prepareDockerd(dir, cgroup);
  let daemon: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();
  let logText = '';
  const docker = (args: string[], timeoutMs = 60_000) => dockerCli(paths.apiSocket, args, timeoutMs);

  const start = async () => {
    const argv = dockerdArgv(o.netns, paths);
    const p = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    daemon = p;
    const collect = (x: Buffer) => { logText = (logText + x.toString()).slice(-200_000); };
    p.stdout!.on('data', collect);
    p.stderr!.on('data', collect);
    exited = new Promise((r) => p.once('exit', () => r()));
    await waitDockerd(paths, () => (p.exitCode !== null ? `dockerd exited ${p.exitCode}: ${logText.slice(-2000)}` : null))
      .catch((e: Error) => { throw new Error(`${e.message}: ${logText.slice(-2000)}`); });
  };

  const stopDaemon = async () => {
    const p = daemon;
    if (!p || p.exitCode !== null) return;
    // The pid file names dockerd itself (nsenter and unshare exec into it, so it is also p.pid).
    const pid = dockerdPid(paths) ?? p.pid!;
    try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ }
    const killed = await Promise.race([exited.then(() => true), wait(15_000).then(() => false)]);
    if (!killed) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } await exited; }
  };

  const d: Dockerd = {
    dir, apiSocket: paths.apiSocket, pluginDir: paths.pluginDir, docker,
    log: () => logText,
    async restart() { await stopDaemon(); await start(); },
    async stop() {
      if (daemon && daemon.exitCode === null) {
        const ids = (await docker(['ps', '-aq'], 20_000)).stdout.split(/\s+/).filter(Boolean);
        if (ids.length) await docker(['rm', '-f', ...ids], 30_000);
      }
      await stopDaemon();
      sweepCgroup(cgroup);
      // dockerd's mounts lived in its own mount namespace, gone with it.
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await start();
    await importBusybox(paths.apiSocket, await busyboxTarball(dir));
  } catch (e) {
    await d.stop();
    throw e;
  }
  return d;
}

export interface DockerTrellisd { log(): string; stop(): Promise<void> }

/**
 * trellisd (from source) in the host namespace, serving the plugin socket dockerd discovers
 * and reading Docker's API for labels; etcd is the harness's (through its bridge).
 */
export async function startDockerTrellisd(h: Harness, d: Dockerd, logLevel = 'debug'): Promise<DockerTrellisd> {
  const sock = trellisPluginSocket(d.pluginDir);
  const p = spawn('ip', ['netns', 'exec', h.host.name, process.execPath, '--import', 'tsx', join(ROOT, 'src/agent/main.ts')], {
    cwd: ROOT,
    env: {
      ...process.env,
      TRELLIS_NODE_NAME: 'host1', TRELLIS_ETCD_ENDPOINTS: h.endpoint, TRELLIS_STORE_PREFIX: h.prefix,
      TRELLIS_DOCKER_SOCKET: sock, TRELLIS_DOCKER_API_SOCKET: d.apiSocket, TRELLIS_CNI_SOCKET: '',
      TRELLIS_API_LISTEN: '127.0.0.1:9099', TRELLIS_RESYNC_INTERVAL_SECONDS: '0', TRELLIS_LOG_LEVEL: logLevel,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  const collect = (x: Buffer) => { text = (text + x.toString()).slice(-2_000_000); };
  p.stdout!.on('data', collect);
  p.stderr!.on('data', collect);
  const exited = new Promise((r) => p.once('exit', r));
  const stop = async () => {
    if (p.exitCode !== null) return;
    // `ip netns exec` execs node: p.pid is trellisd.
    p.kill('SIGTERM');
    await Promise.race([exited, wait(10_000)]);
    if (p.exitCode === null) { p.kill('SIGKILL'); await exited; }
  };
  const until = Date.now() + 30_000;
  while (!existsSync(sock)) {
    if (p.exitCode !== null || Date.now() > until) { await stop(); throw new Error(`trellisd did not serve ${sock}: ${text.slice(-3000)}`); }
    await wait(100);
  }
  return { log: () => text, stop };
}
