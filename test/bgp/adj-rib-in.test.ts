// The pure UPDATE classifier (Adj-RIB-In): golden UPDATE bytes in, one of RFC 7606's
// outcomes out (withdrawn / announced / treat-as-withdraw / session reset), no socket.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { classifyUpdateBytes, type UpdateVerdict } from '../../src/bgp/index.js';
import { MARKER, V, hex } from './_vectors.js';

const C4 = { fourOctetAs: true };

function routes(v: UpdateVerdict) {
  if (v.kind !== 'routes') throw new Error(`expected a routes verdict, got ${v.kind}`);
  return v;
}

test('a plain IPv4 announcement: announced with its NEXT_HOP, nothing withdrawn', () => {
  const v = routes(classifyUpdateBytes(hex(V.updateIpv4), C4, [4]));
  assert.equal(v.announced, [{ family: 4, prefixes: ['10.1.0.0/16'], nextHop: '10.0.0.1' }], 'announced prefix and next hop');
  assert.equal(v.withdrawn, [], 'nothing withdrawn');
  assert.is(v.treatAsWithdraw, null, 'no RFC 7606 error');
});

test('withdrawals: IPv4 Withdrawn Routes field and IPv6 MP_UNREACH_NLRI', () => {
  assert.equal(routes(classifyUpdateBytes(hex(V.withdrawIpv4), C4, [4])).withdrawn, ['10.1.0.0/16'], 'IPv4 withdrawn');
  assert.equal(routes(classifyUpdateBytes(hex(V.withdrawIpv6), C4, [4, 6])).withdrawn, ['fd00:1::/64'], 'IPv6 withdrawn');
});

test('End-of-RIB markers for each family', () => {
  assert.equal(classifyUpdateBytes(hex(V.eorIpv4), C4, [4]), { kind: 'end-of-rib', family: 4 }, 'IPv4 EoR');
  assert.equal(classifyUpdateBytes(hex(V.eorIpv6), C4, [4, 6]), { kind: 'end-of-rib', family: 6 }, 'IPv6 EoR');
});

test('NLRI of a family not negotiated are ignored, those of a negotiated one announced', () => {
  const off = routes(classifyUpdateBytes(hex(V.updateIpv6), C4, [4]));
  assert.equal(off.announced, [], 'IPv6 not negotiated: nothing announced');
  assert.equal(off.ignoredFamilies, [{ afi: 2, safi: 1 }], 'the ignored AFI/SAFI is named');
  const on = routes(classifyUpdateBytes(hex(V.updateIpv6), C4, [4, 6]));
  assert.equal(on.announced, [{ family: 6, prefixes: ['fd00:1::/64'], nextHop: 'fd00::1' }], 'IPv6 negotiated: announced');
});

test('treat-as-withdraw: an invalid ORIGIN withdraws the prefixes the UPDATE carried', () => {
  // V.updateIpv4 with ORIGIN value 5.
  const bad = `${MARKER} 002e 02 0000 0014 40 01 01 05 40 02 06 02 01 0000fde9 40 03 04 0a000001 10 0a01`;
  const v = routes(classifyUpdateBytes(hex(bad), C4, [4]));
  assert.is(v.treatAsWithdraw?.subcode, 6, 'the error is Invalid ORIGIN (3/6)');
  assert.equal(v.announced, [], 'nothing announced');
  assert.equal(v.withdrawn, ['10.1.0.0/16'], 'the NLRI are withdrawn');
});

test('session reset: an NLRI that cannot be parsed (prefix length 33) is 3/10', () => {
  const v = classifyUpdateBytes(hex(`${MARKER} 001b 02 0000 0000 21 0a0000`), C4, [4]);
  assert.is(v.kind, 'session-reset', 'the verdict is session reset');
  if (v.kind === 'session-reset') assert.equal([v.error.code, v.error.subcode], [3, 10], 'NOTIFICATION 3/10');
});

test.run();
