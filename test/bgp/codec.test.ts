import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  BgpError, decodeMessage, encodeEndOfRib, encodeKeepalive, encodeNotification, encodeOpen, encodeRouteRefresh,
  encodeUpdateRaw, encodeAttributes, encodePrefixes, endOfRibFamily, packAnnouncements, packWithdrawals, emptyCapabilities,
  canonicalPrefix, type Message, type UpdateMessage, type PathAttributes,
} from '../../src/bgp/index.js';
import { decodeNlri } from '../../src/bgp/prefix.js';
import ipaddr from 'ipaddr.js';
import { MARKER, V, hex } from './_vectors.js';

const C4 = { fourOctetAs: true };
const C2 = { fourOctetAs: false };

function update(m: Message): UpdateMessage {
  assert.is(m.type, 'update', 'message decodes as an UPDATE');
  return m as UpdateMessage;
}

function expectError(buf: Buffer, code: number, subcode: number, ctx = C4): BgpError {
  try {
    decodeMessage(buf, ctx);
  } catch (e) {
    assert.instance(e, BgpError, 'only BgpError escapes the decoder');
    const err = e as BgpError;
    assert.equal([err.code, err.subcode], [code, subcode], `error ${err.message} maps to ${code}/${subcode}`);
    return err;
  }
  assert.unreachable(`decoding ${buf.toString('hex')} should fail with ${code}/${subcode}`);
  throw new Error('unreachable');
}

test('KEEPALIVE, NOTIFICATION and ROUTE-REFRESH encode to their golden bytes and decode back', () => {
  assert.equal(encodeKeepalive().toString('hex'), hex(V.keepalive).toString('hex'), 'KEEPALIVE bytes');
  assert.equal(encodeNotification(6, 2).toString('hex'), hex(V.notificationCeaseAdminShutdown).toString('hex'), 'Cease NOTIFICATION bytes');
  assert.equal(encodeNotification(1, 2, hex('0012')).toString('hex'), hex(V.notificationWithData).toString('hex'), 'NOTIFICATION with data');
  assert.equal(encodeRouteRefresh(4).toString('hex'), hex(V.routeRefreshIpv4).toString('hex'), 'ROUTE-REFRESH IPv4');
  assert.equal(encodeRouteRefresh(6).toString('hex'), hex(V.routeRefreshIpv6).toString('hex'), 'ROUTE-REFRESH IPv6');
  assert.equal(decodeMessage(hex(V.keepalive), C4), { type: 'keepalive' });
  assert.equal(decodeMessage(hex(V.notificationWithData), C4), { type: 'notification', code: 1, subcode: 2, data: hex('0012') });
  assert.equal(decodeMessage(hex(V.routeRefreshIpv6), C4), { type: 'route-refresh', afi: 2, safi: 1, subtype: 0 });
});

test('OPEN with capabilities: golden bytes and round trip', () => {
  const caps = { ...emptyCapabilities(), multiprotocol: [{ afi: 1, safi: 1 }], routeRefresh: true, fourOctetAs: 65001 };
  const bytes = encodeOpen({ version: 4, myAs: 65001, holdTime: 90, bgpId: '10.0.0.1', capabilities: caps });
  assert.is(bytes.toString('hex'), hex(V.open).toString('hex'), 'OPEN bytes');
  assert.equal(decodeMessage(bytes, C2), { type: 'open', version: 4, myAs: 65001, holdTime: 90, bgpId: '10.0.0.1', capabilities: caps });
  const gr = {
    ...emptyCapabilities(), multiprotocol: [{ afi: 2, safi: 1 }], fourOctetAs: 4200000000,
    gracefulRestart: { restarting: true, restartTimeSec: 120, families: [{ afi: 1, safi: 1, forwardingPreserved: true }, { afi: 2, safi: 1, forwardingPreserved: true }] },
  };
  const b2 = encodeOpen({ version: 4, myAs: 23456, holdTime: 180, bgpId: '10.0.0.2', capabilities: gr });
  assert.is(b2.toString('hex'), hex(V.openGr).toString('hex'), 'OPEN with GR and AS_TRANS bytes');
  assert.equal(decodeMessage(b2, C2), { type: 'open', version: 4, myAs: 23456, holdTime: 180, bgpId: '10.0.0.2', capabilities: gr });
});

test('UPDATE IPv4 announce and withdraw: golden bytes and round trip', () => {
  const attrs: PathAttributes = { origin: 0, asPath: [{ type: 2, asns: [65001] }], nextHop: '10.0.0.1' };
  const [msg, ...more] = packAnnouncements(4, attrs, ['10.1.0.0/16'], C4);
  assert.is(more.length, 0, 'one message');
  assert.is(msg!.toString('hex'), hex(V.updateIpv4).toString('hex'), 'UPDATE bytes');
  const u = update(decodeMessage(msg!, C4));
  assert.equal(u.nlri, ['10.1.0.0/16']);
  assert.equal(u.attrs, attrs);
  assert.is(u.treatAsWithdraw, null);
  const [w] = packWithdrawals(4, ['10.1.0.0/16']);
  assert.is(w!.toString('hex'), hex(V.withdrawIpv4).toString('hex'), 'withdraw bytes');
  assert.equal(update(decodeMessage(w!, C4)).withdrawn, ['10.1.0.0/16']);
});

