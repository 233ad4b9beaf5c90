// DesiredState -> Trellis's iptables chains, per table and family, as plain data (chain
// name + rule bodies + content hash) and as iptables-restore text. Pure: the memos that
// make re-rendering cheap live in a RenderMemo the caller owns (one per backend instance;
// a fresh one per call when none is given), never in this module.
//
// Packet path (filter):
//   FORWARD -> trl-forward: -i trl+ -> trl-from-wl (-i <if> -g trl-fw-<if>, else DROP)
//                                   -> trl-vd-from-wl (by the verdict id in the mark -g trl-vo-<hash>)
//                            -o trl+ -> trl-to-wl   (-o <if> -g trl-tw-<if>, else DROP)
//                                   -> trl-vd-to-wl   (-g trl-vi-<hash>)
//                            (interface trees split by name prefix past 16 endpoints,
//                            verdict trees by the id's top bits: dispatch.ts)
//                            then ACCEPT (a verdict chain only returns when it allowed)
//   INPUT   -> trl-input:  workload -> host meets the workload's egress policy
//   OUTPUT  -> trl-output: host -> workload meets the workload's ingress policy; a port map
//                          used from the host itself (DNAT in nat OUTPUT) still shows -o lo
//                          here, so such packets are dispatched by destination address.
// Endpoint chain (trl-fw-/trl-tw-<if>): conntrack ESTABLISHED,RELATED accept, INVALID drop,
// then the mark set to its verdict chain's id. Verdict chain (trl-vo-/trl-vi-<hash of its
// policy and profile lists>, shared by every endpoint with the same lists): its policy group
// (trl-go-/trl-gi-<hash of the ordered policy list>: the policies in order, skipping the rest
// once one passed), drop if policies applied and none allowed or passed, then the profiles,
// then drop. Why two steps: nf_tables re-validates every rule reachable from the hooks
// whenever a rule is written, so what a write costs grows with the table; a thousand endpoint
// chains each holding its whole decision made that table large, while verdict chains hold
// each decision once per distinct list of policies and profiles.
//
// A flush never opens anything: every workload packet filter accepts carries MARK_ACCEPT
// (a verdict chain returns only with it set; the endpoint chains' early accepts go through
// trl-accept, which sets it), and the security table, whose hooks run right after
// filter's, drops a workload packet without it. So a foreign `iptables -F` (which flushes
// filter only, our jumps included) or a missing jump leaves workload traffic dropped until
// the next resync puts the rules back, never open.
import type { DesiredState, EndpointState, Family, PolicyState, ProfileState, TierState } from '../../calc/index.js';
import {
  ACCEPT_CHAIN, DISPATCH, FROM_WL_DISPATCH, TO_WL_ADDR_DISPATCH, MARK_ACCEPT, MARK_MASK, MARK_PASS, MARK_VERDICT, NAT_MASQ_SET_ID, NAT_POOLS_SET_ID,
  TO_WL_DISPATCH, VERDICT_DISPATCH, VERDICT_DONE, WORKLOAD_IFACE_PREFIX, byCodePoint, fromWlChain, hex, policyChain, policyGroupChain,
  profileChain, setName, shortHash, toWlChain, verdictChain, verdictId, verdictMark,
} from './names.js';
import { addressDispatch, interfaceDispatch, verdictDispatch } from './dispatch.js';
import { quote, renderRuleList, type RuleRenderContext } from './rules.js';
import { HOST_CHAINS, renderHost, type HostRender } from './host-render.js';

export type Table = 'filter' | 'nat' | 'raw' | 'security' | 'mangle';
export const TABLES: Table[] = ['filter', 'nat', 'raw', 'security', 'mangle'];
export const FAMILIES: Family[] = [4, 6];

export interface ChainSpec {
  name: string;
  /** Rule bodies (after "-A <name> "), the hash rule first. */
  rules: string[];
  hash: string;
}

export interface TableSpec {
  table: Table;
  family: Family;
  /** Sorted by name. */
  chains: ChainSpec[];
  /** Built-in chain -> the Trellis chain its position-1 jump targets. */
  hooks: Array<{ hook: string; chain: string }>;
}

export interface RenderedIptables {
  tables: TableSpec[];
  /** Set names referenced per family (they must exist before these rules are loaded). */
  setRefs: Record<Family, Set<string>>;
}

export const HASH_COMMENT_PREFIX = 'trl:';

/**
 * A chain with its content hash in the comment of its first rule, or in a rule of its own
 * when that rule has a comment already (one comment per rule) or there is none. Not a
 * rule per chain: nf_tables re-validates every rule reachable from the hooks on each
 * write, so a rule that does nothing still costs every write.
 */
