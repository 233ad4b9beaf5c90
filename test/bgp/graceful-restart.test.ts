// The restarting speaker's deferral rule (RFC 4724 4.1, bounded by the peers that are up):
// pure, over plain peer views.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { initialSyncDone, type SyncPeer } from '../../src/bgp/index.js';

const upDone: SyncPeer = { established: true, families: [4, 6], eor: new Set([4, 6]), opening: false, waitedSec: 1 };
const upWaiting: SyncPeer = { ...upDone, eor: new Set([4]) };
const downLong: SyncPeer = { established: false, families: [], eor: new Set(), opening: false, waitedSec: 11 };
const downShort: SyncPeer = { ...downLong, waitedSec: 2 };
const opening: SyncPeer = { ...downLong, opening: true };

test('every peer up with all its End-of-RIBs: done', () => {
  assert.ok(initialSyncDone([upDone, upDone], 10), 'all up and done');
  assert.not.ok(initialSyncDone([upDone, upWaiting], 10), 'one up peer still owes IPv6 End-of-RIB');
});

test('a peer down for downAfterSec does not hold back the peers that are up', () => {
  assert.ok(initialSyncDone([upDone, downLong], 10), 'down 11 s > 10 s: not waited for');
  assert.not.ok(initialSyncDone([upDone, downShort], 10), 'down only 2 s: still waited for');
  assert.not.ok(initialSyncDone([upDone, opening], 10), 'a peer exchanging OPENs is coming up: waited for');
});

test('with no peer up, only the timeout ends the deferral; with no peer configured, nothing to wait for', () => {
  assert.not.ok(initialSyncDone([downLong, downLong], 10), 'all down: keep waiting (eorTimeoutSec bounds it)');
  assert.ok(initialSyncDone([], 10), 'no peers: done');
});

test.run();
