// Golden bytes of the rtnetlink route requests (src/dataplane/route-ops.ts). Each vector is
// what `ip route add|del ...` itself sends for the same route (read with `strace -e sendmsg`
// from iproute2 6.1), field by field, less NLM_F_ACK and with our sequence number.
// Little-endian headers: the machines Trellis runs on.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import ipaddr from 'ipaddr.js';
import { RouteOpList, encodeRouteOps, routeOpLines, routeOpSize, type RouteOp } from '../../src/dataplane/route-ops.js';

const hex = (...parts: string[]) => parts.join('').replace(/\s+/g, '');

const ADD_V4: RouteOp = { op: 'add', dst: '10.50.0.0/24', family: 4, via: '10.77.0.2' };
const ADD_V4_BYTES = hex(
  '2c000000', '1800', '0106', '07000000', '00000000', // len 44, RTM_NEWROUTE, REQUEST|EXCL|CREATE, seq 7, pid 0
  '02', '18', '00', '00', 'fe', '4f', '00', '01', '00000000', // AF_INET, /24, src 0, tos 0, main, proto 79, universe, unicast, flags
  '0800', '0100', '0a320000', // RTA_DST 10.50.0.0
  '0800', '0500', '0a4d0002', // RTA_GATEWAY 10.77.0.2
);

const DEL_V4: RouteOp = { op: 'del', dst: '10.50.0.0/24', family: 4, via: '10.77.0.2' };
const DEL_V4_BYTES = hex(
  '2c000000', '1900', '0100', '08000000', '00000000', // RTM_DELROUTE, REQUEST, seq 8
  '02', '18', '00', '00', 'fe', '4f', 'ff', '00', '00000000', // scope nowhere, type unspec
  '0800', '0100', '0a320000',
  '0800', '0500', '0a4d0002',
);

const ADD_V6: RouteOp = { op: 'add', dst: 'fd00:50::/64', family: 6, via: 'fd00:77::2' };
const ADD_V6_BYTES = hex(
  '44000000', '1800', '0106', '01000000', '00000000', // len 68
  '0a', '40', '00', '00', 'fe', '4f', '00', '01', '00000000', // AF_INET6, /64
  '1400', '0100', 'fd000050000000000000000000000000',
  '1400', '0500', 'fd000077000000000000000000000002',
);

const DEL_NO_VIA: RouteOp = { op: 'del', dst: '10.51.0.0/26', family: 4 };
const DEL_NO_VIA_BYTES = hex(
  '24000000', '1900', '0100', '01000000', '00000000', // len 36: no gateway
  '02', '1a', '00', '00', 'fe', '4f', 'ff', '00', '00000000',
  '0800', '0100', '0a330000',
);

test('an IPv4 add is the request ip route add sends', () => {
  assert.is(encodeRouteOps([ADD_V4], 79, 7).toString('hex'), ADD_V4_BYTES);
  assert.is(routeOpSize(ADD_V4), 44, 'size');
});

test('an IPv4 delete with its next hop is the request ip route del sends', () => {
  assert.is(encodeRouteOps([DEL_V4], 79, 8).toString('hex'), DEL_V4_BYTES);
});

test('an IPv6 add carries 16-byte addresses', () => {
  assert.is(encodeRouteOps([ADD_V6], 79).toString('hex'), ADD_V6_BYTES);
});

test('a delete without a next hop matches destination and protocol only', () => {
  assert.is(encodeRouteOps([DEL_NO_VIA], 79).toString('hex'), DEL_NO_VIA_BYTES);
});

test('a batch is the requests back to back, sequence numbers counting from the first', () => {
  const seq = (n: number) => Buffer.from([n, 0, 0, 0]).toString('hex');
  const batch = encodeRouteOps([ADD_V4, DEL_V4, ADD_V6], 79, 7).toString('hex');
  const v6 = ADD_V6_BYTES.slice(0, 16) + seq(9) + ADD_V6_BYTES.slice(24);
  assert.is(batch, ADD_V4_BYTES + DEL_V4_BYTES + v6);
});

test('an address of the wrong family is refused before anything is encoded', () => {
  assert.throws(() => encodeRouteOps([ADD_V4, { op: 'add', dst: '10.9.0.0/24', family: 4, via: 'fd00::1' }], 79), /not an IPv4 address/);
  assert.throws(() => encodeRouteOps([{ op: 'add', dst: 'fd00::/64', family: 6, via: '10.0.0.1' }], 79), /not an IPv6 address/);
});

test('IPv4 addresses read by the fast path are the bytes ipaddr.js gives; what it does not take goes to ipaddr.js', () => {
  let seed = 7;
  const rnd = (n: number) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
  for (let i = 0; i < 2000; i++) {
    const via = [rnd(256), rnd(256), rnd(256), rnd(256)].join('.');
    const dst = `${[rnd(256), rnd(256), rnd(256), 0].join('.')}/24`;
    const b = encodeRouteOps([{ op: 'add', dst, family: 4, via }], 79);
    assert.equal([...b.subarray(32, 36)], ipaddr.parse(dst.slice(0, -3)).toByteArray(), `dst ${dst}`);
    assert.equal([...b.subarray(40, 44)], ipaddr.parse(via).toByteArray(), `via ${via}`);
  }
  for (const odd of ['256.1.1.1', '1.2.3', '1.2.3.4.5', '1..2.3', 'a.b.c.d', '1.2.3.4 ', '0x7f.1', '010.1.2.3']) {
    const encode = () => encodeRouteOps([{ op: 'add', dst: '10.0.0.0/8', family: 4, via: odd }], 79);
    if (!ipaddr.IPv4.isValid(odd)) assert.throws(encode, undefined, `${odd} refused`);
    else assert.equal([...encode().subarray(40, 44)], ipaddr.parse(odd).toByteArray(), `${odd} read as ipaddr.js reads it`);
  }
});

test('the ip -batch line of each op', () => {
  assert.equal(routeOpLines(RouteOpList.of([ADD_V4, DEL_V4, ADD_V6, DEL_NO_VIA]), 79), [
    'route add 10.50.0.0/24 via 10.77.0.2 proto 79',
    'route del 10.50.0.0/24 via 10.77.0.2 proto 79',
    'route add fd00:50::/64 via fd00:77::2 proto 79',
    'route del 10.51.0.0/26 proto 79',
  ]);
});

test.run();
