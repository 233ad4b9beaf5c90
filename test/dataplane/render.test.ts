// Render tests: DesiredState -> exact iptables-restore / ipset restore / ip -batch text.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { DesiredState, PolicyState } from '../../src/calc/index.js';
import { renderSysctls, renderWorkloadRoutes } from '../../src/dataplane/index.js';
import {
  policyChain, policyGroupChain, profileChain, renderFullRestore, renderIptables, renderSets, renderSetsRestore,
  renderSetRefs, verdictChain, verdictId, type ChainSpec, type TableSpec,
  parseIptablesSave, planTable, parseIpsetSave, planSets, addressDispatch, interfaceDispatch, verdictDispatch,
} from '../../src/dataplane/iptables/index.js';
import { collidingProfiles, labState, rule } from './_state.js';

function table(ds: DesiredState, t: string, family: 4 | 6): TableSpec {
  const spec = renderIptables(ds).tables.find((x) => x.table === t && x.family === family);
  if (!spec) throw new Error(`no ${t} v${family} table rendered`);
  return spec;
}
function chainOf(ds: DesiredState, name: string, family: 4 | 6 = 4, t = 'filter'): ChainSpec {
  const c = table(ds, t, family).chains.find((x) => x.name === name);
  if (!c) throw new Error(`chain ${name} not rendered in ${t} v${family}`);
  return c;
}
/** Gives an endpoint an IPv6 address too: only endpoints with one get IPv6 chains. */
function dualStack(ds: DesiredState, iface: string, v6: string): DesiredState {
  ds.endpoints.find((e) => e.interfaceName === iface)!.addresses.push(v6);
  return ds;
}
/** Rules without the hash comment (a rule of its own, or folded into the first rule). */
function body(c: ChainSpec): string[] {
  const [first, ...rest] = c.rules;
  const comment = `-m comment --comment "trl:${c.hash}"`;
  return first === comment ? rest : [first!.replace(`${comment} `, ''), ...rest];
}
/** The mark rule an endpoint chain ends with: its verdict chain's id, the other Trellis bits cleared. */
const setVerdict = (chainName: string) => `-j MARK --set-xmark 0x${(verdictId(chainName) * 2 ** 18).toString(16)}/0xffff0000`;
/** The verdict chain of one endpoint and direction. */
function verdictOf(ds: DesiredState, iface: string, dir: 'ingress' | 'egress'): string {
  const e = ds.endpoints.find((x) => x.interfaceName === iface)!;
  return verdictChain(e[dir].policies, e[dir].profiles, dir);
}

test('every chain starts with a hash comment of its content, and the hash follows the content', () => {
  const ds = labState();
  for (const c of table(ds, 'filter', 4).chains) {
    assert.ok(c.rules[0]!.includes(`-m comment --comment "trl:${c.hash}"`), `${c.name}: first rule carries the hash`);
    assert.is(c.rules.filter((r) => r.includes('"trl:')).length, 1, `${c.name}: and only the first`);
    assert.ok(c.name.length <= 28, `${c.name} fits 28 chars`);
  }
  // A first rule with a target takes the hash in its comment; one with a comment of its own cannot.
  assert.equal(chainOf(ds, 'trl-tw-trla1').rules[0], `-m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment "trl:${chainOf(ds, 'trl-tw-trla1').hash}" -j trl-accept`);
  const rogue = chainOf(ds, policyChain('GlobalNetworkPolicy/deny-ssh', 'ingress'));
  assert.is(rogue.rules[0], `-m comment --comment "trl:${rogue.hash}"`, 'policy rules carry their own comments: the hash gets a rule');
  const before = chainOf(ds, 'trl-tw-trla1').hash;
  const ds2 = labState();
  ds2.endpoints.find((e) => e.interfaceName === 'trla1')!.ingress.policies.reverse();
  assert.is.not(chainOf(ds2, 'trl-tw-trla1').hash, before, 'policy order change changes the hash (another verdict chain)');
  assert.is(chainOf(ds2, 'trl-tw-trlb1').hash, chainOf(ds, 'trl-tw-trlb1').hash, 'an untouched chain keeps its hash');
});

test('endpoint chain: conntrack first, then the mark set to its verdict chain id', () => {
  const ds = labState();
  const verdict = verdictOf(ds, 'trla1', 'ingress');
  assert.equal(body(chainOf(ds, 'trl-tw-trla1')), [
    '-m conntrack --ctstate RELATED,ESTABLISHED -j trl-accept',
    '-m conntrack --ctstate INVALID -j DROP',
    setVerdict(verdict),
  ]);
  assert.ok(verdictId(verdict) >= 2 && verdictId(verdict) <= 16382, 'ids 0 (unset) and 1 (done) are never a verdict chain\'s');
});

