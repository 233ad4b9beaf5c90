// Trellis speakers against each other and against scripted raw peers on loopback.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSpeaker, encodeUpdateRaw, encodeRouteRefresh, type Speaker, type PeerConfig } from '../../src/bgp/index.js';
import { freePort, learnedTable, rawPeer, sleep, waitFor } from './_helpers.js';

const started: Speaker[] = [];
async function speaker(addr: string, asn: number, extra: Partial<Parameters<typeof createSpeaker>[0]> = {}) {
  const port = await freePort(addr);
  const s = createSpeaker({ routerId: addr, localAsn: asn, listen: { host: addr, port }, ...extra });
  started.push(s);
  await s.listening;
  return { s, port, addr };
}
const peer = (to: { addr: string; port: number }, asn: number, from: string, more: Partial<PeerConfig> = {}): PeerConfig =>
  ({ address: to.addr, port: to.port, asn, localAddress: from, connectRetrySec: 1, ...more });
const state = (s: Speaker, addr: string) => s.status().find((p) => p.peer === addr)?.state;

test.after.each(async () => {
  for (const s of started.splice(0)) await s.stop();
});

test('iBGP between two speakers: announce, learn with next hop, withdraw; status counts', async () => {
  const a = await speaker('127.0.0.11', 64512);
  const b = await speaker('127.0.0.12', 64512);
  const tb = learnedTable(b.s);
  a.s.configure({ peers: [peer(b, 64512, a.addr)] });
  b.s.configure({ peers: [peer(a, 64512, b.addr)] });
  a.s.announce([{ prefix: '10.10.1.0/26', communities: ['64512:100'] }, { prefix: '10.10.2.0/26' }]);
  await waitFor('B learns both prefixes from A', () => tb.size === 2);
  assert.is(tb.get('10.10.1.0/26'), '127.0.0.11', 'next hop is A (self for locally originated)');
  assert.is(state(a.s, '127.0.0.12'), 'Established', 'collision resolved to one Established session');
  const st = a.s.status()[0]!;
  assert.is(st.advertised, 2, 'A advertised 2');
  assert.is(b.s.status()[0]!.received, 2, 'B received 2');
  a.s.withdraw(['10.10.1.0/26']);
  await waitFor('B drops the withdrawn prefix', () => tb.size === 1 && !tb.has('10.10.1.0/26'));
  assert.equal(b.s.learnedRoutes().map((r) => r.prefix), ['10.10.2.0/26']);
});

test('eBGP follows RFC 8212: nothing without policy; LocalBlocks/Accept exchanges, AS_PATH loop is refused', async () => {
  const a = await speaker('127.0.0.21', 65001);
  const b = await speaker('127.0.0.22', 65002);
  const tb = learnedTable(b.s);
  a.s.configure({ peers: [peer(b, 65002, a.addr)] });
  b.s.configure({ peers: [peer(a, 65001, b.addr)] });
  a.s.announce([{ prefix: '10.20.0.0/24' }]);
  await waitFor('eBGP session up', () => state(a.s, '127.0.0.22') === 'Established');
  await sleep(300);
  assert.is(a.s.status()[0]!.advertised, 0, 'default export Reject: nothing advertised');
  assert.is(tb.size, 0);
  a.s.configure({ peers: [peer(b, 65002, a.addr, { exportPolicy: 'LocalBlocks' })] });
  await waitFor('B receives into Adj-RIB-In', () => b.s.status()[0]!.received === 1);
  await sleep(200);
  assert.is(tb.size, 0, 'default import Reject: not in Loc-RIB');
  b.s.configure({ peers: [peer(a, 65001, b.addr, { importPolicy: 'Accept' })] });
  await waitFor('B accepts after import policy change (in place, no reset)', () => tb.get('10.20.0.0/24') === '127.0.0.21');
  assert.is(state(b.s, '127.0.0.21'), 'Established', 'policy change kept the session');
});

