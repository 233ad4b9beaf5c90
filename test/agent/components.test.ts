// The agent's components one at a time, by their state: the status and what /readyz makes
// of it, the learned-routes gate, the advertiser, the apply loop and the endpoint list.
// The ports here record what they are asked (the real dataplane and speaker behind them are
// exercised in agent.test.ts and the e2e tests).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  createAdvertiser, createAgentStatus, createApplyLoop, createLearnedRoutes, countsOf, endpointDocs, localPrefixes, readinessOf,
  type BgpPort, type DataplanePort, type LearnedRoute,
} from '../../src/agent/index.js';
import { computeDesiredState } from '../../src/calc/index.js';
import { silentLogger } from '../../src/log/index.js';
import { tenantResources, workload } from './helpers.js';

const desired = (node = 'n1') => computeDesiredState({
  nodeName: node,
  resources: [...tenantResources(), workload('web-1', 'n1', 'trlc1', '10.65.0.5'), workload('web-2', 'n2', 'trlc2', '10.65.1.5')],
});

const until = async (what: string, cond: () => boolean, timeoutMs = 5000) => {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

function recordingDataplane(failLearned = 0, gate?: Promise<void>) {
  /** Each sync: the table's routes then, and the destinations it was told changed (null: all). */
  const synced: Array<{ routes: LearnedRoute[]; changed: string[] | null }> = [];
  let fails = failLearned;
  const port: DataplanePort = {
    reconcile: async () => ({ changed: false }),
    syncLearnedRoutes: async (want) => {
      if (gate) await gate;
      if (fails-- > 0) throw new Error('injected: netlink busy');
      if (!('table' in want)) throw new Error('the learned component hands over a table, not a list');
      synced.push({ routes: [...want.table.values()], changed: want.changed ? [...want.changed].sort() : null });
      return { changed: true };
    },
  };
  return { port, synced };
}

const route = (dst: string): LearnedRoute => ({ dst, via: '192.0.2.1', family: 4 });
/** A speaker's table as the BGP port hands it over. */
const table = (...dsts: string[]) => new Map(dsts.map((d) => [d, route(d)]));

test('status: store, dataplane and BGP facts land in state; readiness follows them', () => {
  const s = createAgentStatus();
  assert.equal(s.state.store, { status: 'connecting', synced: false, revision: null, invalid: new Map() }, 'a fresh status knows nothing');
  let r = readinessOf(s.state, 0, null);
  assert.not.ok(r.ready, 'not ready before a snapshot');
  assert.match(r.checks.store!.detail, /no snapshot from etcd yet \(watch connecting\)/);
  s.storeStatus('connected');
  s.synced('42');
  s.invalid('/trellis/v1/namespace/bad', 'not JSON');
  const d = desired();
  s.programmed(d, countsOf(d, {}));
  s.applied({ at: 'now', durationMs: 1, reasons: ['sync'] });
  assert.is(s.state.store.revision, '42');
  assert.equal([...s.state.store.invalid.keys()], ['/trellis/v1/namespace/bad'], 'the invalid key is held');
  assert.is(s.state.dataplane.counts.routes, 1, 'one local route (web-1), web-2 lives on n2');
  r = readinessOf(s.state, 0, { configured: true, established: 2 });
  assert.ok(r.ready, `ready: ${JSON.stringify(r.checks)}`);
  assert.match(r.checks.bgp!.detail, /2 sessions established/);
  assert.not.ok(readinessOf(s.state, 1, null).ready, 'a failing apply (consecutive failures) is not ready');
  s.bgpResult('no Node resource');
  assert.not.ok(readinessOf(s.state, 0, { configured: true, established: 0 }).ready, 'a BGP error is not ready');
  s.valid('/trellis/v1/namespace/bad');
  assert.is(s.state.store.invalid.size, 0, 'a fixed key leaves the invalid set');
  s.applyFailed({ at: 'later', message: 'iptables-restore failed', consecutive: 1 });
  assert.match(readinessOf(s.state, 1, null).checks.dataplane!.detail, /last apply failed: iptables-restore failed/);
});

test('countsOf: the dataplane\'s own counts win; else rules, sets and routes of the desired state', () => {
  const d = desired();
  const own = countsOf(d, { rules: 7, sets: 3, routes: 9 });
  assert.equal(own, { rules: 7, sets: 3, routes: 9 });
  const derived = countsOf(d, {});
  assert.is(derived.rules, d.profiles.reduce((n, p) => n + p.ingress.length + p.egress.length, 0), 'profile rules counted');
  assert.is(derived.routes, d.routes.length);
});

test('learned routes: held behind the gate until End-of-RIB, then every new set is installed in order', async () => {
  const dp = recordingDataplane();
  const learned = createLearnedRoutes({ dataplane: dp.port, log: silentLogger() });
  learned.set({ table: table('10.65.1.0/26'), changed: null });
  await learned.settled();
  assert.equal(dp.synced, [], 'nothing installed while graceful restart holds the gate');
  assert.is(learned.state.gateOpen, false);
  let eor!: () => void;
  learned.openAfter(new Promise<void>((r) => { eor = r; }), 60_000);
  eor();
  await until('the gate to open', () => learned.state.gateOpen);
  await learned.settled();
  assert.is(learned.state.openedBy, 'eor');
  assert.equal(dp.synced, [{ routes: [route('10.65.1.0/26')], changed: null }], 'the held set is installed once the gate opens, as a whole');
  learned.set({ table: table('10.65.1.0/26', '10.65.2.0/26'), changed: new Set(['10.65.2.0/26']) });
  await learned.settled();
  assert.is(learned.state.installed, 2, 'the state counts what is in the kernel');
  assert.equal(dp.synced[1]?.changed, ['10.65.2.0/26'], 'a later set is synced as its changes');
  await learned.stop();
});

test('learned routes: the timeout opens the gate; a failed sync is retried until it succeeds', async () => {
  const dp = recordingDataplane(2);
  const learned = createLearnedRoutes({ dataplane: dp.port, log: silentLogger(), retryMs: 10 });
  learned.set({ table: table('10.65.3.0/26'), changed: new Set(['10.65.3.0/26']) });
  learned.openAfter(new Promise<void>(() => undefined), 20);
  await until('the timeout to open the gate', () => learned.state.gateOpen);
  assert.is(learned.state.openedBy, 'timeout');
  await until('the retried sync', () => learned.state.installed === 1);
  assert.is(learned.state.failures, 0, 'failures reset after the success');
  assert.is(dp.synced.length, 1, 'installed once, after two failures');
  assert.is(dp.synced[0]!.changed, null, 'a retry plans the whole table');
  await learned.stop();
});

test('learned routes: sets that arrive during a sync are merged into the next one; a push plans everything; VXLAN-owned prefixes are left out', async () => {
  let release!: () => void;
  const dp = recordingDataplane(0, new Promise<void>((r) => { release = r; }));
  let owned: ReadonlySet<string> = new Set();
  const learned = createLearnedRoutes({ dataplane: dp.port, log: silentLogger(), owned: () => owned });
  const t = table('10.66.1.0/24');
  learned.set({ table: t, changed: null });
  learned.openAfter(Promise.resolve(), 60_000);
  await until('the gate to open', () => learned.state.gateOpen);
  // The first sync waits at the gate; two sets come meanwhile.
  t.set('10.66.2.0/24', route('10.66.2.0/24'));
  learned.set({ table: t, changed: new Set(['10.66.2.0/24']) });
  t.delete('10.66.1.0/24');
  t.set('10.66.3.0/24', route('10.66.3.0/24'));
  learned.set({ table: t, changed: new Set(['10.66.1.0/24', '10.66.3.0/24']) });
  release();
  await learned.settled();
  assert.is(dp.synced.length, 2, `two syncs, not three: ${JSON.stringify(dp.synced)}`);
  assert.equal(dp.synced[1]!.changed, ['10.66.1.0/24', '10.66.2.0/24', '10.66.3.0/24'], 'the second sync carries both sets\' changes');
  assert.equal(dp.synced[1]!.routes.map((r) => r.dst).sort(), ['10.66.2.0/24', '10.66.3.0/24']);
  owned = new Set(['10.66.2.0/24']);
  learned.push();
  await learned.settled();
  assert.equal(dp.synced[2], { routes: [route('10.66.3.0/24')], changed: null }, 'a push plans the whole table, less what VXLAN routes');
  assert.is(learned.state.installed, 1, 'the owned prefix is not counted as installed');
  await learned.stop();
});

test('advertiser: without IPAM each local endpoint address; only a change reaches the speaker', async () => {
  const given: string[][] = [];
  const givenInterfaces: [string, string][][] = [];
  const bgp: BgpPort = {
    configure: async () => undefined,
    setLocalPrefixes: async (p, ifs) => { given.push(p); givenInterfaces.push([...ifs ?? []]); },
    status: () => [],
    configured: true,
    onRoutes: () => undefined,
    endOfRib: async () => undefined,
    stop: async () => undefined,
  };
  const adv = createAdvertiser({ node: 'n1', bgp, ipam: null });
  await adv.refresh(desired());
  await adv.refresh(desired());
  assert.equal(adv.state.advertised, ['10.65.0.5/32']);
  assert.equal(given, [['10.65.0.5/32']], 'the unchanged second refresh did not call the speaker');
  assert.equal(givenInterfaces, [[['10.65.0.5/32', 'trlc1']]], 'an endpoint address goes with its veth (for BGPFilter interface rules)');
  const withIpam = createAdvertiser({
    node: 'n1', bgp,
    ipam: { advertisements: async () => ({ blocks: ['10.65.0.0/26', '10.65.0.0/26'], borrowed: ['10.65.9.7/32'] }), releaseEmpty: async () => [] },
  });
  await withIpam.refresh(desired());
  assert.equal(withIpam.state.advertised, ['10.65.0.0/26', '10.65.9.7/32'], 'IPAM blocks and borrowed addresses, deduplicated, sorted');
  assert.equal(withIpam.state.ipam, { blocks: 2, borrowed: 1 });
  assert.equal(givenInterfaces[1], [], 'a block, and an address borrowed for no local endpoint, leave by no interface');
  assert.equal(localPrefixes(desired(), { blocks: ['b'], borrowed: ['a'] }), ['a', 'b']);
});

test('apply loop state: pending reasons, running, and failures are visible', async () => {
  let release!: () => void;
  let fail = true;
  const loop = createApplyLoop({
    apply: async () => {
      await new Promise<void>((r) => { release = r; });
      if (fail) throw new Error('injected');
    },
    coalesceMs: 1, initialBackoffMs: 5, maxBackoffMs: 5,
  });
  loop.trigger('change');
  assert.equal(loop.state.pending, ['change'], 'a trigger is pending until the apply starts');
  await until('the apply to start', () => loop.state.running);
  loop.trigger('resync');
  assert.equal(loop.state.pending, ['resync'], 'a trigger during an apply waits for the next one');
  release();
  await until('the failure to be counted', () => loop.state.consecutiveFailures === 1);
  assert.equal(loop.state.pending.sort(), ['change', 'resync'], 'the failed apply\'s reasons are kept for the retry');
  fail = false;
  await until('the retry to start', () => loop.state.running);
  release();
  await loop.idle();
  assert.equal(loop.state, { pending: [], running: false, scheduled: false, consecutiveFailures: 0, stopped: false });
  await loop.stop();
  assert.ok(loop.state.stopped);
});

test('endpointDocs: every endpoint with its tenant, local ones marked, sorted by id', () => {
  const docs = endpointDocs([...tenantResources(), workload('web-2', 'n2', 'trlc2', '10.65.1.5'), workload('web-1', 'n1', 'trlc1', '10.65.0.5')], 'n1');
  assert.equal(docs.map((d) => [d.id, d.tenant, d.local]), [
    ['WorkloadEndpoint/tenant-a/web-1', 'a', true],
    ['WorkloadEndpoint/tenant-a/web-2', 'a', false],
  ]);
});

test.run();
