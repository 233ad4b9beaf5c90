// The route filter matcher (src/bgp/filter.ts), pure: Calico's BGPFilter rule semantics,
// first match wins across rules and filters, no match leaves the verdict to the policy.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BgpConfigError, compileFilters, filterVerdict, type PathAttributes, type RouteFacts, type RouteFilter, type RouteFilterRule } from '../../src/bgp/index.js';
import { parsePrefix } from '../../src/bgp/prefix.js';

const attrs = (more: Partial<PathAttributes> = {}): PathAttributes => ({ origin: 0, asPath: [{ type: 2, asns: [65000, 65001] }], ...more });
const facts = (prefix: string, more: Partial<Omit<RouteFacts, 'prefix'>> = {}): RouteFacts =>
  ({ prefix: parsePrefix(prefix), learned: true, ebgp: true, attrs: attrs(), ...more });

/** The verdict of one filter's importV4 (or importV6) rules for a route. */
function verdict(rules: RouteFilterRule[], f: RouteFacts): string | null {
  const fam = f.prefix.family;
  const c = compileFilters([{ name: 'f', [fam === 4 ? 'importV4' : 'importV6']: rules }]);
  return filterVerdict(c.import[fam], f);
}

test('cidr with each matchOperator: In includes the CIDR itself, Equal only it; Not* are the complements', () => {
  const cases: [RouteFilterRule['matchOperator'], string, boolean][] = [
    ['In', '10.1.0.0/16', true], ['In', '10.1.2.0/24', true], ['In', '10.1.2.3/32', true], ['In', '10.0.0.0/8', false], ['In', '10.2.0.0/24', false],
    ['NotIn', '10.1.2.0/24', false], ['NotIn', '10.0.0.0/8', true], ['NotIn', '192.0.2.0/24', true],
    ['Equal', '10.1.0.0/16', true], ['Equal', '10.1.0.0/17', false], ['Equal', '10.1.2.0/24', false],
    ['NotEqual', '10.1.0.0/16', false], ['NotEqual', '10.1.2.0/24', true],
  ];
  for (const [op, prefix, match] of cases) {
    assert.is(verdict([{ cidr: '10.1.0.0/16', matchOperator: op, action: 'Reject' }], facts(prefix)), match ? 'Reject' : null, `${op} 10.1.0.0/16 vs ${prefix}`);
  }
});

test('prefixLength narrows In/NotIn to lengths within [max(cidr length, min), min(family max, max)] (Calico: cidr{min,max})', () => {
  const rule = (min?: number, max?: number): RouteFilterRule[] => [{ cidr: '55.0.0.0/16', matchOperator: 'In', prefixLength: { ...(min !== undefined ? { min } : {}), ...(max !== undefined ? { max } : {}) }, action: 'Accept' }];
  assert.is(verdict(rule(30), facts('55.0.1.0/30')), 'Accept', 'a /30 inside, min 30');
  assert.is(verdict(rule(30), facts('55.0.1.1/32')), 'Accept', 'a /32 inside, no max: up to 32');
  assert.is(verdict(rule(30), facts('55.0.1.0/24')), null, 'a /24 inside is shorter than min 30');
  assert.is(verdict(rule(undefined, 24), facts('55.0.0.0/16')), 'Accept', 'no min: the CIDR\'s own length');
  assert.is(verdict(rule(undefined, 24), facts('55.0.1.0/25')), null, 'longer than max 24');
  assert.is(verdict(rule(8, 20), facts('55.0.0.0/12')), null, 'min below the CIDR length cannot admit a shorter prefix');
  const notIn: RouteFilterRule[] = [{ cidr: '55.0.0.0/16', matchOperator: 'NotIn', prefixLength: { max: 24 }, action: 'Reject' }];
  assert.is(verdict(notIn, facts('55.0.1.0/25')), 'Reject', 'NotIn: a /25 inside is outside the length range');
  assert.is(verdict(notIn, facts('55.0.1.0/24')), null, 'NotIn: a /24 inside is in the range');
  const eq: RouteFilterRule[] = [{ cidr: '55.0.0.0/16', matchOperator: 'Equal', prefixLength: { min: 20 }, action: 'Reject' }];
  assert.is(verdict(eq, facts('55.0.0.0/16')), null, 'Equal with a range that excludes the CIDR\'s own length matches nothing');
});

