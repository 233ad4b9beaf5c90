// What the runtime reads when trellis-cni fails: each kind of failure maps to the CNI spec's
// error code for it (11 means "try again", so only a store that could not be reached may
// say it). Matched by class and code, not by name.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { toCniError } from '../../src/cni/commands.js';
import { CNI_ERR, CniError } from '../../src/cni/spec.js';
import { IpamError, type IpamErrorCode } from '../../src/ipam/index.js';
import { TrellisError } from '../../src/model/index.js';
import { StoreError } from '../../src/store/index.js';
import { NetlinkError } from '../../src/workload/index.js';

test('IPAM error codes map to CNI codes', () => {
  const want: Record<IpamErrorCode, number> = {
    POOL_EXHAUSTED: CNI_ERR.POOL_EXHAUSTED, ADDRESS_IN_USE: CNI_ERR.ADDRESS_IN_USE, HANDLE_IN_USE: CNI_ERR.ADDRESS_IN_USE,
    NO_POOL: CNI_ERR.NO_POOL, CONFLICT_RETRIES: CNI_ERR.TRY_AGAIN_LATER, INVALID_REQUEST: CNI_ERR.INVALID_NETWORK_CONFIG,
    CORRUPT_RECORD: CNI_ERR.INTERNAL, ADDRESS_RESERVED: CNI_ERR.ADDRESS_IN_USE,
  };
  for (const [code, cni] of Object.entries(want) as Array<[IpamErrorCode, number]>) {
    const e = toCniError(new IpamError(code, 'the pool said so'));
    assert.is(e.code, cni, `IpamError ${code} is CNI error ${cni}`);
    assert.is(e.message, 'IPAM: the pool said so', `IpamError ${code}'s message is kept`);
  }
});

test('store, netlink and other failures', () => {
  const cases: Array<[string, unknown, number, string]> = [
    ['StoreError UNAVAILABLE', new StoreError('UNAVAILABLE', 'etcd down'), CNI_ERR.TRY_AGAIN_LATER, 'store: etcd down'],
    ['StoreError CONFLICT', new StoreError('CONFLICT', 'raced'), CNI_ERR.INTERNAL, 'store: raced'],
    ['NetlinkError', new NetlinkError('veth add', 'RTNETLINK answers: File exists\n'), CNI_ERR.IO_FAILURE, 'veth add: RTNETLINK answers: File exists'],
    ['a gRPC failure outside the store', new Error('14 UNAVAILABLE: No connection established'), CNI_ERR.TRY_AGAIN_LATER, 'etcd unreachable: 14 UNAVAILABLE: No connection established'],
    ['a plain Error', new Error('boom'), CNI_ERR.INTERNAL, 'boom'],
    ['a thrown string', 'boom', CNI_ERR.INTERNAL, 'boom'],
  ];
  for (const [what, thrown, code, message] of cases) {
    const e = toCniError(thrown);
    assert.is(e.code, code, `${what} is CNI error ${code}`);
    assert.is(e.message, message, `${what}'s message`);
  }
});

test('a CniError passes through unchanged, and is a TrellisError', () => {
  const original = new CniError(CNI_ERR.INVALID_ENV, 'CNI_NETNS /x does not exist');
  assert.is(toCniError(original), original, 'same object');
  assert.ok(original instanceof TrellisError, 'CniError extends TrellisError');
  class LockError extends StoreError {}
  assert.is(toCniError(new LockError('UNAVAILABLE', 'x')).code, CNI_ERR.TRY_AGAIN_LATER, 'a StoreError subclass maps as a StoreError');
});

test.run();
