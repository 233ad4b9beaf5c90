// A real dockerd (Debian's docker.io, Engine 20.10) confined to a host namespace and a
// directory of its own: the lab's `--runtime docker` and the Docker tests both start it
// this way. It runs under nsenter --net (not ip netns exec, which remounts /sys and hides
// the cgroups dockerd needs) and unshare --mount, in a mount namespace where /run is a
// tmpfs of its own and /run/docker/plugins and /etc/docker are directories of ours: the
// machine's /run, /etc/docker and plugin directories are never touched, and the plugin
// socket a trellisd serves in that directory is what this dockerd discovers.
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';

/** The Docker CLI that matches this dockerd (/usr/local/bin/docker may be a newer one). */
export const DOCKER_CLI = '/usr/bin/docker';
/** The image every lab and test container runs: busybox, imported from a tarball (no registry). */
export const BUSYBOX_IMAGE = 'local/busybox';

export interface DockerdPaths {
  dir: string;
  /** Docker's API socket. */
  apiSocket: string;
  pidFile: string;
  /** The directory dockerd sees as /run/docker/plugins. */
  pluginDir: string;
  /** What the namespace's start runs: the mounts, then exec dockerd. */
  script: string;
}

export interface DockerOut { code: number; stdout: string; stderr: string }

export function dockerdPaths(dir: string): DockerdPaths {
  return {
    dir, apiSocket: join(dir, 'docker.sock'), pidFile: join(dir, 'docker.pid'), pluginDir: join(dir, 'plugins'), script: join(dir, 'start.sh'),
  };
}

/** Where the lab keeps a host's dockerd (data, sockets, plugin directory). */
export function labDockerdPaths(stateDir: string, host: string): DockerdPaths {
  return dockerdPaths(join(stateDir, host, 'docker'));
}

/** The plugin socket a trellisd serves for this dockerd (Docker discovers it by name: "trellis"). */
export function trellisPluginSocket(pluginDir: string): string {
  return join(pluginDir, 'trellis.sock');
}

/**
 * Makes the directory and writes the start script. Containers go under the cgroup parent
 * `/<cgroup>` (cgroupfs), so that whatever a killed dockerd leaves running can be found
 * and removed (sweepCgroup).
 */
export function prepareDockerd(dir: string, cgroup: string): DockerdPaths {
  const p = dockerdPaths(dir);
  const etc = join(dir, 'etc');
  for (const d of [p.pluginDir, etc]) mkdirSync(d, { recursive: true });
  writeFileSync(p.script, [
    '#!/bin/sh',
    'mount -t tmpfs tmpfs /run || exit 1',
    `mkdir -p /run/docker/plugins && mount --bind ${p.pluginDir} /run/docker/plugins && mount --bind ${etc} /etc/docker || exit 1`,
    `exec /usr/sbin/dockerd --data-root ${dir}/data --exec-root ${dir}/exec --pidfile ${p.pidFile} -H unix://${p.apiSocket} \\`,
    '  --storage-driver vfs --bridge none --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false \\',
    `  --userland-proxy=false --exec-opt native.cgroupdriver=cgroupfs --cgroup-parent /${cgroup}`,
    '',
  ].join('\n'), { mode: 0o755 });
  return p;
}

/** argv that starts the prepared dockerd in a named network namespace (nsenter and unshare exec: its pid is dockerd's). */
export function dockerdArgv(netns: string, paths: DockerdPaths): string[] {
  return ['nsenter', `--net=/run/netns/${netns}`, '--', 'unshare', '--mount', '--propagation', 'slave', '--', paths.script];
}

/** Runs the Docker CLI against one dockerd; never throws (the exit code says). */
export function dockerCli(apiSocket: string, args: string[], timeoutMs = 60_000): Promise<DockerOut> {
  return new Promise((done) => {
    const child = spawn(DOCKER_CLI, args, { env: { ...process.env, DOCKER_HOST: `unix://${apiSocket}` }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (x: Buffer) => { stdout += x.toString(); });
    child.stderr.on('data', (x: Buffer) => { stderr += x.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => { clearTimeout(timer); done({ code: code ?? -1, stdout, stderr }); });
  });
}

/** Waits until dockerd answers on its socket; `failed()` returns a reason once it has exited. */
export async function waitDockerd(paths: DockerdPaths, failed: () => string | null, timeoutMs = 40_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const why = failed();
    if (why) throw new Error(why);
    if (existsSync(paths.apiSocket) && (await dockerCli(paths.apiSocket, ['version', '--format', '{{.Server.Version}}'], 5000)).code === 0) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`dockerd (${paths.dir}) not answering after ${timeoutMs / 1000} s`);
}

/**
 * The tarball of local/busybox, built once in `workDir`: busybox with the applets the tests
 * and the lab use, a passwd, and a page for httpd. Returns its path.
 */
export async function busyboxTarball(workDir: string): Promise<string> {
  const tar = join(workDir, 'busybox.tar');
  if (existsSync(tar)) return tar;
  const root = join(workDir, 'rootfs');
  for (const d of ['bin', 'etc', 'www']) mkdirSync(join(root, d), { recursive: true });
  copyFileSync('/bin/busybox', join(root, 'bin/busybox'));
  for (const a of ['sh', 'ip', 'ping', 'nc', 'httpd', 'wget', 'cat', 'echo', 'sleep', 'printf', 'nslookup', 'hostname']) {
    if (!existsSync(join(root, 'bin', a))) symlinkSync('busybox', join(root, 'bin', a));
  }
  writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/:/bin/sh\n');
  writeFileSync(join(root, 'www/index.html'), 'hello from docker\n');
  await execa('tar', ['-C', root, '-cf', `${tar}.tmp`, '.']);
  renameSync(`${tar}.tmp`, tar);
  return tar;
}

/** Imports the tarball as local/busybox (no registry involved). */
export async function importBusybox(apiSocket: string, tarball: string): Promise<void> {
  const imp = await dockerCli(apiSocket, ['import', '--change', 'CMD ["/bin/sh"]', tarball, BUSYBOX_IMAGE]);
  if (imp.code !== 0) throw new Error(`docker import ${tarball}: ${imp.stderr.trim()}`);
}

/** dockerd's pid from its pid file, or null. */
export function dockerdPid(paths: DockerdPaths): number | null {
  try { return Number(readFileSync(paths.pidFile, 'utf8').trim()) || null; } catch { return null; }
}

/**
 * Kills what is left in a cgroup tree a dockerd made (containers outlive a dockerd that
 * was killed: their namespaces are their own) and removes it. Every process in it was
 * started by that dockerd; SIGKILL, since a container's PID 1 ignores SIGTERM. True when
 * there was such a tree.
 */
export function sweepCgroup(cgroup: string): boolean {
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
    if (left === 0) break;
    execFileSync('sleep', ['0.1']);
  }
  return dirs.length > 0;
}

/** Names of the top-level cgroups (any controller) that start with prefix. */
export function cgroupsWithPrefix(prefix: string): string[] {
  const names = new Set<string>();
  for (const ctl of readdirSync('/sys/fs/cgroup')) {
    try { for (const n of readdirSync(join('/sys/fs/cgroup', ctl))) if (n.startsWith(prefix)) names.add(n); } catch { /* not a directory */ }
  }
  return [...names];
}
