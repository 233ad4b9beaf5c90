// NetworkSet and GlobalNetworkSet: rule selectors match them as Calico's felix does (a
// NetworkSet inside its namespace, a GlobalNetworkSet as an entity in no namespace), their
// nets become members of the selector's set, a nets edit changes members and nothing else,
// and explain names the set through which a rule matched.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { computeDesiredState, createCalculator, createClusterView, explainFlow, explainIn, formatExplanation, type DesiredState } from '../../src/calc/index.js';
import { renderIptables } from '../../src/dataplane/iptables/index.js';
import type { Resource } from '../../src/model/index.js';
import { gnetset, namespace, netset, np, wep } from './_fixtures.js';

const NODE = 'node1';

const base = (): Resource[] => [
  namespace('tenant-a', { team: 'a' }),
  namespace('tenant-b', { team: 'b' }),
  wep('tenant-a', 'client', { node: NODE, ip: '10.65.0.2/32', labels: { app: 'client' } }),
  wep('tenant-a', 'web', { node: NODE, ip: '10.65.0.1/32', labels: { app: 'web' } }),
  netset('tenant-a', 'partner-api', ['192.0.2.0/24', '2001:db8::/64'], { role: 'api' }),
  netset('tenant-b', 'other-api', ['198.51.100.0/24'], { role: 'api' }),
  gnetset('public-api', ['203.0.113.0/24'], { role: 'api' }),
  np('tenant-a', 'to-api', {
    selector: 'app == "client"', types: ['Egress'],
    egress: [
      { action: 'Allow', protocol: 'TCP', destination: { selector: 'role == "api"', ports: [443] } },
      { action: 'Allow', protocol: 'TCP', destination: { selector: 'role == "api"', namespaceSelector: 'global()', ports: [8443] } },
    ],
  }),
  np('tenant-a', 'web-from-api', {
    selector: 'app == "web"',
    ingress: [{ action: 'Allow', protocol: 'TCP', source: { selector: 'role == "api"', namespaceSelector: 'team == "b"' }, destination: { ports: [80] } }],
  }),
];

function setOf(ds: DesiredState, policy: string, dir: 'ingress' | 'egress', i: number, side: 'srcSets' | 'dstSets' = 'dstSets') {
  const p = ds.policies.find((x) => x.id === policy);
  assert.ok(p, `policy ${policy} is rendered`);
  const id = p[dir][i]![side][0]!;
  const s = ds.ipsets.find((x) => x.id === id);
  assert.ok(s, `set ${id} of ${policy} ${dir}[${i}] is rendered`);
  return s;
}

test('a NetworkPolicy rule selector matches the NetworkSets of its own namespace only', () => {
  const ds = computeDesiredState({ nodeName: NODE, resources: base() });
  assert.equal(setOf(ds, 'NetworkPolicy/tenant-a/to-api', 'egress', 0).members, ['192.0.2.0/24', '2001:db8::/64'],
    'tenant-a/partner-api is in; tenant-b/other-api and the GlobalNetworkSet are not');
});

test('namespaceSelector global() matches GlobalNetworkSets; a namespaceSelector over labels matches that namespace\'s sets', () => {
  const ds = computeDesiredState({ nodeName: NODE, resources: base() });
  assert.equal(setOf(ds, 'NetworkPolicy/tenant-a/to-api', 'egress', 1).members, ['203.0.113.0/24'], 'global(): only the GlobalNetworkSet');
  assert.equal(setOf(ds, 'NetworkPolicy/tenant-a/web-from-api', 'ingress', 0, 'srcSets').members, ['198.51.100.0/24'], 'team == "b": tenant-b\'s set');
});

