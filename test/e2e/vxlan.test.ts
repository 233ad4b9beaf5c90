// VXLAN with no BGP at all: three trellisd (in-process, one namespace per host) on two
// subnets behind a plain router that knows nothing of the pool. Each host records its VTEP
// on its Node; containers reach each other over TCP, UDP and ICMP; 64 MiB cross the tunnel
// without an MTU black hole; CrossSubnet goes native to the same-subnet host and
// encapsulates to the other (the device's packet counter says which); an FDB entry,
// neighbour and route deleted by hand come back from kernel events alone (periodic resync
// off); a trellisd restart under a running stream loses no packet; a host that leaves takes
// its routes and FDB entries with it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startAgent, type Agent } from '../../src/agent/index.js';
import { connectNetns, createNetns, testNetnsPrefix, type Netns } from '../../src/lab/index.js';
import { createLogger, silentLogger } from '../../src/log/index.js';
import { allocate, releaseByHandle } from '../../src/ipam/index.js';
import type { DaemonConfig } from '../../src/config/index.js';
import type { Node, Resource } from '../../src/model/index.js';
import type { Store } from '../../src/store/index.js';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { agentConfig, storeFor, tenantResources, waitFor, workload } from '../agent/helpers.js';
import { ping, plug, tcp, udp, waitListening } from '../dataplane/_lab.js';

const P = testNetnsPrefix();
const UNDERLAY_MTU = 1400;
const HOSTS = [
  { name: 'h1', addr: '172.31.1.2', len: 24, gw: '172.31.1.1' },
  { name: 'h2', addr: '172.31.1.3', len: 24, gw: '172.31.1.1' },
  { name: 'h3', addr: '172.31.2.2', len: 24, gw: '172.31.2.1' },
];

let etcd: TestEtcd;
let store: Store;
const made: Netns[] = [];
const ns = new Map<string, Netns>();
const agents = new Map<string, Agent>();
const configs = new Map<string, DaemonConfig>();
const ips = new Map<string, string>();

const api = 'projectcalico.org/v3';
const pool = (mode: string): Resource => ({ apiVersion: api, kind: 'IPPool', metadata: { name: 'vx' }, spec: { cidr: '10.61.0.0/16', blockSize: 26, vxlanMode: mode } } as Resource);
const nodeRes = (h: typeof HOSTS[number]): Resource => ({ apiVersion: api, kind: 'Node', metadata: { name: h.name }, spec: { bgp: { ipv4Address: `${h.addr}/${h.len}` } } } as Resource);

async function mkns(tag: string): Promise<Netns> {
  const n = await createNetns(`${P}vx${tag}`);
  made.push(n);
  return n;
}

async function node(name: string): Promise<Node | undefined> {
  return (await store.get({ kind: 'Node', name }))?.resource as Node | undefined;
}

async function txPackets(host: string): Promise<number> {
  const j = JSON.parse(await ns.get(host)!.run(['ip', '-s', '-j', 'link', 'show', 'dev', 'vxlan.trl'])) as Array<{ stats64: { tx: { packets: number } } }>;
  return j[0]!.stats64.tx.packets;
}

async function routes80(host: string): Promise<string[]> {
  const j = JSON.parse(await ns.get(host)!.run(['ip', '-j', 'route', 'show', 'proto', '80'])) as Array<{ dst: string; gateway: string; dev: string }>;
  return j.map((r) => `${r.dst} via ${r.gateway} dev ${r.dev}`).sort();
}

