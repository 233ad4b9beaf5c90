// Tiers as Calico evaluates them: tier by tier in order (the default tier at 1,000,000),
// Pass to the next tier, a tier whose policies apply but decide nothing ends in its
// defaultAction, the profiles after the last tier. Calc (the lists), explain (the
// verdict and its words) and the iptables text of a tiered verdict chain.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { computeDesiredState, createCalculator, createClusterView, explainFlow, explainIn, formatExplanation } from '../../src/calc/index.js';
import { renderIptables, verdictChain } from '../../src/dataplane/iptables/index.js';
import type { Resource } from '../../src/model/index.js';
import { gnp, namespace, np, profile, tier, wep } from './_fixtures.js';

const NODE = 'node1';
const tcp = (port: number) => ({ protocol: 'TCP', destination: { ports: [port] } });

/** A platform tier (order 100) above the tenants' default tier: it denies ssh, passes
 *  web traffic to the tenants, and isolates tenants (a Deny the tenants cannot undo). */
const cluster = (platformDefault: 'Deny' | 'Pass' = 'Deny'): Resource[] => [
  namespace('tenant-a'), namespace('tenant-b'),
  profile('tenant-a', { ingress: [{ action: 'Allow' }], egress: [{ action: 'Allow' }] }),
  wep('tenant-a', 'web', { node: NODE, ip: '10.65.0.1/32', labels: { app: 'web' }, profiles: ['tenant-a'] }),
  wep('tenant-a', 'client', { node: NODE, ip: '10.65.0.2/32', labels: { app: 'client' }, profiles: ['tenant-a'] }),
  wep('tenant-b', 'client', { node: NODE, ip: '10.65.1.2/32', labels: { app: 'client' } }),
  tier('platform', { order: 100, defaultAction: platformDefault }),
  gnp('platform.deny-ssh', { tier: 'platform', order: 10, selector: 'all()', ingress: [{ action: 'Deny', ...tcp(22) }, { action: 'Pass', ...tcp(80) }] }),
  gnp('platform.isolate', { tier: 'platform', order: 5, selector: 'app == "web"', ingress: [{ action: 'Deny', source: { namespaceSelector: 'projectcalico.org/name == "tenant-b"' } }] }),
  // The tenant allows everything to its web, ssh included: the platform's Deny wins.
  np('tenant-a', 'web-open', { selector: 'app == "web"', ingress: [{ action: 'Allow' }] }),
];

test('policies are ordered tier by tier; the endpoint\'s lists carry the tiers', () => {
  const ds = computeDesiredState({ nodeName: NODE, resources: cluster() });
  const web = ds.endpoints.find((e) => e.id === 'WorkloadEndpoint/tenant-a/web')!;
  assert.equal(web.ingress.policies, ['GlobalNetworkPolicy/platform.isolate', 'GlobalNetworkPolicy/platform.deny-ssh', 'NetworkPolicy/tenant-a/web-open']);
  assert.equal(web.ingress.tiers, [
    { name: 'platform', defaultAction: 'Deny', policies: ['GlobalNetworkPolicy/platform.isolate', 'GlobalNetworkPolicy/platform.deny-ssh'] },
    { name: 'default', defaultAction: 'Deny', policies: ['NetworkPolicy/tenant-a/web-open'] },
  ]);
  const untiered = computeDesiredState({ nodeName: NODE, resources: [namespace('tenant-a'), cluster()[3]!, np('tenant-a', 'web-open', { selector: 'app == "web"', ingress: [{ action: 'Allow' }] })] });
  assert.not.ok('tiers' in untiered.endpoints[0]!.ingress, 'the default tier alone keeps the plain list (and the rendered text as it was)');
});

test('a Tier with a lower order than another goes first, whatever the policy orders', () => {
  const rs = [...cluster(), tier('early', { order: 5 }), gnp('early.last', { tier: 'early', order: 1000, selector: 'app == "web"', ingress: [{ action: 'Pass' }] })];
  const web = computeDesiredState({ nodeName: NODE, resources: rs }).endpoints.find((e) => e.id === 'WorkloadEndpoint/tenant-a/web')!;
  assert.equal(web.ingress.tiers?.map((t) => t.name), ['early', 'platform', 'default']);
});

const q = (from: string, to: string, port: number) => ({ from: { endpoint: from }, to: { endpoint: to }, protocol: 'TCP', port });

test('explain: a platform Deny beats a tenant Allow', () => {
  const r = explainFlow({ resources: cluster(), ...q('tenant-a/client', 'tenant-a/web', 22) });
  assert.not.ok(r.allowed);
  assert.equal(r.ingress.decidedBy, { kind: 'rule', hit: { origin: 'GlobalNetworkPolicy platform.deny-ssh ingress[0]', action: 'Deny', index: 0, policy: 'GlobalNetworkPolicy/platform.deny-ssh' } });
});

test('explain: Pass goes to the next tier, where the tenant allows', () => {
  const r = explainFlow({ resources: cluster(), ...q('tenant-a/client', 'tenant-a/web', 80) });
  assert.ok(r.allowed);
  assert.is(r.ingress.passedBy?.origin, 'GlobalNetworkPolicy platform.deny-ssh ingress[1]');
  assert.is(r.ingress.decidedBy.kind === 'rule' && r.ingress.decidedBy.hit.origin, 'NetworkPolicy tenant-a/web-open ingress[0]');
  const lines = formatExplanation(r).split('\n');
  const at = lines.findIndex((l) => l.startsWith('ingress of'));
  assert.fixture(lines.slice(at, at + 6).join('\n'), [
    'ingress of WorkloadEndpoint/tenant-a/web (node node1): ALLOWED',
    '  tier platform (default Deny): GlobalNetworkPolicy/platform.isolate, GlobalNetworkPolicy/platform.deny-ssh',
    '  tier default (default Deny): NetworkPolicy/tenant-a/web-open',
    '  profiles: Profile/tenant-a',
    '  passed on by GlobalNetworkPolicy platform.deny-ssh ingress[1]',
    '  decided by NetworkPolicy tenant-a/web-open ingress[0] (Allow)',
  ].join('\n'));
});

