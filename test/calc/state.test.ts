// Exact DesiredState for tiny cases, set sharing between equivalent selectors, and the
// fail-closed compilation of rules that cannot be rendered faithfully.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { computeDesiredState, setIdFor, type CompiledRule, type DesiredState, type HostState } from '../../src/calc/index.js';
import type { Resource } from '../../src/model/index.js';
import { gnp, namespace, np, pool, profile, wep } from './_fixtures.js';

const rule = (r: Partial<CompiledRule> & Pick<CompiledRule, 'action' | 'origin'>): CompiledRule => ({
  srcSets: [], notSrcSets: [], dstSets: [], notDstSets: [], srcPorts: [], notSrcPorts: [], dstPorts: [], notDstPorts: [],
  srcNamedPortSets: [], dstNamedPortSets: [], ...r,
});

// Calico's default failsafes and workload-to-host action, no host endpoints here.
const NO_HOST_ENDPOINTS: HostState = {
  endpoints: [], policies: [],
  failsafe: {
    inbound: [{ protocol: 'tcp', port: 22 }, { protocol: 'udp', port: 68 }, { protocol: 'tcp', port: 179 }, { protocol: 'tcp', port: 2379 }, { protocol: 'tcp', port: 2380 }],
    outbound: [{ protocol: 'udp', port: 53 }, { protocol: 'udp', port: 67 }, { protocol: 'tcp', port: 179 }, { protocol: 'tcp', port: 2379 }, { protocol: 'tcp', port: 2380 }],
  },
  endpointToHost: 'Drop',
};

test('snapshot: one local endpoint, a namespaced policy with a named port, a profile, a NAT pool', () => {
  const resources = [
    namespace('ns1', { team: 'x' }),
    wep('ns1', 'a', { node: 'n1', iface: 'calia', ip: ['fd00::1/128', '10.0.0.1/32'], labels: { app: 'web' }, profiles: ['p'], mac: '02:00:00:00:00:AA',
      ports: [{ name: 'http', protocol: 'TCP', port: 80, hostPort: 8080 }, { name: 'dns', protocol: 'UDP', port: 53, hostPort: 5353, hostIP: '192.0.2.1' }] }),
    wep('ns1', 'b', { node: 'n2', ip: '10.0.0.2/32', labels: { app: 'cli' } }),
    wep('ns2', 'c', { node: 'n2', ip: '10.0.0.3/32', labels: { app: 'cli' } }),
    np('ns1', 'web', { selector: 'app == "web"', ingress: [{ action: 'Allow', protocol: 'TCP', source: { selector: 'app == "cli"' }, destination: { ports: ['http', 443] } }] }),
    profile('p', { egress: [{ action: 'Allow' }] }),
    profile('unused', { egress: [{ action: 'Deny', source: { selector: 'x == "y"' } }] }),
    pool('p4', '10.0.0.0/16', { natOutgoing: true }),
    pool('p6', 'fd00::/64'),
    pool('off', '10.1.0.0/16', { natOutgoing: true, disabled: true }),
  ];
  const selKey = 'sel:app == "cli" && projectcalico.org/namespace == "ns1"';
  const portKey = 'port:tcp:http;sel:app == "web" && projectcalico.org/namespace == "ns1"';
  const expected: DesiredState = {
    nodeName: 'n1',
    endpoints: [{
      id: 'WorkloadEndpoint/ns1/a', namespace: 'ns1', name: 'a', interfaceName: 'calia', mac: '02:00:00:00:00:aa',
      addresses: ['10.0.0.1/32', 'fd00::1/128'],
      ingress: { policies: ['NetworkPolicy/ns1/web'], profiles: ['Profile/p'] },
      egress: { policies: [], profiles: ['Profile/p'] },
      portMaps: [
        { protocol: 'udp', hostPort: 5353, hostIP: '192.0.2.1', containerIP: '10.0.0.1', containerPort: 53 },
        { protocol: 'tcp', hostPort: 8080, containerIP: '10.0.0.1', containerPort: 80 },
        { protocol: 'tcp', hostPort: 8080, containerIP: 'fd00::1', containerPort: 80 },
      ],
    }],
    policies: [{
      id: 'NetworkPolicy/ns1/web', order: null, egress: [],
      ingress: [rule({ action: 'Allow', protocol: 6, srcSets: [setIdFor(selKey)], dstPorts: [{ from: 443, to: 443 }], dstNamedPortSets: [setIdFor(portKey)], origin: 'NetworkPolicy ns1/web ingress[0]' })],
    }],
    profiles: [{ id: 'Profile/p', ingress: [], egress: [rule({ action: 'Allow', origin: 'Profile p egress[0]' })] }],
    ipsets: [
      { id: setIdFor(selKey), type: 'hash:net' as const, key: selKey, members: ['10.0.0.2/32'] },
      { id: setIdFor(portKey), type: 'hash:ip,port' as const, key: portKey, members: ['10.0.0.1,tcp:80', 'fd00::1,tcp:80'] },
    ].sort((x, y) => (x.id < y.id ? -1 : 1)),
    routes: [
      { dst: '10.0.0.1/32', family: 4, dev: 'calia' },
      { dst: 'fd00::1/128', family: 6, dev: 'calia' },
    ],
    nat: { masqueradeSources: ['10.0.0.0/16'], allPools: ['10.0.0.0/16', '10.1.0.0/16', 'fd00::/64'] },
    host: NO_HOST_ENDPOINTS,
  };
  assert.equal(computeDesiredState({ nodeName: 'n1', resources }), expected, 'desired state of n1');
});

