// The one reader of etcd key/values: what it makes of resource keys, IPAM keys, malformed
// keys, garbage values and values whose body disagrees with their key.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readKey, readKv } from '../../src/store/read.js';
import { namespace, policy } from './_fixtures.js';

const P = '/trellis/v1/';
const kv = (key: string, value: string, rev = '7') => ({ key: Buffer.from(key), value: Buffer.from(value), mod_revision: rev });

test('a valid value comes back as a resource carrying its mod revision', () => {
  const r = readKv(P, kv(`${P}networkpolicy/tenant-a/web`, JSON.stringify(policy('tenant-a', 'web'))));
  assert.is(r.type, 'resource');
  if (r.type !== 'resource') return;
  assert.equal(r.key, { kind: 'NetworkPolicy', namespace: 'tenant-a', name: 'web' });
  assert.is(r.stored.revision, '7');
  assert.is(r.stored.resource.metadata.resourceVersion, '7', 'resourceVersion is the etcd revision');
});

test('IPAM keys and the Docker driver\'s records are not resources and are not decoded', () => {
  assert.equal(readKv(P, kv(`${P}ipam/v2/block/10.65.0.0-26`, 'not json')), { type: 'other', etcdKey: `${P}ipam/v2/block/10.65.0.0-26` });
  // Not "unknown kind docker": every network and endpoint record would be reported invalid (store.invalid, a warning each).
  assert.equal(readKv(P, kv(`${P}docker/networks/1d1ad85c7a3e`, '{"id":"1d1ad85c7a3e"}')), { type: 'other', etcdKey: `${P}docker/networks/1d1ad85c7a3e` });
  assert.equal(readKey(P, `${P}docker/endpoints/ab12`), { type: 'other', etcdKey: `${P}docker/endpoints/ab12` });
});

test('malformed keys and bad values are invalid, with the key and the reason', () => {
  assert.equal(readKey(P, `${P}unknownkind/x`), { type: 'invalid', etcdKey: `${P}unknownkind/x`, error: `${P}unknownkind/x: unknown kind "unknownkind" in key` });
  assert.match((readKey(P, `${P}networkpolicy/only-name`) as { error: string }).error, /a NetworkPolicy key must be <prefix>networkpolicy\/<namespace>\/<name>/);
  const garbage = readKv(P, kv(`${P}namespace/x`, 'nope{'));
  assert.is(garbage.type, 'invalid');
  assert.match((garbage as { error: string }).error, new RegExp(`^${P}namespace/x: value is not JSON`));
  const liar = readKv(P, kv(`${P}namespace/x`, JSON.stringify(namespace('y'))));
  assert.match((liar as { error: string }).error, /value describes Namespace y, but the key says Namespace x/);
});

test('a kind the reader does not accept is "other" and its value is never judged', () => {
  const r = readKv(P, kv(`${P}namespace/x`, 'nope{'), (k) => k.kind === 'NetworkPolicy');
  assert.equal(r, { type: 'other', etcdKey: `${P}namespace/x` }, 'garbage of an unwatched kind is not reported');
});

test.run();