test('a flush never opens anything: early accepts set the accept mark, and the security table drops workload packets without it', () => {
  const ds = labState();
  assert.equal(body(chainOf(ds, 'trl-accept')), ['-j MARK --set-xmark 0x10000/0x10000', '-j ACCEPT'], 'trl-accept marks, then accepts');
  for (const family of [4, 6] as const) {
    const sec = table(ds, 'security', family);
    assert.equal(sec.hooks, [{ hook: 'FORWARD', chain: 'trl-sec-forward' }, { hook: 'INPUT', chain: 'trl-sec-input' }, { hook: 'OUTPUT', chain: 'trl-sec-output' }], `IPv${family} hooks`);
    const guard = (dir: string) => `${dir} trl+ -m mark ! --mark 0x10000/0x10000 -m comment --comment "not accepted by the filter rules" -j DROP`;
    assert.equal(body(chainOf(ds, 'trl-sec-forward', family, 'security')), [guard('-i'), guard('-o')], `IPv${family} forward guard, both directions`);
    assert.equal(body(chainOf(ds, 'trl-sec-input', family, 'security')), [guard('-i')], `IPv${family} input guard`);
    assert.equal(body(chainOf(ds, 'trl-sec-output', family, 'security')), [guard('-o')], `IPv${family} output guard`);
  }
  // Every ACCEPT a workload packet can meet in filter either follows a verdict (which returns
  // only with the mark set) or is trl-accept's own: no endpoint chain accepts directly.
  for (const c of table(dualStack(labState(), 'trla1', 'fd65::1/128'), 'filter', 6).chains) {
    if (c.name.startsWith('trl-tw-') || c.name.startsWith('trl-fw-')) assert.not.ok(c.rules.some((r) => r.endsWith('-j ACCEPT')), `${c.name} accepts only through trl-accept`);
  }
});

test('verdict chain: its policy group, drop if none allowed or passed, profiles, drop; shared by endpoints with the same lists', () => {
  const ds = labState();
  const ids = ['GlobalNetworkPolicy/deny-ssh', 'NetworkPolicy/tenant-a/web-from-tenant-b'];
  const verdict = verdictOf(ds, 'trla1', 'ingress');
  assert.equal(verdict, verdictChain(ids, ['Profile/tenant-a'], 'ingress'));
  assert.equal(body(chainOf(ds, verdict)), [
    `-j ${policyGroupChain(ids, 'ingress')}`,
    '-m mark --mark 0x10000/0x10000 -j RETURN',
    '-m mark --mark 0x0/0x20000 -m comment --comment "no policy allowed or passed" -j DROP',
    `-j ${profileChain('Profile/tenant-a', 'ingress')}`,
    '-m mark --mark 0x10000/0x10000 -j RETURN',
    '-m comment --comment "no profile allowed" -j DROP',
  ]);
  assert.is(verdictOf(ds, 'trlb1', 'ingress'), verdictOf(ds, 'trlb2', 'ingress'), 'same lists, one verdict chain');
  assert.is.not(verdictOf(ds, 'trla2', 'ingress'), verdictOf(ds, 'trlb2', 'ingress'), 'another profile, another verdict chain');
  const names = table(ds, 'filter', 4).chains.map((c) => c.name);
  assert.is(names.filter((n) => n.startsWith('trl-vi-')).length, 3, `three distinct ingress lists: ${names.join(' ')}`);
  assert.is(names.filter((n) => n.startsWith('trl-vo-')).length, 2, 'two distinct egress lists');
});

test('policy group: the policies in order, each skipped once one passed, the first allow returns; shared by equal lists', () => {
  const ds = labState();
  const ids = ['GlobalNetworkPolicy/deny-ssh', 'NetworkPolicy/tenant-a/web-from-tenant-b'];
  assert.equal(body(chainOf(ds, policyGroupChain(ids, 'ingress'))), [
    `-m mark --mark 0x0/0x20000 -j ${policyChain(ids[0]!, 'ingress')}`,
    '-m mark --mark 0x10000/0x10000 -j RETURN',
    `-m mark --mark 0x0/0x20000 -j ${policyChain(ids[1]!, 'ingress')}`,
    '-m mark --mark 0x10000/0x10000 -j RETURN',
  ]);
  // trla2, trlb1 and trlb2 all have just deny-ssh: one group chain serves their verdict chains.
  const denyOnly = policyGroupChain([ids[0]!], 'ingress');
  for (const i of ['trla2', 'trlb1', 'trlb2']) assert.ok(body(chainOf(ds, verdictOf(ds, i, 'ingress'))).includes(`-j ${denyOnly}`), `${i}'s verdict jumps to the shared group`);
  assert.is(table(ds, 'filter', 4).chains.filter((c) => c.name.startsWith('trl-gi-')).length, 2, 'two distinct lists, two group chains');
  const reordered = labState();
  reordered.endpoints.find((e) => e.interfaceName === 'trla1')!.ingress.policies.reverse();
  assert.is.not(policyGroupChain([...ids].reverse(), 'ingress'), policyGroupChain(ids, 'ingress'), 'order is part of the group');
  assert.ok(body(chainOf(reordered, verdictOf(reordered, 'trla1', 'ingress'))).includes(`-j ${policyGroupChain([...ids].reverse(), 'ingress')}`));
});

test('IPv6 endpoint chains let neighbour discovery and MLD through before policy (RA only towards the workload)', () => {
  const ds = dualStack(labState(), 'trla1', 'fd65::1/128');
  const nd = (types: number[]) => types.map((t) => `-p ipv6-icmp -m icmp6 --icmpv6-type ${t} -j trl-accept`);
  assert.equal(body(chainOf(ds, 'trl-tw-trla1', 6)).slice(2, 9), nd([130, 131, 132, 134, 135, 136, 143]));
  assert.equal(body(chainOf(ds, 'trl-fw-trla1', 6)).slice(2, 9), nd([130, 131, 132, 133, 135, 136, 143]));
  assert.not.ok(body(chainOf(ds, 'trl-tw-trla1', 4)).some((r) => r.includes('icmp6')), 'not in IPv4');
});

