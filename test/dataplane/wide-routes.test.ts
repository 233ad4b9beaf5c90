// Trellis never installs or removes a route wider than a host route for an endpoint, and
// never touches a route of another protocol: the plan (pure) and a real reconcile in a
// namespace, where wider proto 78 routes, a foreign /32 and the default route survive.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createDataplane } from '../../src/dataplane/index.js';
import { createExec } from '../../src/dataplane/exec.js';
import { createPlumber } from '../../src/dataplane/plumbing.js';
import { planWorkloadRoutes } from '../../src/dataplane/routes.js';
import { connectNetns, createNetns, testNetnsPrefix, type Netns } from '../../src/lab/index.js';
import { silentLogger } from '../../src/log/index.js';
import { labState } from './_state.js';

test('the plan skips wanted routes wider than a host route and never deletes a wider proto 78 route', () => {
  const plan = planWorkloadRoutes(
    [{ dst: '0.0.0.0/0', family: 4, dev: 'trla1' }, { dst: '10.65.0.0/24', family: 4, dev: 'trla1' }, { dst: '10.65.0.1/32', family: 4, dev: 'trla1' }],
    [
      { dst: '0.0.0.0/0', family: 4, protocol: '78', dev: 'up0' },
      { dst: 'fd00::/64', family: 6, protocol: '78', dev: 'up0' },
      { dst: '10.65.0.9/32', family: 4, protocol: '78', dev: 'trla2' },
    ],
    new Set(['trla1', 'trla2', 'up0']),
  );
  assert.equal(plan.lines, ['route replace 10.65.0.1/32 dev trla1 scope link proto 78', 'route del 10.65.0.9/32 dev trla2 proto 78']);
  assert.equal(plan.skipped, [
    '0.0.0.0/0: not a host route; Trellis routes endpoints by /32 and /128 only',
    '10.65.0.0/24: not a host route; Trellis routes endpoints by /32 and /128 only',
  ]);
});

let host: Netns;
let peer: Netns;

test.before(async () => {
  host = await createNetns(`${testNetnsPrefix()}wrh`);
  peer = await createNetns(`${testNetnsPrefix()}wrp`);
  await connectNetns({ ns: host.name, ifname: 'trla1' }, { ns: peer.name, ifname: 'eth0' });
  await connectNetns({ ns: host.name, ifname: 'up0', address: '192.168.78.1/24' }, { ns: peer.name, ifname: 'eth1', address: '192.168.78.2/24' });
});

test.after(async () => {
  await peer?.destroy();
  await host?.destroy();
});

test('a reconcile in a namespace leaves wider routes (ours by protocol or not) and the default route alone', async () => {
  await host.run(['ip', 'route', 'add', 'default', 'via', '192.168.78.2']);
  await host.run(['ip', 'route', 'add', '10.70.0.0/24', 'dev', 'up0', 'proto', '78']);
  await host.run(['ip', 'route', 'add', '10.65.0.7/32', 'dev', 'up0', 'proto', 'static']);
  const before = await host.run(['ip', 'route', 'show']);
  const ds = labState([{ ns: 'tenant-a', name: 'web', iface: 'trla1', ip: '10.65.0.1', app: 'web' }]);
  const dp = createDataplane({ netns: host.name, logger: silentLogger() });
  const r = await dp.reconcile(ds, { resync: true });
  assert.is(r.counts.routesDeleted, 0, 'nothing deleted');
  const after = await host.run(['ip', 'route', 'show']);
  for (const line of before.split('\n').filter(Boolean)) assert.ok(after.includes(line), `route kept: ${line}\nnow:\n${after}`);
  assert.match(after, /^10\.65\.0\.1 dev trla1 proto 78 scope link/m, 'the host route added');
  // Removing the endpoint (as an event does, not a resync) removes its /32 only.
  await dp.reconcile({ ...ds, endpoints: [], routes: [] });
  const gone = await host.run(['ip', 'route', 'show']);
  assert.not.match(gone, /^10\.65\.0\.1 /m, 'the host route removed');
  for (const line of before.split('\n').filter(Boolean)) assert.ok(gone.includes(line), `route kept after the removal: ${line}`);
});

test('a resync keeps a just-added route over a veth no endpoint uses yet (the CNI ran first), and removes it after the grace', async () => {
  await host.run(['ip', 'route', 'add', '10.65.0.44/32', 'dev', 'trla1', 'scope', 'link', 'proto', '78']);
  let clock = 1_000_000;
  const plumber = createPlumber(createExec(host.name), 10_000, () => clock);
  const none = { ...labState([]), endpoints: [], routes: [] };
  const first = await plumber.apply(none, true);
  assert.is(first.deleted, 0, 'a resync right after the CNI added the route leaves it');
  assert.match(await host.run(['ip', 'route', 'show', '10.65.0.44']), /dev trla1/, 'the route is there');
  clock += 5_000;
  assert.is((await plumber.apply(none, true)).deleted, 0, 'still within the grace');
  clock += 6_000;
  assert.is((await plumber.apply(none, true)).deleted, 1, 'unwanted past the grace: removed');
  assert.is(await host.run(['ip', 'route', 'show', '10.65.0.44']), '', 'the route is gone');
  // A stale route over a veth gone, or a route over an endpoint's own veth, goes at once.
  await host.run(['ip', 'route', 'add', '10.65.0.45/32', 'dev', 'trla1', 'scope', 'link', 'proto', '78']);
  const ep = labState([{ ns: 'tenant-a', name: 'web', iface: 'trla1', ip: '10.65.0.1', app: 'web' }]);
  const r = await plumber.apply(ep, true);
  assert.is(r.deleted, 1, 'a wrong address over an endpoint\'s veth is removed at once');
});

test.run();