function chain(name: string, body: string[]): ChainSpec {
  const hash = shortHash(`${name}\n${body.join('\n')}`);
  const comment = `-m comment --comment "${HASH_COMMENT_PREFIX}${hash}"`;
  const first = body[0];
  const target = first === undefined || first.includes('--comment') ? null : /(?:^| )(-[jg] )/.exec(first);
  if (!target) return { name, hash, rules: [comment, ...body] };
  const at = target.index + target[0].length - target[1]!.length;
  return { name, hash, rules: [`${first!.slice(0, at)}${comment} ${first!.slice(at)}`, ...body.slice(1)] };
}

const markAccept = `${hex(MARK_ACCEPT)}/${hex(MARK_ACCEPT)}`;
const notPassed = `-m mark --mark 0x0/${hex(MARK_PASS)}`;
/** Accepts with MARK_ACCEPT set (see the header: what the security table's guard checks). */
const ACCEPT = chain(ACCEPT_CHAIN, [`-j MARK --set-xmark ${markAccept}`, '-j ACCEPT']);

function logName(id: string): string {
  const parts = id.split('/');
  return parts.length > 1 ? parts.slice(1).join('/') : id;
}

/** Interface guards for the dispatch: the workload prefix plus any endpoint interface outside it. */
function ifaceGuards(endpoints: readonly EndpointState[]): string[] {
  const extra = endpoints.map((e) => e.interfaceName).filter((n) => !n.startsWith(WORKLOAD_IFACE_PREFIX));
  return [`${WORKLOAD_IFACE_PREFIX}+`, ...[...new Set(extra)].sort()];
}

/**
 * What one renderer remembers between renders. calc's incremental calculator returns the
 * same objects for unchanged parts, so a reconcile after one policy edit re-renders only
 * that policy's chains. Entries are also keyed by everything else the text depends on, and
 * a changed array length is treated as a miss; a memo never changes what is rendered.
 */
export interface RenderMemo {
  rules: WeakMap<object, Map<string, { spec: ChainSpec; refs: string[]; len: number }>>;
  groups: Map<string, ChainSpec>;
  verdictChains: Map<string, ChainSpec>;
  endpoints: WeakMap<EndpointState, Array<{ verdict: string; direct: boolean; spec: ChainSpec } | undefined>>;
  verdictNames: Record<Dir, WeakMap<object, string>>;
  verdictParts: WeakMap<readonly EndpointState[], Map<Family, VerdictPart>>;
  /**
   * The dispatch chains list every endpoint: worth keeping while calc hands over the same
   * endpoint list (a policy edit), instead of rebuilding and re-hashing them every time.
   * calc hands over a new list whenever any endpoint changed (so do the verdict parts).
   */
  dispatch: WeakMap<readonly EndpointState[], Map<Family, DispatchPart>>;
  /** An endpoint add changes one leaf of each tree: the other chains come back unhashed. */
  dispatchChains: Map<string, ChainSpec>;
  byId: WeakMap<readonly { id: string }[], Map<string, unknown>>;
  /**
   * An endpoint add almost never brings a new verdict chain: the shared chains are kept while
   * the policies, the profiles and the set of verdict chains are the same.
   */
  shared: WeakMap<readonly PolicyState[], WeakMap<readonly ProfileState[], Map<string, SharedPart>>>;
  portMaps: WeakMap<readonly EndpointState[], Map<Family, { pre: string[]; out: string[] }>>;
}

export function createRenderMemo(): RenderMemo {
  return {
    rules: new WeakMap(), groups: new Map(), verdictChains: new Map(), endpoints: new WeakMap(),
    verdictNames: { ingress: new WeakMap(), egress: new WeakMap() }, verdictParts: new WeakMap(),
    dispatch: new WeakMap(), dispatchChains: new Map(), byId: new WeakMap(), shared: new WeakMap(), portMaps: new WeakMap(),
  };
}

/** Bounded string-keyed memo (entries are cheap to make again). */
function remember<T>(memo: Map<string, T>, key: string, make: () => T): T {
  const hit = memo.get(key);
  if (hit !== undefined) return hit;
  const made = make();
  if (memo.size >= 50_000) memo.clear();
  memo.set(key, made);
  return made;
}

type Dir = 'ingress' | 'egress';

/** Where an endpoint's verdict chain is reached from: the dispatch by mark, or its own chain when its id collides. */
interface VerdictRef { name: string; id: number; direct: boolean; lists: EndpointState['ingress'] }

