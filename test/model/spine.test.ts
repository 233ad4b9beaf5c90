// The shared vocabulary every subsystem translates through: the protocol table, the string
// order and address ordering. Each subsystem's own tests show it reads them the same way;
// these pin the table itself, so a wrong row fails here by name.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { byCodePoint, ipNumber, PROTOCOL_NAMES, PROTOCOLS, protocolByName, protocolByNumber } from '../../src/model/index.js';

test('protocol table: Calico name, IANA number and kernel spelling per row', () => {
  const want: Array<[string, number, string]> = [
    ['TCP', 6, 'tcp'], ['UDP', 17, 'udp'], ['ICMP', 1, 'icmp'], ['ICMPv6', 58, 'ipv6-icmp'], ['SCTP', 132, 'sctp'], ['UDPLite', 136, 'udplite'],
  ];
  for (const [name, number, kernel] of want) {
    const byName = protocolByName(name);
    assert.is(byName?.number, number, `${name} is protocol ${number}`);
    assert.is(protocolByNumber(number)?.name, name, `protocol ${number} is named ${name}`);
    assert.is(byName?.kernel, kernel, `${name} is "${kernel}" to iptables`);
  }
  assert.equal([...PROTOCOL_NAMES], PROTOCOLS.map((p) => p.name), 'PROTOCOL_NAMES lists the table in its order');
});

test('protocol lookups: names without case, unknown names and numbers are undefined', () => {
  assert.is(protocolByName('icmpv6')?.number, 58, 'lower-case name');
  assert.is(protocolByName('gre'), undefined, 'a name Trellis has no row for');
  assert.is(protocolByNumber(47), undefined, 'a number Trellis has no row for');
});

test('ports: the dataplane matches them for TCP, UDP, SCTP, UDPLite; Calico accepts them for TCP, UDP, SCTP', () => {
  assert.equal(PROTOCOLS.filter((p) => p.carriesPorts).map((p) => p.name), ['TCP', 'UDP', 'SCTP', 'UDPLite'], 'carriesPorts');
  assert.equal(PROTOCOLS.filter((p) => p.calicoPorts).map((p) => p.name), ['TCP', 'UDP', 'SCTP'], 'calicoPorts');
});

test('byCodePoint orders by code point, not locale', () => {
  assert.equal(['b', 'B', 'a', 'A', 'é', 'e'].sort(byCodePoint), ['A', 'B', 'a', 'b', 'e', 'é'], 'upper case before lower, accents last');
  assert.is(byCodePoint('x', 'x'), 0, 'equal strings');
});

test('ipNumber orders IPv4 and IPv6 addresses numerically', () => {
  assert.is(ipNumber('10.0.0.10'), 0x0a00000an, '10.0.0.10');
  assert.ok(ipNumber('10.0.0.10') > ipNumber('10.0.0.9'), '10.0.0.10 > 10.0.0.9 (not by text)');
  assert.ok(ipNumber('200.0.0.1') > ipNumber('100.255.255.255'), 'no sign on a high first octet');
  assert.is(ipNumber('fd00::1'), (0xfd00n << 112n) + 1n, 'fd00::1 expanded');
  assert.is(ipNumber('fd00:0:0:0:0:0:0:1'), ipNumber('fd00::1'), 'compressed and full forms agree');
  assert.ok(ipNumber('fd00::10') > ipNumber('fd00::9'), 'fd00::10 > fd00::9');
});

test.run();
