// RFC 7606 and route-refresh handling to the letter, one golden UPDATE or ROUTE-REFRESH per
// case: what the session must do with it (classifier verdict, or the refresh rule).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { classifyUpdateBytes, decodeMessage, routeRefreshVerdict, type UpdateVerdict } from '../../src/bgp/index.js';
import { MARKER, hex } from './_vectors.js';

const IBGP = { fourOctetAs: true, ebgp: false };
const EBGP = { fourOctetAs: true, ebgp: true };
// ORIGIN IGP, AS_PATH SEQ [65001], NEXT_HOP 10.0.0.1: 20 octets.
const GOOD = '40 01 01 00  40 02 06 02 01 0000fde9  40 03 04 0a000001';
const NLRI = '10 0a01'; // 10.1.0.0/16

function routes(v: UpdateVerdict, what: string) {
  if (v.kind !== 'routes') throw new Error(`${what}: expected a routes verdict, got ${v.kind}`);
  return v;
}

test('RFC 7606 4: an attribute length overrunning the attribute list is treat-as-withdraw (3/5), NLRI still withdrawn', () => {
  // MULTI_EXIT_DISC says 8 octets; 4 are left in the 27-octet list.
  const msg = hex(`${MARKER} 0035 02 0000 001b ${GOOD} 80 04 08 00000005 ${NLRI}`);
  const v = routes(classifyUpdateBytes(msg, IBGP, [4]), 'overrun');
  assert.is(v.treatAsWithdraw?.code, 3, 'UPDATE Message Error');
  assert.is(v.treatAsWithdraw?.subcode, 5, 'Attribute Length Error');
  assert.equal(v.announced, [], 'nothing announced');
  assert.equal(v.withdrawn, ['10.1.0.0/16'], 'the NLRI located by Total Path Attribute Length are withdrawn');
});

test('RFC 7606 4: one octet left at the end of the attribute list is treat-as-withdraw (3/1)', () => {
  const v = routes(classifyUpdateBytes(hex(`${MARKER} 002f 02 0000 0015 ${GOOD} 40 ${NLRI}`), IBGP, [4]), 'one octet');
  assert.is(v.treatAsWithdraw?.subcode, 1, 'Malformed Attribute List');
  assert.equal(v.withdrawn, ['10.1.0.0/16'], 'NLRI withdrawn');
  assert.equal(v.announced, [], 'nothing announced');
});

test('RFC 7606 4: two octets left at the end of the attribute list is treat-as-withdraw (3/1)', () => {
  const v = routes(classifyUpdateBytes(hex(`${MARKER} 0030 02 0000 0016 ${GOOD} 40 04 ${NLRI}`), IBGP, [4]), 'two octets');
  assert.is(v.treatAsWithdraw?.subcode, 1, 'Malformed Attribute List');
  assert.equal(v.withdrawn, ['10.1.0.0/16'], 'NLRI withdrawn');
});

test('RFC 7606 4: three octets of an extended-length header left is treat-as-withdraw (3/1)', () => {
  const v = routes(classifyUpdateBytes(hex(`${MARKER} 0031 02 0000 0017 ${GOOD} d0 63 00 ${NLRI}`), IBGP, [4]), 'ext header');
  assert.is(v.treatAsWithdraw?.subcode, 1, 'Malformed Attribute List');
  assert.equal(v.withdrawn, ['10.1.0.0/16'], 'NLRI withdrawn');
});

test('an overrun with no NLRI at all withdraws nothing and is not End-of-RIB', () => {
  // ORIGIN says 5 octets; 2 are left. Nothing else in the UPDATE.
  const v = routes(classifyUpdateBytes(hex(`${MARKER} 001c 02 0000 0005 40 01 05 00 00`), IBGP, [4]), 'no NLRI');
  assert.is(v.treatAsWithdraw?.subcode, 5, 'Attribute Length Error');
  assert.equal([v.withdrawn, v.announced], [[], []], 'nothing to withdraw or announce');
});

test('RFC 7606 5.3: an MP_REACH_NLRI overrunning the list hides its NLRI: session reset (3/5)', () => {
  // MP_REACH says 32 octets; 20 are left.
  const msg = hex(`${MARKER} 003b 02 0000 0024 40 01 01 00 40 02 06 02 01 0000fde9 80 0e 20 0002 01 10 fd000000000000000000000000000001`);
  const v = classifyUpdateBytes(msg, IBGP, [4, 6]);
  assert.is(v.kind, 'session-reset', 'session reset');
  if (v.kind === 'session-reset') assert.equal([v.error.code, v.error.subcode], [3, 5], 'NOTIFICATION 3/5');
});