/**
 * The policies of an endpoint and direction, in order, as one chain shared by every
 * verdict chain with the same list: each policy runs unless an earlier one passed, and the
 * first that allowed returns.
 */
function groupChain(m: RenderMemo, ids: readonly string[], dir: Dir, family: Family, policies: Map<string, PolicyState>): ChainSpec {
  const missing = ids.filter((p) => !policies.has(p));
  return remember(m.groups, `${dir}|${family}|${missing.join(',')}|${ids.join('\n')}`, () => {
    const body: string[] = [];
    for (const pid of ids) {
      if (!policies.has(pid)) {
        // A policy the endpoint needs but we were not given: it applies and allows nothing (fail closed).
        body.push(`-m comment --comment ${quote(`missing policy ${pid}`)} -j DROP`);
        continue;
      }
      body.push(`${notPassed} -j ${policyChain(pid, dir)}`);
      body.push(`-m mark --mark ${markAccept} -j RETURN`);
    }
    return chain(policyGroupChain(ids, dir), body);
  });
}

/** An endpoint's policies by tier; a plain list is the default tier, ending in Deny. */
function tiersOf(d: EndpointState['ingress']): TierState[] {
  return d.tiers ?? (d.policies.length > 0 ? [{ name: 'default', defaultAction: 'Deny', policies: d.policies }] : []);
}

/** What the verdict chain's name stands for beyond its policy and profile lists. */
function tierSignature(d: EndpointState['ingress']): string {
  return d.tiers ? d.tiers.map((t) => `${t.name}:${t.defaultAction}:${t.policies.length}`).join(',') : '';
}

/**
 * An endpoint class's decision (same policies, same profiles): tier by tier, its policy
 * group, return if one allowed, drop if none allowed or passed and the tier's default
 * action is Deny (the pass mark is cleared before the next tier); then its profiles, then
 * drop. It returns only when something allowed (MARK_ACCEPT set).
 */
function verdictChainSpec(m: RenderMemo, v: VerdictRef, dir: Dir, family: Family, policies: Map<string, PolicyState>, profiles: Map<string, ProfileState>): ChainSpec {
  const d = v.lists;
  const missing = [...d.policies.filter((p) => !policies.has(p)), '|', ...d.profiles.filter((p) => !profiles.has(p))].join(',');
  return remember(m.verdictChains, `${v.name}|${family}|${missing}|${tierSignature(d)}`, () => {
    const body: string[] = [];
    const tiers = tiersOf(d);
    tiers.forEach((t, i) => {
      if (i > 0) body.push(`-j MARK --set-xmark 0x0/${hex(MARK_PASS)}`);
      body.push(`-j ${policyGroupChain(t.policies, dir)}`);
      body.push(`-m mark --mark ${markAccept} -j RETURN`);
      if (t.defaultAction === 'Deny') {
        const why = d.tiers ? `tier ${t.name}: no policy allowed or passed` : 'no policy allowed or passed';
        body.push(`${notPassed} -m comment --comment ${quote(why)} -j DROP`);
      }
    });
    for (const pid of d.profiles) {
      if (!profiles.has(pid)) continue;
      body.push(`-j ${profileChain(pid, dir)}`);
      body.push(`-m mark --mark ${markAccept} -j RETURN`);
    }
    body.push('-m comment --comment "no profile allowed" -j DROP');
    return chain(v.name, body);
  });
}

/**
 * IPv6 neighbour discovery and MLD between the host and the workload, before any policy
 * (without them the host cannot even resolve the workload's address). Router
 * advertisements only towards the workload, router solicitations only from it.
 */
const ND_TYPES = { ingress: [130, 131, 132, 134, 135, 136, 143], egress: [130, 131, 132, 133, 135, 136, 143] };

/**
 * Endpoint chain: conntrack ESTABLISHED,RELATED accept, INVALID drop, then the marks set to
 * its verdict id for the verdict dispatch that follows; an id shared with another verdict
 * chain cannot be dispatched, so such an endpoint runs its verdict chain itself.
 */
