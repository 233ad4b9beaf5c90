// Docker as a real client of trellisd's network and IPAM driver: a real dockerd (Engine
// 20.10) in a host namespace of the test's, trellisd serving the plugin socket there, and
// `docker network create -d trellis` / `docker run --net` from the Docker CLI. Enforcement
// is shown with real TCP between containers; removal is shown by what is left in etcd and
// the kernel (nothing).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkLeaks, ipamUsage } from '../../src/ipam/index.js';
import { API_VERSION, type Profile, type WorkloadEndpoint } from '../../src/model/index.js';
import { setupHarness, type Harness } from '../cni/_harness.js';
import { addUplink, startDockerd, startDockerTrellisd, type Dockerd, type DockerTrellisd } from './_dockerd.js';

let h: Harness;
let d: Dockerd;
let trellisd: DockerTrellisd | null = null;
const SUBNET1 = '10.62.0.0/24';
const SUBNET2 = '10.62.1.0/24';

const docker = (args: string[]) => d.docker(args);
// busybox's wget crashes in this image; nc speaks the HTTP.
const GET = (addr: string, port = 80) => ['sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${addr} ${port}`];
/** The host namespace's own address (a host address, as -p's traffic is DNATed from). */
const HOST_IP = '10.99.7.1';
// httpd as PID 1 ignores SIGTERM: a short stop timeout keeps docker stop and dockerd's shutdown quick.
const RUN = ['run', '--stop-timeout', '1'];
const HTTPD = ['local/busybox', 'httpd', '-f', '-p', '80', '-h', '/www'];

async function endpoints(): Promise<WorkloadEndpoint[]> {
  return (await h.store.list('WorkloadEndpoint')).map((s) => s.resource as WorkloadEndpoint);
}
async function endpointOf(container: string): Promise<WorkloadEndpoint> {
  const w = (await endpoints()).filter((e) => e.spec.workload === container);
  assert.is(w.length, 1, `one WorkloadEndpoint for container ${container} (have: ${(await endpoints()).map((e) => e.spec.workload).join(', ')})`);
  return w[0]!;
}
const ipOf = (w: WorkloadEndpoint) => w.spec.ipNetworks[0]!.split('/')[0]!;

const startTrellisd = async () => { trellisd = await startDockerTrellisd(h, d); };
const stopTrellisd = async () => { await trellisd?.stop(); };
const trellisdLogText = () => trellisd?.log() ?? '';

test.before(async () => {
  h = await setupHarness('dk', [{ name: 'dk1', cidr: SUBNET1 }, { name: 'dk2', cidr: SUBNET2 }]);
  try {
    await addUplink(h, '10.99.7.1');
    d = await startDockerd({ netns: h.host.name, tag: 'dk' });
    await startTrellisd();
  } catch (e) {
    console.error('set-up failed:', e);
    await stopTrellisd();
    await d?.stop();
    await h.stop();
    throw e;
  }
});

test.after(async () => {
  await d?.stop().catch((e) => console.error('dockerd stop:', e));
  await stopTrellisd();
  await h?.stop();
});

test.after.each((ctx) => {
  if (ctx.__test__ && process.exitCode) console.error(trellisdLogText().slice(-6000));
});

test('network create: a subnet inside an IPPool is a Trellis network; outside every pool, or an unknown -o, is refused by name', async () => {
  const ok = await docker(['network', 'create', '-d', 'trellis', '--ipam-driver', 'trellis', '--subnet', SUBNET1, 'net1']);
  assert.is(ok.code, 0, `network create net1: ${ok.stderr}\n${trellisdLogText().slice(-4000)}`);
  const bad = await docker(['network', 'create', '-d', 'trellis', '--ipam-driver', 'trellis', '--subnet', '10.63.0.0/24', 'nopool']);
  assert.is.not(bad.code, 0, 'a subnet outside every pool is refused');
  assert.match(bad.stderr, 'subnet 10.63.0.0/24 lies in no Trellis IPPool', `docker says why: ${bad.stderr}`);
  const opt = await docker(['network', 'create', '-d', 'trellis', '--ipam-driver', 'trellis', '--subnet', SUBNET2, '-o', 'colour=blue', 'badopt']);
  assert.is.not(opt.code, 0, 'an unknown option is refused');
  assert.match(opt.stderr, 'unknown option -o colour', `docker names the option: ${opt.stderr}`);
  const ls = await docker(['network', 'ls', '--format', '{{.Name}}']);
  assert.not.match(ls.stdout, /nopool|badopt/, 'nothing half-created');
  const net2 = await docker(['network', 'create', '-d', 'trellis', '--ipam-driver', 'trellis', '--subnet', SUBNET2, 'net2']);
  assert.is(net2.code, 0, `network create net2: ${net2.stderr}`);
});

test('docker run --net: address from the pool, labels from Docker, same network reaches, other network does not until a policy opens it', async () => {
  const web = await docker([...RUN, '-d', '--name', 'web1', '--net', 'net1', '--label', 'app=web', ...HTTPD]);
  assert.is(web.code, 0, `docker run web1: ${web.stderr}\n${trellisdLogText().slice(-4000)}`);
  const w = await endpointOf('web1');
  const ip = ipOf(w);
  assert.ok(ip.startsWith('10.62.0.'), `address ${ip} from net1's pool`);
  assert.is(w.metadata.labels?.app, 'web', 'the container\'s Docker label is an endpoint label');
  assert.is(w.metadata.labels?.['trellis.dev/docker-network'], 'net1', 'the network\'s name is an endpoint label');
  assert.is(w.spec.orchestrator, 'docker');
  const inspect = await docker(['inspect', '-f', '{{(index .NetworkSettings.Networks "net1").IPAddress}}', 'web1']);
  assert.is(inspect.stdout.trim(), ip, 'Docker reports the address Trellis gave');

  const same = await docker(['run', '--rm', '--net', 'net1', 'local/busybox', ...GET(ip)]);
  assert.match(same.stdout, 'hello from docker', `a container on net1 reaches web1: ${same.stderr}`);
  const other = await docker(['run', '--rm', '--net', 'net2', 'local/busybox', ...GET(ip)]);
  assert.not.match(other.stdout, 'hello from docker', 'a container on net2 does not reach web1 (its network\'s profile admits only net1)');

  await h.store.apply({
    apiVersion: API_VERSION, kind: 'GlobalNetworkPolicy', metadata: { name: 'net2-to-web' },
    spec: {
      order: 100, selector: 'app == "web"', types: ['Ingress'],
      ingress: [
        { action: 'Allow', protocol: 'TCP', source: { selector: 'trellis.dev/docker-network == "net2"' }, destination: { ports: [80] } },
        { action: 'Pass' },
      ],
    },
  } as never);
  let opened = '';
  for (let i = 0; i < 10 && !opened.includes('hello'); i++) {
    opened = (await docker(['run', '--rm', '--net', 'net2', 'local/busybox', ...GET(ip)])).stdout;
  }
  assert.match(opened, 'hello from docker', 'the policy opens TCP/80 from net2 to app=web');
  const stillSame = await docker(['run', '--rm', '--net', 'net1', 'local/busybox', ...GET(ip)]);
  assert.match(stillSame.stdout, 'hello from docker', 'net1 still reaches web1 (the policy passes the rest to the profiles)');
  await h.store.delete({ kind: 'GlobalNetworkPolicy', name: 'net2-to-web' });
});

test('--ip is honoured; an address in use is refused through docker run naming its holder', async () => {
  const a = await docker([...RUN, '-d', '--name', 'fixed', '--net', 'net1', '--ip', '10.62.0.50', 'local/busybox', 'sleep', '300']);
  assert.is(a.code, 0, `docker run --ip: ${a.stderr}`);
  assert.is(ipOf(await endpointOf('fixed')), '10.62.0.50', '--ip honoured');
  const b = await docker(['run', '-d', '--name', 'clash', '--net', 'net1', '--ip', '10.62.0.50', 'local/busybox', 'sleep', '300']);
  assert.is.not(b.code, 0, 'the same --ip again is refused');
  assert.match(b.stderr, '10.62.0.50 is already allocated', `docker says who holds it: ${b.stderr}`);
  await docker(['rm', '-f', 'clash']);
  assert.is((await endpoints()).filter((e) => e.spec.workload === 'clash').length, 0, 'the refused container left no endpoint');
});

test('-p HOST:CONTAINER is a Trellis port map at the host\'s address, still under the container\'s policy; a second network on one container', async () => {
  const web = await docker([...RUN, '-d', '--name', 'web2', '--net', 'net1', '-p', '8080:80', ...HTTPD]);
  assert.is(web.code, 0, `docker run -p: ${web.stderr}`);
  const w = await endpointOf('web2');
  assert.equal(w.spec.ports, [{ name: 'hp-8080-tcp', protocol: 'TCP', port: 80, hostPort: 8080 }], '-p recorded as the endpoint\'s port map');
  const mapped = await docker(['run', '--rm', '--net', 'net1', 'local/busybox', ...GET(HOST_IP, 8080)]);
  assert.match(mapped.stdout, 'hello from docker', `a net1 container reaches web2 through ${HOST_IP}:8080: ${mapped.stderr}`);
  const denied = await docker(['run', '--rm', '--net', 'net2', 'local/busybox', ...GET(HOST_IP, 8080)]);
  assert.not.match(denied.stdout, 'hello from docker', 'the port map does not bypass web2\'s ingress policy (net2 is not admitted)');

  const connect = await docker(['network', 'connect', 'net2', 'web2']);
  assert.is(connect.code, 0, `docker network connect net2 web2 (no second gateway route): ${connect.stderr}`);
  const both = (await endpoints()).filter((e) => e.spec.workload === 'web2');
  assert.equal(both.map((e) => e.metadata.labels?.['trellis.dev/docker-network']).sort(), ['net1', 'net2'], 'one endpoint per network');
  const on2 = both.find((e) => e.metadata.labels?.['trellis.dev/docker-network'] === 'net2')!;
  const via2 = await docker(['run', '--rm', '--net', 'net2', 'local/busybox', ...GET(ipOf(on2))]);
  assert.match(via2.stdout, 'hello from docker', `a net2 container reaches web2 on its net2 address: ${via2.stderr}`);
  const dis = await docker(['network', 'disconnect', 'net2', 'web2']);
  assert.is(dis.code, 0, `docker network disconnect: ${dis.stderr}`);
  assert.is((await endpoints()).filter((e) => e.spec.workload === 'web2').length, 1, 'disconnect removed the net2 endpoint');
});

test('trellisd restarted: running containers keep their connectivity, new ones join; dockerd restarted: its containers come back through the plugin', async () => {
  const cli = await docker([...RUN, '-d', '--name', 'cli', '--net', 'net1', 'local/busybox', 'sleep', '600']);
  assert.is(cli.code, 0, `docker run cli: ${cli.stderr}`);
  const web1 = ipOf(await endpointOf('web1'));
  await stopTrellisd();
  const during = await docker(['exec', 'cli', ...GET(web1)]);
  assert.match(during.stdout, 'hello from docker', 'with trellisd stopped, the running containers still talk (the dataplane stays)');
  await startTrellisd();
  const fresh = await docker(['run', '--rm', '--net', 'net1', 'local/busybox', ...GET(web1)]);
  assert.match(fresh.stdout, 'hello from docker', `after the restart a new container joins and reaches web1: ${fresh.stderr}`);

  await d.restart();
  assert.equal((await endpoints()).map((e) => e.spec.workload), [], 'dockerd\'s shutdown stopped every container through the plugin: no endpoint left');
  assert.equal((await ipamUsage(h.store)).pools.map((p) => p.used), [0, 0], 'and no address');
  const start = await docker(['start', 'web1', 'cli']);
  assert.is(start.code, 0, `docker start after the dockerd restart: ${start.stderr}`);
  const back = ipOf(await endpointOf('web1'));
  const again = await docker(['exec', 'cli', ...GET(back)]);
  assert.match(again.stdout, 'hello from docker', `restarted containers reach each other: ${again.stderr}`);
});

test('docker rm and network rm release every address, interface, endpoint and record', async () => {
  const w = await endpointOf('web1');
  const rm = await docker(['rm', '-f', 'web1', 'web2', 'cli', 'fixed']);
  assert.is(rm.code, 0, `docker rm: ${rm.stderr}`);
  assert.equal(await endpoints(), [], 'no WorkloadEndpoint left');
  assert.not.match(await h.host.run(['ip', '-o', 'link']), w.spec.interfaceName, 'host veth removed');
  assert.not.match(await h.host.run(['ip', 'route']), ipOf(w), 'route removed');
  const usage = await ipamUsage(h.store);
  assert.equal(usage.pools.map((p) => p.used), [0, 0], 'every address released');
  assert.equal(await checkLeaks(h.store), [], 'ipam check is clean');
  for (const n of ['net1', 'net2']) {
    const r = await docker(['network', 'rm', n]);
    assert.is(r.code, 0, `network rm ${n}: ${r.stderr}`);
  }
  const left = await h.store.etcd.getAll().prefix(`${h.prefix}docker/`).keys();
  assert.equal(left, [], 'no Docker network or endpoint record left in etcd');
  const profiles = (await h.store.list('Profile')).map((s) => (s.resource as Profile).metadata.name).filter((n) => n.startsWith('docker-'));
  assert.equal(profiles, [], 'the networks\' profiles are gone');
  assert.not.match(trellisdLogText(), 'skipping an invalid value', 'the driver\'s records under <prefix>docker/ are not taken for invalid resources by the watch');
});

test.run();
