// The store against a real etcd: CRUD, optimistic concurrency, listing, invalid values.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Etcd3 } from 'etcd3';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { openStore, StoreError, type Store } from '../../src/store/index.js';
import type { Resource } from '../../src/model/index.js';
import { namespace, policy } from './_fixtures.js';

let etcd: TestEtcd;
let store: Store;
let raw: Etcd3;
const invalid: string[] = [];

test.before(async () => {
  etcd = await startTestEtcd();
  store = openStore({ endpoints: etcd.endpoints, prefix: '/t1/', onInvalid: (k) => invalid.push(k) });
  raw = new Etcd3({ hosts: etcd.endpoints });
});
test.after(async () => {
  raw?.close();
  await store?.close();
  await etcd?.stop();
});

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    assert.instance(err, StoreError, 'refusals are StoreErrors');
    return (err as StoreError).code;
  }
  assert.unreachable('the store accepted a write it should have refused');
  return '';
}

test('create stores JSON under <prefix><kind>/<ns>/<name> and get reads it back with its revision', async () => {
  const created = await store.create(policy('tenant-a', 'web'));
  assert.match(created.revision, /^\d+$/, 'revision is the etcd mod revision');
  const value = await raw.get('/t1/networkpolicy/tenant-a/web').string();
  assert.ok(value, 'value stored at the documented key');
  const json = JSON.parse(value!);
  assert.is(json.kind, 'NetworkPolicy');
  assert.is(json.metadata.resourceVersion, undefined, 'resourceVersion is not stored, it is the etcd revision');
  const got = await store.get({ kind: 'NetworkPolicy', namespace: 'tenant-a', name: 'web' });
  assert.ok(got, 'get finds the policy');
  assert.is(got!.revision, created.revision, 'get returns the revision create returned');
  assert.is(got!.resource.metadata.resourceVersion, created.revision, 'metadata.resourceVersion carries the revision');
  assert.equal((got!.resource.spec as { selector: string }).selector, 'app == "web"');
  await store.create(namespace('tenant-a', { tenant: 'a' }));
  assert.ok(await raw.get('/t1/namespace/tenant-a').string(), 'cluster-scoped key has no namespace segment');
  assert.is(store.keyFor({ kind: 'GlobalNetworkPolicy', name: 'x' }), '/t1/globalnetworkpolicy/x');
});

test('create of an existing resource is refused with ALREADY_EXISTS and changes nothing', async () => {
  const before = await store.get({ kind: 'Namespace', name: 'tenant-a' });
  assert.is(await refusal(store.create(namespace('tenant-a', { tenant: 'zzz' }))), 'ALREADY_EXISTS');
  const after = await store.get({ kind: 'Namespace', name: 'tenant-a' });
  assert.is(after!.revision, before!.revision, 'the stored resource was not touched');
  assert.equal(after!.resource.metadata.labels, { tenant: 'a' });
});

test('two writers: the stale replace is refused with CONFLICT, never overwrites', async () => {
  const read1 = await store.get({ kind: 'Namespace', name: 'tenant-a' });
  const read2 = await store.get({ kind: 'Namespace', name: 'tenant-a' });
  const w1 = await store.replace(namespace('tenant-a', { tenant: 'a', writer: 'one' }), read1!.revision);
  assert.ok(BigInt(w1.revision) > BigInt(read1!.revision), 'first writer wins and moves the revision');
  assert.is(await refusal(store.replace(namespace('tenant-a', { tenant: 'a', writer: 'two' }), read2!.revision)), 'CONFLICT');
  const now = await store.get({ kind: 'Namespace', name: 'tenant-a' });
  assert.is(now!.resource.metadata.labels?.writer, 'one', 'the second (stale) writer did not overwrite the first');
  // metadata.resourceVersion (as `get -o yaml` prints it) is the expected revision too.
  const stale = { ...read2!.resource, metadata: { ...read2!.resource.metadata, labels: { writer: 'three' } } } as Resource;
  assert.is(await refusal(store.replace(stale)), 'CONFLICT', 'a stale resourceVersion in metadata is refused');
  const fresh = { ...now!.resource, metadata: { ...now!.resource.metadata, labels: { writer: 'four' } } } as Resource;
  const ok = await store.replace(fresh);
  assert.is(ok.resource.metadata.labels?.writer, 'four', 'a current resourceVersion is accepted');
});