test('filters on a live session: an export rule on a local route\'s interface, an import rule; changing them moves routes, not the session', async () => {
  const a = await speaker('127.0.0.41', 64512);
  const b = await speaker('127.0.0.42', 64512);
  const tb = learnedTable(b.s);
  const noVeths = { name: 'no-veths', exportV4: [{ interface: 'trl*', action: 'Reject' as const }] };
  a.s.configure({ peers: [peer(b, 64512, a.addr, { filters: [noVeths] })] });
  b.s.configure({ peers: [peer(a, 64512, b.addr, { filters: [{ name: 'no-10-66', importV4: [{ cidr: '10.66.0.0/16', matchOperator: 'In', action: 'Reject' }] }] })] });
  a.s.announce([{ prefix: '10.65.0.0/26' }, { prefix: '10.65.9.7/32', interface: 'trlc7' }, { prefix: '10.66.1.0/24' }]);
  await waitFor('B learns the block', () => tb.has('10.65.0.0/26'));
  await waitFor('B holds what A sent in its Adj-RIB-In', () => b.s.status()[0]?.received === 2);
  assert.equal([...tb.keys()], ['10.65.0.0/26'], 'the veth route was not sent, 10.66.1.0/24 not imported');
  assert.is(a.s.status()[0]!.advertised, 2, 'A\'s Adj-RIB-Out: the block and 10.66.1.0/24');
  const sinceB = Date.now() - b.s.status()[0]!.uptimeSec * 1000;

  a.s.configure({ peers: [peer(b, 64512, a.addr, { filters: [] })] });
  b.s.configure({ peers: [peer(a, 64512, b.addr, { filters: [{ name: 'no-10-65', importV4: [{ cidr: '10.65.0.0/16', matchOperator: 'In', prefixLength: { min: 32 }, action: 'Reject' }] }] })] });
  await waitFor('B now takes 10.66.1.0/24; A sends the veth route, which B rejects', () => tb.has('10.66.1.0/24') && b.s.status()[0]?.received === 3);
  assert.equal([...tb.keys()].sort(), ['10.65.0.0/26', '10.66.1.0/24']);
  a.s.announce([{ prefix: '10.65.9.7/32', interface: 'eth0' }]);
  a.s.configure({ peers: [peer(b, 64512, a.addr, { filters: [noVeths] })] });
  await waitFor('a changed interface is seen by the export rule: no longer trl*, still sent', () => b.s.status()[0]?.received === 3 && a.s.status()[0]?.advertised === 3);
  for (const [s, other] of [[a.s, '127.0.0.42'], [b.s, '127.0.0.41']] as const) assert.is(state(s, other), 'Established', 'filter changes kept the session');
  assert.ok(Date.now() - b.s.status()[0]!.uptimeSec * 1000 - sinceB < 1500, 'B\'s session is the one it had');
});

test('a filter change sends the peer only what it changes, not the whole table again', async () => {
  const a = await speaker('127.0.0.43', 64512);
  const blocks = Array.from({ length: 50 }, (_, i) => ({ prefix: `10.67.${i}.0/24` }));
  a.s.configure({ peers: [{ address: '127.0.0.44', asn: 64512, passive: true, localAddress: a.addr }] });
  a.s.announce(blocks);
  const raw = await rawPeer({ host: a.addr, port: a.port, localAddress: '127.0.0.44', asn: 64512, bgpId: '127.0.0.44' });
  try {
    const announced = (from: number) => raw.messages.slice(from).flatMap((m) => (m.type === 'update' ? m.nlri : []));
    const withdrawn = (from: number) => raw.messages.slice(from).flatMap((m) => (m.type === 'update' ? m.withdrawn : []));
    await waitFor('the peer has all 50 blocks', () => announced(0).length === 50);
    let mark = raw.messages.length;
    a.s.configure({ peers: [{ address: '127.0.0.44', asn: 64512, passive: true, localAddress: a.addr, filters: [{ name: 'f', exportV4: [{ cidr: '10.67.7.0/24', matchOperator: 'Equal', action: 'Reject' }] }] }] });
    await waitFor('the rejected block is withdrawn', () => withdrawn(mark).includes('10.67.7.0/24'));
    assert.equal([withdrawn(mark), announced(mark)], [['10.67.7.0/24'], []], 'one withdrawal, nothing re-sent');
    mark = raw.messages.length;
    a.s.configure({ peers: [{ address: '127.0.0.44', asn: 64512, passive: true, localAddress: a.addr, filters: [] }] });
    await waitFor('the block is announced again', () => announced(mark).includes('10.67.7.0/24'));
    assert.equal([withdrawn(mark), announced(mark)], [[], ['10.67.7.0/24']], 'one announcement, nothing else');
  } finally {
    raw.close();
  }
});

