// Collision detection (RFC 4271 6.8) and timer ownership (section 8) as pure rules, every
// state of the other connection, no socket.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { STATES, bgpIdNumber, mayConnect, resolveCollision, supersededBy, type State } from '../../src/bgp/index.js';

const HIGH = '10.0.0.9';
const LOW = '10.0.0.1';

test('an OPEN while another connection is Established: the new one closes, whatever the identifiers', () => {
  for (const initiatedLocally of [true, false]) {
    for (const [local, peer] of [[HIGH, LOW], [LOW, HIGH]] as const) {
      const v = resolveCollision({ state: 'Established', peerGr: false }, { initiatedLocally, hasGr: true }, local, peer);
      assert.is(v, 'close-new', `no GR on the old session, initiatedLocally=${initiatedLocally}, local ${local}: close the new connection`);
    }
  }
});

test('an OPEN on a connection we opened is never taken as the peer restarting', () => {
  const v = resolveCollision({ state: 'Established', peerGr: true }, { initiatedLocally: true, hasGr: true }, HIGH, LOW);
  assert.is(v, 'close-new', 'our own connection with the peer\'s GR OPEN collides with the Established one');
});

test('the peer connecting again with GR while we are Established (GR negotiated) is its restart (RFC 4724)', () => {
  assert.is(resolveCollision({ state: 'Established', peerGr: true }, { initiatedLocally: false, hasGr: true }, LOW, HIGH), 'peer-restarted', 'restart detected');
  assert.is(resolveCollision({ state: 'Established', peerGr: true }, { initiatedLocally: false, hasGr: false }, LOW, HIGH), 'close-new', 'new OPEN without GR: not a graceful restart');
  assert.is(resolveCollision({ state: 'Established', peerGr: false }, { initiatedLocally: false, hasGr: true }, LOW, HIGH), 'close-new', 'old session without GR: not a graceful restart');
});

test('OpenSent / OpenConfirm: the connection opened by the higher BGP identifier survives', () => {
  for (const state of ['OpenSent', 'OpenConfirm'] as const) {
    assert.is(resolveCollision({ state, peerGr: false }, { initiatedLocally: true, hasGr: false }, HIGH, LOW), 'close-other', `${state}: we are higher, ours arrives: keep ours`);
    assert.is(resolveCollision({ state, peerGr: false }, { initiatedLocally: false, hasGr: false }, HIGH, LOW), 'close-new', `${state}: we are higher, theirs arrives: close it`);
    assert.is(resolveCollision({ state, peerGr: false }, { initiatedLocally: true, hasGr: false }, LOW, HIGH), 'close-new', `${state}: they are higher, ours arrives: close ours`);
    assert.is(resolveCollision({ state, peerGr: false }, { initiatedLocally: false, hasGr: false }, LOW, HIGH), 'close-other', `${state}: they are higher, theirs arrives: keep theirs`);
  }
});

test('identifiers compare as unsigned 32-bit numbers, not as text', () => {
  assert.ok(bgpIdNumber('10.0.0.10') > bgpIdNumber('10.0.0.9'), '10.0.0.10 > 10.0.0.9');
  assert.ok(bgpIdNumber('200.0.0.1') > bgpIdNumber('100.255.255.255'), 'high first octet wins (no sign)');
  assert.is(resolveCollision({ state: 'OpenConfirm', peerGr: false }, { initiatedLocally: true, hasGr: false }, '10.0.0.10', '10.0.0.9'), 'close-other', 'numeric compare decides');
});

test('no collision with a connection that exchanged nothing (Idle, Connect, Active)', () => {
  for (const state of ['Idle', 'Connect', 'Active'] as const) {
    assert.is(resolveCollision({ state, peerGr: true }, { initiatedLocally: false, hasGr: true }, HIGH, LOW), 'none', state);
  }
});

test('timer ownership: no connection attempt while another connection is OpenConfirm or Established', () => {
  const blocking: State[] = ['OpenConfirm', 'Established'];
  for (const s of STATES) {
    assert.is(mayConnect([s]), !blocking.includes(s), `another connection in ${s}`);
  }
  assert.ok(mayConnect([]), 'no other connection: may connect');
  assert.not.ok(mayConnect(['Active', 'Established']), 'any Established one blocks');
});

test('an Established session supersedes only connections that never sent or got an OPEN', () => {
  const superseded = STATES.filter(supersededBy);
  assert.equal(superseded, ['Idle', 'Connect', 'Active'], 'Idle, Connect and Active are superseded');
});



test('a session told it may not connect (another connection is up) goes Idle without opening a socket', async () => {
  const { Session } = await import('../../src/bgp/session.js');
  const { silentLogger } = await import('../../src/log/index.js');
  const seen: string[] = [];
  const host = {
    logger: silentLogger(), localAsn: () => 65001, routerId: () => '10.0.0.1',
    openCapabilities: () => ({ multiprotocol: [], routeRefresh: true, fourOctetAs: 65001, gracefulRestart: null, other: [] }),
    checkOpen: () => null, established: () => { seen.push('established'); }, down: () => { seen.push('down'); },
    update: () => {}, routeRefresh: () => {}, stateChanged: () => {}, idle: () => { seen.push('idle'); },
    mayConnect: () => { seen.push('asked'); return false; },
  };
  const s = new Session({ address: '127.0.0.1', port: 1, asn: 65002 }, host);
  s.fire('Start');
  assert.is(s.state, 'Idle', 'back to Idle');
  assert.is(s.socket, null, 'no socket was opened');
  assert.equal(seen, ['asked', 'idle'], 'asked once, then went Idle, never established');
});
test.run();
