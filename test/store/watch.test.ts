// The watcher against a real etcd: snapshot then ordered events; across disconnects,
// an etcd restart and a compaction; garbage values skipped and reported.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Etcd3 } from 'etcd3';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { openStore, type Store, type Stored, type WatchEvent, type WatchStatus } from '../../src/store/index.js';
import { namespace, policy, until } from './_fixtures.js';
import { startProxy } from './_proxy.js';

let etcd: TestEtcd;
let raw: Etcd3;
let n = 0;

test.before(async () => {
  etcd = await startTestEtcd();
  raw = new Etcd3({ hosts: etcd.endpoints });
});
test.after(async () => {
  raw?.close();
  await etcd?.stop();
});

/** A consumer that keeps the state the watcher describes, as the agent would. */
function recorder() {
  const r = {
    syncs: [] as { names: string[]; revision: string }[],
    events: [] as WatchEvent[],
    invalid: [] as string[],
    valid: [] as string[],
    statuses: [] as WatchStatus[],
    state: new Map<string, string>(),
    handler: {
      onSync(snapshot: Stored[], revision: string) {
        r.syncs.push({ names: snapshot.map((s) => s.resource.metadata.name).sort(), revision });
        r.state = new Map(snapshot.map((s) => [`${s.resource.kind}/${s.resource.metadata.name}`, s.revision]));
      },
      onEvent(ev: WatchEvent) {
        r.events.push(ev);
        const k = `${ev.key.kind}/${ev.key.name}`;
        if (ev.type === 'put') r.state.set(k, ev.revision);
        else r.state.delete(k);
      },
      onInvalid(key: string) { r.invalid.push(key); },
      onValid(key: string) { r.valid.push(key); },
      onStatus(s: WatchStatus) { r.statuses.push(s); },
    },
  };
  return r;
}

/** What etcd holds under the prefix, as kind/name -> mod revision. */
async function truth(store: Store): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const kind of ['Namespace', 'NetworkPolicy'] as const) {
    for (const s of await store.list(kind)) out.set(`${kind}/${s.resource.metadata.name}`, s.revision);
  }
  return out;
}

function assertOrderedOnce(events: WatchEvent[], what: string) {
  for (let i = 1; i < events.length; i++) {
    assert.ok(BigInt(events[i]!.revision) > BigInt(events[i - 1]!.revision), `${what}: event ${i} (rev ${events[i]!.revision}) is after event ${i - 1} (rev ${events[i - 1]!.revision}): none doubled or out of order`);
  }
}

test('snapshot at one revision, then every later change in order', async () => {
  const prefix = `/w${++n}/`;
  const store = openStore({ endpoints: etcd.endpoints, prefix });
  try {
    await store.create(namespace('a'));
    await store.create(namespace('b'));
    await store.create(policy('a', 'p1'));
    const rec = recorder();
    const w = await store.watch(rec.handler, { kinds: ['Namespace'] });
    await w.synced;
    assert.equal(rec.syncs[0]!.names, ['a', 'b'], 'snapshot holds the watched kind only');
    const syncRev = BigInt(rec.syncs[0]!.revision);
    const c = await store.create(namespace('c'));
    await store.replace(namespace('a', { v: '2' }));
    await store.create(policy('a', 'p2')); // not a watched kind
    await store.delete({ kind: 'Namespace', name: 'b' });
    await until('three Namespace events', () => rec.events.length >= 3);
    assert.equal(rec.events.map((e) => `${e.type} ${e.key.name}`), ['put c', 'put a', 'delete b']);
    assert.ok(BigInt(rec.events[0]!.revision) > syncRev, 'events start after the snapshot revision');
    assert.is(rec.events[0]!.revision, c.revision, 'event revision is the write revision');
    assert.equal(rec.events[1]!.resource?.metadata.labels, { v: '2' }, 'put carries the validated resource');
    assert.is(rec.events[2]!.resource, undefined, 'delete carries no resource');
    assertOrderedOnce(rec.events, 'snapshot+events');
    assert.ok(rec.statuses.includes('connected'));
    await w.close();
  } finally {
    await store.close();
  }
});

test('a cut connection: changes made meanwhile arrive once, in order, without a resync', async () => {
  const prefix = `/w${++n}/`;
  const proxy = await startProxy(etcd.endpoints[0]!);
  const writer = openStore({ endpoints: etcd.endpoints, prefix });
  const store = openStore({ endpoints: [proxy.url], prefix });
  try {
    await writer.create(namespace('before'));
    const rec = recorder();
    const w = await store.watch(rec.handler);
    await w.synced;
    await writer.create(namespace('live'));
    await until('the live event', () => rec.events.length === 1);
    proxy.cut();
    await until('disconnected status', () => rec.statuses.includes('disconnected'));
    for (let i = 0; i < 5; i++) await writer.create(namespace(`while-down-${i}`));
    await writer.delete({ kind: 'Namespace', name: 'before' });
    proxy.resume();
    await until('the six changes made while cut', () => rec.events.length === 7);
    await new Promise((r) => setTimeout(r, 300)); // anything doubled would show up now
    assert.is(rec.events.length, 7, 'each change delivered exactly once');
    assert.is(rec.syncs.length, 1, 'no resync needed: the history was still there');
    assertOrderedOnce(rec.events, 'after reconnect');
    assert.equal(rec.state, await truth(writer), 'the consumer\'s state equals etcd');
    assert.is(rec.statuses[rec.statuses.length - 1], 'connected');
    assert.ok(store.stats().watchReconnects >= 1, 'reconnects are counted');
    await w.close();
  } finally {
    await store.close();
    await writer.close();
    await proxy.close();
  }
});

