// The route notification contract (src/dataplane/route-events.ts), one suite for both
// sources (native netlink with a socket filter, `ip -o monitor route`), against the real
// kernel in a throwaway namespace: what each delivers for routes added, replaced and
// deleted, that the ignored protocol's notifications never arrive, and that a full table of
// them neither reaches the netlink watcher nor drowns a change that matters.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createNetns, testNetnsPrefix, type Netns } from '../../src/lab/index.js';
import { silentLogger } from '../../src/log/index.js';
import { ipRouteWatch, netlinkRouteWatch, routeEventOf, type RouteWatch, type RouteWatchOptions } from '../../src/dataplane/route-events.js';
import { netlinkRouteWriter } from '../../src/dataplane/route-writer.js';
import { RouteOpList } from '../../src/dataplane/route-ops.js';
import type { RouteEvent } from '../../src/dataplane/kernel-events.js';

const sources: Array<[string, (o: RouteWatchOptions) => RouteWatch]> = [
  ['netlink', (o) => {
    const w = netlinkRouteWatch(o);
    if (!('stop' in w)) throw new Error(`the netlink watcher is not available: ${w.error}`);
    return w;
  }],
  ['ip', (o) => ipRouteWatch(o)],
];

interface Ctx { ns: Netns; watch: RouteWatch; events: RouteEvent[]; lost: number }

