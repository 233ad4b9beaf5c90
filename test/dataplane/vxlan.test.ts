// The VXLAN applier against a real kernel in a throwaway namespace: device, FDB, neighbours
// and proto 80 routes as calc's state says, in the order that never routes into the tunnel
// ahead of the FDB when a route is replaced; no drift means no command; a deleted FDB entry
// is put back by a resync; a host that leaves takes its entries along; CrossSubnet turns a
// route native; VXLAN wins over a BGP route to the same prefix and never touches others'.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createNetns, testNetnsPrefix, type Netns } from '../../src/lab/index.js';
import { silentLogger } from '../../src/log/index.js';
import { createDataplane, type Dataplane } from '../../src/dataplane/index.js';
import { computeVxlanState, type VxlanSettings } from '../../src/calc/index.js';
import { BLOCKS, SETTINGS, cluster } from '../helpers/vxlan-cluster.js';

let ns: Netns;
let dp: Dataplane;

const state = (mode: string, o: { settings?: Partial<VxlanSettings>; without?: string } = {}) => computeVxlanState({
  nodeName: 'h1',
  resources: cluster(mode).filter((r) => r.metadata.name !== o.without),
  blocks: BLOCKS.filter((b) => b.node !== o.without),
  settings: { ...SETTINGS, ...o.settings },
});

async function kernel(): Promise<{ link: string; fdb: string[]; neigh: string[]; routes: string[] }> {
  const l = JSON.parse(await ns.run(['ip', '-j', '-d', 'link', 'show', 'dev', 'vxlan.trl']).catch(() => '[]')) as Array<{ mtu: number; address: string; linkinfo: { info_data: { id: number; port: number; local: string; learning: boolean } } }>;
  const link = l[0] ? `vni ${l[0].linkinfo.info_data.id} port ${l[0].linkinfo.info_data.port} local ${l[0].linkinfo.info_data.local} learning ${l[0].linkinfo.info_data.learning} mac ${l[0].address} mtu ${l[0].mtu}` : 'none';
  const fdb = l[0] ? (JSON.parse(await ns.run(['bridge', '-j', 'fdb', 'show', 'dev', 'vxlan.trl'])) as Array<{ mac: string; dst?: string }>).filter((e) => e.dst).map((e) => `${e.mac} ${e.dst}`).sort() : [];
  const neigh = l[0] ? (JSON.parse(await ns.run(['ip', '-j', 'neigh', 'show', 'dev', 'vxlan.trl'])) as Array<{ dst: string; lladdr: string; state: string[] }>).map((n) => `${n.dst} ${n.lladdr} ${n.state.join(',')}`).sort() : [];
  const routes = (JSON.parse(await ns.run(['ip', '-j', 'route', 'show', 'proto', '80'])) as Array<{ dst: string; gateway: string; dev: string }>).map((r) => `${r.dst} via ${r.gateway} dev ${r.dev}`).sort();
  return { link, fdb, neigh, routes };
}

test.before(async () => {
  ns = await createNetns(`${testNetnsPrefix()}vxdp`);
  await ns.run(['ip', 'link', 'add', 'up0', 'mtu', '9000', 'type', 'veth', 'peer', 'name', 'up1', 'mtu', '9000']);
  await ns.run(['ip', 'link', 'set', 'up0', 'up']);
  await ns.run(['ip', 'link', 'set', 'up1', 'up']);
  await ns.run(['ip', 'addr', 'add', '172.31.1.2/24', 'dev', 'up0']);
  await ns.run(['ip', 'route', 'add', '172.31.2.0/24', 'via', '172.31.1.1']);
  // Somebody else's: a static route on a prefix VXLAN wants, a BGP route on another.
  await ns.run(['ip', 'route', 'add', '10.60.2.64/26', 'via', '172.31.1.9', 'proto', 'static']);
  await ns.run(['ip', 'route', 'add', '10.60.2.0/26', 'via', '172.31.1.8', 'proto', '79']);
  dp = createDataplane({ netns: ns.name, logger: silentLogger(), resyncIntervalMs: 3_600_000 });
});

test.after(async () => {
  await ns?.destroy();
});

test('Always: device with the automatic MTU, static FDB and neighbours, routes; VXLAN replaces BGP\'s route, leaves the static one', async () => {
  const r = await dp.syncVxlan(state('Always'));
  assert.equal(r.errors, []);
  assert.is(r.counts.writeCommands, 3, 'a route replaces BGP\'s: device, then FDB, then neighbours and routes (no route into the tunnel before its FDB entry)');
  assert.equal(r.skipped, ['10.60.2.64/26: kernel already routes it by protocol static on up0'], 'the static route\'s prefix is skipped');
  const k = await kernel();
  assert.is(k.link, 'vni 4096 port 4789 local 172.31.1.2 learning false mac 66:00:00:00:00:01 mtu 8950', 'device: Calico defaults, MTU 9000 - 50');
  assert.equal(k.fdb, ['66:00:00:00:00:02 172.31.1.3', '66:00:00:00:00:03 172.31.2.2'], 'one FDB entry per remote VTEP');
  assert.equal(k.neigh, ['10.60.1.0 66:00:00:00:00:02 PERMANENT', '10.60.2.0 66:00:00:00:00:03 PERMANENT']);
  assert.equal(k.routes, ['10.60.0.9 via 10.60.2.0 dev vxlan.trl', '10.60.1.0/26 via 10.60.1.0 dev vxlan.trl', '10.60.2.0/26 via 10.60.2.0 dev vxlan.trl']);
  const bgp = await ns.run(['ip', 'route', 'show', 'proto', '79']);
  assert.is(bgp.trim(), '', 'the BGP route to 10.60.2.0/26 was replaced');
  const stat = await ns.run(['ip', 'route', 'show', '10.60.2.64/26']);
  assert.match(stat, /via 172\.31\.1\.9 .*proto static/, 'static route kept');
});