test('an endpoint gets chains only in the families it has addresses in; otherwise its interface meets the drop', () => {
  const ds = dualStack(labState(), 'trla1', 'fd65::1/128');
  const v6 = table(ds, 'filter', 6).chains.map((c) => c.name);
  assert.ok(v6.includes('trl-tw-trla1') && v6.includes('trl-fw-trla1'), 'dual-stack endpoint has IPv6 chains');
  assert.not.ok(v6.some((n) => /trl-[tf]w-trl(a2|b1|b2)$/.test(n)), `IPv4-only endpoints have no IPv6 chains: ${v6.join(' ')}`);
  assert.equal(body(chainOf(ds, 'trl-from-wl', 6)), ['-i trla1 -g trl-fw-trla1', '-m comment --comment "unknown workload interface" -j DROP']);
  assert.equal(body(chainOf(ds, 'trl-forward', 6)), body(chainOf(ds, 'trl-forward', 4)), 'every workload interface is still dispatched (and so dropped) in IPv6');
  assert.not.ok(v6.includes(policyChain('NetworkPolicy/tenant-a/web-from-tenant-b', 'egress')), 'no chain for a direction nobody uses');
  const only4 = table(labState(), 'filter', 6).chains.map((c) => c.name);
  assert.not.ok(only4.some((n) => n.startsWith('trl-p')), `an IPv4-only node has no IPv6 policy or profile chains: ${only4.join(' ')}`);
});

test('endpoint with no policies goes straight to profiles; with no profile it drops', () => {
  const ds = labState();
  const ep = ds.endpoints.find((e) => e.interfaceName === 'trla2')!;
  ep.egress = { policies: [], profiles: [] };
  ep.ingress = { policies: ['NetworkPolicy/tenant-a/gone'], profiles: [] };
  assert.equal(body(chainOf(ds, verdictOf(ds, 'trla2', 'egress'))), ['-m comment --comment "no profile allowed" -j DROP']);
  const group = policyGroupChain(['NetworkPolicy/tenant-a/gone'], 'ingress');
  assert.equal(body(chainOf(ds, verdictOf(ds, 'trla2', 'ingress'))), [
    `-j ${group}`,
    '-m mark --mark 0x10000/0x10000 -j RETURN',
    '-m mark --mark 0x0/0x20000 -m comment --comment "no policy allowed or passed" -j DROP',
    '-m comment --comment "no profile allowed" -j DROP',
  ]);
  assert.equal(body(chainOf(ds, group)), ['-m comment --comment "missing policy NetworkPolicy/tenant-a/gone" -j DROP'], 'a policy we were not given fails closed');
});

test('dispatch chains: by interface to the endpoint chains, then by verdict id; unknown trl interfaces dropped; accept only after both directions', () => {
  const ds = labState();
  assert.equal(body(chainOf(ds, 'trl-forward')), [
    '-i trl+ -j trl-from-wl', '-i trl+ -j trl-vd-from-wl', '-o trl+ -j trl-to-wl', '-o trl+ -j trl-vd-to-wl', '-i trl+ -j ACCEPT', '-o trl+ -j ACCEPT',
  ]);
  assert.equal(body(chainOf(ds, 'trl-from-wl')), [
    '-i trla1 -g trl-fw-trla1', '-i trla2 -g trl-fw-trla2', '-i trlb1 -g trl-fw-trlb1', '-i trlb2 -g trl-fw-trlb2',
    '-m comment --comment "unknown workload interface" -j DROP',
  ]);
  assert.equal(body(chainOf(ds, 'trl-to-wl')).at(-1), '-m comment --comment "unknown workload interface" -j DROP');
  // A workload's traffic to the host: after its egress policy, Calico's default DefaultEndpointToHostAction (Drop).
  assert.equal(body(chainOf(ds, 'trl-input')), ['-i trl+ -j trl-from-wl', '-i trl+ -j trl-vd-from-wl', '-i trl+ -m comment --comment "DefaultEndpointToHostAction Drop" -j DROP']);
  assert.equal(body(chainOf(ds, 'trl-output')), [
    '-o trl+ -j trl-to-wl', '-o trl+ -j trl-vd-to-wl', '-o trl+ -j ACCEPT',
    '-m conntrack --ctstate DNAT -j trl-to-wl-addr',
    '-m conntrack --ctstate DNAT -m mark ! --mark 0x0/0xfffc0000 -j trl-vd-to-wl',
    '-m conntrack --ctstate DNAT -m mark --mark 0x10000/0x10000 -j ACCEPT',
  ]);
  assert.equal(body(chainOf(ds, 'trl-to-wl-addr')), [
    '-j MARK --set-xmark 0x0/0xffff0000',
    '-d 10.65.0.1/32 -g trl-tw-trla1', '-d 10.65.0.2/32 -g trl-tw-trla2', '-d 10.65.1.1/32 -g trl-tw-trlb1', '-d 10.65.1.2/32 -g trl-tw-trlb2',
  ], 'host-originated DNAT dispatched by address, the verdict id cleared first so a miss skips the verdict dispatch');
  assert.equal(body(chainOf(ds, 'trl-to-wl-addr', 6)), ['-j MARK --set-xmark 0x0/0xffff0000'], 'no v6 addresses');
  const verdicts = [...new Set(['trla1', 'trla2', 'trlb1', 'trlb2'].map((i) => verdictOf(ds, i, 'ingress')))]
    .sort((a, b) => verdictId(a) - verdictId(b));
  const mark = (n: string) => `0x${(verdictId(n) * 2 ** 18).toString(16)}`;
  assert.equal(body(chainOf(ds, 'trl-vd-to-wl')), [
    '-m mark --mark 0x40000/0xfffc0000 -j RETURN',
    ...verdicts.map((v) => `-m mark --mark ${mark(v)}/0xfffc0000 -g ${v}`),
    '-m comment --comment "unknown verdict" -j DROP',
  ], 'each verdict chain once, by id; done returns; anything else drops');
  assert.equal(table(ds, 'filter', 4).hooks, [
    { hook: 'FORWARD', chain: 'trl-forward' }, { hook: 'INPUT', chain: 'trl-input' }, { hook: 'OUTPUT', chain: 'trl-output' },
  ]);
});

