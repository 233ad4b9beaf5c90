// Host endpoint render tests: DesiredState with host endpoints -> exact iptables text of the
// chains that police the host (filter, mangle for preDNAT, raw for doNotTrack).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { DesiredState } from '../../src/calc/index.js';
import { renderIptables, renderSetRefs, type ChainSpec } from '../../src/dataplane/iptables/index.js';
import { hostPolicyChain, hostProfileChain } from '../../src/dataplane/iptables/host-render.js';
import { hep, hostLabState, policy, tcpRule } from './_host-state.js';

function chainOf(ds: DesiredState, name: string, t = 'filter', family: 4 | 6 = 4): string[] {
  const spec = renderIptables(ds).tables.find((x) => x.table === t && x.family === family);
  const c: ChainSpec | undefined = spec?.chains.find((x) => x.name === name);
  if (!c) throw new Error(`chain ${name} not rendered in ${t} v${family}`);
  const [first, ...rest] = c.rules;
  const comment = `-m comment --comment "trl:${c.hash}"`;
  return first === comment ? rest : [first!.replace(`${comment} `, ''), ...rest];
}
const tables = (ds: DesiredState) => renderIptables(ds).tables.map((t) => `${t.table}/${t.family}`).sort();

const web = policy('web', [tcpRule('Allow', 80, 'GlobalNetworkPolicy web ingress[0]', { srcSets: ['ta'] })]);
const pre = policy('pre', [tcpRule('Deny', 8080, 'GlobalNetworkPolicy pre ingress[0]')], [], { preDNAT: true, applyOnForward: true });
const un = policy('un', [tcpRule('Allow', 5000, 'GlobalNetworkPolicy un ingress[0]', { dstSets: ['tb'] })], [], { doNotTrack: true, applyOnForward: true });
const fwd = policy('fwd', [tcpRule('Deny', 80, 'GlobalNetworkPolicy fwd ingress[0]')], [], { applyOnForward: true });

function full(): DesiredState {
  const ds = hostLabState({
    heps: [
      hep('all', '*', { ingress: { policies: [web.id, fwd.id], profiles: ['Profile/open'] }, forwardIngress: [fwd.id], preDnatIngress: [pre.id], untrackedIngress: [un.id] }),
      hep('eth1', 'eth1'),
    ],
    policies: [web, pre, un, fwd],
  });
  ds.host!.failsafe = { inbound: [{ protocol: 'tcp', port: 22, net: '10.0.0.0/8' }, { protocol: 'udp', port: 68 }], outbound: [{ protocol: 'udp', port: 53 }] };
  return ds;
}

const CLEAR = '-j MARK --set-xmark 0x0/0xffff0000';
const ACC = '0x10000/0x10000';
const NOT_PASSED = '-m mark --mark 0x0/0x20000';

test('no host endpoint: no host chains, no mangle or IPv4 raw table; a workload\'s traffic to the host meets the default action', () => {
  const ds = hostLabState({ endpointToHost: 'Return' });
  assert.equal(tables(ds), ['filter/4', 'filter/6', 'nat/4', 'nat/6', 'raw/6', 'security/4', 'security/6']);
  assert.equal(chainOf(ds, 'trl-input'), ['-i trl+ -j trl-from-wl', '-i trl+ -j trl-vd-from-wl', '-i trl+ -m comment --comment "DefaultEndpointToHostAction Return" -j RETURN']);
  const names = renderIptables(ds).tables.flatMap((t) => t.chains.map((c) => c.name));
  assert.equal(names.filter((n) => /hep|failsafe|trl-h[a-z]+-/.test(n)), [], 'no host endpoint chain');
});