test('snapshot: a node with no local endpoints has only NAT', () => {
  const resources = [wep('ns1', 'b', { node: 'n2', ip: '10.0.0.2/32' }), gnp('g', { ingress: [{ action: 'Deny' }] }), pool('p', '10.0.0.0/16', { natOutgoing: true })];
  assert.equal(computeDesiredState({ nodeName: 'n1', resources }), {
    nodeName: 'n1', endpoints: [], policies: [], profiles: [], ipsets: [], routes: [],
    nat: { masqueradeSources: ['10.0.0.0/16'], allPools: ['10.0.0.0/16'] }, host: NO_HOST_ENDPOINTS,
  });
});

test('set ids are stable hashes of the canonical key: 16 base32 characters', () => {
  const id = setIdFor('sel:app == "web"');
  assert.match(id, /^[a-z2-7]{16}$/, 'id format');
  assert.is(setIdFor('sel:app == "web"'), id, 'same key, same id');
  assert.is.not(setIdFor('sel:app == "db"'), id, 'different key, different id');
});

test('equivalent selectors share one set; a NetworkPolicy selector equals the global one with the namespace spelled out', () => {
  const resources: Resource[] = [
    wep('ns1', 'a', { node: 'n1', ip: '10.0.0.1/32', labels: { app: 'web' } }),
    wep('ns1', 'b', { node: 'n1', ip: '10.0.0.2/32', labels: { app: 'cli', tier: '1' } }),
    gnp('g1', { selector: 'app == "web"', ingress: [{ action: 'Allow', source: { selector: 'app == "cli" && tier == "1"' } }] }),
    gnp('g2', { selector: 'app == "web"', ingress: [{ action: 'Allow', source: { selector: '(tier == "1") && app in {"cli"}' } }] }),
    gnp('g3', { selector: 'app == "web"', ingress: [{ action: 'Allow', source: { selector: 'app == "cli" && projectcalico.org/namespace == "ns1"' } }] }),
    np('ns1', 'n1', { selector: 'app == "web"', ingress: [{ action: 'Allow', source: { selector: 'app in {"cli"}' } }] }),
  ];
  const st = computeDesiredState({ nodeName: 'n1', resources });
  const src = (id: string) => st.policies.find((p) => p.id === id)!.ingress[0]!.srcSets;
  assert.equal(src('GlobalNetworkPolicy/g1'), src('GlobalNetworkPolicy/g2'), 'g1 and g2 share a set');
  assert.equal(src('GlobalNetworkPolicy/g3'), src('NetworkPolicy/ns1/n1'), 'g3 and the namespaced n1 share a set');
  assert.is.not(src('GlobalNetworkPolicy/g1')[0], src('GlobalNetworkPolicy/g3')[0], 'different selectors, different sets');
  assert.is(st.ipsets.length, 2, 'two distinct sets in all');
  for (const s of st.ipsets) assert.equal(s.members, ['10.0.0.2/32'], `members of ${s.key}`);
});

test('rule selectors with namespaceSelector become one set (AND); notSelector stays unscoped', () => {
  const st = computeDesiredState({ nodeName: 'n1', resources: [
    wep('ns1', 'a', { node: 'n1', ip: '10.0.0.1/32' }),
    np('ns1', 'p', { ingress: [{ action: 'Allow', source: { selector: 'app == "x"', namespaceSelector: 'team == "y"', notSelector: 'bad == "1"' } }] }),
  ] });
  const keys = st.ipsets.map((s) => s.key).sort();
  assert.equal(keys, ['sel:app == "x" && has(projectcalico.org/namespace) && pcns.team == "y"', 'sel:bad == "1"'], 'set keys');
});