test('verdict dispatch splits by the top four bits of the id past 16 verdict chains; every chain ends in the drop', () => {
  const drop = '-m comment --comment "unknown verdict" -j DROP';
  const entries = Array.from({ length: 20 }, (_, i) => ({ id: 2 + i * 800, chain: `trl-vi-${i}` }));
  const tree = verdictDispatch('trl-vd-to-wl', entries);
  const nibbles = [...new Set(entries.map((e) => (e.id * 2 ** 18) >>> 28))];
  assert.equal(tree.map((c) => c.name), ['trl-vd-to-wl', ...nibbles.map((n) => `trl-vd-to-wl-${n.toString(16)}`)]);
  assert.equal(tree[0]!.body, [
    '-m mark --mark 0x40000/0xfffc0000 -j RETURN',
    ...nibbles.map((n) => `-m mark --mark 0x${(n * 2 ** 28).toString(16)}/0xf0000000 -g trl-vd-to-wl-${n.toString(16)}`),
    drop,
  ]);
  for (const c of tree) assert.is(c.body.at(-1), drop, `${c.name} ends in the drop`);
  const reached = tree.flatMap((c) => c.body).map((r) => /-g (trl-vi-\d+)$/.exec(r)?.[1]).filter(Boolean);
  assert.is(reached.length, 20, 'every verdict chain is dispatched exactly once');
  assert.equal(tree[1]!.body[0], '-m mark --mark 0x80000/0xfffc0000 -g trl-vi-0');
});

test('endpoints whose verdict chains share an id run their verdict chain themselves', () => {
  const pair = collidingProfiles();
  const ds = labState();
  ds.profiles.push(...pair.map((id) => ({ id, ingress: [], egress: [] })));
  const [a, b] = ['trla2', 'trlb2'].map((i) => ds.endpoints.find((e) => e.interfaceName === i)!);
  a!.ingress = { policies: [], profiles: [pair[0]] };
  b!.ingress = { policies: [], profiles: [pair[1]] };
  for (const [ep, profile] of [[a!, pair[0]], [b!, pair[1]]] as const) {
    const v = verdictChain([], [profile], 'ingress');
    assert.equal(body(chainOf(ds, `trl-tw-${ep.interfaceName}`)).slice(2), [
      '-j MARK --set-xmark 0x0/0xffff0000', `-j ${v}`, '-j MARK --set-xmark 0x40000/0xfffc0000',
    ], `${ep.interfaceName} runs ${v} itself and says done`);
    assert.not.ok(body(chainOf(ds, 'trl-vd-to-wl')).some((r) => r.endsWith(` ${v}`)), `${v} is not in the dispatch`);
  }
  assert.equal(body(chainOf(ds, 'trl-tw-trla1')).at(-1), setVerdict(verdictOf(ds, 'trla1', 'ingress')), 'the others are still dispatched by id');
});

test('interface dispatch splits by name prefix past 16 endpoints; every chain of the tree ends in the drop', () => {
  const drop = '-m comment --comment "unknown workload interface" -j DROP';
  const to = (n: string) => `trl-fw-${n}`;
  assert.equal(interfaceDispatch('trl-from-wl', '-i', ['trlb', 'trla'], to), [
    { name: 'trl-from-wl', body: ['-i trla -g trl-fw-trla', '-i trlb -g trl-fw-trlb', drop] },
  ], 'small: one flat chain');
  // trlw0..trlw39: "trlw1", "trlw2", "trlw3" are names and prefixes of ten others each.
  const names = Array.from({ length: 40 }, (_, i) => `trlw${i}`);
  const tree = interfaceDispatch('trl-from-wl', '-i', names, to);
  assert.equal(tree.map((c) => c.name), ['trl-from-wl', 'trl-from-wl-trlw1', 'trl-from-wl-trlw2', 'trl-from-wl-trlw3']);
  assert.equal(tree[0]!.body, [
    '-i trlw0 -g trl-fw-trlw0',
    '-i trlw1+ -g trl-from-wl-trlw1',
    '-i trlw2+ -g trl-from-wl-trlw2',
    '-i trlw3+ -g trl-from-wl-trlw3',
    ...[4, 5, 6, 7, 8, 9].map((i) => `-i trlw${i} -g trl-fw-trlw${i}`),
    drop,
  ]);
  assert.equal(tree[1]!.body, [
    '-i trlw1 -g trl-fw-trlw1', ...[10, 11, 12, 13, 14, 15, 16, 17, 18, 19].map((i) => `-i trlw${i} -g trl-fw-trlw${i}`), drop,
  ], 'the name equal to the prefix is matched exactly, first');
  for (const c of tree) assert.is(c.body.at(-1), drop, `${c.name} ends in the drop (-g never falls back to the root)`);
  const reached = new Set(tree.flatMap((c) => c.body).map((r) => /-g trl-fw-(\S+)/.exec(r)?.[1]).filter(Boolean));
  assert.is(reached.size, 40, 'every interface is dispatched exactly once');
});

