// Host endpoints in calc: which of this node's HostEndpoints are policed, which policies
// apply to each per kind of traffic (Calico's rules: normal, applyOnForward, preDNAT,
// doNotTrack), that preDNAT and doNotTrack policies never reach workloads, and that the
// incremental calculator agrees with the from-scratch computation through changes; a host
// endpoint's normal policies carry their tiers, as a workload's do.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { computeDesiredState, createCalculator, defaultHostConfig, type DesiredState } from '../../src/calc/index.js';
import { resourceKey, type Resource } from '../../src/model/index.js';
import { gnp, hep, namespace, np, profile, tier, wep } from './_fixtures.js';

const NODE = 'node1';

function resources(): Resource[] {
  return [
    namespace('ns1'),
    wep('ns1', 'w', { node: NODE, ip: '10.0.0.1/32', labels: { app: 'web' } }),
    wep('ns1', 'b', { node: 'node2', ip: '10.0.0.2/32', labels: { tenant: 'b' } }),
    hep('all', { iface: '*', ips: ['192.0.2.1'], labels: { role: 'host' }, profiles: ['hp'] }),
    hep('eth1', { iface: 'eth1', ips: ['192.0.2.9'], labels: { role: 'host', nic: 'mgmt' } }),
    hep('other-node', { node: 'node2', iface: '*', ips: ['192.0.2.2'], labels: { role: 'host' } }),
    hep('ips-only', { ips: ['192.0.2.3'], labels: { role: 'host' } }),
    profile('hp', { ingress: [{ action: 'Allow', protocol: 'TCP', destination: { ports: [22] } }] }),
    gnp('deny', { selector: 'role == "host"', order: 10, types: ['Ingress', 'Egress'] }),
    gnp('fwd', { selector: 'all()', order: 5, applyOnForward: true, ingress: [{ action: 'Allow' }] }),
    gnp('pre', { selector: 'has(role)', order: 1, preDNAT: true, applyOnForward: true, ingress: [{ action: 'Deny', protocol: 'TCP', destination: { ports: [8080] } }] }),
    gnp('un', {
      selector: 'nic == "mgmt"', doNotTrack: true, applyOnForward: true,
      ingress: [{ action: 'Allow', source: { selector: 'tenant == "b"' } }], egress: [{ action: 'Allow', destination: { selector: 'tenant == "b"' } }],
    }),
    np('ns1', 'ns-all', { selector: 'all()', ingress: [{ action: 'Allow' }] }),
  ];
}

test('local host endpoints with an interface, each with its lists per kind of traffic; preDNAT and doNotTrack never reach workloads', () => {
  const ds = computeDesiredState({ nodeName: NODE, resources: resources() });
  const h = ds.host!;
  assert.equal(h.endpoints.map((e) => `${e.id} ${e.interfaceName}`), ['HostEndpoint/all *', 'HostEndpoint/eth1 eth1'], 'other nodes\' and expectedIPs-only endpoints are not policed here');
  const all = h.endpoints[0]!;
  assert.equal(all.ingress, { policies: ['GlobalNetworkPolicy/fwd', 'GlobalNetworkPolicy/deny'], profiles: ['Profile/hp'] }, 'normal ingress: applyOnForward and plain, in order; never preDNAT');
  assert.equal(all.egress, { policies: ['GlobalNetworkPolicy/deny'], profiles: ['Profile/hp'] });
  assert.equal(all.forwardIngress, ['GlobalNetworkPolicy/fwd'], 'forwarded: applyOnForward only');
  assert.equal(all.forwardEgress, []);
  assert.equal(all.preDnatIngress, ['GlobalNetworkPolicy/pre']);
  assert.equal([all.untrackedIngress, all.untrackedEgress], [[], []]);
  const eth1 = h.endpoints[1]!;
  assert.equal([eth1.untrackedIngress, eth1.untrackedEgress], [['GlobalNetworkPolicy/un'], ['GlobalNetworkPolicy/un']]);
  assert.equal(eth1.ingress.profiles, [], 'no profiles listed: none');
  assert.equal(h.policies.map((p) => p.id), ['GlobalNetworkPolicy/deny', 'GlobalNetworkPolicy/fwd', 'GlobalNetworkPolicy/pre', 'GlobalNetworkPolicy/un']);
  assert.equal([h.policies[2]!.preDNAT, h.policies[2]!.applyOnForward, h.policies[3]!.doNotTrack], [true, true, true], 'flags carried');
  const w = ds.endpoints[0]!;
  assert.equal(w.ingress.policies, ['GlobalNetworkPolicy/fwd', 'NetworkPolicy/ns1/ns-all'], 'the workload: fwd and its namespace policy, never preDNAT (has(role) does not match it anyway) nor doNotTrack');
  assert.ok(ds.profiles.some((p) => p.id === 'Profile/hp'), 'a profile only a host endpoint uses is rendered');
  const tb = ds.ipsets.find((s) => s.key === 'sel:tenant == "b"');
  assert.ok(tb, 'a set only a doNotTrack policy uses is in the state');
  assert.equal(tb.members, ['10.0.0.2/32']);
  assert.equal(h.failsafe, { inbound: defaultHostConfig().failsafeInbound, outbound: defaultHostConfig().failsafeOutbound });
  assert.is(h.endpointToHost, 'Drop');
});

