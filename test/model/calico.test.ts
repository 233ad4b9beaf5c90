// What Calico's v3 validator accepts, Trellis accepts (and reads the same way); what it
// refuses for endpoints is refused even for values read back from the store (issue 12).
// The refusals, message by message, are the fixtures/bad/calico-*.yaml files.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { formatIssue, parseResourceText, ResourceFileError, schemas, validateResource, type Resource } from '../../src/model/index.js';

const doc = (kind: string, spec: string, name = 'x') => `apiVersion: projectcalico.org/v3\nkind: ${kind}\nmetadata:\n  name: ${name}\nspec:\n${spec}`;

function one(text: string): Resource {
  const [r] = parseResourceText(text, 'ok.yaml');
  assert.ok(r, 'one resource');
  return r!;
}

// [what, YAML, a check on the parsed resource (or null: acceptance is the point)]
const accepted: Array<[string, string, ((r: Resource) => unknown) | null]> = [
  ['a named port with no protocol', doc('NetworkPolicy', '  ingress:\n    - action: Allow\n      destination: {ports: [http, Web_2.x]}\n'), null],
  ['a workload endpoint port with hostPort and no name', doc('WorkloadEndpoint', '  node: h1\n  interfaceName: cali1\n  ipNetworks: [10.65.0.1]\n  ports:\n    - {protocol: TCP, port: 80, hostPort: 8080}\n'),
    (r) => r.kind === 'WorkloadEndpoint' && r.spec.ports?.[0]?.name === ''],
  ['a protocol number written as a string', doc('NetworkPolicy', '  ingress:\n    - action: Allow\n      protocol: "6"\n      destination: {ports: [80]}\n'),
    (r) => r.kind === 'NetworkPolicy' && r.spec.ingress?.[0]?.protocol === 6],
  ['a log level in another case', doc('BGPConfiguration', '  logSeverityScreen: warning\n', 'default'),
    (r) => r.kind === 'BGPConfiguration' && r.spec.logSeverityScreen === 'Warning'],
  ['log level Trace, and an empty one', doc('BGPConfiguration', '  logSeverityScreen: TRACE\n', 'a') + `---\n${doc('BGPConfiguration', '  logSeverityScreen: ""\n', 'b')}`, null],
  ['icmp with no type (every type) reads as no icmp clause', doc('GlobalNetworkPolicy', '  ingress:\n    - action: Allow\n      protocol: ICMP\n      icmp: {}\n'),
    (r) => r.kind === 'GlobalNetworkPolicy' && r.spec.ingress?.[0] !== undefined && r.spec.ingress[0].icmp === undefined],
  ['blockSize 0 means the default', doc('IPPool', '  cidr: 10.70.0.0/16\n  blockSize: 0\n'), (r) => r.kind === 'IPPool' && r.spec.blockSize === undefined],
  ['a disabled pool smaller than a block', doc('IPPool', '  cidr: 10.70.0.0/28\n  disabled: true\n'), null],
  ['a pool of exactly one block', doc('IPPool', '  cidr: 10.70.0.0/26\n'), null],
  ['a host endpoint on every interface', doc('HostEndpoint', '  node: h1\n  interfaceName: "*"\n'), null],
  ['interface names and container IDs with every character Calico allows', doc('WorkloadEndpoint', '  node: h1\n  containerID: A1-b2\n  interfaceName: cali_1.x-Y\n  ipNetworks: [10.65.0.1/32, "fd00::1/128"]\n  ipNATs:\n    - {internalIP: 10.65.0.1, externalIP: 192.0.2.1}\n'), null],
  ['the default tier by name', doc('NetworkPolicy', '  tier: default\n'), null],
  ['tier.name policy names, as Calico names tiered policies', doc('NetworkPolicy', '  {}\n', 'default.web') + `---\n${doc('GlobalNetworkPolicy', '  {}\n', 'default.web')}`, null],
  ['a rule namespaceSelector of global() alone, blanks around it', doc('GlobalNetworkPolicy', '  ingress:\n    - action: Allow\n      source: {namespaceSelector: " global() "}\n'), null],
  ['global() in a notSelector (Calico checks only selector)', doc('GlobalNetworkPolicy', '  ingress:\n    - action: Allow\n      source: {notSelector: global()}\n'), null],
  ['communities: standard and large at their maxima, by name and by value', doc('BGPConfiguration', '  communities:\n    - {name: a, value: "65535:65535"}\n    - {name: b, value: "4294967295:4294967295:4294967295"}\n  prefixAdvertisements:\n    - {cidr: 10.0.0.0/8, communities: [a, b, "1:2"]}\n', 'default'), null],
  ['a Node with a bare IPv4 address and an IPv6 CIDR', doc('Node', '  bgp:\n    ipv4Address: 192.0.2.1\n    ipv6Address: 2001:db8::1/64\n    routeReflectorClusterID: 224.0.0.1\n'), null],
  ['a BGPPeer by peerSelector without asNumber', doc('BGPPeer', '  peerSelector: has(rr)\n'), null],
  ['annotation keys in any case; rule annotations', doc('NetworkPolicy', '  ingress:\n    - action: Allow\n      metadata: {annotations: {Example.COM/Why: because}}\n').replace('metadata:\n  name: x', 'metadata:\n  name: x\n  annotations: {Owner: me, example.com/Team: a}'), null],
  ['one family per rule across nets and notNets', doc('NetworkPolicy', '  ingress:\n    - action: Allow\n      ipVersion: 6\n      source: {nets: ["fd00::/64"], notNets: ["fd00::1/128"]}\n      destination: {nets: ["::/0"]}\n'), null],
  ['ICMP with IPv6 nets (Calico ties ICMP only to ipVersion)', doc('NetworkPolicy', '  ingress:\n    - action: Allow\n      protocol: ICMP\n      source: {nets: ["fd00::/64"]}\n'), null],
];

