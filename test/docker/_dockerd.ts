// A real dockerd (Debian's docker.io, Engine 20.10) for a test, confined to a host namespace
// and a directory of the test's. It runs under nsenter --net (not ip netns exec, which
// remounts /sys and hides the cgroups dockerd needs) and unshare --mount, in a mount
// namespace where /run is a tmpfs of its own and /run/docker/plugins and /etc/docker are the
// test's directories: the machine's /run, /etc/docker and plugin directories are never
// touched, and the plugin socket the test's trellisd serves is what this dockerd discovers.
// stop() removes the containers, dockerd, its cgroups and its directory.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, rmdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { ROOT, type Harness } from '../cni/_harness.js';

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

export interface DockerOut { code: number; stdout: string; stderr: string }

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

const DOCKER = '/usr/bin/docker';

function wait(ms: number) { return new Promise((r) => setTimeout(r, ms)); }

/**
 * Kills what is left in a cgroup tree this helper made (containers outlive a dockerd that
 * was killed: their namespaces are their own) and removes it. Every process in it was
 * started by our dockerd; SIGKILL, since a container's PID 1 ignores SIGTERM.
 */
function sweepCgroup(cgroup: string): void {
  const dirs: string[] = [];
  for (const ctl of readdirSync('/sys/fs/cgroup')) {
    const root = join('/sys/fs/cgroup', ctl, cgroup);
    if (!existsSync(root)) continue;
    const walk = (d: string) => { dirs.push(d); for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(join(d, e.name)); };
    try { walk(root); } catch { /* raced */ }
  }
  for (const d of dirs) {
    let procs: number[] = [];
    try { procs = readFileSync(join(d, 'cgroup.procs'), 'utf8').split(/\s+/).filter(Boolean).map(Number); } catch { /* gone */ }
    for (const pid of procs) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
  }
  for (let round = 0; round < 20; round++) {
    let left = 0;
    for (const d of [...dirs].reverse()) { try { if (existsSync(d)) rmdirSync(d); } catch { left++; } }
    if (left === 0) return;
    execFileSync('sleep', ['0.1']);
  }
}

/** What an earlier run of this tag left after a crash: cgroups named for a pid that is gone. */
function sweepStale(tag: string): void {
  const names = new Set<string>();
  for (const ctl of readdirSync('/sys/fs/cgroup')) {
    try { for (const n of readdirSync(join('/sys/fs/cgroup', ctl))) if (n.startsWith(`trl-${tag}-`)) names.add(n); } catch { /* not a directory */ }
  }
  for (const n of names) {
    const pid = Number(n.slice(`trl-${tag}-`.length));
    if (Number.isInteger(pid) && !existsSync(`/proc/${pid}`)) sweepCgroup(n);
  }
  for (const n of readdirSync('/tmp').filter((x) => x.startsWith(`trl-${tag}-`))) {
    const dir = join('/tmp', n);
    let pid = 0;
    try { pid = Number(readFileSync(join(dir, 'docker.pid'), 'utf8').trim()); } catch { /* never started */ }
    const old = Date.now() - statSync(dir).mtimeMs > 600_000;
    if (pid ? !existsSync(`/proc/${pid}`) : old) rmSync(dir, { recursive: true, force: true });
  }
}