test('malformed UPDATE: right NOTIFICATION, session reset, other sessions untouched, process alive', async () => {
  const a = await speaker('127.0.0.31', 64512);
  const b = await speaker('127.0.0.32', 64512);
  a.s.configure({ peers: [peer(b, 64512, a.addr), { address: '127.0.0.33', asn: 64512, passive: true }] });
  b.s.configure({ peers: [peer(a, 64512, b.addr)] });
  await waitFor('good session up', () => state(a.s, '127.0.0.32') === 'Established');
  const raw = await rawPeer({ host: a.addr, port: a.port, localAddress: '127.0.0.33', asn: 64512, bgpId: '127.0.0.33' });
  await waitFor('raw peer Established', () => state(a.s, '127.0.0.33') === 'Established');
  // NLRI prefix length 40 on IPv4: invalid network field.
  raw.send(encodeUpdateRaw(Buffer.alloc(0), Buffer.alloc(0), Buffer.from([40, 10, 0, 0, 0, 0])));
  await raw.closed;
  const n = raw.messages.find((m) => m.type === 'notification');
  assert.ok(n && n.type === 'notification' && n.code === 3 && n.subcode === 10, `NOTIFICATION 3/10 sent, got ${JSON.stringify(n)}`);
  const st = a.s.status().find((p) => p.peer === '127.0.0.33')!;
  assert.match(st.lastError ?? '', /UPDATE Message Error\/10/, 'status names the error');
  assert.is(state(a.s, '127.0.0.32'), 'Established', 'the other session is untouched');
});

test('a silent peer: hold timer expiry sends NOTIFICATION 4 and drops its routes', async () => {
  const a = await speaker('127.0.0.41', 64512);
  const ta = learnedTable(a.s);
  a.s.configure({ peers: [{ address: '127.0.0.42', asn: 64512, passive: true, holdTimeSec: 3 }] });
  const raw = await rawPeer({ host: a.addr, port: a.port, localAddress: '127.0.0.42', asn: 64512, bgpId: '127.0.0.42', holdTime: 3 });
  await waitFor('Established', () => state(a.s, '127.0.0.42') === 'Established');
  const attrs = Buffer.from('400101004002004003047f00002a' + '400504' + '00000064', 'hex');
  raw.send(encodeUpdateRaw(Buffer.alloc(0), attrs, Buffer.from([24, 10, 42, 0])));
  await waitFor('route learned', () => ta.get('10.42.0.0/24') === '127.0.0.42');
  const t0 = Date.now();
  await raw.closed;
  const waited = Date.now() - t0;
  const n = raw.messages.find((m) => m.type === 'notification');
  assert.ok(n && n.type === 'notification' && n.code === 4, 'Hold Timer Expired NOTIFICATION');
  assert.ok(waited > 1500, `hold timer waited for silence (${waited} ms)`);
  await waitFor('routes of the dead peer removed', () => ta.size === 0);
});

test('TCP-MD5: two speakers with the same key establish; a different key, or none, never does', async () => {
  const a = await speaker('127.0.0.51', 64512);
  const b = await speaker('127.0.0.52', 64512);
  assert.equal(a.s.configure({ peers: [peer(b, 64512, a.addr, { password: 'k1' })] }).refused, [], 'a peer with a password is accepted');
  b.s.configure({ peers: [peer(a, 64512, b.addr, { password: 'k1' })] });
  await waitFor('signed session Established', () => state(a.s, b.addr) === 'Established' && state(b.s, a.addr) === 'Established');
  // b changes its key: a's kernel drops b's segments, so no session comes back.
  b.s.configure({ peers: [peer(a, 64512, b.addr, { password: 'k2' })] });
  await waitFor('old session gone after the key change', () => state(a.s, b.addr) !== 'Established');
  for (let i = 0; i < 8; i++) {
    await sleep(400);
    assert.is.not(state(a.s, b.addr), 'Established', 'a different key never establishes (a)');
    assert.is.not(state(b.s, a.addr), 'Established', 'a different key never establishes (b)');
  }
  b.s.configure({ peers: [peer(a, 64512, b.addr)] });
  for (let i = 0; i < 8; i++) {
    await sleep(400);
    assert.is.not(state(a.s, b.addr), 'Established', 'no key against a key never establishes');
  }
  const tooLong = a.s.configure({ peers: [peer(b, 64512, a.addr, { password: 'x'.repeat(81) })] });
  assert.is(tooLong.refused.length, 1, 'an 81-byte key is refused');
  assert.match(tooLong.refused[0]!.error.message, /^TCP-MD5 password is 81 bytes/, 'the reason, without a peer prefix');
});