test('compaction while disconnected: resync from a fresh snapshot (onSync again), nothing lost or doubled', async () => {
  const prefix = `/w${++n}/`;
  const proxy = await startProxy(etcd.endpoints[0]!);
  const writer = openStore({ endpoints: etcd.endpoints, prefix });
  const store = openStore({ endpoints: [proxy.url], prefix });
  try {
    await writer.create(namespace('keep'));
    await writer.create(namespace('drop'));
    const rec = recorder();
    const w = await store.watch(rec.handler);
    await w.synced;
    proxy.cut();
    await until('disconnected status', () => rec.statuses.includes('disconnected'));
    await writer.create(namespace('added'));
    await writer.delete({ kind: 'Namespace', name: 'drop' });
    const last = await writer.replace(namespace('keep', { v: '2' }));
    await raw.kv.compact({ revision: last.revision, physical: true });
    proxy.resume();
    await until('a second onSync', () => rec.syncs.length === 2);
    assert.ok(rec.statuses.includes('resyncing'), 'status went through resyncing');
    assert.equal(rec.syncs[1]!.names, ['added', 'keep'], 'the resync snapshot is the current state');
    assert.ok(BigInt(rec.syncs[1]!.revision) >= BigInt(last.revision));
    assert.is(rec.events.length, 0, 'the compacted changes came in the snapshot, not as events too');
    await writer.create(namespace('after'));
    await until('the event after the resync', () => rec.events.length === 1);
    assert.is(rec.events[0]!.key.name, 'after');
    assert.equal(rec.state, await truth(writer), 'the consumer\'s state equals etcd');
    assert.ok(store.stats().watchResyncs >= 1, 'resyncs are counted');
    await w.close();
  } finally {
    await store.close();
    await writer.close();
    await proxy.close();
  }
});

test('etcd restart: the watcher reconnects; changes after it arrive once', async () => {
  const prefix = `/w${++n}/`;
  const store = openStore({ endpoints: etcd.endpoints, prefix });
  const rec = recorder();
  try {
    await store.create(namespace('one'));
    const w = await store.watch(rec.handler);
    await w.synced;
    await store.create(namespace('two'));
    await until('first event', () => rec.events.length === 1);
    await etcd.restart();
    await until('disconnected status', () => rec.statuses.includes('disconnected'));
    // The first writes after a restart may meet a client still reconnecting: retry them.
    const writer = openStore({ endpoints: etcd.endpoints, prefix });
    try {
      for (let i = 0; i < 3; i++) {
        for (let attempt = 0; ; attempt++) {
          try { await writer.create(namespace(`after-${i}`)); break; } catch (err) {
            if (attempt > 50) throw err;
            await new Promise((r) => setTimeout(r, 200));
          }
        }
      }
      await until('three events after the restart', () => rec.events.length === 4, 30_000);
      await new Promise((r) => setTimeout(r, 300));
      assert.is(rec.events.length, 4, 'each change delivered exactly once');
      assertOrderedOnce(rec.events, 'across restart');
      assert.equal(rec.state, await truth(writer), 'the consumer\'s state equals etcd');
      assert.is(rec.syncs.length, 1, 'no resync: the history survived the restart');
    } finally {
      await writer.close();
    }
    await w.close();
  } finally {
    await store.close();
  }
});

test('garbage values: skipped and reported at snapshot and in the stream, the watcher keeps going', async () => {
  const prefix = `/w${++n}/`;
  const store = openStore({ endpoints: etcd.endpoints, prefix });
  try {
    await raw.put(`${prefix}namespace/broken`).value('nope{');
    await store.create(namespace('fine'));
    const rec = recorder();
    const w = await store.watch(rec.handler);
    await w.synced;
    assert.equal(rec.syncs[0]!.names, ['fine'], 'the snapshot skips the garbage');
    assert.equal(rec.invalid, [`${prefix}namespace/broken`], 'and reports it');
    await raw.put(`${prefix}namespace/evil`).value(JSON.stringify({ apiVersion: 'trellis.dev/v1', kind: 'Namespace', metadata: { name: 'evil', labels: { 'bad key!': 'x' } } }));
    await raw.put(`${prefix}unknownkind/x`).value('{}');
    await store.create(namespace('next'));
    await until('the valid event after the garbage', () => rec.events.length === 1);
    assert.is(rec.events[0]!.key.name, 'next');
    assert.ok(rec.invalid.includes(`${prefix}namespace/evil`), 'invalid put reported');
    assert.ok(rec.invalid.includes(`${prefix}unknownkind/x`), 'unknown kind reported');
    assert.ok(store.stats().invalidValues >= 3, 'counted for the metric');
    await w.close();
  } finally {
    await store.close();
  }
});