test.before(async () => {
  etcd = await startTestEtcd();
  store = storeFor(etcd.endpoints);
  // The router: a switch (bridge) for 172.31.1.0/24, a plain link to 172.31.2.0/24, forwarding, no route to the pool.
  const r = await mkns('r');
  await r.run(['ip', 'link', 'add', 'br0', 'mtu', String(UNDERLAY_MTU), 'type', 'bridge']);
  await r.run(['ip', 'addr', 'add', '172.31.1.1/24', 'dev', 'br0']);
  await r.run(['ip', 'link', 'set', 'br0', 'up']);
  await r.run(['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
  for (const [i, h] of HOSTS.entries()) {
    const n = await mkns(h.name);
    ns.set(h.name, n);
    const onBridge = h.gw === '172.31.1.1';
    await connectNetns({ ns: n.name, ifname: 'eth0', address: `${h.addr}/${h.len}` }, { ns: r.name, ifname: `p${i}`, ...(onBridge ? {} : { address: `${h.gw}/${h.len}` }) });
    await n.run(['ip', 'link', 'set', 'eth0', 'mtu', String(UNDERLAY_MTU)]);
    await r.run(['ip', 'link', 'set', `p${i}`, 'mtu', String(UNDERLAY_MTU)]);
    if (onBridge) await r.run(['ip', 'link', 'set', `p${i}`, 'master', 'br0']);
    await n.run(['ip', 'route', 'add', 'default', 'via', h.gw]);
  }
  for (const res of [pool('Always'), ...HOSTS.map(nodeRes), ...tenantResources()]) await store.apply(res);
  // One container per host, its address from IPAM (so each host claims a block), plugged as CNI would.
  for (const h of HOSTS) {
    const a = await allocate(store, { node: h.name, handle: `c-${h.name}` });
    ips.set(h.name, a.address);
    const c = await mkns(`c${h.name}`);
    ns.set(`c${h.name}`, c);
    await plug(ns.get(h.name)!, c, { iface: `trlvx${h.name}`, ip: a.address });
    await store.apply(workload(`w-${h.name}`, h.name, `trlvx${h.name}`, a.address));
  }
  for (const h of HOSTS) {
    configs.set(h.name, await agentConfig(h.name, etcd.endpoints));
    agents.set(h.name, await start(h.name));
  }
});

/** trellisd for one host, in its namespace, with no BGP speaker and the periodic resync off. */
function start(host: string): Promise<Agent> {
  return startAgent(configs.get(host)!, { netns: ns.get(host)!.name, logger: process.env.VXLOG ? createLogger({ name: host, level: 'info' }) : silentLogger(), defaultMetrics: false, api: false, bgp: false });
}

async function metric(a: Agent, name: string, label = ''): Promise<number> {
  const text = await a.metrics.registry.metrics();
  const m = new RegExp(`^${name}${label ? `\\{${label}\\}` : '(?:\\{[^}]*\\})?'} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

async function fdb(host: string): Promise<string[]> {
  const j = JSON.parse(await ns.get(host)!.run(['bridge', '-j', 'fdb', 'show', 'dev', 'vxlan.trl'])) as Array<{ mac: string; dst?: string }>;
  return j.filter((e) => e.dst).map((e) => `${e.mac} ${e.dst}`).sort();
}

async function neighbours(host: string): Promise<string[]> {
  const j = JSON.parse(await ns.get(host)!.run(['ip', '-j', 'neigh', 'show', 'dev', 'vxlan.trl', 'nud', 'permanent'])) as Array<{ dst: string; lladdr: string }>;
  return j.map((n) => `${n.dst} ${n.lladdr}`).sort();
}

test.after(async () => {
  for (const a of agents.values()) await a.stop().catch(() => undefined);
  await store?.close().catch(() => undefined);
  for (const n of made.reverse()) await n.destroy();
  await etcd?.stop();
});

test('each trellisd records its VTEP on its Node: a tunnel address from the pool, a MAC; the device has the underlay MTU less 50', async () => {
  for (const h of HOSTS) {
    const n = await waitFor(`${h.name}'s VTEP on its Node`, () => node(h.name), (x) => Boolean(x?.spec.ipv4VXLANTunnelAddr && x.spec.vxlanTunnelMACAddr), 20_000);
    assert.match(n!.spec.ipv4VXLANTunnelAddr!, /^10\.61\./, `${h.name} tunnel address inside the pool`);
    assert.match(n!.spec.vxlanTunnelMACAddr!, /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
  }
  await waitFor('h1\'s VXLAN device', () => ns.get('h1')!.exec(['ip', 'link', 'show', 'dev', 'vxlan.trl']), (r) => r.exitCode === 0, 20_000);
  const macs = new Set(await Promise.all(HOSTS.map(async (h) => (await node(h.name))!.spec.vxlanTunnelMACAddr)));
  assert.is(macs.size, 3, 'three different MACs');
  const link = JSON.parse(await ns.get('h1')!.run(['ip', '-j', '-d', 'link', 'show', 'dev', 'vxlan.trl'])) as Array<{ mtu: number; linkinfo: { info_data: { id: number; port: number; learning: boolean } } }>;
  assert.is(link[0]!.mtu, UNDERLAY_MTU - 50, 'MTU derived from eth0');
  assert.equal([link[0]!.linkinfo.info_data.id, link[0]!.linkinfo.info_data.port, link[0]!.linkinfo.info_data.learning], [4096, 4789, false], 'VNI 4096, port 4789, no learning');
});

test('Always: every remote block is routed over vxlan.trl; TCP, UDP and ICMP cross hosts while the router has no route to the pool', async () => {
  for (const h of HOSTS) {
    await waitFor(`${h.name}'s routes to the other two hosts`, () => routes80(h.name), (rs) => rs.length === 2 && rs.every((x) => x.endsWith('dev vxlan.trl')), 20_000);
  }
  const routerRoute = await made[0]!.exec(['ip', 'route', 'get', ips.get('h3')!]);
  assert.is.not(routerRoute.exitCode, 0, 'the router cannot route container addresses: only the tunnel carries them');
  for (const h of HOSTS) {
    const c = ns.get(`c${h.name}`)!;
    c.exec(['socat', 'TCP-LISTEN:80,fork,reuseaddr', 'SYSTEM:echo ok $SOCAT_PEERADDR']).catch(() => undefined);
    c.exec([process.execPath, '-e', "const s=require('node:dgram').createSocket('udp4');s.on('message',(_m,p)=>s.send('ok '+p.address+'\\n',p.port,p.address));s.bind(53)"], { timeoutMs: 110_000 }).catch(() => undefined);
    await waitListening(c, 80);
    await waitListening(c, 53, 'udp');
  }
  for (const [from, to] of [['h1', 'h2'], ['h1', 'h3'], ['h3', 'h2']] as const) {
    const c = ns.get(`c${from}`)!;
    assert.is(await tcp(c, ips.get(to)!, 80), `ok ${ips.get(from)}`, `TCP ${from} -> ${to} (the peer sees the container's own address)`);
    assert.is(await udp(c, ips.get(to)!, 53), `ok ${ips.get(from)}`, `UDP ${from} -> ${to}`);
    assert.ok(await ping(c, ips.get(to)!), `ICMP ${from} -> ${to}`);
  }
});

test('64 MiB cross the tunnel intact (no MTU black hole)', async () => {
  const size = 64 * 1024 * 1024;
  const server = ns.get('ch3')!.exec(['sh', '-c', 'socat -u TCP-LISTEN:5001,reuseaddr STDOUT | wc -c'], { timeoutMs: 90_000 });
  await waitListening(ns.get('ch3')!, 5001);
  const client = await ns.get('ch1')!.exec(['sh', '-c', `head -c ${size} /dev/zero | socat -u STDIN TCP:${ips.get('h3')}:5001,connect-timeout=3`], { timeoutMs: 90_000 });
  assert.is(client.exitCode, 0, `sender finished: ${client.stderr}`);
  const got = await server;
  assert.is(Number(got.stdout.trim()), size, 'every byte arrived');
});

test('CrossSubnet: the same-subnet host is routed natively, the other subnet through the tunnel (device counter)', async () => {
  await store.apply(pool('CrossSubnet'));
  const h2Block = (await routes80('h1')).find((r) => r.includes(ips.get('h2')!.split('.').slice(0, 3).join('.')));
  assert.ok(h2Block, 'h1 has a route to h2\'s block');
  await waitFor('h1 routes h2 natively', () => routes80('h1'), (rs) => rs.some((x) => x.endsWith('via 172.31.1.3 dev eth0')), 20_000);
  await waitFor('h2 routes h1 natively', () => routes80('h2'), (rs) => rs.some((x) => x.endsWith('via 172.31.1.2 dev eth0')), 20_000);
  const c1 = ns.get('ch1')!;
  const before = await txPackets('h1');
  for (let i = 0; i < 5; i++) assert.ok(await ping(c1, ips.get('h2')!), 'ICMP h1 -> h2 natively');
  const afterNative = await txPackets('h1');
  assert.ok(afterNative - before < 3, `pings to h2 did not go through vxlan.trl (tx ${before} -> ${afterNative})`);
  for (let i = 0; i < 5; i++) assert.ok(await ping(c1, ips.get('h3')!), 'ICMP h1 -> h3 through the tunnel');
  const afterEncap = await txPackets('h1');
  assert.ok(afterEncap - afterNative >= 5, `pings to h3 went through vxlan.trl (tx ${afterNative} -> ${afterEncap})`);
  assert.is(await tcp(ns.get('ch3')!, ips.get('h2')!, 80), `ok ${ips.get('h3')}`, 'TCP h3 -> h2 (encapsulated both ways)');
});

test('drift: an FDB entry, a neighbour and a route of h1\'s deleted by hand come back from kernel events alone, counted', async () => {
  const a = agents.get('h1')!;
  const h1 = ns.get('h1')!;
  const want = { fdb: await fdb('h1'), neigh: await neighbours('h1'), routes: await routes80('h1') };
  const h3 = (await node('h3'))!.spec;
  assert.ok(want.fdb.includes(`${h3.vxlanTunnelMACAddr} 172.31.2.2`), `h1 has h3's FDB entry: ${want.fdb.join('; ')}`);
  const h3Route = want.routes.find((r) => r.endsWith(`via ${h3.ipv4VXLANTunnelAddr} dev vxlan.trl`))!;
  assert.ok(h3Route, `h1 routes h3's block over the tunnel: ${want.routes.join('; ')}`);
  const events = await metric(a, 'trellis_dataplane_drift_events_total', 'part="vxlan"');
  const repairs = await metric(a, 'trellis_dataplane_drift_repairs_total');
  await h1.run(['bridge', 'fdb', 'del', h3.vxlanTunnelMACAddr!, 'dev', 'vxlan.trl', 'dst', '172.31.2.2', 'self']);
  await waitFor('h1 puts the FDB entry back', () => fdb('h1'), (x) => x.join() === want.fdb.join(), 10_000);
  await h1.run(['ip', 'neigh', 'del', h3.ipv4VXLANTunnelAddr!, 'dev', 'vxlan.trl']);
  await waitFor('h1 puts the neighbour back', () => neighbours('h1'), (x) => x.join() === want.neigh.join(), 10_000);
  await h1.run(['ip', 'route', 'del', h3Route.split(' ')[0]!, 'proto', '80']);
  await waitFor('h1 puts the route back', () => routes80('h1'), (x) => x.join() === want.routes.join(), 10_000);
  assert.ok(await metric(a, 'trellis_dataplane_drift_events_total', 'part="vxlan"') >= events + 3, 'each deletion counted as VXLAN drift');
  assert.ok(await metric(a, 'trellis_dataplane_drift_repairs_total') > repairs, 'repairs counted');
  await waitFor('no drift outstanding on h1', async () => a.status().dataplane.drift?.outstanding ?? [], (o) => o.length === 0, 10_000);
  assert.ok(await ping(ns.get('ch1')!, ips.get('h3')!), 'ICMP h1 -> h3 through the repaired tunnel');
});

test('a trellisd restart under a running stream: no packet lost, the device, FDB and routes left untouched', async () => {
  const h1 = ns.get('h1')!;
  const link = async () => (JSON.parse(await h1.run(['ip', '-j', 'link', 'show', 'dev', 'vxlan.trl'])) as Array<{ ifindex: number }>)[0]!.ifindex;
  const before = { ifindex: await link(), fdb: await fdb('h1'), neigh: await neighbours('h1'), routes: await routes80('h1') };
  // 400 pings 25 ms apart (10 s) from h1's container to h3's, through the tunnel, while h1's trellisd stops and starts.
  const stream = ns.get('ch1')!.exec(['busybox', 'ping', '-q', '-i', '0.025', '-c', '400', '-W', '2', ips.get('h3')!], { timeoutMs: 60_000 });
  let streamEnded = false;
  void stream.then(() => { streamEnded = true; });
  // Let the stream start first: the restart falls inside it.
  await new Promise((r) => setTimeout(r, 500));
  await agents.get('h1')!.stop();
  agents.delete('h1');
  const again = await start('h1');
  agents.set('h1', again);
  await again.ready(30_000);
  await again.idle();
  assert.not.ok(streamEnded, 'the stream still ran when the restarted trellisd had applied (else the test proves nothing)');
  const r = await stream;
  assert.match(r.stdout, /400 packets received, 0% packet loss/, `no loss across the restart: exit ${r.exitCode} ${r.stdout.trim()} ${r.stderr.trim()}`);
  assert.equal({ ifindex: await link(), fdb: await fdb('h1'), neigh: await neighbours('h1'), routes: await routes80('h1') }, before, 'the device was not re-created; FDB, neighbours and routes as they were');
  assert.ok(again.status().vxlan, 'the restarted trellisd reports its VXLAN state');
});

test('a host that leaves takes its routes, neighbour and FDB entry with it on the others', async () => {
  const mac = (await node('h3'))!.spec.vxlanTunnelMACAddr!;
  await agents.get('h3')!.stop();
  agents.delete('h3');
  await store.delete({ kind: 'WorkloadEndpoint', namespace: 'tenant-a', name: 'w-h3' });
  await releaseByHandle(store, 'c-h3');
  await releaseByHandle(store, 'vxlan-tunnel-addr-h3');
  await store.delete({ kind: 'Node', name: 'h3' });
  const h1 = ns.get('h1')!;
  await waitFor('h1 drops its routes to h3', () => routes80('h1'), (rs) => rs.length === 1 && rs[0]!.includes('172.31.1.3'), 20_000);
  // The FDB entry goes in the batch right after the routes': wait for that one too.
  await waitFor('h3\'s FDB entry gone from h1', () => h1.run(['bridge', 'fdb', 'show', 'dev', 'vxlan.trl']), (fdb) => !fdb.includes(mac), 10_000);
  const neigh = await h1.run(['ip', 'neigh', 'show', 'dev', 'vxlan.trl']);
  assert.ok(!neigh.includes(mac), `h3's neighbour is gone: ${neigh}`);
});

test.run();
