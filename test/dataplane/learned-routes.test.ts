// syncLearnedRoutes against a real kernel in a throwaway namespace: adds, replaces and
// deletes proto 79 routes in one batch and never touches anybody else's routes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createNetns, testNetnsPrefix, type Netns } from '../../src/lab/index.js';
import { silentLogger } from '../../src/log/index.js';
import { createDataplane } from '../../src/dataplane/index.js';

let ns: Netns;

interface JRoute { dst: string; gateway?: string; dev?: string; protocol?: string }
async function routes(argv: string[]): Promise<JRoute[]> {
  return JSON.parse(await ns.run(['ip', '-j', ...argv])) as JRoute[];
}

test.before(async () => {
  ns = await createNetns(`${testNetnsPrefix()}dplr`);
  await ns.run(['ip', 'link', 'add', 'up0', 'type', 'veth', 'peer', 'name', 'up1']);
  await ns.run(['ip', 'link', 'set', 'up0', 'up']);
  await ns.run(['ip', 'link', 'set', 'up1', 'up']);
  await ns.run(['ip', 'addr', 'add', '10.77.0.1/24', 'dev', 'up0']);
  await ns.run(['ip', '-6', 'addr', 'add', 'fd00:77::1/64', 'dev', 'up0', 'nodad']);
  // Somebody else's routes: a static one and a workload (proto 78) one.
  await ns.run(['ip', 'route', 'add', '10.80.0.0/24', 'via', '10.77.0.9', 'proto', 'static']);
  await ns.run(['ip', 'route', 'add', '10.90.0.5/32', 'dev', 'up0', 'scope', 'link', 'proto', '78']);
});

test.after(async () => {
  await ns?.destroy();
});

test('adds learned v4 and v6 routes with proto 79 and leaves other protocols alone', async () => {
  const dp = createDataplane({ netns: ns.name, logger: silentLogger() });
  const r = await dp.syncLearnedRoutes([
    { dst: '10.50.0.0/24', via: '10.77.0.2', family: 4 },
    { dst: '10.51.0.0/26', via: '10.77.0.3', family: 4 },
    { dst: 'fd00:50::/64', via: 'fd00:77::2', family: 6 },
    { dst: '10.80.0.0/24', via: '10.77.0.2', family: 4 }, // static route owns it
    { dst: '10.90.0.5/32', via: '10.77.0.2', family: 4 }, // a local workload owns it
  ]);
  assert.equal(r.errors, [], 'no errors');
  assert.is(r.counts.routesAdded, 3, 'three routes added');
  assert.is(r.skipped.length, 2, `two prefixes skipped as owned by others: ${r.skipped.join('; ')}`);
  const v4 = await routes(['route', 'show', 'proto', '79']);
  assert.equal(v4.map((x) => `${x.dst} via ${x.gateway}`).sort(), ['10.50.0.0/24 via 10.77.0.2', '10.51.0.0/26 via 10.77.0.3']);
  const v6 = await routes(['-6', 'route', 'show', 'proto', '79']);
  assert.equal(v6.map((x) => `${x.dst} via ${x.gateway}`), ['fd00:50::/64 via fd00:77::2']);
  const stat = await routes(['route', 'show', '10.80.0.0/24']);
  assert.is(stat[0]?.gateway, '10.77.0.9', 'static route kept its next hop');
  const wl = await routes(['route', 'show', 'proto', '78']);
  assert.equal(wl.map((x) => `${x.dst} dev ${x.dev}`), ['10.90.0.5 dev up0'], 'workload route untouched');
});

test('a second identical sync writes nothing', async () => {
  const dp = createDataplane({ netns: ns.name, logger: silentLogger() });
  const r = await dp.syncLearnedRoutes([
    { dst: '10.50.0.0/24', via: '10.77.0.2', family: 4 },
    { dst: '10.51.0.0/26', via: '10.77.0.3', family: 4 },
    { dst: 'fd00:50::/64', via: 'fd00:77::2', family: 6 },
  ]);
  assert.is(r.wrote, false, `no writes expected, got ${JSON.stringify(r.counts)}`);
});

test('replaces a moved next hop and deletes withdrawn routes, keeping foreign ones', async () => {
  const dp = createDataplane({ netns: ns.name, logger: silentLogger() });
  const r = await dp.syncLearnedRoutes([{ dst: '10.50.0.0/24', via: '10.77.0.4', family: 4 }]);
  assert.equal([r.counts.routesAdded, r.counts.routesReplaced, r.counts.routesDeleted], [0, 1, 2], 'one replaced, two deleted');
  const v4 = await routes(['route', 'show', 'proto', '79']);
  assert.equal(v4.map((x) => `${x.dst} via ${x.gateway}`), ['10.50.0.0/24 via 10.77.0.4']);
  assert.equal(await routes(['-6', 'route', 'show', 'proto', '79']), [], 'v6 learned route withdrawn');
  assert.is((await routes(['route', 'show', '10.80.0.0/24']))[0]?.gateway, '10.77.0.9', 'static route survived');
  assert.is((await routes(['route', 'show', 'proto', '78'])).length, 1, 'workload route survived');
});

