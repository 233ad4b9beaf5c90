// IPReservation against a real etcd: IPAM never hands out a reserved address (automatic
// allocation skips it, a request for it is refused naming the reservation), a wholly
// reserved block is never claimed, an address allocated before its reservation keeps
// working and releases as before, and deleting the reservation frees the addresses.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { allocate, affineBlocks, IpamError, releaseByHandle } from '../../src/ipam/index.js';
import { API_VERSION, cidrContains, type IPReservation } from '../../src/model/index.js';
import { freshStore, pool, teardown } from './_fixture.js';

function reservation(name: string, reservedCIDRs: string[]): IPReservation {
  return { apiVersion: API_VERSION, kind: 'IPReservation', metadata: { name }, spec: { reservedCIDRs } };
}

async function refusal(p: Promise<unknown>): Promise<IpamError> {
  try { await p; } catch (e) {
    assert.instance(e, IpamError, `expected an IpamError, got ${String(e)}`);
    return e as IpamError;
  }
  assert.unreachable('expected a refusal, but it succeeded');
  throw new Error('unreachable');
}

test('automatic allocation skips reserved addresses and single reserved IPs, in order', async () => {
  const s = await freshStore();
  await s.create(pool('p', '10.50.0.0/24', { blockSize: 28 }));
  await s.create(reservation('gateways', ['10.50.0.0/30', '10.50.0.5']));
  const got: string[] = [];
  for (let i = 0; i < 4; i++) got.push((await allocate(s, { node: 'n1', handle: `h${i}.eth0` })).address);
  assert.equal(got, ['10.50.0.4', '10.50.0.6', '10.50.0.7', '10.50.0.8'], 'first free, non-reserved addresses of the block');
});

test('a request for a reserved address is refused, naming the reservation', async () => {
  const s = await freshStore();
  await s.create(pool('p', '10.51.0.0/24', { blockSize: 28 }));
  await s.create(reservation('vip', ['10.51.0.16/29']));
  const e = await refusal(allocate(s, { node: 'n1', handle: 'x.eth0', address: '10.51.0.20' }));
  assert.is(e.code, 'ADDRESS_RESERVED');
  assert.is(e.message, '10.51.0.20 is reserved by IPReservation vip (10.51.0.16/29): IPAM never hands it out; request another address or change the reservation');
  assert.is((await allocate(s, { node: 'n1', handle: 'y.eth0', address: '10.51.0.24' })).address, '10.51.0.24', 'the address after the reservation is fine');
});

test('a wholly reserved block is never claimed; when only reserved addresses are left the pool is exhausted, naming the reservation', async () => {
  const s = await freshStore();
  await s.create(pool('p', '10.52.0.0/27', { blockSize: 28 }));
  await s.create(reservation('first-half', ['10.52.0.0/28']));
  const a = await allocate(s, { node: 'n1', handle: 'a.eth0' });
  assert.is(a.block, '10.52.0.16/28', 'the reserved block was skipped');
  assert.equal(await affineBlocks(s, 'n1'), ['10.52.0.16/28'], 'and never claimed');
  for (let i = 1; i < 16; i++) await allocate(s, { node: 'n1', handle: `b${i}.eth0` });
  const e = await refusal(allocate(s, { node: 'n1', handle: 'c.eth0' }));
  assert.is(e.code, 'POOL_EXHAUSTED');
  assert.match(e.message, /reserved by IPReservation first-half \(10\.52\.0\.0\/28\)$/);
});

test('an address allocated before its reservation stays and releases as before; deleting the reservation frees the range', async () => {
  const s = await freshStore();
  await s.create(pool('p', '10.53.0.0/24', { blockSize: 28 }));
  const before = await allocate(s, { node: 'n1', handle: 'old.eth0' });
  assert.is(before.address, '10.53.0.0');
  await s.create(reservation('late', ['10.53.0.0/31']));
  assert.is((await allocate(s, { node: 'n1', handle: 'new.eth0' })).address, '10.53.0.2', '10.53.0.1 is reserved now');
  assert.equal(await releaseByHandle(s, 'old.eth0'), ['10.53.0.0'], 'release works as before');
  assert.is((await allocate(s, { node: 'n1', handle: 'again.eth0' })).address, '10.53.0.3', 'the released address is reserved: not handed out again');
  await s.delete({ kind: 'IPReservation', name: 'late' });
  const freed = await allocate(s, { node: 'n1', handle: 'free.eth0' });
  assert.is(freed.address, '10.53.0.0', 'with the reservation gone the range is handed out again');
  assert.ok(cidrContains('10.53.0.0/28', freed.address));
});

test('IPv6 reservations apply to IPv6 allocation only', async () => {
  const s = await freshStore();
  await s.create(pool('v6', 'fd00:53::/120', { blockSize: 124 }));
  await s.create(pool('v4', '10.54.0.0/24', { blockSize: 28 }));
  await s.create(reservation('v6-low', ['fd00:53::/126']));
  assert.is((await allocate(s, { node: 'n1', handle: 'a.eth0', family: 6 })).address, 'fd00:53::4');
  assert.is((await allocate(s, { node: 'n1', handle: 'a.eth0', family: 4 })).address, '10.54.0.0', 'IPv4 untouched');
});

test.after(teardown);
test.run();