test('address dispatch groups by /24 past 16 addresses; a miss returns to the caller', () => {
  const entries = Array.from({ length: 20 }, (_, i) => ({ address: `10.0.${i % 2}.${i}/32`, chain: `trl-tw-w${i}` }));
  const tree = addressDispatch('trl-to-wl-addr', ['-j MARK --set-xmark 0x0/0xffff0000'], entries, 4);
  assert.equal(tree[0], { name: 'trl-to-wl-addr', body: ['-j MARK --set-xmark 0x0/0xffff0000', '-d 10.0.0.0/24 -g trl-to-wl-addr-10.0.0.0', '-d 10.0.1.0/24 -g trl-to-wl-addr-10.0.1.0'] });
  assert.is(tree[1]!.body.length, 10);
  assert.ok(tree[1]!.body.every((r) => r.startsWith('-d 10.0.0.')), 'the /24 branch holds only its addresses');
  const v6 = addressDispatch('trl-to-wl-addr', [], Array.from({ length: 17 }, (_, i) => ({ address: `fd00::${i + 1}/128`, chain: 'c' })), 6);
  assert.ok(v6.every((c) => c.name.length <= 28), `chain names fit: ${v6.map((c) => c.name).join(' ')}`);
});

test('the set references known before rendering (for the ipset write) are exactly those of the rendered rules', () => {
  const states: Array<[string, DesiredState]> = [['lab', labState()], ['dual stack', dualStack(labState(), 'trla1', 'fd65::1/128')]];
  const nat = labState();
  nat.nat = { masqueradeSources: ['10.65.0.0/16'], allPools: ['10.65.0.0/16'] };
  states.push(['natOutgoing', nat]);
  for (const [what, ds] of states) {
    const early = renderSetRefs(ds);
    const rendered = renderIptables(ds).setRefs;
    for (const f of [4, 6] as const) assert.equal([...early[f]].sort(), [...rendered[f]].sort(), `${what}, IPv${f}`);
  }
  assert.ok(renderSetRefs(nat)[4].has('trl4-nat-masq'), 'outgoing NAT sets included');
  assert.ok(renderSetRefs(labState())[4].size > 0, 'policy sets included');
});

function withPolicy(p: PolicyState): DesiredState {
  const ds = dualStack(labState(), 'trla2', 'fd65::2/128');
  ds.policies.push(p);
  ds.policies.sort((a, b) => a.id.localeCompare(b.id));
  ds.endpoints[0]!.ingress.policies.push(p.id);
  return ds;
}