test('an invalid key leaves the invalid set when its value is fixed or the key is deleted', async () => {
  const prefix = `/w${++n}/`;
  const store = openStore({ endpoints: etcd.endpoints, prefix });
  try {
    await raw.put(`${prefix}namespace/to-fix`).value('nope{');
    await raw.put(`${prefix}namespace/to-delete`).value('{"kind": "Namespace"}');
    const rec = recorder();
    const w = await store.watch(rec.handler);
    await w.synced;
    assert.equal([...w.invalid().keys()].sort(), [`${prefix}namespace/to-delete`, `${prefix}namespace/to-fix`], 'both garbage values are held as invalid after the snapshot');
    await raw.put(`${prefix}unknownkind/x`).value('{}');
    await until('the bad key reported', () => w.invalid().has(`${prefix}unknownkind/x`));
    await raw.put(`${prefix}namespace/to-fix`).value(JSON.stringify(namespace('to-fix')));
    await raw.delete().key(`${prefix}namespace/to-delete`);
    await raw.delete().key(`${prefix}unknownkind/x`);
    await until('all three cleared', () => rec.valid.length === 3);
    assert.equal(rec.valid.sort(), [`${prefix}namespace/to-delete`, `${prefix}namespace/to-fix`, `${prefix}unknownkind/x`], 'onValid names each fixed or deleted key once');
    assert.is(w.invalid().size, 0, 'nothing is left in the invalid set');
    assert.equal(rec.events.map((e) => `${e.type} ${e.key.name}`), ['put to-fix', 'delete to-delete'], 'the fixed value and the delete are delivered; the malformed key is not');
    await raw.put(`${prefix}namespace/to-fix`).value('broken again');
    await until('broken again', () => w.invalid().has(`${prefix}namespace/to-fix`));
    assert.is(w.invalid().size, 1, 'a value turning invalid again is held again');
    await w.close();
  } finally {
    await store.close();
  }
});

test('a silent partition (connection open, nothing answers) is noticed by the probe; on heal changes arrive once', async () => {
  const prefix = `/w${++n}/`;
  const proxy = await startProxy(etcd.endpoints[0]!);
  const writer = openStore({ endpoints: etcd.endpoints, prefix });
  const store = openStore({ endpoints: [proxy.url], prefix });
  try {
    await writer.create(namespace('before'));
    const rec = recorder();
    const w = await store.watch(rec.handler, { probeIntervalMs: 200, probeTimeoutMs: 300 });
    await w.synced;
    await until('connected', () => rec.statuses.includes('connected'));
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(rec.statuses, ['connected'], 'a healthy, idle stream passes its probes and stays connected');
    proxy.silence();
    await until('disconnected status from the probe', () => rec.statuses.includes('disconnected'), 10_000);
    assert.ok(store.stats().watchProbeFailures >= 1, 'the unanswered probe is counted');
    for (let i = 0; i < 3; i++) await writer.create(namespace(`while-silent-${i}`));
    proxy.heal();
    await until('the three changes made while silent', () => rec.events.length === 3);
    await until('connected again', () => rec.statuses[rec.statuses.length - 1] === 'connected');
    await new Promise((r) => setTimeout(r, 300));
    assert.is(rec.events.length, 3, 'each change delivered exactly once');
    assertOrderedOnce(rec.events, 'after the partition');
    assert.equal(rec.state, await truth(writer), 'the consumer\'s state equals etcd');
    await w.close();
  } finally {
    await store.close();
    await writer.close();
    await proxy.close();
  }
});

test('close() right after the first onSync, and while etcd is unreachable, stops the watcher', async () => {
  const store = openStore({ endpoints: etcd.endpoints, prefix: `/w${++n}/` });
  try {
    await store.create(namespace('x'));
    const w = await store.watch(recorder().handler);
    await w.synced;
    const closedInTime = await Promise.race([w.close().then(() => true), new Promise((r) => setTimeout(() => r(false), 5000))]);
    assert.ok(closedInTime, 'close() right after the snapshot returns');
  } finally {
    await store.close();
  }
  const dead = openStore({ endpoints: ['http://127.0.0.1:1'], dialTimeoutMs: 500 });
  try {
    const rec = recorder();
    const w = await dead.watch(rec.handler);
    await until('disconnected status', () => rec.statuses.includes('disconnected'));
    const closedInTime = await Promise.race([w.close().then(() => true), new Promise((r) => setTimeout(() => r(false), 5000))]);
    assert.ok(closedInTime, 'close() while retrying returns');
    assert.is(rec.syncs.length, 0, 'no snapshot from an unreachable etcd');
  } finally {
    await dead.close();
  }
});

test.run();