function endpointChain(m: RenderMemo, ep: EndpointState, dir: Dir, family: Family, v: VerdictRef): ChainSpec {
  // Looked up by the endpoint object (calc keeps unchanged ones): an endpoint add must not
  // pay for building a thousand string keys.
  let slots = m.endpoints.get(ep);
  if (!slots) m.endpoints.set(ep, (slots = []));
  const slot = (family === 6 ? 2 : 0) + (dir === 'ingress' ? 1 : 0);
  const hit = slots[slot];
  if (hit && hit.verdict === v.name && hit.direct === v.direct) return hit.spec;
  const name = dir === 'ingress' ? toWlChain(ep.interfaceName) : fromWlChain(ep.interfaceName);
  const spec = chain(name, [
    `-m conntrack --ctstate RELATED,ESTABLISHED -j ${ACCEPT_CHAIN}`,
    '-m conntrack --ctstate INVALID -j DROP',
    ...(family === 6 ? ND_TYPES[dir].map((t) => `-p ipv6-icmp -m icmp6 --icmpv6-type ${t} -j ${ACCEPT_CHAIN}`) : []),
    ...(v.direct
      ? [`-j MARK --set-xmark 0x0/${hex(MARK_MASK)}`, `-j ${v.name}`, `-j MARK --set-xmark ${hex(verdictMark(VERDICT_DONE))}/${hex(MARK_VERDICT)}`]
      : [`-j MARK --set-xmark ${hex(verdictMark(v.id))}/${hex(MARK_MASK)}`]),
  ]);
  slots[slot] = { verdict: v.name, direct: v.direct, spec };
  return spec;
}

function ruleChain(
  m: RenderMemo, name: string, rules: PolicyState['ingress'], owner: 'policy' | 'profile', id: string, letter: 'i' | 'e', ctx: RuleRenderContext,
): ChainSpec {
  const key = `${name}|${owner}|${ctx.family}|${id}`;
  let memo = m.rules.get(rules);
  const hit = memo?.get(key);
  if (hit && hit.len === rules.length) {
    for (const r of hit.refs) ctx.setRefs.add(r);
    return hit.spec;
  }
  const refs = new Set<string>();
  const spec = chain(name, renderRuleList(rules, owner, logName(id), letter, { family: ctx.family, setRefs: refs }));
  for (const r of refs) ctx.setRefs.add(r);
  if (!memo) m.rules.set(rules, (memo = new Map()));
  memo.set(key, { spec, refs: [...refs], len: rules.length });
  return spec;
}

/** The endpoints that take part in one family: those with an address of it. */
function endpointsOf(endpoints: readonly EndpointState[], family: Family): EndpointState[] {
  return endpoints
    .filter((e) => e.addresses.some((a) => addrFamily(a) === family))
    .sort((a, b) => byCodePoint(a.interfaceName, b.interfaceName));
}

/**
 * Each endpoint's verdict chain in one direction, and which are dispatched by id: all but
 * those whose id another verdict chain shares (chosen from the set of ids alone, so the
 * same endpoints always render the same text).
 */
function verdictRefs(m: RenderMemo, endpoints: readonly EndpointState[], dir: Dir): Map<EndpointState, VerdictRef> {
  const byName = new Map<string, VerdictRef>();
  const out = new Map<EndpointState, VerdictRef>();
  for (const e of endpoints) {
    const lists = e[dir];
    let name = m.verdictNames[dir].get(lists);
    // Tiers are part of what a verdict chain decides: the same policies split otherwise are another chain.
    if (name === undefined) m.verdictNames[dir].set(lists, (name = verdictChain(lists.tiers ? [...lists.policies, `|tiers:${tierSignature(lists)}`] : lists.policies, lists.profiles, dir)));
    let v = byName.get(name);
    if (!v) byName.set(name, (v = { name, id: verdictId(name), direct: false, lists }));
    out.set(e, v);
  }
  const users = new Map<number, number>();
  for (const v of byName.values()) users.set(v.id, (users.get(v.id) ?? 0) + 1);
  for (const v of byName.values()) v.direct = users.get(v.id)! > 1;
  return out;
}

/** The endpoints of one family and their verdict chains: all the shared chains depend on. */
interface VerdictPart {
  endpoints: EndpointState[];
  verdicts: Record<Dir, Map<EndpointState, VerdictRef>>;
  /** Each verdict chain once, in endpoint order. */
  unique: Record<Dir, VerdictRef[]>;
}
function verdictPart(m: RenderMemo, all: readonly EndpointState[], family: Family): VerdictPart {
  let byFamily = m.verdictParts.get(all);
  const hit = byFamily?.get(family);
  if (hit) return hit;
  const endpoints = endpointsOf(all, family);
  const verdicts = { ingress: verdictRefs(m, endpoints, 'ingress'), egress: verdictRefs(m, endpoints, 'egress') };
  const unique = { ingress: [...new Set(verdicts.ingress.values())], egress: [...new Set(verdicts.egress.values())] };
  const part = { endpoints, verdicts, unique };
  if (!byFamily) m.verdictParts.set(all, (byFamily = new Map()));
  byFamily.set(family, part);
  return part;
}