test('policy rules: Allow/Deny/Log/Pass, notPorts, port splitting, named ports, ICMP, protocols', () => {
  const p: PolicyState = {
    id: 'NetworkPolicy/tenant-a/mix', order: 5, egress: [],
    ingress: [
      rule({ action: 'Log', protocol: 6, origin: 'NetworkPolicy tenant-a/mix ingress[0]' }),
      rule({ action: 'Deny', protocol: 17, notDstPorts: [{ from: 53, to: 53 }, { from: 1000, to: 2000 }], notSrcSets: ['ta'], origin: 'NetworkPolicy tenant-a/mix ingress[1]' }),
      rule({
        action: 'Allow', protocol: 6,
        dstPorts: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14].map((n) => ({ from: n, to: n })).concat([{ from: 100, to: 200 }]),
        dstNamedPortSets: ['np-http'], srcSets: ['tb'], origin: 'NetworkPolicy tenant-a/mix ingress[2]',
      }),
      rule({ action: 'Allow', protocol: 1, icmp: { type: 8, code: 0 }, origin: 'NetworkPolicy tenant-a/mix ingress[3]' }),
      rule({ action: 'Deny', protocol: 58, notIcmp: { type: 128 }, origin: 'NetworkPolicy tenant-a/mix ingress[4]' }),
      rule({ action: 'Deny', notProtocol: 6, ipVersion: 6, dstSets: ['tb'], origin: 'NetworkPolicy tenant-a/mix ingress[5]' }),
      rule({ action: 'Allow', neverMatches: true, srcSets: ['ta'], origin: 'NetworkPolicy tenant-a/mix ingress[6]' }),
      rule({ action: 'Pass', srcPorts: [{ from: 1, to: 1 }], origin: 'NetworkPolicy tenant-a/mix ingress[7]' }),
    ],
  };
  const ds = withPolicy(p);
  ds.ipsets.push({ id: 'np-http', type: 'hash:ip,port', key: 'np:http', members: ['10.65.0.1,tcp:8080'] });
  const name = policyChain(p.id, 'ingress');
  const c = (n: number) => `-m comment --comment "NetworkPolicy tenant-a/mix ingress[${n}]"`;
  const A = '-j MARK --set-xmark 0x10000/0x10000';
  assert.equal(body(chainOf(ds, name, 4)), [
    `-p tcp ${c(0)} -j LOG --log-prefix "tenant-a/mix i0: "`,
    `-p udp -m set ! --match-set trl4-ta src -m multiport ! --dports 53,1000:2000 ${c(1)} -j DROP`,
    `-p tcp -m set --match-set trl4-tb src -m multiport --dports 1,2,3,4,5,6,7,8,9,10,11,12,13,14 ${c(2)} ${A}`,
    `-p tcp -m set --match-set trl4-tb src -m multiport --dports 100:200 ${c(2)} ${A}`,
    `-p tcp -m set --match-set trl4-tb src -m set --match-set trl4-np-http dst,dst ${c(2)} ${A}`,
    '-m mark --mark 0x10000/0x10000 -j RETURN',
    `-p icmp -m icmp --icmp-type 8/0 ${c(3)} ${A}`,
    '-m mark --mark 0x10000/0x10000 -j RETURN',
    // [4] is ICMPv6 and [5] IPv6-only: absent in v4; [6] never matches; [7] has ports without a protocol.
  ]);
  assert.equal(body(chainOf(ds, name, 6)).filter((r) => !r.includes('set-xmark') && !r.startsWith('-m mark')).slice(1), [
    `-p udp -m set ! --match-set trl6-ta src -m multiport ! --dports 53,1000:2000 ${c(1)} -j DROP`,
    `-p ipv6-icmp -m icmp6 ! --icmpv6-type 128 ${c(4)} -j DROP`,
    `! -p tcp -m set --match-set trl6-tb dst ${c(5)} -j DROP`,
  ]);
  const sets = renderSets(ds, renderIptables(ds).setRefs);
  assert.equal(sets.map((s) => `${s.name} ${s.type} ${s.family} ${s.members.join(',')}`), [
    'trl4-np-http hash:ip,port inet 10.65.0.1,tcp:8080',
    'trl4-ta hash:net inet 10.65.0.1/32,10.65.0.2/32',
    'trl4-tb hash:net inet 10.65.1.1/32,10.65.1.2/32',
    'trl6-np-http hash:ip,port inet6 ',
    'trl6-ta hash:net inet6 ',
    'trl6-tb hash:net inet6 ',
  ], 'v6 sets exist (empty) because v6 rules reference them');
});

test('profile Pass returns unmarked (falls to the next profile)', () => {
  const ds = labState();
  ds.profiles[0]!.ingress.unshift(rule({ action: 'Pass', protocol: 6, origin: 'Profile tenant-a ingress[0]' }));
  assert.equal(body(chainOf(ds, profileChain('Profile/tenant-a', 'ingress')))[0],
    '-p tcp -m comment --comment "Profile tenant-a ingress[0]" -j RETURN');
});

test('ipset restore text: one set per family with members or references, /0 split, long ids hashed', () => {
  const ds = dualStack(labState(), 'trla1', 'fd65::1/128');
  ds.ipsets.push({ id: 'nets-all', type: 'hash:net', key: 'nets:0.0.0.0/0,::/0', members: ['0.0.0.0/0', 'fd00::/64'] });
  ds.ipsets.push({ id: 'x'.repeat(40), type: 'hash:net', key: 'long', members: ['10.1.0.0/16'] });
  const text = renderSetsRestore(renderSets(ds, renderIptables(ds).setRefs));
  const longName = text.split('\n').find((l) => l.startsWith('create trl4-h'))!.split(' ')[1]!;
  assert.ok(longName.length <= 31, `long id hashed into ${longName}`);
  assert.is(text, [
    `create ${longName} hash:net family inet maxelem 1048576`,
    `add ${longName} 10.1.0.0/16`,
    'create trl4-nets-all hash:net family inet maxelem 1048576',
    'add trl4-nets-all 0.0.0.0/1',
    'add trl4-nets-all 128.0.0.0/1',
    'create trl4-ta hash:net family inet maxelem 1048576',
    'add trl4-ta 10.65.0.1/32',
    'add trl4-ta 10.65.0.2/32',
    'create trl4-tb hash:net family inet maxelem 1048576',
    'add trl4-tb 10.65.1.1/32',
    'add trl4-tb 10.65.1.2/32',
    'create trl6-nets-all hash:net family inet6 maxelem 1048576',
    'add trl6-nets-all fd00::/64',
    // Empty, but the IPv6 chains of trla1's profile (ta) and policy (tb) reference them.
    'create trl6-ta hash:net family inet6 maxelem 1048576',
    'create trl6-tb hash:net family inet6 maxelem 1048576',
    '',
  ].join('\n'));
});

