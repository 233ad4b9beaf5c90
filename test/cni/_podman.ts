// podman 4.3 (CNI backend) as a real client of trellis-cni, confined to a directory and a
// host namespace of the test's: its own containers.conf, storage, network-config dir
// (examples/cni/trellis.conflist with the test's settings) and a local busybox image (no
// registry). podman runs under nsenter --net, not ip netns exec: runc needs the real /sys.
// The machine's global podman configuration is never touched.
import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { ROOT } from './_harness.js';

export interface PodmanOut { code: number; stdout: string; stderr: string }

export interface PodmanHost {
  /** Runs podman with this host's configuration inside its namespace. */
  podman(args: string[], input?: string): Promise<PodmanOut>;
  /** Removes every container and unmounts what podman left under the directory. */
  cleanup(): Promise<void>;
}

/** `podman run` with the limits these machines need. */
export const RUN = ['run', '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024'];
/** A shell line fetching / from an HTTP server: append "<address> <port>". */
export const GET = "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3";

/**
 * Sets podman up in `dir` for the namespace `netns`; `plugin` is the command the
 * trellis-cni wrapper runs, `netconf` what the conflist's trellis entry gets on top.
 */
export async function podmanHost(o: { dir: string; netns: string; plugin: string; netconf: Record<string, unknown> }): Promise<PodmanHost> {
  const d = o.dir;
  for (const sub of ['root', 'runroot', 'tmp', 'net', 'plugins', 'rootfs/bin', 'rootfs/www']) mkdirSync(join(d, sub), { recursive: true });
  writeFileSync(join(d, 'containers.conf'), [
    '[network]', 'network_backend = "cni"', `cni_plugin_dirs = ["/usr/lib/cni", "${join(d, 'plugins')}"]`,
    '[engine]', 'cgroup_manager = "cgroupfs"', 'runtime = "runc"', 'events_logger = "file"', '',
  ].join('\n'));
  writeFileSync(join(d, 'plugins', 'trellis-cni'), `#!/bin/sh\ncd ${ROOT} && exec ${o.plugin}\n`);
  chmodSync(join(d, 'plugins', 'trellis-cni'), 0o755);
  const conflist = JSON.parse(readFileSync(join(ROOT, 'examples/cni/trellis.conflist'), 'utf8')) as { plugins: Array<Record<string, unknown>> };
  Object.assign(conflist.plugins[0]!, o.netconf);
  writeFileSync(join(d, 'net', 'trellis.conflist'), JSON.stringify(conflist, null, 2));
  const env = { ...process.env, CONTAINERS_CONF: join(d, 'containers.conf') };
  const base = ['--root', join(d, 'root'), '--runroot', join(d, 'runroot'), '--tmpdir', join(d, 'tmp'),
    '--runtime', 'runc', '--cgroup-manager', 'cgroupfs', '--storage-driver', 'vfs', '--events-backend', 'file',
    '--network-config-dir', join(d, 'net')];
  const podman = (args: string[], input?: string): Promise<PodmanOut> => new Promise((done) => {
    const child = spawn('nsenter', [`--net=/run/netns/${o.netns}`, 'podman', ...base, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (x: Buffer) => { stdout += x.toString(); });
    child.stderr.on('data', (x: Buffer) => { stderr += x.toString(); });
    child.stdin.on('error', () => undefined);
    child.stdin.end(input ?? '');
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('close', (code) => { clearTimeout(timer); done({ code: code ?? -1, stdout, stderr }); });
  });
  copyFileSync('/bin/busybox', join(d, 'rootfs/bin/busybox'));
  for (const a of ['sh', 'ip', 'ping', 'nc', 'httpd', 'cat', 'sleep', 'printf']) symlinkSync('busybox', join(d, 'rootfs/bin', a));
  writeFileSync(join(d, 'rootfs/www/index.html'), 'hello from podman\n');
  await execa('tar', ['-C', join(d, 'rootfs'), '-cf', join(d, 'busybox.tar'), '.']);
  const imp = await podman(['import', join(d, 'busybox.tar'), 'localhost/busybox']);
  if (imp.code !== 0) throw new Error(`podman import: ${imp.stderr}`);
  return {
    podman,
    async cleanup() {
      await podman(['rm', '-af', '-t', '0']);
      const mounts = readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '').filter((m) => m.startsWith(d));
      for (const m of mounts.reverse()) await execa('umount', ['-l', m], { reject: false });
    },
  };
}