const until = async (what: string, cond: () => boolean, timeoutMs = 5000) => {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

for (const [name, make] of sources) {
  const s = suite<Ctx>(`route events: ${name}`, {} as Ctx);
  const seen = (ctx: Ctx, dst: string, pred: (e: RouteEvent) => boolean = () => true) => ctx.events.some((e) => e.dst === dst && pred(e));

  s.before(async (ctx) => {
    ctx.ns = await createNetns(`${testNetnsPrefix()}re${name.slice(0, 2)}`);
    for (const argv of [['link', 'add', 'd0', 'type', 'veth', 'peer', 'name', 'd1'], ['link', 'set', 'd0', 'up'], ['link', 'set', 'd1', 'up'],
      ['addr', 'add', '10.77.0.1/24', 'dev', 'd0'], ['-6', 'addr', 'add', 'fd00:77::1/64', 'dev', 'd0', 'nodad']]) await ctx.ns.run(['ip', ...argv]);
    ctx.events = [];
    ctx.lost = 0;
    ctx.watch = make({ netns: ctx.ns.name, ignoreProto: 79, log: silentLogger(), onEvents: (e) => ctx.events.push(...e), onLost: () => ctx.lost++ });
    await ctx.watch.started;
  });
  s.after(async (ctx) => {
    await ctx.watch?.stop();
    await ctx.ns?.destroy();
  });

  s(`${name}: says which it is`, ({ watch }) => { assert.is(watch.name, name); });

  s(`${name}: a host route added, replaced by another protocol and device, and deleted`, async (ctx) => {
    const ip = (...a: string[]) => ctx.ns.run(['ip', ...a]);
    await ip('route', 'add', '10.9.0.5/32', 'dev', 'd0', 'proto', '78', 'scope', 'link');
    await until('the add', () => seen(ctx, '10.9.0.5/32'));
    // ip prints no table for the main one.
    assert.equal(ctx.events.find((e) => e.dst === '10.9.0.5/32'), { deleted: false, dst: '10.9.0.5/32', dev: 'd0', proto: '78', table: name === 'ip' ? null : 'main' });
    await ip('route', 'replace', '10.9.0.5/32', 'dev', 'd1', 'proto', 'static', 'scope', 'link');
    await until('the replace', () => seen(ctx, '10.9.0.5/32', (e) => e.dev === 'd1'));
    const replaced = ctx.events.find((e) => e.dst === '10.9.0.5/32' && e.dev === 'd1')!;
    assert.equal([replaced.deleted, replaced.proto], [false, 'static'], JSON.stringify(replaced));
    await ip('route', 'del', '10.9.0.5/32', 'dev', 'd1');
    await until('the delete', () => seen(ctx, '10.9.0.5/32', (e) => e.deleted));
    await ip('-6', 'route', 'add', 'fd00::5/128', 'dev', 'd0', 'proto', '78');
    await until('the IPv6 add', () => seen(ctx, 'fd00::5/128', (e) => e.dev === 'd0' && e.proto === '78'));
  });

  s(`${name}: the ignored protocol's routes and routes that are not unicast never arrive; other tables are named`, async (ctx) => {
    const ip = (...a: string[]) => ctx.ns.run(['ip', ...a]);
    await ip('route', 'add', '10.8.0.0/24', 'via', '10.77.0.2', 'proto', '79');
    await ip('route', 'add', 'blackhole', '10.7.0.0/24');
    await ip('route', 'add', '10.6.0.0/24', 'via', '10.77.0.2', 'table', '100');
    // The table-100 route comes last: once it is seen, the two before it would have been too.
    await until('the table-100 route', () => seen(ctx, '10.6.0.0/24'));
    assert.is(ctx.events.find((e) => e.dst === '10.6.0.0/24')!.table, '100');
    assert.not.ok(seen(ctx, '10.8.0.0/24'), 'no notification of the ignored protocol');
    assert.not.ok(seen(ctx, '10.7.0.0/24'), 'no notification of a blackhole route');
  });

  s(`${name}: a full table of the ignored protocol does not drown a change that matters`, async (ctx) => {
    const writer = netlinkRouteWriter(ctx.ns.name);
    if (!('write' in writer)) throw new Error(writer.error);
    const before = ctx.events.length;
    const ops = Array.from({ length: 30_000 }, (_, i) => ({ op: 'add' as const, dst: `10.${120 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/32`, family: 4 as const, via: '10.77.0.2' }));
    const w = await writer.write(RouteOpList.of(ops), 79);
    assert.ok(w.ok, w.errors.slice(0, 3).join('; '));
    await ctx.ns.run(['ip', 'route', 'add', '10.9.0.9/32', 'dev', 'd0', 'proto', '78', 'scope', 'link']);
    await until('the host route after the table (or word that notifications were lost)', () => seen(ctx, '10.9.0.9/32') || ctx.lost > 0, 20_000);
    assert.ok(ctx.events.slice(before).every((e) => e.proto !== '79'), 'none of the table was delivered');
    if (name === 'netlink') {
      assert.is(ctx.lost, 0, 'the filter keeps the table out of the queue: nothing lost');
      assert.ok(seen(ctx, '10.9.0.9/32'), 'the host route arrived');
    }
  });

  s(`${name}: nothing arrives after stop`, async (ctx) => {
    await ctx.watch.stop();
    const n = ctx.events.length;
    await ctx.ns.run(['ip', 'route', 'add', '10.9.0.10/32', 'dev', 'd0', 'proto', '78', 'scope', 'link']);
    await new Promise((r) => setTimeout(r, 300));
    assert.is(ctx.events.length, n);
  });

  s.run();
}

const plain = suite('route events: the helper\'s notifications as RouteEvents');
plain('unicast routes only; protocols by the names ip prints; the main table by name', () => {
  assert.equal(routeEventOf({ deleted: true, family: 4, dst: '10.9.0.5/32', dev: 'trla1', proto: 78, table: 254, type: 1 }),
    { deleted: true, dst: '10.9.0.5/32', dev: 'trla1', proto: '78', table: 'main' });
  assert.equal(routeEventOf({ deleted: false, family: 4, dst: '0.0.0.0/0', dev: 'eth0', proto: 3, table: 254, type: 1 }),
    { deleted: false, dst: '0.0.0.0/0', dev: 'eth0', proto: 'boot', table: 'main' });
  assert.equal(routeEventOf({ deleted: false, family: 6, dst: 'fd00:0:0::5/128', dev: null, proto: 4, table: 100, type: 1 }),
    { deleted: false, dst: 'fd00::5/128', dev: null, proto: 'static', table: '100' }, 'IPv6 in canonical form');
  assert.is(routeEventOf({ deleted: false, family: 4, dst: '127.0.0.1/32', dev: 'lo', proto: 2, table: 255, type: 2 }), null, 'a local route');
});
plain.run();