test('hook chains: untracked accept first; forward: host endpoint ingress, workloads, host endpoint egress; input: workloads, the all-interfaces policy, the default action, then host endpoints', () => {
  const ds = full();
  assert.equal(chainOf(ds, 'trl-forward'), [
    `-m mark --mark ${ACC} -m conntrack --ctstate UNTRACKED -m comment --comment "allowed by doNotTrack policy" -j ACCEPT`,
    '-j trl-from-hep-fw',
    '-i trl+ -j trl-from-wl', '-i trl+ -j trl-vd-from-wl', '-o trl+ -j trl-to-wl', '-o trl+ -j trl-vd-to-wl',
    '-j trl-to-hep-fw',
    '-i trl+ -j ACCEPT', '-o trl+ -j ACCEPT',
    `-m mark --mark ${ACC} -m comment --comment "allowed by host endpoint policy" -j ACCEPT`,
  ]);
  assert.equal(chainOf(ds, 'trl-input'), [
    `-m mark --mark ${ACC} -m conntrack --ctstate UNTRACKED -m comment --comment "allowed by doNotTrack policy" -j ACCEPT`,
    '-i trl+ -j trl-from-wl', '-i trl+ -j trl-vd-from-wl',
    '-i trl+ -j trl-wl-to-host',
    '-i trl+ -m comment --comment "DefaultEndpointToHostAction Drop" -j DROP',
    '-j trl-from-hep',
    `-m mark --mark ${ACC} -m comment --comment "allowed by host endpoint policy" -j ACCEPT`,
  ]);
  assert.equal(chainOf(ds, 'trl-output').slice(-2), ['-j trl-to-hep', `-m mark --mark ${ACC} -m comment --comment "allowed by host endpoint policy" -j ACCEPT`]);
});

test('dispatch: loopback and workload interfaces never; a named endpoint before "*"', () => {
  const ds = full();
  assert.equal(chainOf(ds, 'trl-from-hep'), ['-i lo -j RETURN', '-i trl+ -j RETURN', '-i eth1 -g trl-hi-eth1', '-g trl-hi-+all']);
  assert.equal(chainOf(ds, 'trl-to-hep-fw'), ['-o lo -j RETURN', '-o trl+ -j RETURN', '-o eth1 -g trl-hfo-eth1', '-g trl-hfo-+all']);
});

test('host chains: conntrack, failsafes, policies in order, then profiles, then drop; with nothing, only the failsafes pass', () => {
  const ds = full();
  const pw = hostPolicyChain(web.id, 'ingress');
  const pf = hostPolicyChain(fwd.id, 'ingress');
  assert.equal(chainOf(ds, 'trl-hi-+all'), [
    CLEAR, '-m conntrack --ctstate RELATED,ESTABLISHED -j trl-accept', '-m conntrack --ctstate INVALID -j DROP', '-j trl-failsafe-in',
    `${NOT_PASSED} -j ${pw}`, `-m mark --mark ${ACC} -j RETURN`,
    `${NOT_PASSED} -j ${pf}`, `-m mark --mark ${ACC} -j RETURN`,
    `${NOT_PASSED} -m comment --comment "no policy allowed" -j DROP`,
    `-j ${hostProfileChain('Profile/open', 'ingress')}`, `-m mark --mark ${ACC} -j RETURN`,
    '-m comment --comment "no policy or profile allowed" -j DROP',
  ]);
  assert.equal(chainOf(ds, 'trl-ho-eth1'), [
    CLEAR, '-m conntrack --ctstate RELATED,ESTABLISHED -j trl-accept', '-m conntrack --ctstate INVALID -j DROP', '-j trl-failsafe-out',
    '-m comment --comment "no policy or profile allowed" -j DROP',
  ]);
  assert.equal(chainOf(ds, pw), [
    `-p tcp -m set --match-set trl4-ta src -m multiport --dports 80 -m comment --comment "GlobalNetworkPolicy web ingress[0]" -j MARK --set-xmark ${ACC}`,
    `-m mark --mark ${ACC} -j RETURN`,
  ]);
  assert.equal(chainOf(ds, 'trl-failsafe-in'), [
    '-s 10.0.0.0/8 -p tcp -m tcp --dport 22 -m comment --comment "failsafe in tcp:22:10.0.0.0/8" -j trl-accept',
    '-p udp -m udp --dport 68 -m comment --comment "failsafe in udp:68" -j trl-accept',
  ]);
  assert.equal(chainOf(ds, 'trl-failsafe-out'), ['-p udp -m udp --dport 53 -m comment --comment "failsafe out udp:53" -j trl-accept']);
});