test('IPv6 rules apply to IPv6 routes only, and IPv4 rules to IPv4', () => {
  const c = compileFilters([{ name: 'f', importV4: [{ action: 'Reject' }], importV6: [{ cidr: 'fd00::/8', matchOperator: 'In', action: 'Accept' }] }]);
  assert.is(filterVerdict(c.import[6], facts('fd00:1::/64')), 'Accept');
  assert.is(filterVerdict(c.import[6], facts('2001:db8::/32')), null, 'v4 catch-all Reject does not touch v6');
  assert.is(filterVerdict(c.import[4], facts('192.0.2.0/24')), 'Reject');
  assert.equal(c.export, { 4: [], 6: [] }, 'no export rules');
});

test('rules are tried in order and the first match decides, across the peer\'s filters in their order', () => {
  const filters: RouteFilter[] = [
    { name: 'a', importV4: [{ cidr: '10.0.0.0/8', matchOperator: 'In', prefixLength: { min: 24 }, action: 'Reject' }, { cidr: '10.0.0.0/8', matchOperator: 'In', action: 'Accept' }] },
    { name: 'b', importV4: [{ cidr: '10.1.0.0/16', matchOperator: 'In', action: 'Reject' }, { cidr: '192.0.2.0/24', matchOperator: 'Equal', action: 'Accept' }] },
  ];
  const rules = compileFilters(filters).import[4];
  assert.is(filterVerdict(rules, facts('10.1.2.0/24')), 'Reject', 'first rule of a');
  assert.is(filterVerdict(rules, facts('10.1.0.0/16')), 'Accept', 'second rule of a wins over b\'s Reject');
  assert.is(filterVerdict(rules, facts('192.0.2.0/24')), 'Accept', 'a decides nothing, b does');
  assert.is(filterVerdict(rules, facts('198.51.100.0/24')), null, 'no rule matches: the policy decides');
  const swapped = compileFilters([filters[1]!, filters[0]!]).import[4];
  assert.is(filterVerdict(swapped, facts('10.1.0.0/16')), 'Reject', 'with b first, b\'s Reject wins');
  assert.equal(compileFilters([filters[0]!, filters[1]!]).import[4].map((r) => r.where),
    ['BGPFilter a importV4[0]', 'BGPFilter a importV4[1]', 'BGPFilter b importV4[0]', 'BGPFilter b importV4[1]'], 'each rule knows where it came from');
});

test('source RemotePeers matches learned routes only; interface patterns match local routes that have one', () => {
  const src: RouteFilterRule[] = [{ source: 'RemotePeers', action: 'Reject' }];
  assert.is(verdict(src, facts('10.0.0.0/24')), 'Reject', 'learned');
  assert.is(verdict(src, facts('10.0.0.0/24', { learned: false })), null, 'local');
  const iface: RouteFilterRule[] = [{ interface: 'cali*', action: 'Reject' }];
  assert.is(verdict(iface, facts('10.65.0.7/32', { learned: false, interface: 'cali12ab' })), 'Reject');
  assert.is(verdict(iface, facts('10.65.0.7/32', { learned: false, interface: 'eth0' })), null);
  assert.is(verdict(iface, facts('10.65.0.0/26', { learned: false })), null, 'a route without an interface never matches one');
  assert.is(verdict([{ interface: '*.calico', action: 'Reject' }], facts('10.65.0.7/32', { interface: 'vethx.calico' })), 'Reject', '"." is literal, "*" a run');
  assert.is(verdict([{ interface: '*.calico', action: 'Reject' }], facts('10.65.0.7/32', { interface: 'vethxcalico' })), null);
});