// Resources that validation would refuse, built by hand: calc must still fail closed.
const raw = (spec: unknown) => ({ apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy', metadata: { name: 'bad' }, spec }) as unknown as Resource;

test('fail closed: an uncompilable Allow never matches, an uncompilable Deny or Pass denies everything', () => {
  const st = computeDesiredState({ nodeName: 'n1', resources: [
    wep('ns1', 'a', { node: 'n1', ip: '10.0.0.1/32' }),
    raw({ ingress: [
      { action: 'Allow', destination: { ports: [80] } },
      { action: 'Deny', icmp: { type: 8 } },
      { action: 'Pass', protocol: 'ICMP', ipVersion: 6 },
      { action: 'Allow', source: { selector: 'app == ' } },
      { action: 'Deny', source: { nets: ['10.0.0.0/99'] } },
    ] }),
  ] });
  const rules = st.policies[0]!.ingress;
  assert.is(rules[0]!.neverMatches, true, 'Allow with ports but no protocol never matches');
  assert.match(rules[0]!.failClosed ?? '', /ports/, 'and says why');
  assert.equal({ ...rules[1], failClosed: undefined }, { ...rule({ action: 'Deny', origin: 'GlobalNetworkPolicy bad ingress[1]' }), failClosed: undefined }, 'Deny with icmp but no ICMP protocol denies everything');
  assert.is(rules[2]!.action, 'Deny', 'Pass with ICMP over IPv6 becomes a Deny');
  assert.is(rules[2]!.protocol, undefined, 'of everything');
  assert.is(rules[3]!.neverMatches, true, 'Allow with an unparsable selector never matches');
  assert.equal([rules[4]!.action, rules[4]!.srcSets, rules[4]!.neverMatches], ['Deny', [], undefined], 'Deny with a bad CIDR denies everything');
  assert.match(rules[4]!.failClosed ?? '', /10\.0\.0\.0\/99/, 'naming the CIDR');
});

test('fail closed: a policy whose selector does not parse denies all traffic in its namespace', () => {
  const bad = { apiVersion: 'projectcalico.org/v3', kind: 'NetworkPolicy', metadata: { name: 'oops', namespace: 'ns1' }, spec: { selector: 'app ==', ingress: [{ action: 'Allow' }] } } as unknown as Resource;
  const st = computeDesiredState({ nodeName: 'n1', resources: [wep('ns1', 'a', { node: 'n1', ip: '10.0.0.1/32' }), wep('ns2', 'b', { node: 'n1', ip: '10.0.0.2/32' }), bad] });
  assert.equal(st.endpoints.map((e) => e.ingress.policies), [['NetworkPolicy/ns1/oops'], []], 'applies to the namespace only');
  assert.is(st.policies[0]!.ingress[0]!.action, 'Deny', 'as a Deny');
  assert.ok(st.policies[0]!.ingress[0]!.failClosed, 'with a reason');
});

test('preDNAT and doNotTrack policies do not apply to workload endpoints', () => {
  const st = computeDesiredState({ nodeName: 'n1', resources: [
    wep('ns1', 'a', { node: 'n1', ip: '10.0.0.1/32' }),
    gnp('pre', { preDNAT: true, applyOnForward: true, ingress: [{ action: 'Deny' }] }),
    gnp('dnt', { doNotTrack: true, applyOnForward: true, ingress: [{ action: 'Deny' }] }),
  ] });
  assert.equal(st.endpoints[0]!.ingress.policies, [], 'no policy applies');
});

test('labels: own labels win over profile labels; namespace labels appear as pcns.*', () => {
  const st = computeDesiredState({ nodeName: 'n1', resources: [
    namespace('ns1', { env: 'prod' }),
    profile('p1', { labelsToApply: { app: 'from-profile', extra: 'p1' } }),
    profile('p2', { labelsToApply: { extra: 'p2' } }),
    wep('ns1', 'a', { node: 'n1', ip: '10.0.0.1/32', labels: { app: 'own' }, profiles: ['p1', 'p2'] }),
    gnp('own', { order: 1, selector: 'app == "own" && extra == "p1" && pcns.env == "prod" && projectcalico.org/namespace == "ns1"', ingress: [{ action: 'Allow' }] }),
    gnp('prof', { order: 2, selector: 'app == "from-profile" || extra == "p2"', ingress: [{ action: 'Allow' }] }),
  ] });
  assert.equal(st.endpoints[0]!.ingress.policies, ['GlobalNetworkPolicy/own'], 'only the policy matching the effective labels applies');
});

test('routes: an address claimed by two local endpoints goes to neither (both refused)', () => {
  const st = computeDesiredState({ nodeName: 'n1', resources: [
    wep('ns1', 'b', { node: 'n1', iface: 'calib', ip: '10.0.0.1/32' }),
    wep('ns1', 'a', { node: 'n1', iface: 'calia', ip: '10.0.0.1/32' }),
    wep('ns1', 'c', { node: 'n1', iface: 'calic', ip: '10.0.0.3/32' }),
  ] });
  assert.equal(st.routes, [{ dst: '10.0.0.3/32', family: 4, dev: 'calic' }]);
  assert.equal(st.endpoints.map((e) => e.id), ['WorkloadEndpoint/ns1/c']);
});

test.run();
