// IPAM against a real etcd: concurrency, exhaustion, borrowing, specific addresses,
// disabled pools, nodeSelector, empty-block release and leak checks.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  affineBlocks, allocate, borrowedAddresses, checkLeaks, ipamUsage, IpamError, keysFor, releaseByHandle, releaseEmptyBlocks,
  type Allocation,
} from '../../src/ipam/index.js';
import { API_VERSION, cidrContains } from '../../src/model/index.js';
import { freshStore, node, pool, teardown } from './_fixture.js';

async function rejects(p: Promise<unknown>, code: string, what: string): Promise<IpamError> {
  try {
    await p;
  } catch (e) {
    assert.instance(e, IpamError, `${what}: expected an IpamError, got ${String(e)}`);
    assert.is((e as IpamError).code, code, `${what}: wrong code (${(e as Error).message})`);
    return e as IpamError;
  }
  assert.unreachable(`${what}: expected ${code}, but it succeeded`);
  throw new Error('unreachable');
}

test('2,000 allocations from 20 concurrent clients on 3 nodes: no duplicates, every handle released exactly once', async () => {
  const admin = await freshStore();
  await admin.create(pool('big', '10.40.0.0/16'));
  // Twenty clients, each with its own etcd connection, as twenty CNI processes would be.
  const clients = await Promise.all(Array.from({ length: 20 }, () => freshStore(admin.prefix)));
  const nodes = ['n1', 'n2', 'n3'];
  const results: Array<{ handle: string; a: Allocation; node: string }> = [];
  await Promise.all(clients.map(async (s, c) => {
    const n = nodes[c % 3]!;
    for (let i = 0; i < 100; i++) {
      const handle = `c${c}-${i}.eth0`;
      results.push({ handle, a: await allocate(s, { node: n, handle }), node: n });
    }
  }));
  assert.is(results.length, 2000, 'allocation count');
  const seen = new Map<string, string>();
  for (const r of results) {
    const prev = seen.get(r.a.address);
    assert.not.ok(prev, `address ${r.a.address} handed to both ${prev} and ${r.handle}`);
    seen.set(r.a.address, r.handle);
    assert.ok(cidrContains('10.40.0.0/16', r.a.address), `${r.a.address} outside the pool`);
    assert.ok(cidrContains(r.a.block, r.a.address), `${r.a.address} outside its block ${r.a.block}`);
    assert.not.ok(r.a.borrowed, `${r.a.address} borrowed although the pool has free blocks`);
  }
  // Every node allocated only from blocks it holds, and holds just enough of them.
  for (const n of nodes) {
    const blocks = await affineBlocks(admin, n);
    const mine = results.filter((r) => r.node === n);
    for (const r of mine) assert.ok(blocks.includes(r.a.block), `${r.a.address} of ${n} is in ${r.a.block}, not one of ${n}'s blocks`);
    assert.ok(blocks.length >= Math.ceil(mine.length / 64), `${n} holds ${blocks.length} blocks for ${mine.length} addresses`);
  }
  const usage = await ipamUsage(admin);
  assert.is(usage.pools[0]!.used, 2000, 'usage counts every allocation');
  assert.is(usage.handles, 2000, 'one handle record per allocation');

  const released = await Promise.all(results.map((r, i) => releaseByHandle(clients[i % 20]!, r.handle)));
  released.forEach((addrs, i) => assert.equal(addrs, [results[i]!.a.address], `release of ${results[i]!.handle}`));
  const again = await Promise.all(results.slice(0, 50).map((r) => releaseByHandle(admin, r.handle)));
  assert.ok(again.every((a) => a.length === 0), 'a second release frees nothing');
  const after = await ipamUsage(admin);
  assert.is(after.pools[0]!.used, 0, 'every address free after release');
  assert.is(after.handles, 0, 'no handle records left');
});