test('IPv4 NLRI text: every length 0-32, host bits sent set are cleared, as ipaddr.js reads the network', () => {
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 255;
  const wire: number[] = [];
  const want: string[] = [];
  for (let round = 0; round < 20; round++) {
    for (let len = 0; len <= 32; len++) {
      const bytes = Array.from({ length: (len + 7) >> 3 }, rnd);
      wire.push(len, ...bytes);
      const full = [...bytes, 0, 0, 0, 0].slice(0, 4).join('.');
      want.push(`${ipaddr.IPv4.networkAddressFromCIDR(`${full}/${len}`).toString()}/${len}`);
    }
  }
  want.push('255.255.255.255/32', '0.0.0.0/0');
  wire.push(32, 255, 255, 255, 255, 0);
  assert.equal(decodeNlri(Buffer.from(wire), 0, wire.length, 4), want);
});

test('UPDATE IPv6 in MP_REACH/MP_UNREACH: golden bytes and round trip', () => {
  const attrs: PathAttributes = { origin: 0, asPath: [{ type: 2, asns: [65001] }] };
  const [msg] = packAnnouncements(6, attrs, ['fd00:1::/64'], C4, 'fd00::1');
  assert.is(msg!.toString('hex'), hex(V.updateIpv6).toString('hex'), 'IPv6 UPDATE bytes');
  const u = update(decodeMessage(msg!, C4));
  assert.equal(u.mpReach, { afi: 2, safi: 1, nextHop: 'fd00::1', nlri: ['fd00:1::/64'] });
  const [w] = packWithdrawals(6, ['fd00:1::/64']);
  assert.is(w!.toString('hex'), hex(V.withdrawIpv6).toString('hex'), 'IPv6 withdraw bytes');
  assert.equal(update(decodeMessage(w!, C4)).mpUnreach, { afi: 2, safi: 1, withdrawn: ['fd00:1::/64'] });
});

test('End-of-RIB markers for IPv4 and IPv6', () => {
  assert.is(encodeEndOfRib(4).toString('hex'), hex(V.eorIpv4).toString('hex'));
  assert.is(encodeEndOfRib(6).toString('hex'), hex(V.eorIpv6).toString('hex'));
  assert.is(endOfRibFamily(update(decodeMessage(hex(V.eorIpv4), C4))), 4);
  assert.is(endOfRibFamily(update(decodeMessage(hex(V.eorIpv6), C4))), 6);
  assert.is(endOfRibFamily(update(decodeMessage(hex(V.withdrawIpv6), C4))), null, 'a real withdrawal is not EoR');
});

test('2-octet session: AS_TRANS + AS4_PATH, communities, LOCAL_PREF, MED, ORIGINATOR_ID, CLUSTER_LIST', () => {
  const attrs: PathAttributes = {
    origin: 2, asPath: [{ type: 2, asns: [65001, 4200000000] }], nextHop: '10.0.0.1', med: 5, localPref: 200,
    communities: [65000 * 65536 + 100], originatorId: '10.0.0.2', clusterList: ['10.0.0.99'],
  };
  const [msg] = packAnnouncements(4, attrs, ['192.168.0.0/24'], C2);
  assert.is(msg!.toString('hex'), hex(V.updateAs4).toString('hex'), 'bytes with AS4_PATH');
  const u = update(decodeMessage(msg!, C2));
  assert.equal(u.attrs, attrs, 'AS4_PATH merged back into the true path');
  // The same bytes on a 4-octet session would be malformed: AS4_PATH is ignored there (discard).
  const as2 = encodeAttributes({ origin: 0, asPath: [{ type: 2, asns: [1, 2, 3] }] }, C2);
  assert.is(as2.subarray(7, 9).toString('hex'), '0203', 'AS_PATH segment: sequence of 3');
});

test('many prefixes pack into UPDATEs of at most 4096 octets and decode to the same set', () => {
  const v4 = Array.from({ length: 5000 }, (_, i) => `10.${(i >> 8) & 255}.${i & 255}.0/24`);
  const attrs: PathAttributes = { origin: 0, asPath: [], nextHop: '192.0.2.1', localPref: 100 };
  const msgs = packAnnouncements(4, attrs, v4, C4);
  assert.ok(msgs.every((m) => m.length <= 4096), 'every UPDATE fits in 4096 octets');
  assert.ok(msgs.length <= Math.ceil((5000 * 4) / 4000) + 1, `packed densely (${msgs.length} messages)`);
  assert.equal(msgs.flatMap((m) => update(decodeMessage(m, C4)).nlri), v4);
  const v6 = Array.from({ length: 3000 }, (_, i) => canonicalPrefix(`fd00:${i.toString(16)}::/64`));
  const m6 = packAnnouncements(6, { origin: 0, asPath: [] }, v6, C4, 'fd00::1');
  assert.ok(m6.every((m) => m.length <= 4096));
  assert.equal(m6.flatMap((m) => update(decodeMessage(m, C4)).mpReach!.nlri), v6);
  const w6 = packWithdrawals(6, v6);
  assert.equal(w6.flatMap((m) => update(decodeMessage(m, C4)).mpUnreach!.withdrawn), v6);
  const w4 = packWithdrawals(4, v4);
  assert.ok(w4.every((m) => m.length <= 4096));
  assert.equal(w4.flatMap((m) => update(decodeMessage(m, C4)).withdrawn), v4);
});

