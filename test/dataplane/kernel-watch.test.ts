// watchKernel's handling of route notifications (src/dataplane/kernel-watch.ts), with a
// route source that says what the test tells it to, in a throwaway namespace (the other
// monitors run there): a workload route deleted is drift of the routes, and notifications
// the kernel dropped are too (what changed meanwhile is unknown), of the VXLAN part as well
// while VXLAN is in use. The real sources are tested in route-events.test.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createNetns, testNetnsPrefix, type Netns } from '../../src/lab/index.js';
import { silentLogger } from '../../src/log/index.js';
import { watchKernel } from '../../src/dataplane/kernel-watch.js';
import type { KernelDrift } from '../../src/dataplane/kernel-events.js';
import type { RouteWatchOptions } from '../../src/dataplane/route-events.js';

let ns: Netns;
test.before(async () => { ns = await createNetns(`${testNetnsPrefix()}kw`); });
test.after(async () => { await ns?.destroy(); });

test('a deleted workload route and lost notifications are drift; lost ones of the VXLAN part too while VXLAN is in use', async () => {
  let source: RouteWatchOptions | null = null;
  let stopped = false;
  const drift: KernelDrift[][] = [];
  let vxlanInUse = false;
  const w = watchKernel({
    netns: ns.name,
    log: silentLogger(),
    routes: () => new Map([['10.65.0.5/32', 'trla1']]),
    vxlan: () => (vxlanInUse ? { device: 'vxlan.trl', routes: new Set(['10.66.0.0/26']), fdb: new Map(), neigh: new Map() } : null),
    onDrift: (d) => drift.push(d),
    windowMs: 5,
    routeWatch: (o) => {
      source = o;
      return { name: 'ip', started: Promise.resolve(), stop: async () => { stopped = true; } };
    },
  });
  await w.started;
  assert.is(source!.ignoreProto, 79, 'our BGP routes are the ignored protocol');
  const next = async () => {
    const n = drift.length;
    for (let i = 0; i < 100 && drift.length === n; i++) await new Promise((r) => setTimeout(r, 10));
    return drift[n] ?? [];
  };
  source!.onEvents([{ deleted: true, dst: '10.65.0.5/32', dev: 'trla1', proto: '78', table: 'main' }]);
  assert.equal(await next(), [{ part: 'routes', what: 'route 10.65.0.5/32 dev trla1 deleted' }]);
  source!.onLost();
  assert.equal((await next()).map((d) => d.part), ['routes'], 'lost notifications: the routes are read back');
  vxlanInUse = true;
  source!.onLost();
  assert.equal((await next()).map((d) => d.part), ['routes', 'vxlan'], 'and the VXLAN part while it is in use');
  await w.stop();
  assert.ok(stopped, 'stop stops the route source');
});

test.run();