test('forward chains: only applyOnForward policies, ending in drop; none in a direction allows', () => {
  const ds = full();
  assert.equal(chainOf(ds, 'trl-hfi-+all'), [
    CLEAR, '-m conntrack --ctstate RELATED,ESTABLISHED -j trl-accept', '-m conntrack --ctstate INVALID -j DROP',
    `${NOT_PASSED} -j ${hostPolicyChain(fwd.id, 'ingress')}`, `-m mark --mark ${ACC} -j RETURN`,
    '-m comment --comment "no applyOnForward policy allowed" -j DROP',
  ]);
  assert.equal(chainOf(ds, 'trl-hfo-+all'), [
    CLEAR, '-m conntrack --ctstate RELATED,ESTABLISHED -j trl-accept', '-m conntrack --ctstate INVALID -j DROP',
    `-j MARK --set-xmark ${ACC}`, '-m comment --comment "no applyOnForward policy: forwarded traffic allowed" -j RETURN',
  ]);
});

test('a workload\'s traffic to the host meets the all-interfaces endpoint\'s policies (no profiles, no failsafes)', () => {
  assert.equal(chainOf(full(), 'trl-wl-to-host'), [
    CLEAR,
    `${NOT_PASSED} -j ${hostPolicyChain(web.id, 'ingress')}`, `-m mark --mark ${ACC} -j trl-accept`,
    `${NOT_PASSED} -j ${hostPolicyChain(fwd.id, 'ingress')}`, `-m mark --mark ${ACC} -j trl-accept`,
    `${NOT_PASSED} -m comment --comment "no policy of the all-interfaces host endpoint allowed" -j DROP`,
    `-j MARK --set-xmark ${ACC}`,
  ]);
});

test('preDNAT in mangle: new connections only, failsafes, an allow accepts with the mark cleared, nothing decided goes on', () => {
  const ds = full();
  assert.equal(chainOf(ds, 'trl-mangle-pre', 'mangle'), ['-i lo -j RETURN', '-i trl+ -j RETURN', '-g trl-hpre-+all']);
  assert.equal(chainOf(ds, 'trl-hpre-+all', 'mangle'), [
    '-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT', CLEAR, '-j trl-failsafe-in',
    `${NOT_PASSED} -j ${hostPolicyChain(pre.id, 'ingress')}`, `-m mark --mark ${ACC} -g trl-pre-accept`,
    `-m comment --comment "no preDNAT policy decided" ${CLEAR}`,
  ]);
  assert.equal(chainOf(ds, hostPolicyChain(pre.id, 'ingress'), 'mangle'), ['-p tcp -m multiport --dports 8080 -m comment --comment "GlobalNetworkPolicy pre ingress[0]" -j DROP']);
  assert.equal(chainOf(ds, 'trl-pre-accept', 'mangle'), [CLEAR, '-j ACCEPT']);
  const hooks = renderIptables(ds).tables.find((t) => t.table === 'mangle' && t.family === 4)!.hooks;
  assert.equal(hooks, [{ hook: 'PREROUTING', chain: 'trl-mangle-pre' }]);
});

test('doNotTrack in raw: failsafes both ways (replies too: no conntrack), an allow is NOTRACKed with the mark kept, its sets are referenced', () => {
  const ds = full();
  assert.equal(chainOf(ds, 'trl-raw-pre', 'raw'), ['-j trl-raw-hep-in']);
  assert.equal(chainOf(ds, 'trl-hui-+all', 'raw'), [
    CLEAR, '-j trl-failsafe-in',
    `${NOT_PASSED} -j ${hostPolicyChain(un.id, 'ingress')}`, `-m mark --mark ${ACC} -g trl-untracked`,
    `-m comment --comment "no doNotTrack policy decided" ${CLEAR}`,
  ]);
  assert.equal(chainOf(ds, 'trl-untracked', 'raw'), ['-j CT --notrack', '-j ACCEPT']);
  assert.equal(chainOf(ds, 'trl-failsafe-in', 'raw'), [
    '-s 10.0.0.0/8 -p tcp -m tcp --dport 22 -m comment --comment "failsafe in tcp:22:10.0.0.0/8" -j ACCEPT',
    '-p udp -m udp --dport 68 -m comment --comment "failsafe in udp:68" -j ACCEPT',
    '-p udp -m udp --sport 53 -m comment --comment "failsafe out reply udp:53" -j ACCEPT',
  ]);
  assert.ok(renderSetRefs(ds)[4].has('trl4-tb'), 'a set only a doNotTrack policy uses is in the set write');
  assert.ok(renderIptables(ds).setRefs[4].has('trl4-tb'));
  // IPv6 keeps its reverse-path check before the host endpoints' raw dispatch.
  assert.equal(chainOf(ds, 'trl-raw-pre', 'raw', 6), ['-i trl+ -m rpfilter --invert -m comment --comment "spoofed source" -j DROP', '-j trl-raw-hep-in']);
});