interface DispatchPart extends VerdictPart { chains: ChainSpec[] }

/**
 * Dispatch by interface (and, for host-originated DNAT, by address) to the endpoint chains,
 * then by verdict id to the verdict chains. An endpoint without an address of this family
 * has no chain in it: its interface meets the unknown-interface drop, so a workload never
 * gets traffic of a family it has no address in (fail closed), and an IPv4-only cluster's
 * IPv6 tables stay nearly empty (a policy edit rewrites IPv4 only).
 */
function dispatchPart(m: RenderMemo, all: readonly EndpointState[], family: Family): DispatchPart {
  let byFamily = m.dispatch.get(all);
  const hit = byFamily?.get(family);
  if (hit) return hit;
  const { endpoints, verdicts, unique } = verdictPart(m, all, family);
  const vd = VERDICT_DISPATCH;
  const chains: ChainSpec[] = [];
  const byAddr = endpoints.flatMap((e) => e.addresses.filter((a) => addrFamily(a) === family).map((address) => ({ address, chain: toWlChain(e.interfaceName) })));
  const ifaces = endpoints.map((e) => e.interfaceName);
  const dispatched = (dir: Dir) => unique[dir].filter((v) => !v.direct).map((v) => ({ id: v.id, chain: v.name }));
  for (const c of [
    ...addressDispatch(TO_WL_ADDR_DISPATCH, [`-j MARK --set-xmark 0x0/${hex(MARK_MASK)}`], byAddr, family),
    ...interfaceDispatch(FROM_WL_DISPATCH, '-i', ifaces, fromWlChain),
    ...interfaceDispatch(TO_WL_DISPATCH, '-o', ifaces, toWlChain),
    ...verdictDispatch(vd.egress, dispatched('egress')),
    ...verdictDispatch(vd.ingress, dispatched('ingress')),
  ]) chains.push(remember(m.dispatchChains, `${c.name}\n${c.body.join('\n')}`, () => chain(c.name, c.body)));
  const part = { endpoints, chains, verdicts, unique };
  if (!byFamily) m.dispatch.set(all, (byFamily = new Map()));
  byFamily.set(family, part);
  return part;
}

function indexById<T extends { id: string }>(memo: RenderMemo, list: readonly T[]): Map<string, T> {
  let m = memo.byId.get(list) as Map<string, T> | undefined;
  if (!m) memo.byId.set(list, (m = new Map(list.map((x) => [x.id, x]))));
  return m;
}

/** Verdict, group, policy and profile chains: what endpoints share. */
interface SharedPart { chains: ChainSpec[]; setRefs: string[] }

function sharedPart(m: RenderMemo, ds: DesiredState, family: Family, unique: Record<Dir, VerdictRef[]>): SharedPart {
  const key = `${family}|${unique.ingress.map((v) => v.name).join(',')}|${unique.egress.map((v) => v.name).join(',')}`;
  let byProfiles = m.shared.get(ds.policies);
  if (!byProfiles) m.shared.set(ds.policies, (byProfiles = new WeakMap()));
  let byKey = byProfiles.get(ds.profiles);
  if (!byKey) byProfiles.set(ds.profiles, (byKey = new Map()));
  const hit = byKey.get(key);
  if (hit) return hit;
  const policies = indexById(m, ds.policies);
  const profiles = indexById(m, ds.profiles);
  const ctx: RuleRenderContext = { family, setRefs: new Set() };
  const chains: ChainSpec[] = [];
  const groups = new Map<string, ChainSpec>();
  for (const dir of ['ingress', 'egress'] as const) {
    const usedPolicies = new Set<string>();
    const usedProfiles = new Set<string>();
    for (const v of unique[dir]) {
      chains.push(verdictChainSpec(m, v, dir, family, policies, profiles));
      for (const t of tiersOf(v.lists)) {
        const g = groupChain(m, t.policies, dir, family, policies);
        groups.set(g.name, g);
      }
      for (const p of v.lists.policies) if (policies.has(p)) usedPolicies.add(p);
      for (const p of v.lists.profiles) if (profiles.has(p)) usedProfiles.add(p);
    }
    const letter = dir === 'ingress' ? 'i' : 'e';
    for (const id of [...usedPolicies].sort(byCodePoint)) chains.push(ruleChain(m, policyChain(id, dir), policies.get(id)![dir], 'policy', id, letter, ctx));
    for (const id of [...usedProfiles].sort(byCodePoint)) chains.push(ruleChain(m, profileChain(id, dir), profiles.get(id)![dir], 'profile', id, letter, ctx));
  }
  chains.push(...groups.values());
  const part = { chains, setRefs: [...ctx.setRefs] };
  if (byKey.size >= 8) byKey.clear();
  byKey.set(key, part);
  return part;
}

