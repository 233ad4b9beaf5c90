// The Docker driver's calls as handlers, against a real etcd: every call Docker makes, its
// answer, and bad input refused with a sentence naming the field and nothing written. The
// calls that touch the kernel (Join, Leave, DeleteEndpoint with a joined endpoint) run
// against a real dockerd in dockerd.test.ts; here only their refusals, which come first.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { request } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { allocate, ipamUsage } from '../../src/ipam/index.js';
import { API_VERSION } from '../../src/model/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { createDriver, dockerPorts, endpointLabels, networkProfile, networkProfileName, startDockerPlugin, type Driver } from '../../src/docker/index.js';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';

let etcd: TestEtcd;
let n = 0;
const stores: Store[] = [];
const log = pino({ level: 'silent' });
const serial = <T>(fn: () => Promise<T>) => fn();

async function fresh(): Promise<{ store: Store; driver: Driver; call(path: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> }> {
  const store = openStore({ endpoints: etcd.endpoints, prefix: `/dk${process.pid}-${++n}/` });
  stores.push(store);
  await store.create({ apiVersion: API_VERSION, kind: 'IPPool', metadata: { name: 'p1' }, spec: { cidr: '10.70.0.0/24' } });
  const driver = createDriver({ store, node: 'host1', log, ipamLock: serial, engine: null });
  return { store, driver, call: (path, body) => driver.handle(path, body) };
}

/** Everything under the driver's own prefix, plus IPAM's used count: what a refusal must leave untouched. */
async function written(store: Store): Promise<{ keys: string[]; used: number }> {
  const keys = await store.etcd.getAll().prefix(`${store.prefix}docker/`).keys();
  return { keys: keys.sort(), used: (await ipamUsage(store)).pools[0]!.used };
}

async function refused(c: Awaited<ReturnType<typeof fresh>>, path: string, body: unknown, text: string): Promise<void> {
  const before = await written(c.store);
  const r = await c.call(path, body);
  assert.is(r.status, 500, `${path} refused with HTTP 500 (the IPAM side ignores Err with 200): ${JSON.stringify(r.body)}`);
  assert.match(String(r.body.Err), text, `${path}: the error says "${text}"`);
  assert.ok(String(r.body.Err).startsWith('trellis: '), 'the error says who refused');
  assert.equal(await written(c.store), before, `${path}: nothing written by a refused call`);
}

const NET = 'a'.repeat(64);
const EP = 'e'.repeat(64);

test.before(async () => { etcd = await startTestEtcd(); });
test.after(async () => {
  for (const s of stores) await s.close().catch(() => undefined);
  await etcd.stop();
});

test('activation and capabilities: both drivers, local scope', async () => {
  const c = await fresh();
  assert.equal((await c.call('/Plugin.Activate', {})).body, { Implements: ['NetworkDriver', 'IpamDriver'] });
  assert.is((await c.call('/NetworkDriver.GetCapabilities', {})).body.Scope, 'local', 'global would make network create demand a swarm');
  assert.equal((await c.call('/IpamDriver.GetCapabilities', {})).body, { RequiresMACAddress: false });
  assert.ok((await c.call('/IpamDriver.GetDefaultAddressSpaces', {})).body.LocalDefaultAddressSpace);
  const unknown = await c.call('/NetworkDriver.Frobnicate', {});
  assert.is(unknown.status, 404);
  assert.match(String(unknown.body.Err), '/NetworkDriver.Frobnicate', 'the unknown call is named');
});

test('RequestPool: a subnet in an IPPool, the default pool, and refusals naming the subnet or field', async () => {
  const c = await fresh();
  const r = await c.call('/IpamDriver.RequestPool', { AddressSpace: 'trellis-local', Pool: '10.70.0.0/25', Options: {}, V6: false });
  assert.equal(r.body, { PoolID: 'trellis:10.70.0.0/25', Pool: '10.70.0.0/25', Data: { 'com.docker.network.gateway': '169.254.1.1/32' } },
    'the gateway is given, so Docker never asks for a gateway address');
  const d = await c.call('/IpamDriver.RequestPool', { AddressSpace: 'trellis-local', Options: {} });
  assert.is(d.body.PoolID, 'trellis-default-v4', 'no --subnet: the default pools');
  await refused(c, '/IpamDriver.RequestPool', { Pool: '10.71.0.0/24' }, 'subnet 10.71.0.0/24 lies in no Trellis IPPool (pools: p1 10.70.0.0/24)');
  await refused(c, '/IpamDriver.RequestPool', { Pool: '10.70.0.0/16' }, 'lies in no Trellis IPPool');
  await refused(c, '/IpamDriver.RequestPool', { Pool: 'ten/8' }, '--subnet ten/8 is not a CIDR');
  await refused(c, '/IpamDriver.RequestPool', { Pool: '10.70.0.0/24', SubPool: '10.70.0.0/26' }, '--ip-range is not supported');
  await refused(c, '/IpamDriver.RequestPool', { Pool: 7 }, 'RequestPool: field "Pool"');
  assert.equal((await c.call('/IpamDriver.ReleasePool', { PoolID: 'trellis:10.70.0.0/25' })).body, {});
  await refused(c, '/IpamDriver.ReleasePool', {}, 'ReleasePool: field "PoolID"');
});

test('RequestAddress / ReleaseAddress: a /32 from the pool, --ip, the gateway, and an address in use naming its holder', async () => {
  const c = await fresh();
  const g = await c.call('/IpamDriver.RequestAddress', { PoolID: 'trellis:10.70.0.0/24', Options: { RequestAddressType: 'com.docker.network.gateway' } });
  assert.equal(g.body, { Address: '169.254.1.1/32' }, 'the gateway costs no pool address');
  const a = await c.call('/IpamDriver.RequestAddress', { PoolID: 'trellis:10.70.0.0/24', Address: '', Options: {} });
  assert.is(a.status, 200, JSON.stringify(a.body));
  assert.match(String(a.body.Address), /^10\.70\.0\.\d+\/32$/, 'a /32 from the pool');
  const fixed = await c.call('/IpamDriver.RequestAddress', { PoolID: 'trellis:10.70.0.0/24', Address: '10.70.0.77', Options: {} });
  assert.is(fixed.body.Address, '10.70.0.77/32', '--ip honoured');
  await refused(c, '/IpamDriver.RequestAddress', { PoolID: 'trellis:10.70.0.0/24', Address: '10.70.0.77' }, '10.70.0.77 is already allocated (handle docker.');
  await allocate(c.store, { node: 'host2', handle: 'cni-x.eth0', address: '10.70.0.88' });
  await refused(c, '/IpamDriver.RequestAddress', { PoolID: 'trellis:10.70.0.0/24', Address: '10.70.0.88' }, 'handle cni-x.eth0 on node host2');
  await refused(c, '/IpamDriver.RequestAddress', { PoolID: 'trellis:10.70.0.0/24', Address: '10.70.1.5' }, '--ip 10.70.1.5 is outside the network\'s subnet 10.70.0.0/24');
  await refused(c, '/IpamDriver.RequestAddress', { PoolID: 'trellis:10.70.0.0/24', Address: 'web' }, '--ip web is not an IP address');
  await refused(c, '/IpamDriver.RequestAddress', { PoolID: 'bridge-pool' }, 'field "PoolID" "bridge-pool" was not handed out by Trellis');
  await refused(c, '/IpamDriver.RequestAddress', { Address: '10.70.0.5' }, 'RequestAddress: field "PoolID"');

  const usedBefore = (await ipamUsage(c.store)).pools[0]!.used;
  assert.equal((await c.call('/IpamDriver.ReleaseAddress', { PoolID: 'trellis:10.70.0.0/24', Address: '10.70.0.77' })).body, {});
  assert.is((await ipamUsage(c.store)).pools[0]!.used, usedBefore - 1, 'released');
  assert.is((await c.call('/IpamDriver.ReleaseAddress', { PoolID: 'trellis:10.70.0.0/24', Address: '10.70.0.77' })).status, 200, 'a second release is fine');
  await c.call('/IpamDriver.ReleaseAddress', { PoolID: 'trellis:10.70.0.0/24', Address: '10.70.0.88' });
  assert.is((await ipamUsage(c.store)).pools[0]!.used, usedBefore - 1, 'an address another runtime holds is not Docker\'s to free');
  assert.is((await c.call('/IpamDriver.ReleaseAddress', { PoolID: 'trellis:10.70.0.0/24', Address: '169.254.1.1/32' })).status, 200, 'the gateway release (network rm) is a no-op');
  await refused(c, '/IpamDriver.ReleaseAddress', { PoolID: 'trellis:10.70.0.0/24', Address: 'x' }, 'field "Address" "x" is not an IP address');
});

test('CreateNetwork / DeleteNetwork: options named, refusals write nothing, the record and its Profile go with the last network of the name', async () => {
  const c = await fresh();
  const body = (generic: Record<string, unknown>) => ({ NetworkID: NET, Options: { 'com.docker.network.generic': generic }, IPv4Data: [{ AddressSpace: 'x', Pool: '10.70.0.0/24', Gateway: '169.254.1.1/32' }], IPv6Data: [] });
  await refused(c, '/NetworkDriver.CreateNetwork', body({ colour: 'blue' }), 'unknown option -o colour for a Trellis network (known: trellis.namespace, trellis.profiles)');
  await refused(c, '/NetworkDriver.CreateNetwork', body({ 'trellis.namespace': 'Tenant A' }), 'option -o trellis.namespace=Tenant A: not a valid Namespace name');
  await refused(c, '/NetworkDriver.CreateNetwork', body({ 'trellis.profiles': 'ok,Bad_One' }), 'option -o trellis.profiles: "Bad_One" is not a valid Profile name');
  await refused(c, '/NetworkDriver.CreateNetwork', { ...body({}), IPv4Data: [{ Pool: '10.99.0.0/24' }] }, 'subnet 10.99.0.0/24 lies in no Trellis IPPool');
  await refused(c, '/NetworkDriver.CreateNetwork', { Options: {} }, 'CreateNetwork: field "NetworkID"');
  const ok = await c.call('/NetworkDriver.CreateNetwork', body({ 'trellis.namespace': 'tenant-a', 'trellis.profiles': 'extra' }));
  assert.is(ok.status, 200, JSON.stringify(ok.body));
  const rec = JSON.parse((await c.store.etcd.get(`${c.store.prefix}docker/networks/${NET}`).string())!) as Record<string, unknown>;
  assert.is(rec.namespace, 'tenant-a');
  assert.equal(rec.profiles, ['extra']);
  assert.equal(rec.pools, ['p1'], 'allocation limited to the pool holding --subnet');

  // What Join records once Docker's API told it the name; DeleteNetwork then removes the Profile.
  await c.store.etcd.put(`${c.store.prefix}docker/networks/${NET}`).value(JSON.stringify({ ...rec, name: 'net1' }));
  await c.store.apply(networkProfile('net1'));
  assert.equal((await c.call('/NetworkDriver.DeleteNetwork', { NetworkID: NET })).body, {});
  assert.equal((await written(c.store)).keys, [], 'the network record is gone');
  assert.is(await c.store.get({ kind: 'Profile', name: networkProfileName('net1') }), null, 'the last network of that name takes its Profile');
  assert.is((await c.call('/NetworkDriver.DeleteNetwork', { NetworkID: NET })).status, 200, 'a second delete is fine');
  await refused(c, '/NetworkDriver.DeleteNetwork', {}, 'DeleteNetwork: field "NetworkID"');
});

test('CreateEndpoint: needs a Trellis network and an address; -p maps recorded; refusals write nothing', async () => {
  const c = await fresh();
  const ep = (extra: Record<string, unknown> = {}) => ({ NetworkID: NET, EndpointID: EP, Interface: { Address: '10.70.0.9/32', AddressIPv6: '', MacAddress: '' }, Options: {}, ...extra });
  await refused(c, '/NetworkDriver.CreateEndpoint', ep(), `network ${NET.slice(0, 12)} is not known to Trellis`);
  await c.call('/NetworkDriver.CreateNetwork', { NetworkID: NET, Options: {}, IPv4Data: [{ Pool: '10.70.0.0/24' }] });
  await refused(c, '/NetworkDriver.CreateEndpoint', ep({ Interface: { Address: '' } }), 'field "Interface.Address" is empty (the network must use --ipam-driver trellis)');
  await refused(c, '/NetworkDriver.CreateEndpoint', ep({ Interface: { Address: 'nope/32' } }), 'field "Interface.Address" "nope" is not an IP address');
  await refused(c, '/NetworkDriver.CreateEndpoint', ep({ Options: { 'com.docker.network.portmap': [{ Proto: 6, Port: 80, HostPort: 0 }] } }), '-p 80: give a host port');
  await refused(c, '/NetworkDriver.CreateEndpoint', ep({ Options: { 'com.docker.network.portmap': [{ Proto: 'tcp', Port: 80, HostPort: 8080 }] } }), 'field "Options.com.docker.network.portmap.0.Proto" Expected number');
  await refused(c, '/NetworkDriver.CreateEndpoint', { NetworkID: NET }, 'CreateEndpoint: field "EndpointID"');
  const ok = await c.call('/NetworkDriver.CreateEndpoint', ep({ Options: { 'com.docker.network.portmap': [{ Proto: 6, IP: '', Port: 80, HostIP: '', HostPort: 8080, HostPortEnd: 8080 }, { Proto: 17, Port: 53, HostPort: 5353 }] } }));
  assert.is(ok.status, 200, JSON.stringify(ok.body));
  assert.match(String((ok.body.Interface as Record<string, unknown>).MacAddress), /^02:[0-9a-f]{2}(:[0-9a-f]{2}){4}$/, 'a locally administered MAC');
  const rec = JSON.parse((await c.store.etcd.get(`${c.store.prefix}docker/endpoints/${EP}`).string())!) as Record<string, unknown>;
  assert.equal(rec.addresses, ['10.70.0.9']);
  assert.equal(rec.ports, [
    { name: 'hp-8080-tcp', protocol: 'TCP', port: 80, hostPort: 8080 },
    { name: 'hp-5353-udp', protocol: 'UDP', port: 53, hostPort: 5353 },
  ], '-p maps become endpoint ports');
  const info = await c.call('/NetworkDriver.EndpointOperInfo', { NetworkID: NET, EndpointID: EP });
  assert.equal(info.body, { Value: {} }, 'not joined yet: nothing to report');
});

test('Join, Leave and DeleteEndpoint refuse bad input before touching anything', async () => {
  const c = await fresh();
  await refused(c, '/NetworkDriver.Join', { NetworkID: NET, EndpointID: EP }, 'Join: field "SandboxKey"');
  await refused(c, '/NetworkDriver.Join', { NetworkID: NET, EndpointID: EP, SandboxKey: '/var/run/docker/netns/x' }, `Join: endpoint ${EP.slice(0, 12)} was never created by Trellis`);
  await refused(c, '/NetworkDriver.Leave', { NetworkID: NET }, 'Leave: field "EndpointID"');
  await refused(c, '/NetworkDriver.DeleteEndpoint', { EndpointID: EP }, 'DeleteEndpoint: field "NetworkID"');
  await refused(c, '/NetworkDriver.EndpointOperInfo', {}, 'EndpointOperInfo: field "NetworkID"');
});

test('pure parts: port ranges, Docker labels that cannot be endpoint labels, profile names', () => {
  assert.equal(dockerPorts({ 'com.docker.network.portmap': [{ Proto: 6, Port: 80, HostIP: '10.0.0.1', HostPort: 8080, HostPortEnd: 8081 }] }), [
    { name: 'hp-8080-tcp', protocol: 'TCP', port: 80, hostPort: 8080, hostIP: '10.0.0.1' },
    { name: 'hp-8081-tcp', protocol: 'TCP', port: 80, hostPort: 8081, hostIP: '10.0.0.1' },
  ]);
  assert.throws(() => dockerPorts({ 'com.docker.network.portmap': [{ Proto: 6, Port: 80, HostPort: 1, HostPortEnd: 5000 }] }), /at most 1024 ports/);
  assert.equal(endpointLabels({ app: 'web', maintainer: 'Jane <j@x>', 'trellis.dev/docker-network': 'spoof', 'com.example/tier': 'db' }),
    { labels: { app: 'web', 'com.example/tier': 'db' }, skipped: ['maintainer', 'trellis.dev/docker-network'] },
    'invalid values and Trellis\'s own keys are left out (a container cannot claim another network)');
  assert.is(networkProfileName('My_Net'), 'docker-net-my-net');
  assert.is(networkProfileName('__'), `docker-net-${networkProfileName('__').slice('docker-net-'.length)}`);
  assert.match(networkProfileName('__'), /^docker-net-[0-9a-f]{12}$/, 'a name with nothing usable is hashed');
});

test('the socket: HTTP POSTs of JSON; a body that is not JSON is refused, the server keeps serving', async () => {
  const c = await fresh();
  const dir = mkdtempSync('/tmp/trl-dkdrv-');
  const path = join(dir, 'trellis.sock');
  const server = await startDockerPlugin({ path, store: c.store, node: 'host1', log });
  const post = (url: string, body: string) => new Promise<{ status: number; json: Record<string, unknown> }>((resolve, reject) => {
    const req = request({ socketPath: path, path: url, method: 'POST', headers: { 'Content-Type': 'application/json' } }, (res) => {
      let t = '';
      res.on('data', (x: Buffer) => { t += x.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(t) as Record<string, unknown> }));
    });
    req.on('error', reject);
    req.end(body);
  });
  try {
    const bad = await post('/NetworkDriver.CreateNetwork', '{not json');
    assert.is(bad.status, 400);
    assert.match(String(bad.json.Err), '/NetworkDriver.CreateNetwork: request body is not JSON');
    const act = await post('/Plugin.Activate', '');
    assert.equal(act.json, { Implements: ['NetworkDriver', 'IpamDriver'] }, 'still serving; an empty body is {}');
    let second: unknown = null;
    try { await startDockerPlugin({ path, store: c.store, node: 'host1', log }); } catch (e) { second = e; }
    assert.match(String(second), 'another process already serves Docker plugin calls there', 'a second server does not steal the socket');
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
