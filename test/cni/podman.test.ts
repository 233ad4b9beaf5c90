// podman as a real CNI client: podman 4.3's CNI backend calls trellis-cni and the stock
// portmap plugin from examples/cni/trellis.conflist, exactly as on a host. podman runs
// inside a host namespace made here (nsenter --net, not ip netns exec: runc needs the
// real /sys), with its own containers.conf, storage and network-config dir in a temp
// directory: the machine's global podman configuration is never touched.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { ipamUsage } from '../../src/ipam/index.js';
import type { WorkloadEndpoint } from '../../src/model/index.js';
import { setupHarness, type Harness } from './_harness.js';
import { GET, RUN, podmanHost, type PodmanHost } from './_podman.js';

let h: Harness;
let ph: PodmanHost;
const podman = (args: string[]) => ph.podman(args);

async function endpoints(): Promise<WorkloadEndpoint[]> {
  return (await h.store.list('WorkloadEndpoint')).map((s) => s.resource as WorkloadEndpoint);
}

test.before(async () => {
  h = await setupHarness('cpod', [{ name: 'p1', cidr: '10.61.0.0/24' }]);
  // The wrapper a runtime finds by the plugin's type; here it runs the TypeScript source.
  ph = await podmanHost({
    dir: join(h.dir, 'podman'), netns: h.host.name, plugin: 'node --import tsx src/cni/main.ts',
    netconf: { etcdEndpoints: [h.endpoint], etcdPrefix: h.prefix, nodeName: 'host1' },
  });
  // The host's own address, for -p: portmap DNATs traffic to local addresses.
  await h.host.run(['ip', 'addr', 'add', '10.99.0.1/32', 'dev', 'lo']);
});

test.after(async () => {
  await ph?.cleanup();
  await h?.stop();
});

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