test('explain: a tier whose policies apply but decide nothing applies its default action (Deny, or Pass on)', () => {
  const denied = explainFlow({ resources: cluster('Deny'), ...q('tenant-a/client', 'tenant-a/web', 443) });
  assert.not.ok(denied.allowed, 'platform decides nothing for 443: its default Deny');
  assert.equal(denied.ingress.decidedBy, { kind: 'default', reason: 'tier default action', tier: 'platform' });
  assert.match(formatExplanation(denied), /decided by: tier platform's default action \(Deny\): its policies applied, none allowed or passed/);
  const passed = explainFlow({ resources: cluster('Pass'), ...q('tenant-a/client', 'tenant-a/web', 443) });
  assert.ok(passed.allowed, 'with defaultAction Pass the tenant tier decides');
  assert.equal(passed.ingress.tierPasses, ['platform']);
  const calc = createCalculator(NODE);
  for (const r of cluster('Pass')) calc.upsert(r);
  assert.equal(explainIn(createClusterView(calc), q('tenant-a/client', 'tenant-a/web', 443)), passed, 'the calculator\'s view explains alike');
  calc.upsert(tier('platform', { order: 100, defaultAction: 'Deny' }));
  assert.equal(calc.state(), computeDesiredState({ nodeName: NODE, resources: cluster('Deny') }), 'a Tier edit reaches every endpoint');
  assert.not.ok(explainIn(createClusterView(calc), q('tenant-a/client', 'tenant-a/web', 443)).allowed);
});

test('explain: profiles after the last tier; cross-tenant isolation in the platform tier', () => {
  const a = explainFlow({ resources: cluster('Pass'), ...q('tenant-a/web', 'tenant-a/client', 80) });
  assert.ok(a.allowed, 'client: platform passes 80, no default-tier policy applies, the profile allows');
  assert.is(a.ingress.decidedBy.kind === 'rule' && a.ingress.decidedBy.hit.profile, 'Profile/tenant-a');
  const b = explainFlow({ resources: cluster('Pass'), ...q('tenant-b/client', 'tenant-a/web', 80) });
  assert.not.ok(b.allowed, 'tenant b is isolated from a\'s web by the platform, despite web-open');
  assert.is(b.ingress.decidedBy.kind === 'rule' && b.ingress.decidedBy.hit.policy, 'GlobalNetworkPolicy/platform.isolate');
});

test('render: the tiered verdict chain, exactly', () => {
  const ds = computeDesiredState({ nodeName: NODE, resources: cluster('Pass') });
  const web = ds.endpoints.find((e) => e.id === 'WorkloadEndpoint/tenant-a/web')!;
  const filter = renderIptables(ds).tables.find((t) => t.table === 'filter' && t.family === 4)!;
  const name = verdictChain([...web.ingress.policies, '|tiers:platform:Pass:2,default:Deny:1'], web.ingress.profiles, 'ingress');
  const v = filter.chains.find((c) => c.name === name);
  assert.ok(v, `verdict chain ${name} rendered`);
  // The chain's hash comment is a rule of its own or folded into the first: not part of the logic.
  const body = v.rules.map((r) => r.replace(/^-m comment --comment "trl:[^"]*" ?/, '')).filter(Boolean);
  assert.equal(body.map((r) => r.replace(/trl-g[io]-[0-9a-f]+/g, 'GROUP').replace(/trl-pr[io]-[0-9a-f]+/g, 'PROFILE')), [
    '-j GROUP',
    '-m mark --mark 0x10000/0x10000 -j RETURN',
    '-j MARK --set-xmark 0x0/0x20000',
    '-j GROUP',
    '-m mark --mark 0x10000/0x10000 -j RETURN',
    '-m mark --mark 0x0/0x20000 -m comment --comment "tier default: no policy allowed or passed" -j DROP',
    '-j PROFILE',
    '-m mark --mark 0x10000/0x10000 -j RETURN',
    '-m comment --comment "no profile allowed" -j DROP',
  ], 'platform (Pass: no drop), pass mark cleared, default (Deny: drop), profiles, drop');
  const groups = body.filter((r) => r.startsWith('-j trl-g')).map((r) => r.slice(3));
  assert.is(groups.length, 2, 'one group chain per tier');
  assert.ok(groups.every((g) => filter.chains.some((c) => c.name === g)), 'both group chains are rendered');
  const platform = renderIptables(computeDesiredState({ nodeName: NODE, resources: cluster('Deny') })).tables.find((t) => t.table === 'filter' && t.family === 4)!;
  const vd = platform.chains.find((c) => c.name === verdictChain([...web.ingress.policies, '|tiers:platform:Deny:2,default:Deny:1'], web.ingress.profiles, 'ingress'))!;
  assert.ok(vd.rules.includes('-m mark --mark 0x0/0x20000 -m comment --comment "tier platform: no policy allowed or passed" -j DROP'), 'defaultAction Deny drops at the end of its tier');
});

test.run();