test('no drift: a second sync and a resync write nothing', async () => {
  const again = await dp.syncVxlan(state('Always'));
  assert.is(again.counts.writeCommands, 0, 'cached: nothing written');
  const re = await dp.syncVxlan(state('Always'), { resync: true });
  assert.ok(re.resynced, 'kernel read back');
  assert.is(re.counts.writeCommands, 0, `resync on an in-sync kernel writes nothing: ${JSON.stringify(re.counts)}`);
});

test('drift: a deleted FDB entry and neighbour are put back by a resync', async () => {
  await ns.run(['bridge', 'fdb', 'del', '66:00:00:00:00:03', 'dev', 'vxlan.trl', 'dst', '172.31.2.2', 'self']);
  await ns.run(['ip', 'neigh', 'del', '10.60.1.0', 'dev', 'vxlan.trl']);
  const r = await dp.syncVxlan(state('Always'), { resync: true });
  assert.is(r.counts.writeCommands, 2, 'one bridge batch, one ip batch');
  const k = await kernel();
  assert.equal(k.fdb, ['66:00:00:00:00:02 172.31.1.3', '66:00:00:00:00:03 172.31.2.2'], 'FDB entry back');
  assert.equal(k.neigh, ['10.60.1.0 66:00:00:00:00:02 PERMANENT', '10.60.2.0 66:00:00:00:00:03 PERMANENT'], 'neighbour back');
});

test('a host that leaves takes its routes, neighbour and FDB entry with it', async () => {
  await dp.syncVxlan(state('Always', { without: 'h3' }));
  const k = await kernel();
  assert.equal(k.fdb, ['66:00:00:00:00:02 172.31.1.3']);
  assert.equal(k.neigh, ['10.60.1.0 66:00:00:00:00:02 PERMANENT']);
  assert.equal(k.routes, ['10.60.1.0/26 via 10.60.1.0 dev vxlan.trl']);
  const r = await dp.syncVxlan(state('Always', { without: 'h3' }), { resync: true });
  assert.is(r.counts.writeCommands, 0, 'and the kernel agrees with what was planned');
});

test('CrossSubnet: the same-subnet host\'s block becomes a native route, the other subnet\'s stays encapsulated', async () => {
  await dp.syncVxlan(state('CrossSubnet'));
  const k = await kernel();
  assert.equal(k.routes, ['10.60.0.9 via 10.60.2.0 dev vxlan.trl', '10.60.1.0/26 via 172.31.1.3 dev up0', '10.60.2.0/26 via 10.60.2.0 dev vxlan.trl']);
  assert.equal(k.fdb, ['66:00:00:00:00:03 172.31.2.2'], 'h2 needs no FDB entry any more');
  const r = await dp.syncVxlan(state('CrossSubnet'), { resync: true });
  assert.is(r.counts.writeCommands, 0, 'in sync after the change');
});

test('a changed VNI and MTU re-create the device with every entry; Never removes it all', async () => {
  const re = await dp.syncVxlan(state('Always', { settings: { vni: 77, mtu: 1400 } }));
  assert.is(re.counts.writeCommands, 3, 'h2\'s native route becomes one into the new device: it waits for the FDB');
  let k = await kernel();
  assert.is(k.link, 'vni 77 port 4789 local 172.31.1.2 learning false mac 66:00:00:00:00:01 mtu 1400');
  assert.equal(k.fdb.length, 2, 'FDB entries re-added on the new device');
  assert.equal(k.routes.length, 3, 'routes re-added');
  await dp.syncVxlan(state('Never'));
  k = await kernel();
  assert.is(k.link, 'none', 'device removed');
  assert.equal(k.routes, [], 'no proto 80 route left');
  const stat = await ns.run(['ip', 'route', 'show', '10.60.2.64/26']);
  assert.match(stat, /proto static/, 'static route still there');
  const r = await dp.syncVxlan(state('Never'), { resync: true });
  assert.is(r.counts.writeCommands, 0, 'nothing to do');
});

test('a cold start whose routes replace nothing: device, neighbours and routes in one batch, then the FDB', async () => {
  const fresh = await createNetns(`${testNetnsPrefix()}vxdp2`);
  try {
    await fresh.run(['ip', 'link', 'add', 'up0', 'type', 'veth', 'peer', 'name', 'up1']);
    await fresh.run(['ip', 'link', 'set', 'up0', 'up']);
    await fresh.run(['ip', 'addr', 'add', '172.31.1.2/24', 'dev', 'up0']);
    const r = await createDataplane({ netns: fresh.name, logger: silentLogger(), resyncIntervalMs: 3_600_000 }).syncVxlan(state('Always'));
    assert.is(r.counts.writeCommands, 2, 'two writes, as the raw floor');
    const fdb = (JSON.parse(await fresh.run(['bridge', '-j', 'fdb', 'show', 'dev', 'vxlan.trl'])) as Array<{ mac: string; dst?: string }>).filter((e) => e.dst).length;
    const routes = (await fresh.run(['ip', 'route', 'show', 'proto', '80'])).trim().split('\n').length;
    assert.equal([fdb, routes], [2, 4], 'both FDB entries and all four routes');
  } finally {
    await fresh.destroy();
  }
});

test.run();