test('an unreachable next hop or bad input does not keep the other routes out', async () => {
  const dp = createDataplane({ netns: ns.name, logger: silentLogger() });
  const r = await dp.syncLearnedRoutes([
    { dst: '10.50.0.0/24', via: '10.77.0.4', family: 4 },
    { dst: '10.60.0.0/24', via: '192.0.2.1', family: 4 }, // not on any link
    { dst: '10.61.0.0/24', via: '10.77.0.5', family: 4 },
    { dst: 'not-a-cidr', via: '10.77.0.5', family: 4 },
    { dst: '10.62.0.0/24', via: 'fd00:77::2', family: 4 },
  ]);
  assert.ok(r.errors.length >= 3, `errors reported: ${r.errors.join('; ')}`);
  const v4 = await routes(['route', 'show', 'proto', '79']);
  assert.equal(v4.map((x) => x.dst).sort(), ['10.50.0.0/24', '10.61.0.0/24']);
});

test('between resyncs the last write stands in for the table; a route deleted behind our back returns on the resync', async () => {
  const dp = createDataplane({ netns: ns.name, logger: silentLogger(), resyncIntervalMs: 60_000 });
  const want = [{ dst: '10.55.0.0/24', via: '10.77.0.2', family: 4 as const }];
  const first = await dp.syncLearnedRoutes(want);
  assert.equal([first.resynced, first.counts.routesAdded], [true, 1], 'the first sync reads the table and adds');
  await ns.run(['ip', 'route', 'del', '10.55.0.0/24', 'proto', '79']);
  const cached = await dp.syncLearnedRoutes(want);
  assert.equal([cached.resynced, cached.wrote], [false, false], 'a sync between resyncs diffs against the last write');
  const repaired = await dp.syncLearnedRoutes(want, { resync: true });
  assert.equal([repaired.resynced, repaired.counts.routesAdded], [true, 1], JSON.stringify(repaired.counts));
  const v4 = await routes(['route', 'show', '10.55.0.0/24', 'proto', '79']);
  assert.equal(v4.map((x) => x.gateway), ['10.77.0.2'], 'the route is back after the resync');
  await dp.syncLearnedRoutes([]);
});

test('a table with its changes: between resyncs only the changed destinations are planned', async () => {
  const dp = createDataplane({ netns: ns.name, logger: silentLogger(), resyncIntervalMs: 60_000 });
  const r = (dst: string, via: string) => ({ dst, via, family: 4 as const });
  const table = new Map([['10.56.1.0/24', r('10.56.1.0/24', '10.77.0.2')], ['10.56.2.0/24', r('10.56.2.0/24', '10.77.0.2')]]);
  const first = await dp.syncLearnedRoutes({ table, changed: new Set(['10.56.1.0/24']) });
  assert.equal([first.resynced, first.counts.routesAdded], [true, 2], 'the first sync reads the kernel and plans the whole table, whatever changed');
  table.set('10.56.1.0/24', r('10.56.1.0/24', '10.77.0.3'));
  table.delete('10.56.2.0/24');
  table.set('10.56.3.0/24', r('10.56.3.0/24', '10.77.0.2')); // in the table, not among the changes
  const changes = await dp.syncLearnedRoutes({ table, changed: new Set(['10.56.1.0/24', '10.56.2.0/24']) });
  assert.equal([changes.resynced, changes.counts.routesAdded, changes.counts.routesReplaced, changes.counts.routesDeleted], [false, 0, 1, 1],
    `one moved, one deleted, the unlisted one untouched: ${JSON.stringify(changes.counts)}`);
  const now = async () => (await routes(['route', 'show', 'proto', '79'])).filter((x) => x.dst.startsWith('10.56.')).map((x) => `${x.dst} via ${x.gateway}`);
  assert.equal(await now(), ['10.56.1.0/24 via 10.77.0.3']);
  const all = await dp.syncLearnedRoutes({ table, changed: null });
  assert.equal([all.resynced, all.counts.routesAdded, all.counts.routesDeleted], [false, 1, 0], 'changed: null plans the whole table');
  assert.equal(await now(), ['10.56.1.0/24 via 10.77.0.3', '10.56.3.0/24 via 10.77.0.2']);
  table.set('10.56.4.0/24', r('10.56.4.0/24', 'not-an-address'));
  const bad = await dp.syncLearnedRoutes({ table, changed: new Set(['10.56.4.0/24']) });
  assert.match(bad.errors.join('\n'), /learned route 10\.56\.4\.0\/24 via not-an-address/, 'an invalid changed route is reported');
  await dp.syncLearnedRoutes([]);
  assert.equal(await now(), [], 'cleaned up');
});

test.run();