/**
 * The chains the filter hooks jump to: the host endpoints' untracked accept first, then
 * forwarded traffic through a host endpoint's applyOnForward policy, the workloads'
 * dispatch, a workload's traffic to the host (DefaultEndpointToHostAction), and the host's
 * own traffic through its host endpoints last.
 */
function hookChains(ds: DesiredState, host: HostRender): ChainSpec[] {
  const guards = ifaceGuards(ds.endpoints);
  const vd = VERDICT_DISPATCH;
  const h = host.filter;
  return [
    chain(DISPATCH.filter.FORWARD, [
      ...h.head,
      ...h.forwardHead,
      ...guards.flatMap((g) => [`-i ${g} -j ${FROM_WL_DISPATCH}`, `-i ${g} -j ${vd.egress}`]),
      ...guards.flatMap((g) => [`-o ${g} -j ${TO_WL_DISPATCH}`, `-o ${g} -j ${vd.ingress}`]),
      ...h.forwardTail,
      ...guards.map((g) => `-i ${g} -j ACCEPT`),
      ...guards.map((g) => `-o ${g} -j ACCEPT`),
      ...(h.forwardTail.length ? [`-m mark --mark ${markAccept} -m comment --comment "allowed by host endpoint policy" -j ACCEPT`] : []),
    ]),
    chain(DISPATCH.filter.INPUT, [
      ...h.head,
      ...guards.flatMap((g) => [`-i ${g} -j ${FROM_WL_DISPATCH}`, `-i ${g} -j ${vd.egress}`]),
      ...guards.flatMap((g) => h.endpointToHost(g)),
      ...h.inputTail,
    ]),
    // The address dispatch clears the verdict id first: a miss (not a workload address) leaves
    // it 0, and the verdict dispatch is skipped rather than dropping the host's own traffic.
    chain(DISPATCH.filter.OUTPUT, [
      ...h.head,
      ...guards.flatMap((g) => [`-o ${g} -j ${TO_WL_DISPATCH}`, `-o ${g} -j ${vd.ingress}`]),
      ...guards.map((g) => `-o ${g} -j ACCEPT`),
      `-m conntrack --ctstate DNAT -j ${TO_WL_ADDR_DISPATCH}`,
      `-m conntrack --ctstate DNAT -m mark ! --mark 0x0/${hex(MARK_VERDICT)} -j ${vd.ingress}`,
      `-m conntrack --ctstate DNAT -m mark --mark ${markAccept} -j ACCEPT`,
      ...h.outputTail,
    ]),
  ];
}

function filterTable(m: RenderMemo, ds: DesiredState, family: Family, ctx: RuleRenderContext, host: HostRender): TableSpec {
  const { endpoints, chains: dispatch, verdicts, unique } = dispatchPart(m, ds.endpoints, family);
  const chains: ChainSpec[] = [...hookChains(ds, host), ...dispatch, ACCEPT, ...host.filter.chains.map((c) => chain(c.name, c.body))];
  for (const e of endpoints) {
    chains.push(endpointChain(m, e, 'egress', family, verdicts.egress.get(e)!));
    chains.push(endpointChain(m, e, 'ingress', family, verdicts.ingress.get(e)!));
  }
  const shared = sharedPart(m, ds, family, unique);
  chains.push(...shared.chains);
  for (const r of shared.setRefs) ctx.setRefs.add(r);
  chains.sort((a, b) => byCodePoint(a.name, b.name));
  return {
    table: 'filter', family, chains,
    hooks: [
      { hook: 'FORWARD', chain: DISPATCH.filter.FORWARD },
      { hook: 'INPUT', chain: DISPATCH.filter.INPUT },
      { hook: 'OUTPUT', chain: DISPATCH.filter.OUTPUT },
    ],
  };
}

export function addrFamily(addr: string): Family {
  return addr.includes(':') ? 6 : 4;
}

