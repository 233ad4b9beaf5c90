// The route writer contract (src/dataplane/route-writer.ts), one suite for both writers
// (native rtnetlink and ip -batch), against the real kernel in a throwaway namespace: every
// operation is tried in order, each failure is reported naming its route, and the rest go in.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createNetns, testNetnsPrefix, type Netns } from '../../src/lab/index.js';
import { createExec } from '../../src/dataplane/exec.js';
import { ipBatchErrors, ipBatchRouteWriter, netlinkRouteWriter, type RouteWriter } from '../../src/dataplane/route-writer.js';
import { RouteOpList, type RouteOp } from '../../src/dataplane/route-ops.js';

interface JRoute { dst: string; gateway?: string; protocol?: string }

const writers: Array<[string, (ns: string) => RouteWriter]> = [
  ['netlink', (ns) => {
    const w = netlinkRouteWriter(ns);
    if (!('write' in w)) throw new Error(`the netlink writer is not available: ${w.error}`);
    return w;
  }],
  ['ip', (ns) => ipBatchRouteWriter(createExec(ns))],
];

/** 10.(100+i/65536).x.y/32 host routes: many chunks' worth of requests for the netlink writer. */
const many = (n: number, via: string): RouteOp[] =>
  Array.from({ length: n }, (_, i) => ({ op: 'add' as const, dst: `10.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/32`, family: 4 as const, via }));