test('route reflection: client routes reach other clients with next hop unchanged; plain iBGP does not re-advertise', async () => {
  const rr = await speaker('127.0.0.61', 64512);
  const c1 = await speaker('127.0.0.62', 64512);
  const c2 = await speaker('127.0.0.63', 64512);
  const t2 = learnedTable(c2.s);
  rr.s.configure({ peers: [peer(c1, 64512, rr.addr), peer(c2, 64512, rr.addr)] });
  c1.s.configure({ peers: [peer(rr, 64512, c1.addr)] });
  c2.s.configure({ peers: [peer(rr, 64512, c2.addr)] });
  c1.s.announce([{ prefix: '10.61.0.0/24' }]);
  await waitFor('RR learns the client route', () => rr.s.status().find((p) => p.peer === '127.0.0.62')?.received === 1);
  await sleep(300);
  assert.is(t2.size, 0, 'without reflection iBGP routes are not passed on');
  rr.s.configure({ clusterId: '1.1.1.1', peers: [peer(c1, 64512, rr.addr, { routeReflectorClient: true }), peer(c2, 64512, rr.addr, { routeReflectorClient: true })] });
  await waitFor('client 2 learns the reflected route', () => t2.get('10.61.0.0/24') === '127.0.0.62');
});

test('graceful restart: helper keeps routes stale across a restart, then End-of-RIB removes what was not re-announced', async () => {
  const aPort = await freePort('127.0.0.71');
  const b = await speaker('127.0.0.72', 64512);
  const tb = learnedTable(b.s);
  const changes: string[] = [];
  b.s.on('routes', (cs) => { for (const c of cs) changes.push(`${c.withdrawn ? '-' : '+'}${c.prefix}`); });
  b.s.configure({ peers: [{ address: '127.0.0.71', asn: 64512, passive: true }] });
  const mk = (restarting: boolean) => {
    const s = createSpeaker({ routerId: '127.0.0.71', localAsn: 64512, listen: { host: '127.0.0.71', port: aPort }, gracefulRestart: { restarting, restartTimeSec: 30, eorTimeoutSec: 5 } });
    started.push(s);
    s.configure({ peers: [peer(b, 64512, '127.0.0.71')] });
    return s;
  };
  const a1 = mk(false);
  a1.announce([{ prefix: '10.71.1.0/24' }, { prefix: '10.71.2.0/24' }]);
  await waitFor('B learns both', () => tb.size === 2);
  await a1.stop({ graceful: true });
  await waitFor('B marks A stale', () => b.s.status()[0]!.stale === true);
  assert.is(tb.size, 2, 'routes kept while A restarts');
  const a2 = mk(true);
  a2.announce([{ prefix: '10.71.1.0/24' }]);
  await waitFor('B back to fresh routes after EoR', () => b.s.status()[0]!.stale !== true && b.s.status()[0]!.state === 'Established');
  await waitFor('prefix not re-announced is gone', () => tb.size === 1);
  assert.ok(tb.has('10.71.1.0/24'), 're-announced prefix stays');
  assert.ok(changes.includes('-10.71.2.0/24'), 'the stale prefix was withdrawn after End-of-RIB');
  assert.is(changes.filter((c) => c === '-10.71.1.0/24').length, 0, 'the kept route was never withdrawn');
});