for (const [what, text, check] of accepted) {
  test(`accepted as in Calico: ${what}`, () => {
    let rs: Resource[];
    try { rs = parseResourceText(text, 'ok.yaml'); } catch (e) {
      throw new Error(`${what}: refused: ${e instanceof ResourceFileError ? e.issues.map(formatIssue).join('; ') : String(e)}`);
    }
    assert.ok(rs.length > 0, `${what}: resources`);
    if (check) assert.ok(check(rs[0]!), `${what}: read as Calico reads it: ${JSON.stringify(rs[0]!.spec)}`);
  });
}

test('annotations over 256 KiB in total are refused', () => {
  const big = 'v'.repeat(128 * 1024);
  const text = doc('Profile', '  {}\n').replace('metadata:\n  name: x', `metadata:\n  name: x\n  annotations: {a: ${big}, b: ${big}}`);
  let err: unknown;
  try { one(text); } catch (e) { err = e; }
  assert.instance(err, ResourceFileError, 'refused');
  assert.equal((err as ResourceFileError).issues.map(formatIssue), ['ok.yaml:5:16 Profile x: metadata.annotations: annotations total 262146 bytes: at most 262144 (256 KiB) of keys and values are allowed']);
  one(doc('Profile', '  {}\n').replace('metadata:\n  name: x', `metadata:\n  name: x\n  annotations: {a: ${'v'.repeat(128 * 1024 - 1)}, b: ${'v'.repeat(128 * 1024 - 1)}}`));
});

test('stored values (no cross-field checks) still may not claim more than one address (issue 12)', () => {
  const wep = (ipNetworks: string[], ipNATs?: Array<{ internalIP: string; externalIP: string }>) => ({
    apiVersion: 'projectcalico.org/v3', kind: 'WorkloadEndpoint', metadata: { name: 'w', namespace: 't' },
    spec: { node: 'h1', interfaceName: 'cali1', ipNetworks, ...(ipNATs ? { ipNATs } : {}) },
  });
  const refused = (v: unknown): string[] => {
    try { validateResource(v, '/trellis/v1/wep/t/w'); } catch (e) { if (e instanceof ResourceFileError) return e.issues.map(formatIssue); throw e; }
    return [];
  };
  assert.equal(refused(wep(['0.0.0.0/0'])), ['/trellis/v1/wep/t/w WorkloadEndpoint t/w: spec.ipNetworks[0]: "0.0.0.0/0" is 2^32 addresses: a workload endpoint network is one address (/32)']);
  assert.equal(refused(wep(['10.65.0.0/26'])), ['/trellis/v1/wep/t/w WorkloadEndpoint t/w: spec.ipNetworks[0]: "10.65.0.0/26" is 64 addresses: a workload endpoint network is one address (/32)']);
  assert.equal(refused(wep(['10.65.0.1'], [{ internalIP: '10.65.0.2', externalIP: '192.0.2.1' }])), ['/trellis/v1/wep/t/w WorkloadEndpoint t/w: spec.ipNATs[0].internalIP: "10.65.0.2" is not one of the endpoint\'s ipNetworks']);
  assert.equal(refused(wep(['10.65.0.1/32', 'fd00::1'])), [], 'one address per family is fine');
});

test('a Tier defaults to defaultAction Deny, as in Calico', () => {
  const tier = schemas.Tier.parse({ apiVersion: 'projectcalico.org/v3', kind: 'Tier', metadata: { name: 'platform' }, spec: { order: 100 } });
  assert.is(tier.spec.defaultAction, 'Deny');
});

test('the kinds Trellis acts on now parse as resources', () => {
  for (const [kind, spec] of [['IPReservation', '  reservedCIDRs: [10.65.0.0/28, 10.65.1.1]\n'], ['GlobalNetworkSet', '  nets: [198.51.100.0/24]\n'], ['Tier', '  order: 1000000\n'],
    ['BGPFilter', '  importV4:\n    - {cidr: 10.0.0.0/8, matchOperator: In, prefixLength: {min: 8, max: 24}, action: Accept}\n  exportV6:\n    - {source: RemotePeers, interface: "*.calico", peerType: eBGP, communities: {values: ["1:2:3"]}, asPathPrefix: [65000, "1.10"], action: Reject}\n']] as const) {
    const [r] = parseResourceText(doc(kind, spec, kind === 'Tier' ? 'default' : 'x'), 'kinds.yaml');
    assert.is(r?.kind, kind, `${kind} is a resource`);
  }
});

test.run();
