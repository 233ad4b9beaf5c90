// The policy-backend contract: the ipset + iptables backend's plan as ordered stages
// (pure), and the batch runner's ordering, best-effort and failure rules against real
// commands in a throwaway namespace.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createNetns, testNetnsPrefix, type Netns } from '../../src/lab/index.js';
import { runPolicyPlan, type PolicyPlan, type PolicyStage } from '../../src/dataplane/index.js';
import { createExec } from '../../src/dataplane/exec.js';
import { createIptablesMemo, planIptables, type IptablesSnapshot } from '../../src/dataplane/iptables/index.js';
import { labState } from './_state.js';

const EMPTY: IptablesSnapshot = { sets: [], tables: new Map() };
const tools = (stage: PolicyStage) => stage.map((lane) => lane.map((c) => `${c.argv[0]}${c.bestEffort ? ' (best effort)' : ''}`));
const tablesOf = (stage: PolicyStage) => stage.map((lane) => lane.map((c) => /^\*(\w+)/.exec(c.input)?.[1]));

test('on an empty kernel: sets first, then every table (the families side by side), nothing to destroy', () => {
  const stages = [...planIptables(labState(), EMPTY).stages];
  assert.equal(stages.map(tools), [
    [['ipset']],
    [['iptables-restore', 'iptables-restore', 'iptables-restore'], ['ip6tables-restore', 'ip6tables-restore', 'ip6tables-restore', 'ip6tables-restore']],
  ], 'ipset restore, then IPv4 and IPv6 lanes');
  assert.equal(tablesOf(stages[1]!), [['filter', 'nat', 'security'], ['filter', 'nat', 'raw', 'security']], 'tables in order within a family (filter before the security guard that checks its mark)');
  assert.equal(stages[0]![0]![0]!.counts, { setsCreated: 2, setsUpdated: 0, membersAdded: 4, membersDeleted: 0 }, 'the set write counts its sets and members');
});

test('what a plan predicts is a kernel the same state needs nothing more for', () => {
  const ds = labState();
  const plan = planIptables(ds, EMPTY);
  assert.ok([...plan.stages].length > 0, 'the first plan writes');
  assert.equal([...planIptables(ds, plan.after()).stages], [], 'planned against its own prediction: no stages');
});

test('a set nothing references any more is destroyed last, best effort', () => {
  const stale: IptablesSnapshot = { sets: [{ name: 'trl4-gone', type: 'hash:net', family: 'inet', members: ['10.1.0.0/16'] }], tables: new Map() };
  const stages = [...planIptables(labState(), stale).stages];
  const last = stages[stages.length - 1]!;
  assert.equal(tools(last), [['ipset (best effort)']], 'the destroy is its own final stage');
  assert.is(last[0]![0]!.input, 'destroy trl4-gone\n');
  assert.equal(last[0]![0]!.counts, { setsDeleted: 1 });
});

test('the rules are rendered only when the runner asks for the second stage (while the set write runs)', () => {
  const ds = labState();
  const memo = createIptablesMemo();
  const stages = planIptables(ds, EMPTY, memo).stages[Symbol.iterator]();
  stages.next();
  assert.not.ok(memo.render.dispatch.has(ds.endpoints), 'no dispatch rendered with the first stage');
  stages.next();
  assert.ok(memo.render.dispatch.has(ds.endpoints), 'rendered for the second');
});

test('two backends keep their own memos: rendering for one leaves the other untouched', () => {
  const ds = labState();
  const a = createIptablesMemo();
  const b = createIptablesMemo();
  assert.ok([...planIptables(ds, EMPTY, a).stages].length > 0, 'a plans a write');
  assert.ok(a.render.dispatch.has(ds.endpoints), 'a rendered');
  assert.not.ok(b.render.dispatch.has(ds.endpoints), 'b has nothing cached');
});

let ns: Netns;
test.before(async () => {
  ns = await createNetns(`${testNetnsPrefix()}bk`);
});
test.after(async () => {
  await ns?.destroy();
});

/** A plan of shell commands that record their order in `log`; `fail` names the commands that exit 1. */
function shellPlan(shape: Array<Array<Array<{ name: string; fail?: boolean; bestEffort?: boolean }>>>, log: string[]): PolicyPlan<null> {
  function* stages(): Generator<PolicyStage> {
    for (const [i, stage] of shape.entries()) {
      log.push(`plan stage ${i}`);
      yield stage.map((lane) => lane.map((c) => ({
        argv: ['sh', '-c', c.fail ? 'exit 1' : 'cat >/dev/null'], input: c.name, counts: { chainsWritten: 1 },
        ...(c.bestEffort ? { bestEffort: { label: c.name } } : {}),
      })));
    }
  }
  return { stages: stages(), after: () => null };
}

test('the runner: each stage after the one before; a best-effort failure is reported, retried once, and the rest still runs', async () => {
  const exec = createExec(ns.name);
  const log: string[] = [];
  const applied = await runPolicyPlan(exec, shellPlan([[[{ name: 'a' }, { name: 'b' }], [{ name: 'c' }]], [[{ name: 'gone', fail: true, bestEffort: true }]], [[{ name: 'd' }]]], log));
  assert.equal(log, ['plan stage 0', 'plan stage 1', 'plan stage 2'], 'every stage planned');
  assert.is(applied.writeCommands, 5, 'five commands ran to completion');
  assert.is(applied.counts.chainsWritten, 4, 'the failed best-effort command counts nothing');
  assert.is(applied.errors.length, 1, 'one error');
  assert.match(applied.errors[0]!, /^gone:/, 'named by its label');
});

test('the runner: a failed write stops the batch before the next stage runs', async () => {
  const exec = createExec(ns.name);
  const log: string[] = [];
  const before = exec.count;
  const err = await runPolicyPlan(exec, shellPlan([[[{ name: 'a' }], [{ name: 'broken', fail: true }]], [[{ name: 'never' }]]], log)).catch((e: unknown) => e);
  assert.instance(err, Error, 'the failure is thrown');
  assert.match((err as Error).message, /exited 1/, 'with the command\'s exit');
  assert.is(exec.count - before, 2, 'only the first stage\'s two commands ran');
});

test.run();