test('set plan: add/del of the difference, create new, destroy unreferenced, rebuild on type change', () => {
  const kernel = parseIpsetSave([
    'create trl4-ta hash:net family inet hashsize 1024 maxelem 1048576 bucketsize 12 initval 0x1',
    'add trl4-ta 10.65.0.1',
    'add trl4-ta 10.65.0.9',
    'create trl4-old hash:net family inet hashsize 1024 maxelem 1048576',
    'create trl4-np hash:net family inet hashsize 1024 maxelem 1048576',
    'create docker-x hash:net family inet hashsize 1024 maxelem 1048576',
    'add docker-x 10.0.0.1',
  ].join('\n'));
  assert.equal(kernel.map((s) => s.name), ['trl4-np', 'trl4-old', 'trl4-ta'], 'foreign sets are not read');
  const plan = planSets([
    { name: 'trl4-np', type: 'hash:ip,port', family: 'inet', members: ['10.65.0.1,tcp:80'] },
    { name: 'trl4-ta', type: 'hash:net', family: 'inet', members: ['10.65.0.1/32', '10.65.0.2/32'] },
    { name: 'trl4-tb', type: 'hash:net', family: 'inet', members: ['10.65.1.1/32'] },
  ], kernel);
  assert.match(plan.update, /^create trlt-[0-9a-f]+ hash:ip,port family inet maxelem 1048576\nadd trlt-[0-9a-f]+ 10\.65\.0\.1,tcp:80\nswap trlt-[0-9a-f]+ trl4-np\ndestroy trlt-[0-9a-f]+\n/);
  assert.ok(plan.update.endsWith([
    'add trl4-ta 10.65.0.2/32',
    'del trl4-ta 10.65.0.9/32',
    'create trl4-tb hash:net family inet maxelem 1048576',
    'add trl4-tb 10.65.1.1/32',
    '',
  ].join('\n')), plan.update);
  assert.is(plan.destroy, 'destroy trl4-old\n');
  const same = planSets([{ name: 'trl4-ta', type: 'hash:net', family: 'inet', members: ['10.65.0.1/32', '10.65.0.9/32'] }],
    kernel.filter((s) => s.name === 'trl4-ta'));
  assert.is(same.update + same.destroy, '', 'no drift, no text');
});

test('NAT: DNAT in PREROUTING (local, optional host IP) and OUTPUT, MASQUERADE outside the pools', () => {
  const ds = labState();
  const web = ds.endpoints.find((e) => e.interfaceName === 'trla1')!;
  web.portMaps = [
    { protocol: 'tcp', hostPort: 8080, containerIP: '10.65.0.1', containerPort: 80 },
    { protocol: 'udp', hostPort: 5353, hostIP: '192.168.5.1', containerIP: '10.65.0.1', containerPort: 53 },
    { protocol: 'tcp', hostPort: 8443, containerIP: 'fd00:65::1', containerPort: 443 },
  ];
  ds.nat = { masqueradeSources: ['10.65.0.0/16'], allPools: ['10.65.0.0/16', '10.66.0.0/16'] };
  const id = 'WorkloadEndpoint/tenant-a/web';
  assert.equal(body(chainOf(ds, 'trl-nat-pre', 4, 'nat')), [
    `-p tcp -m tcp --dport 8080 -m addrtype --dst-type LOCAL -m comment --comment "${id} tcp/8080" -j DNAT --to-destination 10.65.0.1:80`,
    `-d 192.168.5.1 -p udp -m udp --dport 5353 -m addrtype --dst-type LOCAL -m comment --comment "${id} udp/5353" -j DNAT --to-destination 10.65.0.1:53`,
  ]);
  assert.equal(body(chainOf(ds, 'trl-nat-out', 4, 'nat')), [
    `! -d 127.0.0.0/8 -p tcp -m tcp --dport 8080 -m addrtype --dst-type LOCAL -m comment --comment "${id} tcp/8080" -j DNAT --to-destination 10.65.0.1:80`,
    `-d 192.168.5.1 -p udp -m udp --dport 5353 -m addrtype --dst-type LOCAL -m comment --comment "${id} udp/5353" -j DNAT --to-destination 10.65.0.1:53`,
  ]);
  assert.equal(body(chainOf(ds, 'trl-nat-pre', 6, 'nat')), [
    `-p tcp -m tcp --dport 8443 -m addrtype --dst-type LOCAL -m comment --comment "${id} tcp/8443" -j DNAT --to-destination [fd00:65::1]:443`,
  ]);
  assert.equal(body(chainOf(ds, 'trl-nat-post', 4, 'nat')), [
    '-m set --match-set trl4-nat-masq src -m set ! --match-set trl4-nat-pools dst -m comment --comment "natOutgoing" -j MASQUERADE',
  ]);
  assert.equal(body(chainOf(ds, 'trl-nat-post', 6, 'nat')), [], 'no v6 masquerade without v6 sources');
  const sets = renderSets(ds, renderIptables(ds).setRefs).map((s) => `${s.name}:${s.members.join(',')}`);
  assert.ok(sets.includes('trl4-nat-masq:10.65.0.0/16') && sets.includes('trl4-nat-pools:10.65.0.0/16,10.66.0.0/16'), sets.join(' '));
  assert.equal(table(ds, 'nat', 4).hooks.map((h) => `${h.hook}->${h.chain}`), ['PREROUTING->trl-nat-pre', 'OUTPUT->trl-nat-out', 'POSTROUTING->trl-nat-post']);
});

test('full restore text declares every chain, appends rules, inserts the jumps at position 1', () => {
  const text = renderFullRestore(table(labState(), 'nat', 4));
  const lines = text.split('\n');
  assert.equal(lines.slice(0, 4), ['*nat', ':trl-nat-out - [0:0]', ':trl-nat-post - [0:0]', ':trl-nat-pre - [0:0]']);
  assert.equal(lines.slice(-5), ['-I PREROUTING 1 -j trl-nat-pre', '-I OUTPUT 1 -j trl-nat-out', '-I POSTROUTING 1 -j trl-nat-post', 'COMMIT', '']);
});

