// The rule cross-field checks calc added to the model (Calico's validation): rules that
// pass them compile faithfully; these are refused with a message naming the field.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { schemas } from '../../src/model/index.js';

const policy = (rule: unknown) => ({ apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy', metadata: { name: 'p' }, spec: { ingress: [rule] } });
const problems = (rule: unknown): string[] => {
  const r = schemas.GlobalNetworkPolicy.safeParse(policy(rule));
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

const refused: Array<[string, unknown, RegExp]> = [
  ['ports without protocol', { action: 'Allow', destination: { ports: [80] } }, /^spec\.ingress\.0\.destination\.ports: ports with a number or range need protocol TCP, UDP or SCTP$/],
  ['ports with UDPLite (Calico: no ports)', { action: 'Allow', protocol: 'UDPLite', destination: { ports: [9000] } }, /destination\.ports: ports need protocol TCP, UDP or SCTP, not UDPLite/],
  ['notPorts with ICMP', { action: 'Deny', protocol: 'ICMP', source: { notPorts: [1] } }, /source\.notPorts: notPorts need protocol/],
  ['icmp without ICMP protocol', { action: 'Allow', protocol: 'TCP', icmp: { type: 8 } }, /icmp: icmp needs protocol ICMP or ICMPv6/],
  ['notICMP without protocol', { action: 'Allow', notICMP: { type: 8 } }, /notICMP: notICMP needs protocol/],
  ['ICMP with ipVersion 6', { action: 'Allow', protocol: 'ICMP', ipVersion: 6 }, /ipVersion: protocol ICMP is IPv4/],
  ['ICMPv6 with ipVersion 4', { action: 'Allow', protocol: 'ICMPv6', ipVersion: 4 }, /ipVersion: protocol ICMPv6 is IPv6/],
  ['v6 net with ipVersion 4', { action: 'Allow', ipVersion: 4, source: { nets: ['10.0.0.0/8', 'fd00::/64'] } }, /source\.nets\.1: "fd00::\/64" is IPv6 but the rule has ipVersion 4/],
  ['v4 source nets, v6 destination nets', { action: 'Allow', source: { nets: ['10.0.0.0/8'] }, destination: { nets: ['fd00::/64'] } }, /could never match/],
];
for (const [name, rule, re] of refused) {
  test(`refused: ${name}`, () => {
    const p = problems(rule);
    assert.ok(p.some((m) => re.test(m)), `${name}: expected an issue matching ${re}, got ${JSON.stringify(p)}`);
  });
}

test('accepted: port protocols with ports, ICMP with icmp, consistent families', () => {
  for (const rule of [
    { action: 'Allow', protocol: 'UDP', destination: { ports: [9000], notPorts: ['9001:9002'] } },
    // Calico ties ICMP to ipVersion only, not to the family of the nets.
    { action: 'Allow', protocol: 'ICMPv6', destination: { notNets: ['10.0.0.0/8'] } },
    // A named port may leave the protocol out, as in Calico.
    { action: 'Allow', destination: { ports: ['http'] } },
    { action: 'Allow', protocol: 132, source: { ports: ['sctp-port'] } },
    { action: 'Allow', protocol: 'ICMPv6', icmp: { type: 128, code: 0 }, source: { nets: ['fd00::/8'] } },
    { action: 'Allow', ipVersion: 4, source: { nets: ['10.0.0.0/8'] }, destination: { notNets: ['10.1.0.0/16'] } },
    { action: 'Allow', source: { nets: ['10.0.0.0/8', 'fd00::/8'] }, destination: { nets: ['fd00::/64'] } },
  ]) assert.equal(problems(rule), [], `${JSON.stringify(rule)} is valid`);
});

test.run();