test('pool exhaustion is a POOL_EXHAUSTED error, and a release makes room again', async () => {
  const s = await freshStore();
  await s.create(pool('tiny', '10.41.0.0/28', { blockSize: 30 }));
  const got: string[] = [];
  for (let i = 0; i < 16; i++) got.push((await allocate(s, { node: 'n1', handle: `h${i}` })).address);
  assert.is(new Set(got).size, 16, 'all 16 addresses distinct');
  const e = await rejects(allocate(s, { node: 'n1', handle: 'h16' }), 'POOL_EXHAUSTED', '17th allocation');
  assert.match(e.message, '10.41.0.0/28');
  await releaseByHandle(s, 'h3');
  const a = await allocate(s, { node: 'n1', handle: 'h16' });
  assert.is(a.address, got[3], 'the released address is reused');
});

test('a node borrows from another node\'s block only when no block is left to claim', async () => {
  const s = await freshStore();
  await s.create(pool('small', '10.42.0.0/29', { blockSize: 30 }));
  const a1 = await allocate(s, { node: 'a', handle: 'a1' });
  assert.is(a1.block, '10.42.0.0/30');
  for (let i = 0; i < 4; i++) {
    const b = await allocate(s, { node: 'b', handle: `b${i}` });
    assert.is(b.block, '10.42.0.4/30', `b${i} comes from b's own block`);
    assert.not.ok(b.borrowed);
  }
  const b4 = await allocate(s, { node: 'b', handle: 'b4' });
  assert.ok(b4.borrowed, 'fifth address for b is borrowed');
  assert.is(b4.block, '10.42.0.0/30');
  assert.equal(await affineBlocks(s, 'b'), ['10.42.0.4/30']);
  assert.equal(await affineBlocks(s, 'a'), ['10.42.0.0/30']);
  assert.equal(await borrowedAddresses(s, 'b'), [`${b4.address}/32`]);
  assert.equal(await borrowedAddresses(s, 'a'), []);
  await allocate(s, { node: 'a', handle: 'a2' });
  await allocate(s, { node: 'a', handle: 'a3' });
  await rejects(allocate(s, { node: 'a', handle: 'a4' }), 'POOL_EXHAUSTED', 'full pool');
});

test('a specific address is honoured when free and refused with ADDRESS_IN_USE when not', async () => {
  const s = await freshStore();
  await s.create(pool('p', '10.43.0.0/24'));
  const a = await allocate(s, { node: 'n1', handle: 'x.eth0', address: '10.43.0.77' });
  assert.is(a.address, '10.43.0.77');
  assert.is(a.block, '10.43.0.64/26');
  assert.equal(await affineBlocks(s, 'n1'), ['10.43.0.64/26'], 'the block is claimed for the node');
  const again = await allocate(s, { node: 'n1', handle: 'x.eth0', address: '10.43.0.77' });
  assert.is(again.address, '10.43.0.77', 'the same request again is idempotent');
  const e = await rejects(allocate(s, { node: 'n2', handle: 'y.eth0', address: '10.43.0.77' }), 'ADDRESS_IN_USE', 'taken address');
  assert.match(e.message, 'x.eth0');
  await rejects(allocate(s, { node: 'n1', handle: 'z.eth0', address: '192.168.9.9' }), 'NO_POOL', 'address outside all pools');
  await rejects(allocate(s, { node: 'n1', handle: 'z.eth0', address: 'not-an-ip' }), 'INVALID_REQUEST', 'garbage address');
  // Automatic allocation skips the taken address.
  const auto: string[] = [];
  for (let i = 0; i < 20; i++) auto.push((await allocate(s, { node: 'n1', handle: `auto${i}` })).address);
  assert.not.ok(auto.includes('10.43.0.77'), 'automatic allocation never hands out a taken address');
  await rejects(allocate(s, { node: 'n1', handle: 'x.eth0' }), 'HANDLE_IN_USE', 'second IPv4 address for one handle');
});