test('peerType, community and asPathPrefix conditions, all of a rule\'s conditions together', () => {
  assert.is(verdict([{ peerType: 'iBGP', action: 'Reject' }], facts('10.0.0.0/24', { ebgp: false })), 'Reject');
  assert.is(verdict([{ peerType: 'iBGP', action: 'Reject' }], facts('10.0.0.0/24', { ebgp: true })), null);
  assert.is(verdict([{ peerType: 'eBGP', action: 'Reject' }], facts('10.0.0.0/24', { ebgp: true })), 'Reject');
  const withC = facts('10.0.0.0/24', { attrs: attrs({ communities: [65000 * 65536 + 7], largeCommunities: [[4200000000, 1, 2]] }) });
  assert.is(verdict([{ community: '65000:7', action: 'Reject' }], withC), 'Reject', 'standard community');
  assert.is(verdict([{ community: '65000:8', action: 'Reject' }], withC), null);
  assert.is(verdict([{ community: '4200000000:1:2', action: 'Reject' }], withC), 'Reject', 'large community');
  assert.is(verdict([{ community: '4200000000:1:3', action: 'Reject' }], withC), null);
  assert.is(verdict([{ asPathPrefix: [65000], action: 'Reject' }], facts('10.0.0.0/24')), 'Reject', 'first AS');
  assert.is(verdict([{ asPathPrefix: [65000, 65001], action: 'Reject' }], facts('10.0.0.0/24')), 'Reject', 'two ASes');
  assert.is(verdict([{ asPathPrefix: [65001], action: 'Reject' }], facts('10.0.0.0/24')), null, 'a later AS is not a prefix');
  assert.is(verdict([{ asPathPrefix: [65000, 65001, 65002], action: 'Reject' }], facts('10.0.0.0/24')), null, 'longer than the path');
  const split = facts('10.0.0.0/24', { attrs: attrs({ asPath: [{ type: 2, asns: [65000] }, { type: 2, asns: [65001] }] }) });
  assert.is(verdict([{ asPathPrefix: [65000, 65001], action: 'Reject' }], split), 'Reject', 'across AS_SEQUENCE segments');
  const set = facts('10.0.0.0/24', { attrs: attrs({ asPath: [{ type: 1, asns: [65000, 65001] }] }) });
  assert.is(verdict([{ asPathPrefix: [65000], action: 'Reject' }], set), null, 'an AS_SET has no order to match');
  const both: RouteFilterRule[] = [{ cidr: '10.0.0.0/8', matchOperator: 'In', peerType: 'eBGP', community: '65000:7', action: 'Reject' }];
  assert.is(verdict(both, withC), 'Reject', 'all conditions hold');
  assert.is(verdict(both, { ...withC, ebgp: false }), null, 'one condition fails: no match');
  assert.is(verdict([{ action: 'Accept' }], facts('0.0.0.0/0')), 'Accept', 'a rule with no condition matches everything');
});

test('a rule the speaker cannot use is a BgpConfigError naming the filter and rule', () => {
  const refused = (f: RouteFilter): string => {
    try { compileFilters([f]); } catch (e) { assert.instance(e, BgpConfigError); return (e as Error).message; }
    return 'accepted';
  };
  assert.is(refused({ name: 't', exportV4: [{ action: 'Accept' }, { cidr: 'fd00::/8', matchOperator: 'In', action: 'Accept' }] }), 'BGPFilter t exportV4[1]: cidr "fd00::/8" is not IPv4');
  assert.is(refused({ name: 't', importV6: [{ cidr: 'fd00::/8', action: 'Accept' }] }), 'BGPFilter t importV6[0]: cidr needs matchOperator');
  assert.is(refused({ name: 't', importV4: [{ prefixLength: { min: 24 }, action: 'Accept' }] }), 'BGPFilter t importV4[0]: matchOperator and prefixLength need cidr');
  assert.is(refused({ name: 't', importV4: [{ community: '70000:1', action: 'Accept' }] }), 'BGPFilter t importV4[0]: community "70000:1" is not "asn:value" (16-bit each) or large "a:b:c" (32-bit each)');
  assert.is(refused({ name: 't', importV4: [{ cidr: '10.0.0.0/33', matchOperator: 'In', action: 'Accept' }] }), 'BGPFilter t importV4[0]: "10.0.0.0/33" has an invalid prefix length');
  assert.is(refused({ name: 't' }), 'accepted', 'a filter without rules is fine');
});

test.run();