test('RFC 7606 7.5: a malformed LOCAL_PREF from an eBGP peer is discarded, the route stays', () => {
  const msg = hex(`${MARKER} 0034 02 0000 001a ${GOOD} 40 05 03 000064 ${NLRI}`);
  const v = routes(classifyUpdateBytes(msg, EBGP, [4]), 'eBGP LOCAL_PREF');
  assert.is(v.treatAsWithdraw, null, 'not treat-as-withdraw');
  assert.equal(v.announced, [{ family: 4, prefixes: ['10.1.0.0/16'], nextHop: '10.0.0.1' }], 'route announced');
  assert.ok(v.discarded.some((d) => /LOCAL_PREF/.test(d)), `LOCAL_PREF named as discarded: ${JSON.stringify(v.discarded)}`);
  const m = decodeMessage(msg, EBGP);
  assert.is(m.type === 'update' ? m.attrs?.localPref : 'not an update', undefined, 'no LOCAL_PREF value kept');
});

test('RFC 7606 7.5: the same malformed LOCAL_PREF from an iBGP peer is treat-as-withdraw (3/5)', () => {
  const msg = hex(`${MARKER} 0034 02 0000 001a ${GOOD} 40 05 03 000064 ${NLRI}`);
  const v = routes(classifyUpdateBytes(msg, IBGP, [4]), 'iBGP LOCAL_PREF');
  assert.is(v.treatAsWithdraw?.subcode, 5, 'Attribute Length Error');
  assert.equal(v.withdrawn, ['10.1.0.0/16'], 'NLRI withdrawn');
});

test('RFC 7606 7.5: a well-formed LOCAL_PREF from an eBGP peer is discarded too', () => {
  const msg = hex(`${MARKER} 0035 02 0000 001b ${GOOD} 40 05 04 000000c8 ${NLRI}`);
  const m = decodeMessage(msg, EBGP);
  assert.is(m.type === 'update' ? m.attrs?.localPref : 'not an update', undefined, 'LOCAL_PREF 200 from eBGP not kept');
  assert.is(routes(classifyUpdateBytes(msg, EBGP, [4]), 'eBGP good LOCAL_PREF').announced.length, 1, 'route announced');
});

const refresh = (body: string) => {
  const m = decodeMessage(hex(`${MARKER} 0017 05 ${body}`), IBGP);
  if (m.type !== 'route-refresh') throw new Error(`${body} did not decode as ROUTE-REFRESH`);
  return m;
};

test('RFC 2918 3: ROUTE-REFRESH for IPv4 unicast on an IPv4 session is answered', () => {
  assert.equal(routeRefreshVerdict(refresh('0001 00 01'), [4]), { kind: 'resend', family: 4 }, 'resend IPv4');
});

test('RFC 2918 3: ROUTE-REFRESH for an AFI not negotiated (IPv6 on an IPv4-only session) is ignored', () => {
  assert.is(routeRefreshVerdict(refresh('0002 00 01'), [4]).kind, 'ignore', 'IPv6 not negotiated');
});

test('RFC 2918 3: ROUTE-REFRESH for a SAFI not negotiated (IPv4 multicast) is ignored', () => {
  assert.is(routeRefreshVerdict(refresh('0001 00 02'), [4]).kind, 'ignore', 'SAFI 2 not negotiated');
});

test('RFC 7313 5: ROUTE-REFRESH with a reserved subtype (255, 3) is ignored', () => {
  assert.is(routeRefreshVerdict(refresh('0001 ff 01'), [4]).kind, 'ignore', 'subtype 255');
  assert.is(routeRefreshVerdict(refresh('0001 03 01'), [4]).kind, 'ignore', 'subtype 3');
});

test('RFC 7313 4: BoRR and EoRR (subtypes 1, 2) ask nothing of us', () => {
  assert.is(routeRefreshVerdict(refresh('0001 01 01'), [4]).kind, 'ignore', 'BoRR');
  assert.is(routeRefreshVerdict(refresh('0001 02 01'), [4]).kind, 'ignore', 'EoRR');
});

test.run();