test('a preDNAT policy selecting all() applies to host endpoints only', () => {
  const rs = [...resources(), gnp('pre-all', { selector: 'all()', preDNAT: true, applyOnForward: true, ingress: [{ action: 'Deny' }] })];
  const ds = computeDesiredState({ nodeName: NODE, resources: rs });
  assert.ok(!ds.endpoints[0]!.ingress.policies.includes('GlobalNetworkPolicy/pre-all'), 'not on the workload');
  assert.ok(ds.host!.endpoints[0]!.preDnatIngress.includes('GlobalNetworkPolicy/pre-all'), 'on the host endpoint');
});

const HOST = { failsafeInbound: [], failsafeOutbound: [{ protocol: 'udp' as const, port: 53 }], endpointToHost: 'Accept' as const };

function sameAs(calc: ReturnType<typeof createCalculator>, rs: Resource[], what: string): DesiredState {
  const want = computeDesiredState({ nodeName: NODE, resources: rs, host: HOST });
  const got = calc.state();
  assert.equal(got, want, `incremental differs from the computation after ${what}`);
  return got;
}

test('the incremental calculator agrees through adds, label changes, policy edits and removals', () => {
  const calc = createCalculator(NODE, { host: HOST });
  let rs: Resource[] = [];
  for (const r of resources()) {
    calc.upsert(r);
    rs.push(r);
    sameAs(calc, rs, `adding ${r.kind} ${r.metadata.name}`);
  }
  const before = calc.state().host;
  calc.upsert(wep('ns1', 'w2', { node: 'node2', ip: '10.0.0.7/32', labels: { app: 'x' } }));
  rs.push(wep('ns1', 'w2', { node: 'node2', ip: '10.0.0.7/32', labels: { app: 'x' } }));
  assert.ok(sameAs(calc, rs, 'an unrelated remote endpoint').host === before, 'host state kept (same object) when nothing of it changed');
  const relabelled = hep('eth1', { iface: 'eth1', ips: ['192.0.2.9'], labels: { role: 'host' } });
  calc.upsert(relabelled);
  rs = rs.map((r) => (r.kind === 'HostEndpoint' && r.metadata.name === 'eth1' ? relabelled : r));
  assert.equal(sameAs(calc, rs, 'relabelling eth1').host!.endpoints[1]!.untrackedIngress, [], 'un no longer selects it');
  const edited = gnp('deny', { selector: 'role == "host"', order: 1, types: ['Ingress'] });
  calc.upsert(edited);
  rs = rs.map((r) => (r.kind === 'GlobalNetworkPolicy' && r.metadata.name === 'deny' ? edited : r));
  assert.equal(sameAs(calc, rs, 'reordering deny').host!.endpoints[0]!.ingress.policies, ['GlobalNetworkPolicy/deny', 'GlobalNetworkPolicy/fwd']);
  for (const name of ['all', 'hp']) {
    const r = rs.find((x) => x.metadata.name === name)!;
    calc.remove(resourceKey(r));
    rs = rs.filter((x) => x !== r);
    sameAs(calc, rs, `removing ${name}`);
  }
  assert.equal(calc.state().host!.endpoints.map((e) => e.id), ['HostEndpoint/eth1']);
});

test('a host endpoint\'s policies are ordered and grouped tier by tier, as a workload\'s; a Tier edit reaches the incremental calculator', () => {
  const rs: Resource[] = [
    hep('all', { iface: '*', ips: ['192.0.2.1'], labels: { role: 'host' } }),
    tier('platform', { order: 100, defaultAction: 'Deny' }),
    gnp('platform.ssh', { tier: 'platform', order: 1, selector: 'role == "host"', ingress: [{ action: 'Pass', protocol: 'TCP', destination: { ports: [22] } }] }),
    gnp('open', { order: 1, selector: 'role == "host"', ingress: [{ action: 'Allow' }] }),
    gnp('pre', { selector: 'has(role)', order: 1, preDNAT: true, applyOnForward: true, ingress: [{ action: 'Deny', protocol: 'TCP', destination: { ports: [8080] } }] }),
  ];
  const calc = createCalculator(NODE, { host: HOST });
  for (const r of rs) calc.upsert(r);
  const ingress = sameAs(calc, rs, 'a platform tier over the default tier').host!.endpoints[0]!.ingress;
  assert.equal(ingress.policies, ['GlobalNetworkPolicy/platform.ssh', 'GlobalNetworkPolicy/open'], 'the platform tier first; preDNAT stays out of the normal list');
  assert.equal(ingress.tiers, [
    { name: 'platform', defaultAction: 'Deny', policies: ['GlobalNetworkPolicy/platform.ssh'] },
    { name: 'default', defaultAction: 'Deny', policies: ['GlobalNetworkPolicy/open'] },
  ]);
  const passing = tier('platform', { order: 100, defaultAction: 'Pass' });
  calc.upsert(passing);
  const after = rs.map((r) => (r.kind === 'Tier' ? passing : r));
  assert.equal(sameAs(calc, after, 'the tier\'s default action edited').host!.endpoints[0]!.ingress.tiers?.[0], { name: 'platform', defaultAction: 'Pass', policies: ['GlobalNetworkPolicy/platform.ssh'] });
});

test.run();