test('a NetworkSet takes its namespace\'s labels, and follows them when they change', () => {
  const rs = [...base(), np('tenant-a', 'web-from-a', {
    selector: 'app == "web"',
    ingress: [{ action: 'Allow', source: { selector: 'role == "api"', namespaceSelector: 'team == "a"' } }],
  })];
  const calc = createCalculator(NODE);
  for (const r of rs) calc.upsert(r);
  assert.equal(setOf(calc.state(), 'NetworkPolicy/tenant-a/web-from-a', 'ingress', 0, 'srcSets').members, ['192.0.2.0/24', '2001:db8::/64']);
  calc.upsert(namespace('tenant-a', { team: 'z' }));
  assert.equal(setOf(calc.state(), 'NetworkPolicy/tenant-a/web-from-a', 'ingress', 0, 'srcSets').members, [], 'relabelled namespace: set leaves');
});

test('a nets edit changes the set\'s members only: policies, endpoints and rendered chains are untouched', () => {
  const calc = createCalculator(NODE);
  for (const r of base()) calc.upsert(r);
  const before = calc.state();
  const rendered = renderIptables(before);
  calc.upsert(netset('tenant-a', 'partner-api', ['192.0.2.0/25', '192.0.2.200/32'], { role: 'api' }));
  const after = calc.state();
  assert.equal(after, computeDesiredState({ nodeName: NODE, resources: [...base().slice(0, 4), netset('tenant-a', 'partner-api', ['192.0.2.0/25', '192.0.2.200/32'], { role: 'api' }), ...base().slice(5)] }),
    'incremental equals full after the edit');
  assert.is(after.policies, before.policies, 'the policy list is the same object');
  assert.is(after.endpoints, before.endpoints, 'the endpoint list is the same object');
  assert.equal(setOf(after, 'NetworkPolicy/tenant-a/to-api', 'egress', 0).members, ['192.0.2.0/25', '192.0.2.200/32']);
  assert.equal(renderIptables(after).tables, rendered.tables, 'every rendered table and chain is byte-identical');
});

test('deleting a NetworkSet empties its members; the rule stays', () => {
  const calc = createCalculator(NODE);
  for (const r of base()) calc.upsert(r);
  calc.remove({ kind: 'NetworkSet', namespace: 'tenant-a', name: 'partner-api' });
  const ds = calc.state();
  assert.equal(setOf(ds, 'NetworkPolicy/tenant-a/to-api', 'egress', 0).members, []);
});

test('a policy\'s own selector never selects a network set (they are not endpoints)', () => {
  const rs = [...base(), np('tenant-a', 'all', { selector: 'all()', ingress: [{ action: 'Allow' }] })];
  const ds = computeDesiredState({ nodeName: NODE, resources: rs });
  assert.equal(ds.endpoints.map((e) => e.id), ['WorkloadEndpoint/tenant-a/client', 'WorkloadEndpoint/tenant-a/web']);
});

test('explain names the NetworkSet through which the deciding rule matched (both views)', () => {
  const rs = base();
  const q = { from: { cidr: '198.51.100.9' }, to: { endpoint: 'tenant-a/web' }, protocol: 'TCP', port: 80 } as const;
  const r = explainFlow({ resources: rs, ...q });
  assert.ok(r.allowed, 'tenant-b\'s API may reach tenant-a/web on 80');
  assert.equal(r.ingress.decidedBy.kind === 'rule' ? r.ingress.decidedBy.hit.networkSets : undefined,
    ['source 198.51.100.9 in NetworkSet tenant-b/other-api (198.51.100.0/24)']);
  assert.match(formatExplanation(r), /\n {2}matched: source 198\.51\.100\.9 in NetworkSet tenant-b\/other-api \(198\.51\.100\.0\/24\)\n/);
  const calc = createCalculator(NODE);
  for (const x of rs) calc.upsert(x);
  assert.equal(explainIn(createClusterView(calc), q), r, 'the calculator\'s view explains alike');
  const denied = explainFlow({ resources: rs, ...q, from: { cidr: '192.0.2.9' } });
  assert.not.ok(denied.allowed, 'tenant-a\'s own partner set is not tenant b');
});

test.run();