test('security guard: a packet on a policed interface that filter let through without MARK_ACCEPT is dropped (a foreign flush leaves the host closed)', () => {
  const ds = full();
  const guard = '-m mark ! --mark 0x10000/0x10000 -m comment --comment "not accepted by the host endpoint rules" -j DROP';
  assert.equal(chainOf(ds, 'trl-sec-from-hep', 'security'), ['-i lo -j RETURN', '-i trl+ -j RETURN', `-i eth1 ${guard}`, guard]);
  assert.equal(chainOf(ds, 'trl-sec-input', 'security').at(-1), '-j trl-sec-from-hep');
  assert.equal(chainOf(ds, 'trl-sec-output', 'security').at(-1), '-j trl-sec-to-hep');
  assert.equal(chainOf(ds, 'trl-sec-forward', 'security').slice(-2), ['-j trl-sec-from-hep', '-j trl-sec-to-hep']);
});

test('a policy a host endpoint needs but was not given drops (fail closed)', () => {
  const ds = hostLabState({ heps: [hep('all', '*', { ingress: { policies: ['GlobalNetworkPolicy/gone'], profiles: [] } })] });
  assert.ok(chainOf(ds, 'trl-hi-+all').includes('-m comment --comment "missing policy GlobalNetworkPolicy/gone" -j DROP'));
});

test('tiered host policies: tier by tier, each Deny tier ending in its drop, the pass mark cleared between tiers; the same for a workload\'s traffic to the host', () => {
  const plat = policy('platform.ssh', [tcpRule('Pass', 22, 'GlobalNetworkPolicy platform.ssh ingress[0]')]);
  const tiers = [
    { name: 'platform', defaultAction: 'Deny' as const, policies: [plat.id] },
    { name: 'default', defaultAction: 'Pass' as const, policies: [web.id] },
  ];
  const ds = hostLabState({ heps: [hep('all', '*', { ingress: { policies: [plat.id, web.id], profiles: ['Profile/open'], tiers } })], policies: [plat, web] });
  const pp = hostPolicyChain(plat.id, 'ingress');
  const pw = hostPolicyChain(web.id, 'ingress');
  assert.equal(chainOf(ds, 'trl-hi-+all'), [
    CLEAR, '-m conntrack --ctstate RELATED,ESTABLISHED -j trl-accept', '-m conntrack --ctstate INVALID -j DROP', '-j trl-failsafe-in',
    `${NOT_PASSED} -j ${pp}`, `-m mark --mark ${ACC} -j RETURN`,
    `${NOT_PASSED} -m comment --comment "tier platform: no policy allowed or passed" -j DROP`,
    '-j MARK --set-xmark 0x0/0x20000',
    `${NOT_PASSED} -j ${pw}`, `-m mark --mark ${ACC} -j RETURN`,
    `-j ${hostProfileChain('Profile/open', 'ingress')}`, `-m mark --mark ${ACC} -j RETURN`,
    '-m comment --comment "no policy or profile allowed" -j DROP',
  ]);
  assert.equal(chainOf(ds, 'trl-wl-to-host'), [
    CLEAR,
    `${NOT_PASSED} -j ${pp}`, '-m mark --mark 0x10000/0x10000 -j trl-accept',
    `${NOT_PASSED} -m comment --comment "tier platform: no policy allowed or passed" -j DROP`,
    '-j MARK --set-xmark 0x0/0x20000',
    `${NOT_PASSED} -j ${pw}`, '-m mark --mark 0x10000/0x10000 -j trl-accept',
    `-j MARK --set-xmark ${ACC}`,
  ]);
});

test.run();