test('workload routes and sysctls', () => {
  const ds = labState();
  ds.routes.push({ dst: 'fd00:65::1/128', family: 6, dev: 'trla1' });
  ds.endpoints.find((e) => e.interfaceName === 'trla1')!.addresses.push('fd00:65::1/128');
  assert.equal(renderWorkloadRoutes(ds.routes), [
    'route replace 10.65.0.1/32 dev trla1 scope link proto 78',
    'route replace 10.65.0.2/32 dev trla2 scope link proto 78',
    'route replace 10.65.1.1/32 dev trlb1 scope link proto 78',
    'route replace 10.65.1.2/32 dev trlb2 scope link proto 78',
    'route replace fd00:65::1/128 dev trla1 scope link proto 78',
  ]);
  const s = renderSysctls(ds, new Set(['trla1', 'trla2']));
  assert.equal([...s].map(([k, v]) => `${k}=${v}`), [
    'net.ipv4.ip_forward=1',
    'net.ipv4.conf.trla1.forwarding=1', 'net.ipv4.conf.trla1.proxy_arp=1', 'net.ipv4.conf.trla1.rp_filter=1',
    'net.ipv4.neigh.trla1.proxy_delay=0', 'net.ipv6.conf.trla1.forwarding=1', 'net.ipv6.conf.trla1.proxy_ndp=1',
    'net.ipv4.conf.trla2.forwarding=1', 'net.ipv4.conf.trla2.proxy_arp=1', 'net.ipv4.conf.trla2.rp_filter=1',
    'net.ipv4.neigh.trla2.proxy_delay=0',
    'net.ipv6.conf.all.forwarding=1',
  ], 'interfaces that do not exist get no sysctls');
});

test('table plan: unchanged chains are not rewritten, drifted and removed ones are, jumps kept first', () => {
  const spec = table(labState(), 'filter', 4);
  const saved = (extra: (name: string, rules: string[]) => string[] = (_n, r) => r, hooks = spec.hooks.map((h) => `-A ${h.hook} -j ${h.chain}`)) => {
    const lines = ['*filter', ':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ':DOCKER - [0:0]'];
    for (const c of spec.chains) lines.push(`:${c.name} - [0:0]`);
    lines.push(...hooks, '-A FORWARD -j DOCKER', '-A DOCKER -j RETURN');
    for (const c of spec.chains) lines.push(...extra(c.name, c.rules).map((r) => `-A ${c.name} ${r}`));
    lines.push('COMMIT');
    return parseIptablesSave(lines.join('\n'));
  };
  const clean = planTable(spec, saved());
  assert.equal([clean.write.length, clean.remove.length, clean.deleteHookRules.length, clean.insertHooks.length], [0, 0, 0, 0], 'in sync');
  const flushed = planTable(spec, saved((n, r) => (n === 'trl-tw-trlb1' ? [] : r)));
  assert.equal(flushed.write.map((c) => c.name), ['trl-tw-trlb1'], 'a flushed chain is rewritten');
  const appended = planTable(spec, saved((n, r) => (n === 'trl-to-wl' ? [...r, '-j ACCEPT'] : r)));
  assert.equal(appended.write.map((c) => c.name), ['trl-to-wl'], 'an extra rule is noticed by the rule count');
  const moved = planTable(spec, saved(undefined, ['-A FORWARD -j DOCKER', '-A FORWARD -j trl-forward', '-A INPUT -j trl-input', '-A OUTPUT -j trl-output']));
  assert.equal(moved.deleteHookRules, ['-A FORWARD -j trl-forward'], 'misplaced jump deleted');
  assert.equal(moved.insertHooks, [{ hook: 'FORWARD', chain: 'trl-forward' }], 'and re-inserted at 1');
  const stale = parseIptablesSave([':FORWARD ACCEPT [0:0]', ':trl-pi-deadbeef - [0:0]', '-A trl-pi-deadbeef -j DROP'].join('\n'));
  const p = planTable(spec, stale);
  assert.equal(p.remove, ['trl-pi-deadbeef'], 'stale chain removed');
  assert.is(p.write.length, spec.chains.length, 'all chains written on an empty kernel');
});

test('re-rendering reuses unchanged chains; a replaced policy object re-renders only its chains', () => {
  const ds = labState();
  const first = renderIptables(ds);
  const again = renderIptables(ds);
  assert.equal(again, first, 'same input, same output');
  const pid = 'NetworkPolicy/tenant-a/web-from-tenant-b';
  const edited = { ...ds, policies: ds.policies.map((p) => (p.id === pid ? { ...p, ingress: [rule({ action: 'Deny', origin: 'x' })] } : p)) };
  const after = renderIptables(edited).tables.find((t) => t.table === 'filter' && t.family === 4)!;
  const before = first.tables.find((t) => t.table === 'filter' && t.family === 4)!;
  const changed = after.chains.filter((c, i) => c.hash !== before.chains[i]!.hash).map((c) => c.name);
  assert.equal(changed, [policyChain(pid, 'ingress')], 'only the edited policy chain differs');
  assert.equal(body(after.chains.find((c) => c.name === policyChain(pid, 'ingress'))!), ['-m comment --comment "x" -j DROP']);
});

test.run();