/** DNAT rules of every endpoint's port maps (kept while the endpoint list is the same). */
function portMapRules(m: RenderMemo, all: readonly EndpointState[], family: Family): { pre: string[]; out: string[] } {
  let byFamily = m.portMaps.get(all);
  const hit = byFamily?.get(family);
  if (hit) return hit;
  const pre: string[] = [];
  const out: string[] = [];
  const endpoints = all.filter((e) => e.portMaps.length > 0).sort((a, b) => byCodePoint(a.id, b.id));
  for (const e of endpoints) {
    const maps = [...e.portMaps].sort((a, b) => byCodePoint(a.protocol, b.protocol) || a.hostPort - b.hostPort
      || byCodePoint(a.hostIP ?? '', b.hostIP ?? '') || byCodePoint(a.containerIP, b.containerIP));
    for (const m of maps) {
      if (addrFamily(m.containerIP) !== family) continue;
      if (m.hostIP && addrFamily(m.hostIP) !== family) continue;
      const to = family === 4 ? `${m.containerIP}:${m.containerPort}` : `[${m.containerIP}]:${m.containerPort}`;
      const match = `-p ${m.protocol} -m ${m.protocol} --dport ${m.hostPort}`;
      const comment = `-m comment --comment ${quote(`${e.id} ${m.protocol}/${m.hostPort}`)}`;
      const tail = `${comment} -j DNAT --to-destination ${to}`;
      const dst = m.hostIP ? `-d ${m.hostIP} ` : '';
      pre.push(`${dst}${match} -m addrtype --dst-type LOCAL ${tail}`);
      // From the host itself; loopback sources cannot be routed to a workload, so skip them.
      const outDst = m.hostIP ? `-d ${m.hostIP} ` : family === 4 ? '! -d 127.0.0.0/8 ' : '! -d ::1/128 ';
      out.push(`${outDst}${match} -m addrtype --dst-type LOCAL ${tail}`);
    }
  }
  const rules = { pre, out };
  if (!byFamily) m.portMaps.set(all, (byFamily = new Map()));
  byFamily.set(family, rules);
  return rules;
}

/** The sets outgoing NAT matches on, when it is on in this family. */
function natSets(ds: DesiredState, family: Family): { src: string; pools: string } | null {
  if (!ds.nat.masqueradeSources.some((c) => addrFamily(c) === family)) return null;
  return { src: setName(NAT_MASQ_SET_ID, family), pools: setName(NAT_POOLS_SET_ID, family) };
}

function natTable(m: RenderMemo, ds: DesiredState, family: Family, ctx: RuleRenderContext): TableSpec {
  const { pre, out } = portMapRules(m, ds.endpoints, family);
  const post: string[] = [];
  const nat = natSets(ds, family);
  if (nat) {
    const { src, pools } = nat;
    ctx.setRefs.add(src);
    ctx.setRefs.add(pools);
    post.push(`-m set --match-set ${src} src -m set ! --match-set ${pools} dst -m comment --comment "natOutgoing" -j MASQUERADE`);
  }
  return {
    table: 'nat', family,
    chains: [chain(DISPATCH.nat.PREROUTING, pre), chain(DISPATCH.nat.OUTPUT, out), chain(DISPATCH.nat.POSTROUTING, post)]
      .sort((a, b) => byCodePoint(a.name, b.name)),
    hooks: [
      { hook: 'PREROUTING', chain: DISPATCH.nat.PREROUTING },
      { hook: 'OUTPUT', chain: DISPATCH.nat.OUTPUT },
      { hook: 'POSTROUTING', chain: DISPATCH.nat.POSTROUTING },
    ],
  };
}

/** The security table's guard: a workload packet filter did not accept (no MARK_ACCEPT) is dropped; so is a host endpoint's. */
function securityTable(ds: DesiredState, family: Family, host: HostRender): TableSpec {
  const guards = ifaceGuards(ds.endpoints);
  const drop = (dir: '-i' | '-o') => guards.map((g) => `${dir} ${g} -m mark ! --mark ${markAccept} -m comment --comment "not accepted by the filter rules" -j DROP`);
  const s = DISPATCH.security;
  const h = host.security;
  return {
    table: 'security', family,
    chains: [
      chain(s.FORWARD, [...drop('-i'), ...drop('-o'), ...h.forward]), chain(s.INPUT, [...drop('-i'), ...h.input]), chain(s.OUTPUT, [...drop('-o'), ...h.output]),
      ...h.chains.map((c) => chain(c.name, c.body)),
    ].sort((a, b) => byCodePoint(a.name, b.name)),
    hooks: [{ hook: 'FORWARD', chain: s.FORWARD }, { hook: 'INPUT', chain: s.INPUT }, { hook: 'OUTPUT', chain: s.OUTPUT }],
  };
}

/**
 * raw: IPv6 has no rp_filter sysctl, so strict reverse-path filtering of workload sources
 * is here; and the host endpoints' doNotTrack policies. None of either (IPv4 without
 * doNotTrack policy): no raw table at all.
 */