for (const [name, make] of writers) {
  const s = suite<{ ns: Netns; w: RouteWriter }>(`route writer: ${name}`, {} as { ns: Netns; w: RouteWriter });
  const routes = async (ns: Netns, argv: string[]) => JSON.parse(await ns.run(['ip', '-j', ...argv])) as JRoute[];

  s.before(async (ctx) => {
    ctx.ns = await createNetns(`${testNetnsPrefix()}rw${name.slice(0, 2)}`);
    await ctx.ns.run(['ip', 'link', 'add', 'up0', 'type', 'veth', 'peer', 'name', 'up1']);
    await ctx.ns.run(['ip', 'link', 'set', 'up0', 'up']);
    await ctx.ns.run(['ip', 'link', 'set', 'up1', 'up']);
    await ctx.ns.run(['ip', 'addr', 'add', '10.77.0.1/24', 'dev', 'up0']);
    await ctx.ns.run(['ip', '-6', 'addr', 'add', 'fd00:77::1/64', 'dev', 'up0', 'nodad']);
    ctx.w = make(ctx.ns.name);
  });
  s.after(async (ctx) => { await ctx.ns?.destroy(); });

  s(`${name}: is the writer it says`, ({ w }) => {
    assert.is(w.name, name);
  });

  s(`${name}: adds v4 and v6 routes with the protocol given, then moves and deletes them in order`, async ({ ns, w }) => {
    const added = await w.write(RouteOpList.of([
      { op: 'add', dst: '10.50.0.0/24', family: 4, via: '10.77.0.2' },
      { op: 'add', dst: 'fd00:50::/64', family: 6, via: 'fd00:77::2' },
    ]), 79);
    assert.equal(added, { errors: [], ok: true }, 'both written');
    assert.equal((await routes(ns, ['route', 'show', 'proto', '79'])).map((r) => `${r.dst} via ${r.gateway}`), ['10.50.0.0/24 via 10.77.0.2']);
    assert.equal((await routes(ns, ['-6', 'route', 'show', 'proto', '79'])).map((r) => `${r.dst} via ${r.gateway}`), ['fd00:50::/64 via fd00:77::2']);
    const moved = await w.write(RouteOpList.of([
      { op: 'del', dst: '10.50.0.0/24', family: 4, via: '10.77.0.2' },
      { op: 'add', dst: '10.50.0.0/24', family: 4, via: '10.77.0.3' },
      { op: 'del', dst: 'fd00:50::/64', family: 6 },
    ]), 79);
    assert.equal(moved, { errors: [], ok: true }, 'delete, add, delete in one batch');
    assert.equal((await routes(ns, ['route', 'show', 'proto', '79'])).map((r) => `${r.dst} via ${r.gateway}`), ['10.50.0.0/24 via 10.77.0.3'], 'moved');
    assert.equal(await routes(ns, ['-6', 'route', 'show', 'proto', '79']), [], 'v6 route deleted');
    assert.equal((await w.write(RouteOpList.of([{ op: 'del', dst: '10.50.0.0/24', family: 4 }]), 79)).ok, true, 'cleaned up');
  });

  s(`${name}: a delete never takes another protocol's route`, async ({ ns, w }) => {
    await ns.run(['ip', 'route', 'add', '10.80.0.0/24', 'via', '10.77.0.9', 'proto', 'static']);
    const r = await w.write(RouteOpList.of([{ op: 'del', dst: '10.80.0.0/24', family: 4 }]), 79);
    assert.is(r.ok, false, 'the delete fails');
    assert.is(r.errors.length, 1, r.errors.join('; '));
    assert.match(r.errors[0]!, /^route del 10\.80\.0\.0\/24 proto 79: .*No such process/, 'names the route and the reason');
    assert.is((await routes(ns, ['route', 'show', '10.80.0.0/24']))[0]?.gateway, '10.77.0.9', 'the static route is still there');
  });

  s(`${name}: failures anywhere in a large batch are named, and every other route goes in`, async ({ ns, w }) => {
    const ops = many(3000, '10.77.0.2');
    // An unreachable next hop early, a duplicate in the middle (a later chunk for netlink), one at the very end.
    ops[5] = { ...ops[5]!, via: '192.0.2.1' };
    ops[1700] = { ...ops[1699]! };
    ops.push({ ...ops[2999]! });
    const r = await w.write(RouteOpList.of(ops), 79);
    assert.is(r.ok, false, 'not ok');
    assert.is(r.errors.length, 3, `three errors: ${r.errors.join('; ')}`);
    assert.match(r.errors[0]!, /^route add 10\.100\.0\.5\/32 via 192\.0\.2\.1 proto 79: /, 'the unreachable next hop');
    assert.match(r.errors[1]!, /^route add 10\.100\.6\.163\/32 via 10\.77\.0\.2 proto 79: .*File exists/, 'the duplicate in the middle');
    assert.match(r.errors[2]!, /^route add 10\.100\.11\.183\/32 via 10\.77\.0\.2 proto 79: .*File exists/, 'the duplicate at the end');
    const installed = await routes(ns, ['route', 'show', 'proto', '79']);
    assert.is(installed.length, 2998, 'all 3000 but the unreachable one and the skipped duplicate slot');
    assert.ok(!installed.some((x) => x.dst === '10.100.0.5'), 'the unreachable route is not in');
    const del = await w.write(RouteOpList.of(installed.map((x) => ({ op: 'del' as const, dst: `${x.dst}/32`, family: 4 as const }))), 79);
    assert.equal(del, { errors: [], ok: true }, 'all deleted');
    assert.equal(await routes(ns, ['route', 'show', 'proto', '79']), [], 'none left');
  });

  s(`${name}: an empty batch writes nothing and is ok`, async ({ w }) => {
    assert.equal(await w.write(RouteOpList.of([]), 79), { errors: [], ok: true });
  });

  s.run();
}

const plain = suite('ip -batch errors');
plain('each failed line is named with what ip said before it', () => {
  const lines = ['route add 10.60.0.0/24 via 192.0.2.1 proto 79', 'route add 10.61.0.0/24 via 10.77.0.5 proto 79', 'route del 10.99.0.0/24 proto 79'];
  const stderr = 'Error: Nexthop has invalid gateway.\nCommand failed -:1\nRTNETLINK answers: No such process\nCommand failed -:3\n';
  assert.equal(ipBatchErrors(stderr, lines), [
    'route add 10.60.0.0/24 via 192.0.2.1 proto 79: Nexthop has invalid gateway.',
    'route del 10.99.0.0/24 proto 79: No such process',
  ]);
  assert.equal(ipBatchErrors('ip: something else went wrong\n', lines), ['ip: something else went wrong'], 'text without a line number is kept');
});
plain.run();