export async function startDockerd(o: { netns: string; tag: string }): Promise<Dockerd> {
  sweepStale(o.tag);
  const dir = mkdtempSync(`/tmp/trl-${o.tag}-`);
  const pluginDir = join(dir, 'plugins');
  const etc = join(dir, 'etc');
  for (const d of [pluginDir, etc, join(dir, 'rootfs/bin'), join(dir, 'rootfs/etc'), join(dir, 'rootfs/www')]) mkdirSync(d, { recursive: true });
  const cgroup = `trl-${o.tag}-${process.pid}`;
  const apiSocket = join(dir, 'docker.sock');
  const pidFile = join(dir, 'docker.pid');
  writeFileSync(join(dir, 'start.sh'), [
    '#!/bin/sh',
    'mount -t tmpfs tmpfs /run || exit 1',
    `mkdir -p /run/docker/plugins && mount --bind ${pluginDir} /run/docker/plugins && mount --bind ${etc} /etc/docker || exit 1`,
    `exec /usr/sbin/dockerd --data-root ${dir}/data --exec-root ${dir}/exec --pidfile ${pidFile} -H unix://${apiSocket} \\`,
    '  --storage-driver vfs --bridge none --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false \\',
    `  --userland-proxy=false --exec-opt native.cgroupdriver=cgroupfs --cgroup-parent /${cgroup}`,
    '',
  ].join('\n'), { mode: 0o755 });
  const env = { ...process.env, DOCKER_HOST: `unix://${apiSocket}` };
  let daemon: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();
  let logText = '';

  const docker = (args: string[], timeoutMs = 60_000): Promise<DockerOut> => new Promise((done) => {
    const child = spawn(DOCKER, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (x: Buffer) => { stdout += x.toString(); });
    child.stderr.on('data', (x: Buffer) => { stderr += x.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => { clearTimeout(timer); done({ code: code ?? -1, stdout, stderr }); });
  });

  const start = async () => {
    const p = spawn('nsenter', [`--net=/run/netns/${o.netns}`, '--', 'unshare', '--mount', '--propagation', 'slave', '--', join(dir, 'start.sh')],
      { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    daemon = p;
    const collect = (x: Buffer) => { logText = (logText + x.toString()).slice(-200_000); };
    p.stdout!.on('data', collect);
    p.stderr!.on('data', collect);
    exited = new Promise((r) => p.once('exit', () => r()));
    const until = Date.now() + 40_000;
    while (Date.now() < until) {
      if (p.exitCode !== null) throw new Error(`dockerd exited ${p.exitCode}: ${logText.slice(-2000)}`);
      if (existsSync(apiSocket) && (await docker(['version', '--format', '{{.Server.Version}}'], 5000)).code === 0) return;
      await wait(200);
    }
    throw new Error(`dockerd not answering after 40 s: ${logText.slice(-2000)}`);
  };

  const stopDaemon = async () => {
    const p = daemon;
    if (!p || p.exitCode !== null) return;
    // The pid file names dockerd itself (nsenter and unshare exec into it, so it is also p.pid).
    const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) || p.pid! : p.pid!;
    try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ }
    const killed = await Promise.race([exited.then(() => true), wait(15_000).then(() => false)]);
    if (!killed) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } await exited; }
  };

  const removeCgroups = () => sweepCgroup(cgroup);

  const d: Dockerd = {
    dir, apiSocket, pluginDir, docker,
    log: () => logText,
    async restart() { await stopDaemon(); await start(); },
    async stop() {
      if (daemon && daemon.exitCode === null) {
        const ids = (await docker(['ps', '-aq'], 20_000)).stdout.split(/\s+/).filter(Boolean);
        if (ids.length) await docker(['rm', '-f', ...ids], 30_000);
      }
      await stopDaemon();
      removeCgroups();
      // dockerd's mounts lived in its own mount namespace, gone with it.
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await start();
    // An image without a registry: busybox, with a page for httpd.
    copyFileSync('/bin/busybox', join(dir, 'rootfs/bin/busybox'));
    for (const a of ['sh', 'ip', 'ping', 'nc', 'httpd', 'wget', 'cat', 'sleep', 'printf', 'nslookup', 'hostname']) symlinkSync('busybox', join(dir, 'rootfs/bin', a));
    writeFileSync(join(dir, 'rootfs/etc/passwd'), 'root:x:0:0:root:/:/bin/sh\n');
    writeFileSync(join(dir, 'rootfs/www/index.html'), 'hello from docker\n');
    await execa('tar', ['-C', join(dir, 'rootfs'), '-cf', join(dir, 'busybox.tar'), '.']);
    const imp = await docker(['import', '--change', 'CMD ["/bin/sh"]', join(dir, 'busybox.tar'), 'local/busybox']);
    if (imp.code !== 0) throw new Error(`docker import: ${imp.stderr}`);
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
  const sock = join(d.pluginDir, 'trellis.sock');
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