test('replace and delete of a missing resource are NOT_FOUND; a stale delete is CONFLICT', async () => {
  assert.is(await refusal(store.replace(namespace('nope'))), 'NOT_FOUND');
  assert.is(await refusal(store.delete({ kind: 'Namespace', name: 'nope' })), 'NOT_FOUND');
  const s = await store.create(namespace('gone'));
  await store.replace(namespace('gone', { v: '2' }));
  assert.is(await refusal(store.delete({ kind: 'Namespace', name: 'gone' }, s.revision)), 'CONFLICT');
  assert.ok(await store.get({ kind: 'Namespace', name: 'gone' }), 'still there after the refused delete');
  await store.delete({ kind: 'Namespace', name: 'gone' });
  assert.is(await store.get({ kind: 'Namespace', name: 'gone' }), null, 'gone after the delete');
});

test('apply creates then replaces unconditionally', async () => {
  const a = await store.apply(namespace('applied', { v: '1' }));
  const b = await store.apply(namespace('applied', { v: '2' }));
  assert.ok(BigInt(b.revision) > BigInt(a.revision));
  assert.equal((await store.get({ kind: 'Namespace', name: 'applied' }))!.resource.metadata.labels, { v: '2' });
});

test('writes are validated: an invalid resource is refused with INVALID and not stored', async () => {
  const bad = { ...policy('tenant-a', 'bad'), spec: { selector: 'app == ', ingress: [] } } as unknown as Resource;
  assert.is(await refusal(store.create(bad)), 'INVALID');
  assert.is(await raw.get('/t1/networkpolicy/tenant-a/bad').string(), null);
});

test('list by kind and by namespace', async () => {
  await store.create(policy('tenant-a', 'p2'));
  await store.create(policy('tenant-b', 'p1'));
  await store.create(policy('tenant-ab', 'p9'));
  const names = (xs: { resource: Resource }[]) => xs.map((s) => `${(s.resource.metadata as { namespace?: string }).namespace}/${s.resource.metadata.name}`).sort();
  assert.equal(names(await store.list('NetworkPolicy')), ['tenant-a/p2', 'tenant-a/web', 'tenant-ab/p9', 'tenant-b/p1']);
  assert.equal(names(await store.list('NetworkPolicy', 'tenant-a')), ['tenant-a/p2', 'tenant-a/web'], 'namespace tenant-a only (not tenant-ab)');
  assert.equal((await store.list('GlobalNetworkPolicy')).length, 0);
});

test('list pages through more than one etcd page (1000 keys)', async () => {
  const ops = [];
  for (let i = 0; i < 1100; i++) ops.push(store.apply(namespace(`bulk-${i}`)));
  await Promise.all(ops);
  const all = await store.list('Namespace');
  assert.is(all.filter((s) => s.resource.metadata.name.startsWith('bulk-')).length, 1100);
});

test('garbage in etcd is reported and skipped by list, and get refuses it with INVALID', async () => {
  invalid.length = 0;
  const before = store.stats().invalidValues;
  await raw.put('/t1/networkpolicy/tenant-a/garbage').value('{not json');
  await raw.put('/t1/networkpolicy/tenant-a/liar').value(JSON.stringify(policy('tenant-a', 'someone-else')));
  await raw.put('/t1/networkpolicy/toodeep/a/b').value('{}');
  await raw.put('/t1/ipam/block/10.0.0.0-26').value('{"ipam":"not a resource"}');
  const list = await store.list('NetworkPolicy', 'tenant-a');
  assert.equal(list.map((s) => s.resource.metadata.name).sort(), ['p2', 'web'], 'the valid ones are listed');
  await store.list('NetworkPolicy');
  assert.ok(invalid.includes('/t1/networkpolicy/tenant-a/garbage'), 'non-JSON value reported');
  assert.ok(invalid.includes('/t1/networkpolicy/tenant-a/liar'), 'value naming another resource reported');
  assert.ok(invalid.includes('/t1/networkpolicy/toodeep/a/b'), 'malformed key reported');
  assert.not.ok(invalid.some((k) => k.includes('/ipam/')), 'IPAM keys are not resources and not reported');
  assert.ok(store.stats().invalidValues - before >= 3, 'invalid values are counted');
  assert.is(await refusal(store.get({ kind: 'NetworkPolicy', namespace: 'tenant-a', name: 'garbage' })), 'INVALID');
});

test('an unreachable etcd is UNAVAILABLE', async () => {
  const dead = openStore({ endpoints: ['http://127.0.0.1:1'], dialTimeoutMs: 1000 });
  try {
    assert.is(await refusal(dead.list('Namespace')), 'UNAVAILABLE');
  } finally {
    await dead.close();
  }
});

test.run();
