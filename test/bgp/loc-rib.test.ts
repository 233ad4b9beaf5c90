// The Loc-RIB's candidate bookkeeping (one route stored bare, several by source) and its
// sliced selection: the best route and the kernel's view follow every add and removal.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LocRib } from '../../src/bgp/loc-rib.js';
import type { RibRoute } from '../../src/bgp/index.js';

const route = (prefix: string, peer: string, localPref: number): RibRoute => ({
  prefix, family: 4, stale: false,
  src: { peer, attrs: { origin: 0, asPath: [], localPref }, nextHop: `192.0.2.${peer.split('.').pop()}`, ebgp: false, fromClient: false, peerRouterId: peer, peerAddress: peer },
});

test('one, two, then one candidate again: the best and the kernel change follow', () => {
  const rib = new LocRib();
  const p = '10.1.0.0/24';
  rib.set(p, '10.0.0.1', route(p, '10.0.0.1', 100));
  assert.equal(rib.select(), [p]);
  assert.is(rib.best(p)?.src.peer, '10.0.0.1');
  rib.set(p, '10.0.0.2', route(p, '10.0.0.2', 200));
  assert.equal(rib.select(), [p], 'a better second candidate changes the best');
  assert.is(rib.best(p)?.src.peer, '10.0.0.2');
  rib.set(p, '10.0.0.1', route(p, '10.0.0.1', 300));
  rib.select();
  assert.is(rib.best(p)?.src.peer, '10.0.0.1', 'a replaced candidate among two');
  rib.set(p, '10.0.0.1', null);
  rib.select();
  assert.is(rib.best(p)?.src.peer, '10.0.0.2', 'back to one candidate');
  rib.set(p, '10.0.0.9', null);
  assert.equal(rib.select(), [], 'removing a source that has no candidate changes nothing');
  rib.set(p, '10.0.0.2', null);
  assert.equal(rib.select(), [p]);
  assert.is(rib.has(p), false, 'no candidate left');
  assert.equal(rib.kernelChanges([p]), [], 'never reported, nothing to withdraw');
});

test('select(max) settles at most max prefixes and leaves the rest dirty', () => {
  const rib = new LocRib();
  for (let i = 0; i < 10; i++) rib.set(`10.2.${i}.0/24`, '10.0.0.1', route(`10.2.${i}.0/24`, '10.0.0.1', 100));
  assert.is(rib.select(4).length, 4);
  assert.is(rib.dirtyCount, 6);
  assert.is(rib.select().length, 6);
  assert.is(rib.size, 10);
  assert.is(rib.kernelChanges(rib.prefixes()).length, 10, 'every learned best route goes to the kernel');
});

test('select(max, until): a deadline already past stops it at its first clock read (256 prefixes), the rest stay dirty', () => {
  const rib = new LocRib();
  for (let i = 0; i < 600; i++) rib.set(`10.3.${i >> 8}.${i & 255}/32`, '10.0.0.1', route(`10.3.${i >> 8}.${i & 255}/32`, '10.0.0.1', 100));
  assert.is(rib.select(Infinity, performance.now() - 1).length, 256, 'settled up to the first clock read');
  assert.is(rib.dirtyCount, 344, 'the rest wait for a later turn');
  assert.is(rib.select().length, 344, 'and are settled then');
});

test.run();