test('restarting with one peer down: the up peer gets our routes and End-of-RIB after peerDownAfterSec, not the whole deferral', async () => {
  const b = await speaker('127.0.0.76', 64512);
  const tb = learnedTable(b.s);
  b.s.configure({ peers: [{ address: '127.0.0.75', asn: 64512, passive: true }] });
  const aPort = await freePort('127.0.0.75');
  const deadPort = await freePort('127.0.0.77');
  const a = createSpeaker({ routerId: '127.0.0.75', localAsn: 64512, listen: { host: '127.0.0.75', port: aPort }, gracefulRestart: { restarting: true, eorTimeoutSec: 60, peerDownAfterSec: 3 } });
  started.push(a);
  await a.listening;
  let syncedAt = 0;
  let info: unknown = null;
  a.on('synced', (i) => { syncedAt = Date.now(); info = i; });
  const t0 = Date.now();
  // 127.0.0.77 has nothing listening: connection refused, the peer never comes up.
  a.configure({ peers: [peer(b, 64512, '127.0.0.75'), { address: '127.0.0.77', port: deadPort, asn: 64512, localAddress: '127.0.0.75', connectRetrySec: 1 }] });
  a.announce([{ prefix: '10.75.0.0/24' }]);
  await waitFor('A is synced although 127.0.0.77 is down', () => syncedAt > 0, 20_000);
  assert.ok(syncedAt - t0 >= 3000, `not before the down peer had peerDownAfterSec (${syncedAt - t0} ms)`);
  assert.equal(info, { peers: 2, timedOut: false }, 'ended by the rule, not by the 60 s timeout');
  await waitFor('B (up) learns A\'s route', () => tb.get('10.75.0.0/24') === '127.0.0.75', 10_000);
  assert.is.not(state(a, '127.0.0.77'), 'Established', 'the down peer is still down');
});

test('a peer removed from configuration gets Cease and its routes go', async () => {
  const a = await speaker('127.0.0.81', 64512);
  const b = await speaker('127.0.0.82', 64512);
  const tb = learnedTable(b.s);
  a.s.configure({ peers: [peer(b, 64512, a.addr)] });
  b.s.configure({ peers: [peer(a, 64512, b.addr, { passive: true })] });
  a.s.announce([{ prefix: '10.81.0.0/24' }]);
  await waitFor('learned', () => tb.size === 1);
  a.s.configure({ peers: [] });
  await waitFor('routes withdrawn after Cease', () => tb.size === 0);
  assert.match(b.s.status()[0]!.lastError ?? '', /Cease\/3/, 'B saw Cease / peer de-configured');
});

test('RFC 7606 on a live session: a bad ORIGIN withdraws the route, the session stays; ROUTE-REFRESH resends our routes', async () => {
  const a = await speaker('127.0.0.87', 64512);
  const ta = learnedTable(a.s);
  a.s.configure({ peers: [{ address: '127.0.0.88', asn: 64512, passive: true }] });
  a.s.announce([{ prefix: '10.91.0.0/24' }]);
  const raw = await rawPeer({ host: a.addr, port: a.port, localAddress: '127.0.0.88', asn: 64512, bgpId: '127.0.0.88' });
  await waitFor('Established', () => state(a.s, '127.0.0.88') === 'Established');
  const nlri = Buffer.from([24, 10, 92, 0]);
  const good = Buffer.from('40010100' + '400200' + '4003047f000058' + '40050400000064', 'hex');
  raw.send(encodeUpdateRaw(Buffer.alloc(0), good, nlri));
  await waitFor('route learned', () => ta.get('10.92.0.0/24') === '127.0.0.88');
  const badOrigin = Buffer.from('40010107' + '400200' + '4003047f000058' + '40050400000064', 'hex');
  raw.send(encodeUpdateRaw(Buffer.alloc(0), badOrigin, nlri));
  await waitFor('route treated as withdrawn', () => !ta.has('10.92.0.0/24'));
  assert.is(state(a.s, '127.0.0.88'), 'Established', 'no session reset for a treat-as-withdraw error');
  assert.not.ok(raw.messages.some((m) => m.type === 'notification'), 'no NOTIFICATION');
  const updatesFor = () => raw.messages.filter((m) => m.type === 'update' && m.nlri.includes('10.91.0.0/24')).length;
  await waitFor('our prefix arrived once', () => updatesFor() === 1);
  raw.send(encodeRouteRefresh(4));
  await waitFor('our prefix resent after ROUTE-REFRESH', () => updatesFor() === 2);
  raw.close();
});

test.run();
