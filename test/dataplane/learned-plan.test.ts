// The learned-route planner's pure parts: the plan adds, moves and deletes as before,
// without sorting the table (lines follow the given order, then the table's). Canonical
// prefixes are the model's canonicalCidr (test/model/canonical.test.ts).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LearnedPlanner, learnedView, planLearnedRoutes, type LearnedPlan } from '../../src/dataplane/routes.js';
import { routeOpLines } from '../../src/dataplane/route-ops.js';

const lines = (p: LearnedPlan) => routeOpLines(p.ops, 79);
/** Three routes of ours (proto 79) and a kernel route. */
const kernelTable = () => [
  { dst: '10.2.0.0/24', family: 4 as const, protocol: '79', via: '10.9.0.1' },
  { dst: '10.3.0.0/24', family: 4 as const, protocol: '79', via: '10.9.0.1' },
  { dst: '10.4.0.0/24', family: 4 as const, protocol: '79', via: '10.9.0.1' },
  { dst: '10.5.0.0/24', family: 4 as const, protocol: 'kernel', dev: 'eth0' },
];

test('plan: add, move (delete then add), delete, foreign left alone; lines in given order', () => {
  const table = kernelTable();
  const plan = planLearnedRoutes([
    { dst: '10.9.9.0/24', via: '10.9.0.2', family: 4 },
    { dst: '10.3.0.7/24', via: '10.9.0.2', family: 4 },
    { dst: '10.2.0.0/24', via: '10.9.0.1', family: 4 },
    { dst: '10.5.0.0/24', via: '10.9.0.1', family: 4 },
  ], table);
  assert.equal(lines(plan), [
    'route add 10.9.9.0/24 via 10.9.0.2 proto 79',
    'route del 10.3.0.0/24 via 10.9.0.1 proto 79', 'route add 10.3.0.0/24 via 10.9.0.2 proto 79',
    'route del 10.4.0.0/24 via 10.9.0.1 proto 79',
  ]);
  assert.equal([plan.added, plan.replaced, plan.deleted], [1, 1, 1], 'counts');
  assert.equal(plan.skipped, ['10.5.0.0/24: kernel already routes it by protocol kernel on eth0']);
  assert.equal([...plan.after.keys()].sort(), ['10.2.0.0/24', '10.3.0.0/24', '10.9.9.0/24'], 'ours after the plan');
});

test('in place: successive plans on one view give the lines a fresh plan gives, and the view is the table after each', () => {
  const table = [
    { dst: '10.2.0.0/24', family: 4 as const, protocol: '79', via: '10.9.0.1' },
    { dst: '10.3.0.0/24', family: 4 as const, protocol: '79', via: '10.9.0.1' },
    { dst: '10.5.0.0/24', family: 4 as const, protocol: 'kernel', dev: 'eth0' },
  ];
  const view = learnedView(table);
  const rounds = [
    [{ dst: '10.2.0.0/24', via: '10.9.0.1' }, { dst: '10.4.0.0/24', via: '10.9.0.1' }, { dst: '10.4.0.0/24', via: '10.9.0.7' }, { dst: '10.5.0.0/24', via: '10.9.0.1' }],
    [{ dst: '10.4.0.0/24', via: '10.9.0.2' }],
    [],
    [{ dst: '10.3.0.0/24', via: '10.9.0.1' }],
  ];
  for (const [i, round] of rounds.entries()) {
    const wanted = round.map((r) => ({ ...r, family: 4 as const }));
    const fresh = planLearnedRoutes(wanted, { ours: new Map(view.ours), foreign: view.foreign });
    const p = new LearnedPlanner(view, { inPlace: true });
    for (const w of wanted) p.want(w);
    const plan = p.finish();
    assert.equal(lines(plan), lines(fresh), `round ${i}: the same lines as a fresh plan`);
    assert.equal([plan.added, plan.replaced, plan.deleted, plan.skipped], [fresh.added, fresh.replaced, fresh.deleted, fresh.skipped], `round ${i}: the same counts`);
    assert.ok(plan.after === view.ours, `round ${i}: the view's table is the table after the plan`);
    assert.equal([...view.ours.entries()].sort(), [...fresh.after.entries()].sort(), `round ${i}: the view holds what a fresh plan's after holds`);
    assert.equal([...view.marks!.keys()].sort(), [...new Set(wanted.map((w) => w.dst))].sort(), `round ${i}: marks only for this plan's destinations`);
  }
});

test('no object per route: the table after the plan and the writes hold the wanted routes themselves', () => {
  const view = learnedView(kernelTable());
  const moved = { dst: '10.3.0.0/24', via: '10.9.0.2', family: 4 as const };
  const added = { dst: '10.9.9.0/24', via: '10.9.0.2', family: 4 as const };
  const p = new LearnedPlanner(view, { changesOnly: true });
  const old = view.ours.get('10.3.0.0/24');
  p.want(moved);
  p.want(added);
  const plan = p.finish();
  assert.ok(view.ours.get('10.3.0.0/24') === moved && view.ours.get('10.9.9.0/24') === added, 'the view keeps the objects it was given');
  assert.equal([0, 1, 2].map((i) => plan.ops.kind(i)), ['del', 'add', 'add']);
  assert.ok(plan.ops.target(0) === old && plan.ops.target(1) === moved && plan.ops.target(2) === added, 'each write refers to a route already held');
});

test('changes only: the plan covers the destinations given, and leaves the same table as a whole plan would', () => {
  const table = kernelTable();
  const view = learnedView(table);
  // Wanted afterwards: 10.2 unchanged, 10.3 moved, 10.4 gone, 10.9.9 new, 10.5 (foreign) asked for.
  const whole = [
    { dst: '10.2.0.0/24', via: '10.9.0.1', family: 4 as const }, { dst: '10.3.0.0/24', via: '10.9.0.2', family: 4 as const },
    { dst: '10.9.9.0/24', via: '10.9.0.2', family: 4 as const }, { dst: '10.5.0.0/24', via: '10.9.0.1', family: 4 as const },
  ];
  const fresh = planLearnedRoutes(whole, { ours: new Map(view.ours), foreign: view.foreign });
  const p = new LearnedPlanner(view, { changesOnly: true });
  p.want(whole[1]!);
  p.drop('10.4.0.0/24');
  p.want(whole[2]!);
  p.want(whole[3]!);
  p.drop('10.8.0.0/24'); // never ours: nothing to delete
  const plan = p.finish();
  assert.equal(lines(plan), [
    'route del 10.3.0.0/24 via 10.9.0.1 proto 79', 'route add 10.3.0.0/24 via 10.9.0.2 proto 79',
    'route del 10.4.0.0/24 via 10.9.0.1 proto 79',
    'route add 10.9.9.0/24 via 10.9.0.2 proto 79',
  ], 'only the changed destinations, in the order given');
  assert.equal([plan.added, plan.replaced, plan.deleted, plan.skipped], [fresh.added, fresh.replaced, fresh.deleted, fresh.skipped], 'the counts of a whole plan');
  assert.ok(plan.after === view.ours, 'in place');
  assert.equal([...view.ours.entries()].sort(), [...fresh.after.entries()].sort(), 'the table a whole plan leaves');
});

test.run();
