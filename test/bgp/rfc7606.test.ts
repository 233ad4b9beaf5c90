// RFC 7606 and route-refresh handling to the letter, one golden UPDATE or ROUTE-REFRESH per
// case: what the session must do with it (classifier verdict, or the refresh rule).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BgpError, classifyUpdateBytes, decodeMessage, routeRefreshVerdict, type UpdateVerdict } from '../../src/bgp/index.js';
import { MARKER, hex } from './_vectors.js';

const IBGP = { fourOctetAs: true, ebgp: false };
const EBGP = { fourOctetAs: true, ebgp: true };
const TWO_OCTET = { fourOctetAs: false, ebgp: false };
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

// The README's error-handling table (BGP section), row by row: each row's claims as golden
// messages, so a row that stops being true fails here by name.
type Want =
  | { reset: [number, number] }
  | { withdraw: number }
  | { discard: RegExp };
const GOOD2 = '40 01 01 00  40 02 04 02 01 fde9  40 03 04 0a000001'; // AS_PATH of 2-octet ASes
const README_ROWS: { row: string; msg: string; ctx?: typeof IBGP; want: Want }[] = [
  { row: 'NOTIFICATION of 20 octets: header length error', msg: `${MARKER} 0014 03 06`, want: { reset: [1, 2] } },
  { row: 'ROUTE-REFRESH of 22 octets: header length error', msg: `${MARKER} 0016 05 0001 00`, want: { reset: [1, 2] } },
  { row: 'ROUTE-REFRESH body of 6 octets: 7/1', msg: `${MARKER} 0019 05 0001 00 01 0000`, want: { reset: [7, 1] } },
  { row: 'Total Path Attribute Length overruns the UPDATE', msg: `${MARKER} 0017 02 0000 0005`, want: { reset: [3, 1] } },
  { row: 'MP_UNREACH_NLRI shorter than its fixed fields', msg: `${MARKER} 001c 02 0000 0005 80 0f 02 0002`, want: { reset: [3, 9] } },
  { row: 'MP_UNREACH_NLRI with the transitive flag', msg: `${MARKER} 001d 02 0000 0006 c0 0f 03 0002 01`, want: { reset: [3, 4] } },
  { row: 'MP_REACH_NLRI whose NLRI does not parse', msg: `${MARKER} 0032 02 0000 001b 40 01 01 00 40 02 06 02 01 0000fde9 80 0e 0b 0001 01 04 0a000001 00 21 0a`, want: { reset: [3, 10] } },
  { row: 'NEXT_HOP of 5 octets', msg: `${MARKER} 002f 02 0000 0015 40 01 01 00 40 02 06 02 01 0000fde9 40 03 05 0a00000100 ${NLRI}`, want: { withdraw: 5 } },
  { row: 'AS_PATH marked optional', msg: `${MARKER} 002e 02 0000 0014 40 01 01 00 c0 02 06 02 01 0000fde9 40 03 04 0a000001 ${NLRI}`, want: { withdraw: 4 } },
  { row: 'MULTI_EXIT_DISC marked transitive', msg: `${MARKER} 0035 02 0000 001b ${GOOD} c0 04 04 00000005 ${NLRI}`, want: { withdraw: 4 } },
  { row: 'LARGE_COMMUNITY of 11 octets', msg: `${MARKER} 003c 02 0000 0022 ${GOOD} c0 20 0b 0000fde9 00000001 000000 ${NLRI}`, want: { withdraw: 9 } },
  { row: 'ORIGINATOR_ID of 3 octets', msg: `${MARKER} 0034 02 0000 001a ${GOOD} 80 09 03 0a0000 ${NLRI}`, want: { withdraw: 5 } },
  { row: 'CLUSTER_LIST of 6 octets', msg: `${MARKER} 0037 02 0000 001d ${GOOD} 80 0a 06 0a000001 0a00 ${NLRI}`, want: { withdraw: 5 } },
  { row: 'NEXT_HOP missing with IPv4 NLRI', msg: `${MARKER} 0027 02 0000 000d 40 01 01 00 40 02 06 02 01 0000fde9 ${NLRI}`, want: { withdraw: 3 } },
  { row: 'AS4_PATH on a 4-octet session', msg: `${MARKER} 0037 02 0000 001d ${GOOD} c0 11 06 02 01 0000fde9 ${NLRI}`, want: { discard: /AS4_PATH/ } },
  { row: 'AS4_AGGREGATOR on a 4-octet session', msg: `${MARKER} 0039 02 0000 001f ${GOOD} c0 12 08 0000fde9 0a000001 ${NLRI}`, want: { discard: /AS4_AGGREGATOR/ } },
  { row: 'AS4_PATH whose segment overruns it (2-octet session)', msg: `${MARKER} 0032 02 0000 0018 ${GOOD2} c0 11 03 02 01 00 ${NLRI}`, ctx: TWO_OCTET, want: { discard: /AS4_PATH/ } },
  { row: 'AS4_AGGREGATOR of 7 octets (2-octet session)', msg: `${MARKER} 0036 02 0000 001c ${GOOD2} c0 12 07 0000fde9 0a0000 ${NLRI}`, ctx: TWO_OCTET, want: { discard: /AS4_AGGREGATOR/ } },
];

for (const r of README_ROWS) {
  const what = 'reset' in r.want ? `session reset ${r.want.reset.join('/')}` : 'withdraw' in r.want ? `treat-as-withdraw 3/${r.want.withdraw}` : 'attribute discard';
  test(`README error table: ${r.row} -> ${what}`, () => {
    const msg = hex(r.msg);
    assert.is(msg.readUInt16BE(16), msg.length, `${r.row}: the vector's header length is its size`);
    const ctx = r.ctx ?? IBGP;
    if ('reset' in r.want) {
      let err: unknown = null;
      try { decodeMessage(msg, ctx); } catch (e) { err = e; }
      assert.ok(err instanceof BgpError, `${r.row}: decoding fails with a BgpError (got ${String(err)})`);
      assert.equal([(err as BgpError).code, (err as BgpError).subcode], r.want.reset, `${r.row}: NOTIFICATION ${r.want.reset.join('/')} (${(err as BgpError).message})`);
      return;
    }
    const v = routes(classifyUpdateBytes(msg, ctx, [4]), r.row);
    if ('withdraw' in r.want) {
      assert.is(v.treatAsWithdraw?.subcode, r.want.withdraw, `${r.row}: treat-as-withdraw 3/${r.want.withdraw} (${v.treatAsWithdraw?.message})`);
      assert.equal([v.withdrawn, v.announced], [['10.1.0.0/16'], []], `${r.row}: the NLRI withdrawn, nothing announced`);
    } else {
      const re = r.want.discard;
      assert.is(v.treatAsWithdraw, null, `${r.row}: not treat-as-withdraw (${v.treatAsWithdraw?.message})`);
      assert.ok(v.discarded.some((d) => re.test(d)), `${r.row}: named as discarded: ${JSON.stringify(v.discarded)}`);
      assert.equal(v.announced, [{ family: 4, prefixes: ['10.1.0.0/16'], nextHop: '10.0.0.1' }], `${r.row}: the route announced`);
    }
  });
}

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