test('disabled pools and nodeSelector restrict where addresses come from', async () => {
  const s = await freshStore();
  await s.create(pool('off', '10.44.0.0/24', { disabled: true }));
  await rejects(allocate(s, { node: 'n1', handle: 'h0' }), 'NO_POOL', 'only pool disabled');
  const e = await rejects(allocate(s, { node: 'n1', handle: 'h0', address: '10.44.0.5' }), 'NO_POOL', 'specific address in disabled pool');
  assert.match(e.message, 'disabled');
  await s.create(pool('rack1', '10.45.0.0/24', { nodeSelector: "rack == 'r1'" }));
  await s.create(node('n1', { rack: 'r1' }));
  await s.create(node('n2', { rack: 'r2' }));
  const a = await allocate(s, { node: 'n1', handle: 'h1' });
  assert.ok(cidrContains('10.45.0.0/24', a.address), `n1 (rack r1) gets ${a.address} from rack1`);
  const e2 = await rejects(allocate(s, { node: 'n2', handle: 'h2' }), 'NO_POOL', 'n2 selected by no pool');
  assert.match(e2.message, 'nodeSelector');
  await s.create(pool('any', '10.46.0.0/24'));
  const b = await allocate(s, { node: 'n2', handle: 'h2' });
  assert.ok(cidrContains('10.46.0.0/24', b.address), `n2 gets ${b.address} from the unrestricted pool`);
  const c = await allocate(s, { node: 'n1', handle: 'h3', pools: ['any'] });
  assert.ok(cidrContains('10.46.0.0/24', c.address), 'a request naming a pool gets it');
});

test('empty blocks are released after the grace period, not before', async () => {
  const s = await freshStore();
  await s.create(pool('p', '10.47.0.0/24'));
  const a = await allocate(s, { node: 'n1', handle: 'h' });
  assert.equal(await releaseEmptyBlocks(s, 'n1', 0), [], 'a block in use is kept');
  await releaseByHandle(s, 'h');
  assert.equal(await releaseEmptyBlocks(s, 'n1', 60_000), [], 'an empty block within its grace period is kept');
  assert.equal(await affineBlocks(s, 'n1'), [a.block]);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(await releaseEmptyBlocks(s, 'n1', 10), [a.block], 'released after the grace period');
  assert.equal(await affineBlocks(s, 'n1'), []);
  const b = await allocate(s, { node: 'n2', handle: 'h2' });
  assert.is(b.block, a.block, 'the released block can be claimed by another node');
});

test('IPv6 pools carve /122 blocks', async () => {
  const s = await freshStore();
  await s.create(pool('v6', 'fd00:10::/120'));
  const a = await allocate(s, { node: 'n1', handle: 'h.eth0', family: 6 });
  assert.is(a.block, 'fd00:10::/122');
  assert.is(a.family, 6);
  const b = await allocate(s, { node: 'n1', handle: 'h2.eth0', family: 6 });
  assert.is.not(b.address, a.address);
  const v4 = await rejects(allocate(s, { node: 'n1', handle: 'h3' }), 'NO_POOL', 'no IPv4 pool');
  assert.match(v4.message, 'IPv4');
});

test('checkLeaks reports allocations whose WorkloadEndpoint is gone', async () => {
  const s = await freshStore();
  await s.create(pool('p', '10.48.0.0/24'));
  const a = await allocate(s, { node: 'n1', handle: 'c1.eth0', attrs: { endpoint: 'ns1/wep1' } });
  await allocate(s, { node: 'n1', handle: 'c2.eth0', attrs: { endpoint: 'ns1/wep2' } });
  await s.create({
    apiVersion: API_VERSION, kind: 'WorkloadEndpoint', metadata: { name: 'wep2', namespace: 'ns1' },
    spec: { node: 'n1', interfaceName: 'trl0', ipNetworks: ['10.48.0.1/32'] },
  });
  const leaks = await checkLeaks(s);
  assert.equal(leaks.map((l) => l.handle), ['c1.eth0'], 'only the handle without endpoint leaks');
  assert.equal(leaks[0]!.addresses, [a.address]);
  assert.equal(await checkLeaks(s, { minAgeMs: 60_000 }), [], 'young allocations are not reported');
});

test('a corrupt block record is an error naming its key, never a silent reuse', async () => {
  const s = await freshStore();
  await s.create(pool('p', '10.49.0.0/24'));
  const a = await allocate(s, { node: 'n1', handle: 'h' });
  const key = keysFor(s.prefix).block(a.block);
  await s.etcd.put(key).value('{"cidr": 1}');
  const e = await rejects(allocate(s, { node: 'n1', handle: 'h2' }), 'CORRUPT_RECORD', 'corrupt block');
  assert.match(e.message, key);
});

test.after(teardown);
test.run();