test('header errors map to Message Header Error subcodes', () => {
  const bad = hex(V.keepalive); bad[3] = 0;
  expectError(bad, 1, 1);
  expectError(hex(`${MARKER} 0012 04`), 1, 2);
  expectError(Buffer.concat([hex(`${MARKER} 1001 02`), Buffer.alloc(4097 - 19)]), 1, 2);
  const e = expectError(hex(`${MARKER} 0013 09`), 1, 3);
  assert.equal([...e.data], [9], 'bad type carries the type');
  expectError(hex(`${MARKER} 0014 04 00`), 1, 2);
  expectError(hex(`${MARKER} 0016 02 000000`), 1, 2);
});

test('OPEN errors map to OPEN Message Error subcodes', () => {
  const open = hex(V.open);
  const v3 = Buffer.from(open); v3[19] = 3;
  expectError(v3, 2, 1);
  const hold = Buffer.from(open); hold.writeUInt16BE(2, 22);
  expectError(hold, 2, 6);
  const id0 = Buffer.from(open); id0.writeUInt32BE(0, 24);
  expectError(id0, 2, 3);
  const param = Buffer.from(open); param[29] = 1;
  expectError(param, 2, 4);
  const capLen = Buffer.from(open); capLen[32] = 9;
  expectError(capLen, 2, 0);
});

test('UPDATE errors that leave session reset as the only answer', () => {
  expectError(hex(`${MARKER} 0017 02 0010 0000`), 3, 1);
  expectError(hex(`${MARKER} 001b 02 0000 0000 21 0a0000`), 3, 10);
  expectError(hex(`${MARKER} 0019 02 0000 0000 18 0a`), 3, 10);
  const unk = expectError(hex(`${MARKER} 001a 02 0000 0003 40 63 00`), 3, 2);
  assert.is(unk.data.toString('hex'), '406300', 'data is the offending attribute');
  const mp = '80 0f 03 0002 01';
  expectError(hex(`${MARKER} 0023 02 0000 000c ${mp} ${mp}`), 3, 1);
  expectError(hex(`${MARKER} 0026 02 0000 000f 80 0e 0c 0002 01 05 0102030405 00 00 00`), 3, 9);
  expectError(hex(`${MARKER} 0019 05 0001 00 01 0000`), 7, 1);
});

test('RFC 7606: treat-as-withdraw and attribute discard', () => {
  const base = (attrs: string) => {
    const a = hex(attrs);
    return encodeUpdateRaw(Buffer.alloc(0), a, encodePrefixes(['10.9.0.0/16']));
  };
  const okRest = '40 02 00 40 03 04 0a000001';
  const cases: [string, number][] = [
    [`40 01 01 05 ${okRest}`, 6],
    [`c0 01 01 00 ${okRest}`, 4],
    [`40 03 04 0a000001`, 3],
    [`40 01 01 00 40 02 04 02 05 0001 40 03 04 0a000001`, 11],
    [`40 01 01 00 ${okRest} 80 04 03 000001`, 5],
    [`40 01 01 00 40 02 00 40 03 04 e0000001`, 8],
    [`40 01 01 00 ${okRest} c0 08 03 000001`, 9],
  ];
  for (const [attrs, sub] of cases) {
    const u = update(decodeMessage(base(attrs), C4));
    assert.ok(u.treatAsWithdraw, `${attrs} is treated as withdraw`);
    assert.is(u.treatAsWithdraw!.subcode, sub, `${attrs}: subcode ${sub}`);
    assert.equal(u.nlri, ['10.9.0.0/16'], 'the NLRI are still located');
  }
  const disc = update(decodeMessage(base(`40 01 01 00 ${okRest} c0 07 03 000001 40 06 01 00`), C4));
  assert.is(disc.treatAsWithdraw, null, 'bad AGGREGATOR / ATOMIC_AGGREGATE do not withdraw');
  assert.is(disc.discarded.length, 2, 'both discarded');
  assert.is(disc.attrs!.aggregator, undefined);
  const dup = update(decodeMessage(base(`40 01 01 00 40 01 01 02 ${okRest}`), C4));
  assert.is(dup.attrs!.origin, 0, 'a repeated attribute: the first wins');
  const unknownOpt = update(decodeMessage(base(`40 01 01 00 ${okRest} c0 63 02 abcd 80 62 01 01`), C4));
  assert.equal(unknownOpt.attrs!.unknown, [{ flags: 0xc0, type: 0x63, value: hex('abcd') }], 'optional transitive kept, non-transitive dropped');
});

test.run();
