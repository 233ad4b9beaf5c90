// podman as a real CNI client: podman 4.3's CNI backend calls trellis-cni and the stock
// portmap plugin from examples/cni/trellis.conflist, exactly as on a host. podman runs
// inside a host namespace made here (nsenter --net, not ip netns exec: runc needs the
// real /sys), with its own containers.conf, storage and network-config dir in a temp
// directory: the machine's global podman configuration is never touched.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, symlinkSync, writeFileSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { ipamUsage } from '../../src/ipam/index.js';
import type { WorkloadEndpoint } from '../../src/model/index.js';
import { ROOT, setupHarness, type Harness } from './_harness.js';

let h: Harness;
let base: string[] = [];
let env: NodeJS.ProcessEnv = {};

interface Out { code: number; stdout: string; stderr: string }
function podman(args: string[], input?: string): Promise<Out> {
  return new Promise((done) => {
    const child = spawn('nsenter', [`--net=/run/netns/${h.host.name}`, 'podman', ...base, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.stdin.on('error', () => undefined);
    child.stdin.end(input ?? '');
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('close', (code) => { clearTimeout(timer); done({ code: code ?? -1, stdout, stderr }); });
  });
}
const RUN = ['run', '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024'];

async function endpoints(): Promise<WorkloadEndpoint[]> {
  return (await h.store.list('WorkloadEndpoint')).map((s) => s.resource as WorkloadEndpoint);
}

test.before(async () => {
  h = await setupHarness('cpod', [{ name: 'p1', cidr: '10.61.0.0/24' }]);
  const d = h.dir;
  for (const sub of ['root', 'runroot', 'tmp', 'net', 'plugins', 'rootfs/bin', 'rootfs/www']) mkdirSync(join(d, sub), { recursive: true });
  writeFileSync(join(d, 'containers.conf'), [
    '[network]', 'network_backend = "cni"', `cni_plugin_dirs = ["/usr/lib/cni", "${join(d, 'plugins')}"]`,
    '[engine]', 'cgroup_manager = "cgroupfs"', 'runtime = "runc"', 'events_logger = "file"', '',
  ].join('\n'));
  // The wrapper a runtime finds by the plugin's type; here it runs the TypeScript source.
  writeFileSync(join(d, 'plugins', 'trellis-cni'), `#!/bin/sh\ncd ${ROOT} && exec node --import tsx src/cni/main.ts\n`);
  chmodSync(join(d, 'plugins', 'trellis-cni'), 0o755);
  const conflist = JSON.parse(readFileSync(join(ROOT, 'examples/cni/trellis.conflist'), 'utf8')) as { plugins: Array<Record<string, unknown>> };
  Object.assign(conflist.plugins[0]!, { etcdEndpoints: [h.endpoint], etcdPrefix: h.prefix, nodeName: 'host1' });
  writeFileSync(join(d, 'net', 'trellis.conflist'), JSON.stringify(conflist, null, 2));
  env = { ...process.env, CONTAINERS_CONF: join(d, 'containers.conf') };
  base = ['--root', join(d, 'root'), '--runroot', join(d, 'runroot'), '--tmpdir', join(d, 'tmp'),
    '--runtime', 'runc', '--cgroup-manager', 'cgroupfs', '--storage-driver', 'vfs', '--events-backend', 'file',
    '--network-config-dir', join(d, 'net')];
  // A local busybox image (no registry), as the reference describes.
  copyFileSync('/bin/busybox', join(d, 'rootfs/bin/busybox'));
  for (const a of ['sh', 'ip', 'ping', 'nc', 'httpd', 'cat', 'sleep', 'printf']) symlinkSync('busybox', join(d, 'rootfs/bin', a));
  writeFileSync(join(d, 'rootfs/www/index.html'), 'hello from podman\n');
  await h.host.run(['tar', '-C', join(d, 'rootfs'), '-cf', join(d, 'busybox.tar'), '.']);
  const imp = await podman(['import', join(d, 'busybox.tar'), 'localhost/busybox']);
  assert.is(imp.code, 0, `podman import: ${imp.stderr}`);
  // The host's own address, for -p: portmap DNATs traffic to local addresses.
  await h.host.run(['ip', 'addr', 'add', '10.99.0.1/32', 'dev', 'lo']);
});

test.after(async () => {
  if (h) {
    await podman(['rm', '-af', '-t', '0']);
    // Whatever podman left mounted under our directory (shm of a killed container).
    const mounts = readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '').filter((m) => m.startsWith(h.dir));
    for (const m of mounts.reverse()) await h.host.exec(['umount', '-l', m]);
    await h.stop();
  }
});

const GET = "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3";

test('podman run --network trellis: address, endpoint, container-to-container, -p through portmap, rm -f releases all', async () => {
  const web = await podman([...RUN, '-d', '--name', 'web1', '--network', 'trellis', '-p', '8080:80', 'localhost/busybox', 'httpd', '-f', '-p', '80', '-h', '/www']);
  assert.is(web.code, 0, `podman run web1: ${web.stderr}`);
  const id = web.stdout.trim();
  const wep = (await endpoints()).find((w) => w.spec.containerID === id);
  assert.ok(wep, `a WorkloadEndpoint for container ${id}`);
  const ip = wep!.spec.ipNetworks[0]!.split('/')[0]!;
  assert.ok(ip.startsWith('10.61.0.'), `address ${ip} from the pool`);
  assert.equal(wep!.spec.ports, [{ name: 'hp-8080-tcp', protocol: 'TCP', port: 80, hostPort: 8080 }], 'podman -p recorded as endpoint ports');
  assert.is(wep!.spec.workload, 'web1', 'podman passes the container name');
  assert.match(await h.host.run(['ip', '-o', 'link']), wep!.spec.interfaceName, 'host veth in the host namespace');
  const inside = await podman(['exec', 'web1', 'ip', '-o', 'addr', 'show', 'dev', 'eth0']);
  assert.match(inside.stdout, `${ip}/32`, 'the container has its /32');

  const direct = await podman([...RUN, '--rm', '--network', 'trellis', 'localhost/busybox', 'sh', '-c', `${GET} ${ip} 80`]);
  assert.match(direct.stdout, 'hello from podman', `a second container reaches web1 directly: ${direct.stderr}`);
  const mapped = await podman([...RUN, '--rm', '--network', 'trellis', 'localhost/busybox', 'sh', '-c', `${GET} 10.99.0.1 8080`]);
  assert.match(mapped.stdout, 'hello from podman', `-p 8080:80 works through the chained portmap plugin: ${mapped.stderr}`);
  assert.is((await endpoints()).length, 1, 'the --rm containers left no endpoint');

  const rm = await podman(['rm', '-f', '-t', '0', 'web1']);
  assert.is(rm.code, 0, `podman rm -f: ${rm.stderr}`);
  assert.equal(await endpoints(), [], 'endpoint deleted');
  const usage = await ipamUsage(h.store);
  assert.is(usage.pools[0]!.used, 0, 'address released');
  assert.not.match(await h.host.run(['ip', '-o', 'link']), wep!.spec.interfaceName, 'host veth removed');
  assert.not.match(await h.host.run(['iptables-save', '-t', 'nat']), `${ip}:80`, 'portmap DNAT removed');
});

test.run();