function rawTable(ds: DesiredState, family: Family, host: HostRender): TableSpec | null {
  const guards = ifaceGuards(ds.endpoints);
  const pre = [
    ...(family === 6 ? guards.map((g) => `-i ${g} -m rpfilter --invert -m comment --comment "spoofed source" -j DROP`) : []),
    ...(host.raw?.pre ?? []),
  ];
  const out = host.raw?.out ?? [];
  if (family === 4 && !host.raw) return null;
  const chains = [chain(DISPATCH.raw.PREROUTING, pre), ...(host.raw?.chains ?? []).map((c) => chain(c.name, c.body))];
  const hooks: TableSpec['hooks'] = [{ hook: 'PREROUTING', chain: DISPATCH.raw.PREROUTING }];
  if (out.length) { chains.push(chain(HOST_CHAINS.rawOut, out)); hooks.push({ hook: 'OUTPUT', chain: HOST_CHAINS.rawOut }); }
  return { table: 'raw', family, chains: chains.sort((a, b) => byCodePoint(a.name, b.name)), hooks };
}

/** mangle: the host endpoints' preDNAT policies (none: no mangle table). */
function mangleTable(family: Family, host: HostRender): TableSpec | null {
  if (!host.mangle) return null;
  return { table: 'mangle', family, chains: host.mangle.chains.map((c) => chain(c.name, c.body)).sort((a, b) => byCodePoint(a.name, b.name)), hooks: host.mangle.hooks };
}

/**
 * The sets the rules of `ds` reference, without rendering the dispatch: what the ipset
 * write needs, so it can start while the rest of the rules are rendered (equal to
 * renderIptables(ds).setRefs; both come from the same memoised parts).
 */
export function renderSetRefs(ds: DesiredState, m: RenderMemo = createRenderMemo()): Record<Family, Set<string>> {
  const refs: Record<Family, Set<string>> = { 4: new Set(), 6: new Set() };
  for (const family of FAMILIES) {
    for (const r of sharedPart(m, ds, family, verdictPart(m, ds.endpoints, family).unique).setRefs) refs[family].add(r);
    renderHost(ds, family, ifaceGuards(ds.endpoints), { family, setRefs: refs[family] });
    const nat = natSets(ds, family);
    if (nat) refs[family].add(nat.src).add(nat.pools);
  }
  return refs;
}

export function renderIptables(ds: DesiredState, m: RenderMemo = createRenderMemo()): RenderedIptables {
  const setRefs: Record<Family, Set<string>> = { 4: new Set(), 6: new Set() };
  const tables: TableSpec[] = [];
  for (const family of FAMILIES) {
    const ctx: RuleRenderContext = { family, setRefs: setRefs[family] };
    const host = renderHost(ds, family, ifaceGuards(ds.endpoints), ctx);
    tables.push(filterTable(m, ds, family, ctx, host));
    tables.push(natTable(m, ds, family, ctx));
    const raw = rawTable(ds, family, host);
    if (raw) tables.push(raw);
    const mangle = mangleTable(family, host);
    if (mangle) tables.push(mangle);
    tables.push(securityTable(ds, family, host));
  }
  return { tables, setRefs };
}

/** What to write into one table: chains to (re)declare and fill, chains to delete, jumps to fix. */
export interface TableWrite {
  write: ChainSpec[];
  remove: string[];
  /** Rules (as saved, "-A HOOK ...") to delete from built-in chains before re-inserting the jumps. */
  deleteHookRules: string[];
  insertHooks: Array<{ hook: string; chain: string }>;
}

/** iptables-restore --noflush text for one table. Declaring a chain flushes it; everything commits at once. */
export function renderRestore(table: Table, w: TableWrite): string {
  const lines = [`*${table}`];
  for (const c of w.write) lines.push(`:${c.name} - [0:0]`);
  for (const name of w.remove) lines.push(`:${name} - [0:0]`);
  for (const r of w.deleteHookRules) lines.push(r.replace(/^-A /, '-D '));
  for (const c of w.write) for (const r of c.rules) lines.push(`-A ${c.name} ${r}`);
  for (const h of w.insertHooks) lines.push(`-I ${h.hook} 1 -j ${h.chain}`);
  for (const name of w.remove) lines.push(`-X ${name}`);
  lines.push('COMMIT', '');
  return lines.join('\n');
}

/** The whole table as a fresh write (golden tests, benchmark baseline). */
export function renderFullRestore(spec: TableSpec): string {
  return renderRestore(spec.table, { write: spec.chains, remove: [], deleteHookRules: [], insertHooks: spec.hooks });
}
