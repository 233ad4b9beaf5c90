// Compiling model resources into the pieces of DesiredState, one resource at a time.
// Everything here depends only on the resource it is given (and, for endpoints, on the
// namespace and profile labels passed in), so the full computation and the incremental
// calculator share it and can only differ in how they index and cache.
import { createHash } from 'node:crypto';
import {
  TrellisError,
  byCodePoint, andSelectors, canonicalCidr, protocolByName, protocolByNumber, mapLabelKeys, parseCidr, parseSelector, ALL_SELECTOR,
  type EntityRule, type GlobalNetworkPolicy, type GlobalNetworkSet, type HostEndpoint, type NetworkSet, type IPPool, type NetworkPolicy,
  type Profile, type Protocol, type Rule, type Selector, type SelectorNode, type Tier, type WorkloadEndpoint,
} from '../model/index.js';
import type {
  CompiledRule, EndpointState, Family, IpSetState, NatState, PolicyState, PortMapState, PortRange,
  ProfileState, RouteState, TierState,
} from './state.js';

export const LABEL_NAMESPACE = 'projectcalico.org/namespace';
export const LABEL_ORCHESTRATOR = 'projectcalico.org/orchestrator';
/** Namespace labels appear on endpoints under this prefix; namespaceSelectors are rewritten onto it. */
export const NAMESPACE_LABEL_PREFIX = 'pcns.';
export const LABEL_NAMESPACE_NAME = 'projectcalico.org/name';

type Labels = Record<string, string>;

// ---- protocols -------------------------------------------------------------------

export function protocolNumber(p: Protocol): number {
  return typeof p === 'number' ? p : protocolByName(p)!.number;
}
/** 'tcp' for 6 etc.; undefined for protocols without ports (and so without ports or named ports in rules). */
export function portProtocolName(n: number): string | undefined {
  const p = protocolByNumber(n);
  return p?.carriesPorts ? p.kernel : undefined;
}

// ---- CIDRs -------------------------------------------------------------------------

interface CidrFacts { canonical: string; family: Family; address: string }
// Parsing addresses (ipaddr.js) dominates a full computation over thousands of
// endpoints, and the same strings recur in every computation: remember them, within a
// bound so that a stream of distinct addresses cannot grow memory without end.
const CIDR_CACHE_LIMIT = 200_000;
const cidrCache = new Map<string, CidrFacts>();
export function cidrFacts(s: string): CidrFacts {
  let f = cidrCache.get(s);
  if (f) return f;
  let canonical: string;
  let c: ReturnType<typeof parseCidr>;
  try {
    canonical = canonicalCidr(s);
    c = parseCidr(canonical);
  } catch {
    throw new Error(`"${s}" is not a valid IPv4 or IPv6 CIDR`);
  }
  f = { canonical, family: c.family, address: c.address };
  if (cidrCache.size >= CIDR_CACHE_LIMIT) cidrCache.clear();
  cidrCache.set(s, f);
  return f;
}

// ---- set ids ---------------------------------------------------------------------

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';
/** 16 base32 characters (80 bits) of sha256(key): stable across runs and hosts, short enough for ipset names. */
export function setIdFor(key: string): string {
  const digest = createHash('sha256').update(key).digest();
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of digest) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5 && out.length < 16) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    if (out.length >= 16) break;
    value &= (1 << bits) - 1;
  }
  return out;
}

/** What a set stands for; membership is computed from it against endpoints. */
export type SetDef =
  | { kind: 'sel'; id: string; key: string; selector: Selector }
  | { kind: 'nets'; id: string; key: string; nets: string[] }
  | { kind: 'port'; id: string; key: string; selector: Selector; protocol: number; protoName: string; portName: string };

function selSet(selector: Selector): SetDef {
  const key = `sel:${selector.canonical}`;
  return { kind: 'sel', id: setIdFor(key), key, selector };
}
function netsSet(nets: string[]): SetDef {
  const canon = [...new Set(nets.map((n) => cidrFacts(n).canonical))].sort();
  const key = `nets:${canon.join(',')}`;
  return { kind: 'nets', id: setIdFor(key), key, nets: canon };
}
function portSet(selector: Selector, protocol: number, protoName: string, portName: string): SetDef {
  const key = `port:${protoName}:${portName};sel:${selector.canonical}`;
  return { kind: 'port', id: setIdFor(key), key, selector, protocol, protoName, portName };
}

// ---- endpoints -------------------------------------------------------------------

export interface EndpointPortInfo { name: string; protocol: number; port: number }

/** An endpoint as calc sees it: effective labels, addresses and named ports. */
export interface EndpointInfo {
  /** "WorkloadEndpoint/ns/name", "HostEndpoint/name", "NetworkSet/ns/name" or "GlobalNetworkSet/name". */
  id: string;
  /** Network sets are here because rule selectors match them as they match endpoints (their
   *  nets join the selector's set); no policy ever applies to them. */
  kind: 'WorkloadEndpoint' | 'HostEndpoint' | 'NetworkSet' | 'GlobalNetworkSet';
  namespace?: string;
  node: string;
  labels: Labels;
  /** Selectors evaluate host endpoints with global() true: they are in no namespace. */
  global: boolean;
  /** Canonical CIDRs (/32, /128 for plain addresses). */
  addrs: string[];
  /** Bare addresses, for hash:ip,port members. */
  hostAddrs: string[];
  ports: EndpointPortInfo[];
  profiles: string[];
}

/** Calico's label inheritance: an endpoint's own labels win over namespace labels
 *  (pcns.*), which win over its profiles' labelsToApply (the first profile wins);
 *  the namespace and orchestrator labels are always set by the system. */
export function effectiveLabels(opts: {
  own?: Labels; profiles: string[]; profileLabels: (name: string) => Labels | undefined;
  namespace?: string; namespaceLabels?: Labels; orchestrator?: string;
}): Labels {
  const out: Labels = {};
  for (let i = opts.profiles.length - 1; i >= 0; i--) Object.assign(out, opts.profileLabels(opts.profiles[i]!) ?? {});
  if (opts.namespace !== undefined) {
    for (const [k, v] of Object.entries(opts.namespaceLabels ?? {})) out[NAMESPACE_LABEL_PREFIX + k] = v;
    out[NAMESPACE_LABEL_PREFIX + LABEL_NAMESPACE_NAME] = opts.namespace;
  }
  Object.assign(out, opts.own ?? {});
  if (opts.namespace !== undefined) out[LABEL_NAMESPACE] = opts.namespace;
  if (opts.orchestrator !== undefined) out[LABEL_ORCHESTRATOR] = opts.orchestrator;
  return out;
}

function portsOf(ports: Array<{ name: string; protocol: Protocol; port: number }> | undefined): EndpointPortInfo[] {
  return (ports ?? []).map((p) => ({ name: p.name, protocol: protocolNumber(p.protocol), port: p.port }));
}

export function workloadEndpointInfo(
  r: WorkloadEndpoint, namespaceLabels: Labels | undefined, profileLabels: (name: string) => Labels | undefined,
): EndpointInfo {
  const namespace = r.metadata.namespace ?? 'default';
  const profiles = r.spec.profiles ?? [];
  const addrs = [...new Set(r.spec.ipNetworks.map((n) => cidrFacts(n).canonical))].sort(compareCidr);
  return {
    id: `WorkloadEndpoint/${namespace}/${r.metadata.name}`,
    kind: 'WorkloadEndpoint',
    namespace,
    node: r.spec.node,
    labels: effectiveLabels({ own: r.metadata.labels, profiles, profileLabels, namespace, namespaceLabels, orchestrator: r.spec.orchestrator }),
    global: false,
    addrs,
    hostAddrs: addrs.map((a) => cidrFacts(a).address),
    ports: portsOf(r.spec.ports),
    profiles,
  };
}

export function hostEndpointInfo(r: HostEndpoint, profileLabels: (name: string) => Labels | undefined): EndpointInfo {
  const profiles = r.spec.profiles ?? [];
  const addrs = [...new Set((r.spec.expectedIPs ?? []).map((n) => cidrFacts(n).canonical))].sort(compareCidr);
  return {
    id: `HostEndpoint/${r.metadata.name}`,
    kind: 'HostEndpoint',
    node: r.spec.node,
    labels: effectiveLabels({ own: r.metadata.labels, profiles, profileLabels }),
    global: true,
    addrs,
    hostAddrs: addrs.map((a) => cidrFacts(a).address),
    ports: portsOf(r.spec.ports),
    profiles,
  };
}

/** A NetworkSet or GlobalNetworkSet as rule selectors see it (Calico's felix does the same):
 *  a NetworkSet carries its namespace's labels and lives in it, so a NetworkPolicy's rule
 *  selector finds the sets of its own namespace; a GlobalNetworkSet is in no namespace and
 *  is found only by a namespaceSelector with global(), or by a GlobalNetworkPolicy. Members
 *  are its nets; it has no ports, so named-port sets never include it. */
export function networkSetInfo(r: NetworkSet | GlobalNetworkSet, namespaceLabels: Labels | undefined): EndpointInfo {
  const addrs = [...new Set((r.spec.nets ?? []).map((n) => cidrFacts(n).canonical))].sort(compareCidr);
  const base = { node: '', addrs, hostAddrs: [], ports: [], profiles: [] };
  if (r.kind === 'NetworkSet') {
    const namespace = r.metadata.namespace ?? 'default';
    return {
      ...base, id: `NetworkSet/${namespace}/${r.metadata.name}`, kind: 'NetworkSet', namespace, global: false,
      labels: effectiveLabels({ own: r.metadata.labels, profiles: [], profileLabels: () => undefined, namespace, namespaceLabels }),
    };
  }
  return { ...base, id: `GlobalNetworkSet/${r.metadata.name}`, kind: 'GlobalNetworkSet', global: true, labels: { ...(r.metadata.labels ?? {}) } };
}

/** Whether the endpoint belongs in a selector or named-port set. */
export function endpointInSet(def: SetDef, ep: EndpointInfo): boolean {
  if (def.kind === 'nets') return false;
  if (!def.selector.matches(ep.labels, { global: ep.global })) return false;
  if (def.kind === 'sel') return ep.addrs.length > 0;
  return ep.hostAddrs.length > 0 && ep.ports.some((p) => p.name === def.portName && p.protocol === def.protocol);
}

/** The set members an endpoint contributes (when endpointInSet is true). */
export function endpointMembers(def: SetDef, ep: EndpointInfo): string[] {
  if (def.kind === 'sel') return ep.addrs;
  if (def.kind === 'nets') return [];
  const out: string[] = [];
  for (const p of ep.ports) {
    if (p.name !== def.portName || p.protocol !== def.protocol) continue;
    for (const a of ep.hostAddrs) out.push(`${a},${def.protoName}:${p.port}`);
  }
  return out;
}

function compareCidr(a: string, b: string): number {
  return byCodePoint(a, b);
}

export function ipSetState(def: SetDef, members: string[]): IpSetState {
  return { id: def.id, type: def.kind === 'port' ? 'hash:ip,port' : 'hash:net', key: def.key, members };
}

// ---- selectors -------------------------------------------------------------------

function containsGlobal(n: SelectorNode): boolean {
  if (n.type === 'global') return true;
  if (n.type === 'not') return containsGlobal(n.expr);
  if (n.type === 'and' || n.type === 'or') return n.exprs.some(containsGlobal);
  return false;
}

const HAS_NAMESPACE = parseSelector(`has(${LABEL_NAMESPACE})`);
const namespaceEq = (ns: string): Selector => parseSelector(`${LABEL_NAMESPACE} == "${ns}"`);

/** A namespaceSelector rewritten onto endpoint labels (tier == "x" -> pcns.tier == "x").
 *  A namespaceSelector picks namespaces, so unless it says global() it never picks an
 *  entity outside every namespace (a host endpoint). */
export function namespaceSelectorOnEndpoints(expr: string): Selector {
  const sel = parseSelector(expr);
  const mapped = mapLabelKeys(sel, (k) => NAMESPACE_LABEL_PREFIX + k);
  return containsGlobal(mapped.ast) ? mapped : andSelectors(mapped, HAS_NAMESPACE);
}

// ---- rules -----------------------------------------------------------------------

export type Direction = 'ingress' | 'egress';

interface RuleContext {
  /** The namespace of a NetworkPolicy: its rule selectors default to it. */
  namespace?: string;
  /** Who the policy applies to: the destination of its ingress rules, the source of its egress rules. */
  scope: Selector;
  direction: Direction;
  origin: string;
}

function parsePorts(ports: Array<number | string> | undefined): { ranges: PortRange[]; names: string[] } {
  const ranges: PortRange[] = [];
  const names: string[] = [];
  for (const p of ports ?? []) {
    if (typeof p === 'number') ranges.push({ from: p, to: p });
    else if (/^\d+$/.test(p)) ranges.push({ from: Number(p), to: Number(p) });
    else {
      const m = /^(\d+):(\d+)$/.exec(p);
      if (m) ranges.push({ from: Number(m[1]), to: Number(m[2]) });
      else names.push(p);
    }
  }
  return { ranges, names };
}

class RuleProblem extends TrellisError<'RULE'> {
  constructor(message: string) { super('RULE', message); }
}

function familyOf(cidr: string): Family {
  return cidrFacts(cidr).family;
}

/**
 * Compiles one rule. Calico's conversion, exactly: a side's selector is namespaced (to the
 * policy's namespace, or to namespaceSelector) only when the side has a selector,
 * notSelector or namespaceSelector; notSelector itself is never namespaced.
 *
 * Fail closed: a rule that cannot be compiled faithfully (a selector that does not
 * parse, ports without a port protocol, icmp without ICMP, contradictory IP versions,
 * a named port in notPorts, which the dataplane has no negated named-port match for)
 * must never let more traffic through than the rule as written would:
 *  - Allow (and Log, which only observes) become neverMatches: the flow falls through to
 *    later rules and, in the end, to default deny.
 *  - Deny keeps matching at least what it would have: a named notPort is dropped (so
 *    the Deny covers those ports too); anything else makes it a Deny of everything.
 *  - Pass is neither safe to widen nor to narrow (either way later policy or the profile
 *    might allow), so it becomes a Deny under the same rules.
 */
export function compileRule(rule: Rule, ctx: RuleContext, sets: Map<string, SetDef>): CompiledRule {
  const local = new Map<string, SetDef>();
  const base: CompiledRule = {
    action: rule.action, srcSets: [], notSrcSets: [], dstSets: [], notDstSets: [],
    srcPorts: [], notSrcPorts: [], dstPorts: [], notDstPorts: [], srcNamedPortSets: [], dstNamedPortSets: [],
    origin: ctx.origin,
  };
  const droppedNamedNotPorts: string[] = [];
  try {
    const out = { ...base };
    const protocol = rule.protocol !== undefined ? protocolNumber(rule.protocol) : undefined;
    if (protocol !== undefined) out.protocol = protocol;
    if (rule.notProtocol !== undefined) out.notProtocol = protocolNumber(rule.notProtocol);
    let family: Family | undefined = rule.ipVersion;
    const imply = (f: Family, why: string) => {
      if (family !== undefined && family !== f) throw new RuleProblem(`${why} contradicts IPv${family}`);
      family = f;
    };
    if (rule.icmp || rule.notICMP) {
      if (protocol !== 1 && protocol !== 58) throw new RuleProblem('icmp/notICMP need protocol ICMP or ICMPv6');
    }
    if (protocol === 1) imply(4, 'protocol ICMP');
    if (protocol === 58) imply(6, 'protocol ICMPv6');
    if (rule.icmp) out.icmp = rule.icmp.code !== undefined ? { type: rule.icmp.type, code: rule.icmp.code } : { type: rule.icmp.type };
    if (rule.notICMP) out.notIcmp = rule.notICMP.code !== undefined ? { type: rule.notICMP.type, code: rule.notICMP.code } : { type: rule.notICMP.type };

    const portProto = protocol !== undefined ? portProtocolName(protocol) : undefined;
    const add = (def: SetDef): string => { local.set(def.id, def); return def.id; };

    const side = (e: EntityRule | undefined, isSrc: boolean) => {
      if (!e) return;
      const sets = isSrc ? out.srcSets : out.dstSets;
      const notSets = isSrc ? out.notSrcSets : out.notDstSets;
      let sideSel: Selector | undefined;
      if (e.selector !== undefined || e.notSelector !== undefined || e.namespaceSelector !== undefined) {
        const sel = e.selector !== undefined ? parseSelector(e.selector) : ALL_SELECTOR;
        const nsPart = e.namespaceSelector !== undefined ? namespaceSelectorOnEndpoints(e.namespaceSelector)
          : ctx.namespace !== undefined ? namespaceEq(ctx.namespace) : undefined;
        sideSel = nsPart ? andSelectors(sel, nsPart) : sel;
        sets.push(add(selSet(sideSel)));
      }
      if (e.notSelector !== undefined) notSets.push(add(selSet(parseSelector(e.notSelector))));
      if (e.nets && e.nets.length > 0) {
        const fams = new Set(e.nets.map(familyOf));
        if (fams.size === 1) imply([...fams][0]!, `${isSrc ? 'source' : 'destination'} nets of one family`);
        sets.push(add(netsSet(e.nets)));
      }
      if (e.notNets && e.notNets.length > 0) notSets.push(add(netsSet(e.notNets)));
      const ports = parsePorts(e.ports);
      const notPorts = parsePorts(e.notPorts);
      if ((ports.ranges.length + ports.names.length + notPorts.ranges.length + notPorts.names.length) > 0 && portProto === undefined) {
        throw new RuleProblem('ports and notPorts need protocol TCP, UDP, SCTP or UDPLite');
      }
      (isSrc ? out.srcPorts : out.dstPorts).push(...ports.ranges);
      (isSrc ? out.notSrcPorts : out.notDstPorts).push(...notPorts.ranges);
      // A named port without a selector: on an ingress destination (the endpoint the policy
      // protects) the policy's own scope; elsewhere every endpoint, as in Calico.
      const portSel = sideSel ?? (!isSrc && ctx.direction === 'ingress' ? ctx.scope : ALL_SELECTOR);
      for (const name of ports.names) (isSrc ? out.srcNamedPortSets : out.dstNamedPortSets).push(add(portSet(portSel, protocol!, portProto!, name)));
      droppedNamedNotPorts.push(...notPorts.names);
    };
    side(rule.source, true);
    side(rule.destination, false);
    if (family !== undefined) out.ipVersion = family;
    for (const k of ['srcSets', 'notSrcSets', 'dstSets', 'notDstSets', 'srcNamedPortSets', 'dstNamedPortSets'] as const) {
      out[k] = [...new Set(out[k])];
    }

    if (droppedNamedNotPorts.length > 0) {
      const why = `named ports in notPorts (${droppedNamedNotPorts.join(', ')}) cannot be rendered`;
      if (rule.action === 'Allow' || rule.action === 'Log') return finish({ ...out, neverMatches: true, failClosed: `${why}: ${rule.action} never matches` });
      // Dropping the exclusion makes the Deny cover those ports as well: stricter, never looser.
      return finish({ ...out, action: 'Deny', failClosed: `${why}: ${rule.action === 'Pass' ? 'Pass compiled as Deny, ' : ''}Deny also covers them` });
    }
    return finish(out);
  } catch (e) {
    // Any failure (a problem found above, a selector or CIDR that does not parse) fails closed.
    local.clear();
    const why = e instanceof Error ? e.message : String(e);
    if (rule.action === 'Allow' || rule.action === 'Log') return finish({ ...base, neverMatches: true, failClosed: `cannot compile (${why}): ${rule.action} never matches` });
    return finish({ ...base, action: 'Deny', failClosed: `cannot compile (${why}): ${rule.action === 'Pass' ? 'Pass compiled as ' : ''}Deny of all traffic` });
  }

  function finish(r: CompiledRule): CompiledRule {
    for (const [id, def] of local) sets.set(id, def);
    return r;
  }
}

// ---- policies and profiles -------------------------------------------------------

export interface CompiledPolicy {
  /** "NetworkPolicy/ns/name" or "GlobalNetworkPolicy/name". */
  id: string;
  /** Calico's tie-break after order: "ns/name" for NetworkPolicy, "name" for GlobalNetworkPolicy. */
  sortName: string;
  /** Its tier ("default" unless spec.tier says otherwise). */
  tier: string;
  order: number | null;
  /** Endpoints the policy applies to (namespace scoping included). */
  scope: Selector;
  ingress: boolean;
  egress: boolean;
  state: PolicyState;
  /** Sets its applied rules reference. */
  sets: SetDef[];
  /** preDNAT or doNotTrack: applies to host endpoints only. */
  hostOnly: boolean;
}

/** Calico's default when `types` is absent: Ingress, plus Egress when there are egress
 *  rules; but a policy with only egress rules is Egress only. */
export function policyTypes(spec: { types?: Array<'Ingress' | 'Egress'>; ingress?: Rule[]; egress?: Rule[] }): { ingress: boolean; egress: boolean } {
  if (spec.types) return { ingress: spec.types.includes('Ingress'), egress: spec.types.includes('Egress') };
  const hasIn = (spec.ingress?.length ?? 0) > 0;
  const hasEg = (spec.egress?.length ?? 0) > 0;
  return { ingress: hasIn || !hasEg, egress: hasEg };
}

function compileRules(rules: Rule[] | undefined, ctx: Omit<RuleContext, 'origin'>, prefix: string, sets: Map<string, SetDef>): CompiledRule[] {
  return (rules ?? []).map((r, i) => compileRule(r, { ...ctx, origin: `${prefix} ${ctx.direction}[${i}]` }, sets));
}

export function compilePolicy(r: NetworkPolicy | GlobalNetworkPolicy): CompiledPolicy | null {
  const namespaced = r.kind === 'NetworkPolicy';
  const namespace = namespaced ? (r.metadata.namespace ?? 'default') : undefined;
  const name = namespaced ? `${namespace}/${r.metadata.name}` : r.metadata.name;
  const id = `${r.kind}/${name}`;
  const label = `${r.kind} ${name}`;
  const types = policyTypes(r.spec);
  const sets = new Map<string, SetDef>();
  let scope: Selector;
  let state: PolicyState;
  try {
    const sel = parseSelector(r.spec.selector ?? '');
    const nsSel = r.kind === 'GlobalNetworkPolicy' && r.spec.namespaceSelector !== undefined ? namespaceSelectorOnEndpoints(r.spec.namespaceSelector) : undefined;
    scope = namespace !== undefined ? andSelectors(sel, namespaceEq(namespace)) : nsSel ? andSelectors(sel, nsSel) : sel;
    state = {
      id, order: r.spec.order ?? null,
      ingress: types.ingress ? compileRules(r.spec.ingress, { namespace, scope, direction: 'ingress' }, label, sets) : [],
      egress: types.egress ? compileRules(r.spec.egress, { namespace, scope, direction: 'egress' }, label, sets) : [],
    };
  } catch (e) {
    if (!(e instanceof Error && e.name === 'SelectorError')) throw e;
    // Whom the policy selects is unknown: fail closed by applying it to everything it could
    // (its namespace, or every endpoint) as a Deny of all traffic in its directions.
    scope = namespace !== undefined ? namespaceEq(namespace) : ALL_SELECTOR;
    const deny = (direction: Direction): CompiledRule[] => [{
      action: 'Deny', srcSets: [], notSrcSets: [], dstSets: [], notDstSets: [], srcPorts: [], notSrcPorts: [],
      dstPorts: [], notDstPorts: [], srcNamedPortSets: [], dstNamedPortSets: [], origin: `${label} ${direction}`,
      failClosed: `cannot compile (${e.message}): the policy denies all traffic of the endpoints it may select`,
    }];
    state = { id, order: r.spec.order ?? null, ingress: types.ingress ? deny('ingress') : [], egress: types.egress ? deny('egress') : [] };
  }
  let hostOnly = false;
  if (r.kind === 'GlobalNetworkPolicy') {
    if (r.spec.applyOnForward) state.applyOnForward = true;
    if (r.spec.preDNAT) state.preDNAT = true;
    if (r.spec.doNotTrack) state.doNotTrack = true;
    hostOnly = r.spec.preDNAT === true || r.spec.doNotTrack === true;
  }
  return { id, sortName: name, tier: r.spec.tier ?? 'default', order: r.spec.order ?? null, scope, ingress: types.ingress, egress: types.egress, state, sets: sortedDefs(sets), hostOnly };
}

// ---- tiers -----------------------------------------------------------------------

export interface TierInfo { name: string; order: number | null; defaultAction: 'Deny' | 'Pass' }
export type Tiers = ReadonlyMap<string, TierInfo>;
/** Calico's default tier, there without a Tier resource. */
export const DEFAULT_TIER: TierInfo = { name: 'default', order: 1_000_000, defaultAction: 'Deny' };

export function tierInfo(r: Tier): TierInfo {
  return { name: r.metadata.name, order: r.spec.order ?? null, defaultAction: r.spec.defaultAction };
}

/** A policy's tier as calc uses it. A tier without its Tier resource keeps its policies
 *  in force (fail closed: dropping a Deny would loosen), last and ending in Deny. */
export function tierOf(tiers: Tiers, name: string): TierInfo {
  return tiers.get(name) ?? (name === 'default' ? DEFAULT_TIER : { name, order: null, defaultAction: 'Deny' });
}

function compareOrder(a: number | null, b: number | null): number {
  const oa = a ?? Infinity;
  const ob = b ?? Infinity;
  return oa === ob ? 0 : oa < ob ? -1 : 1;
}

/** Calico's order: by tier (its order, absent = last, then its name), then by `order`
 *  (absent = after every numbered policy), then by name. */
export function comparePolicies(a: CompiledPolicy, b: CompiledPolicy, tiers: Tiers = new Map()): number {
  if (a.tier !== b.tier) {
    const ta = tierOf(tiers, a.tier);
    const tb = tierOf(tiers, b.tier);
    return compareOrder(ta.order, tb.order) || byCodePoint(ta.name, tb.name);
  }
  return compareOrder(a.order, b.order) || byCodePoint(a.sortName, b.sortName) || byCodePoint(a.id, b.id);
}

/** An ordered policy list split by tier; undefined when it is the default tier alone
 *  (ending in Deny), which DirectionState writes as its plain list. */
export function tierGroups(ordered: readonly CompiledPolicy[], tiers: Tiers): TierState[] | undefined {
  const out: TierState[] = [];
  for (const p of ordered) {
    const last = out[out.length - 1];
    if (last && last.name === p.tier) { last.policies.push(p.id); continue; }
    const t = tierOf(tiers, p.tier);
    out.push({ name: t.name, defaultAction: t.defaultAction, policies: [p.id] });
  }
  if (out.length === 0 || (out.length === 1 && out[0]!.name === 'default' && out[0]!.defaultAction === 'Deny')) return undefined;
  return out;
}

export interface CompiledProfile { id: string; name: string; state: ProfileState; sets: SetDef[]; labels: Labels }

export function compileProfile(r: Profile): CompiledProfile {
  const name = r.metadata.name;
  const label = `Profile ${name}`;
  const sets = new Map<string, SetDef>();
  const ctx = { scope: ALL_SELECTOR };
  const state: ProfileState = {
    id: `Profile/${name}`,
    ingress: compileRules(r.spec.ingress, { ...ctx, direction: 'ingress' }, label, sets),
    egress: compileRules(r.spec.egress, { ...ctx, direction: 'egress' }, label, sets),
  };
  return { id: state.id, name, state, sets: sortedDefs(sets), labels: r.spec.labelsToApply ?? {} };
}

function sortedDefs(m: Map<string, SetDef>): SetDef[] {
  return [...m.values()].sort((a, b) => byCodePoint(a.id, b.id));
}

// ---- endpoint state, routes, port maps, NAT ---------------------------------------

export function portMapsOf(r: WorkloadEndpoint, addrs: string[]): PortMapState[] {
  const out: PortMapState[] = [];
  for (const p of r.spec.ports ?? []) {
    if (p.hostPort === undefined) continue;
    const proto = portProtocolName(protocolNumber(p.protocol));
    if (proto !== 'tcp' && proto !== 'udp' && proto !== 'sctp') continue;
    // Without hostIP, like docker -p, the host port forwards for each family the container has.
    const families: Family[] = p.hostIP !== undefined ? [cidrFacts(p.hostIP).family] : [4, 6];
    for (const fam of families) {
      const target = addrs.map(cidrFacts).find((c) => c.family === fam);
      if (!target) continue;
      const pm: PortMapState = { protocol: proto, hostPort: p.hostPort, containerIP: target.address, containerPort: p.port };
      if (p.hostIP !== undefined) pm.hostIP = cidrFacts(p.hostIP).address;
      out.push(pm);
    }
  }
  const key = (m: PortMapState) => `${String(m.hostPort).padStart(5, '0')}/${m.protocol}/${m.hostIP ?? ''}/${m.containerIP}`;
  return out.sort((a, b) => byCodePoint(key(a), key(b)));
}

export function endpointState(
  r: WorkloadEndpoint, info: EndpointInfo, ingress: string[], egress: string[], profiles: string[],
  tiers: { ingress?: TierState[] | undefined; egress?: TierState[] | undefined } = {},
): EndpointState {
  const st: EndpointState = {
    id: info.id, namespace: info.namespace!, name: r.metadata.name, interfaceName: r.spec.interfaceName,
    addresses: info.addrs,
    ingress: { policies: ingress, profiles, ...(tiers.ingress ? { tiers: tiers.ingress } : {}) },
    egress: { policies: egress, profiles, ...(tiers.egress ? { tiers: tiers.egress } : {}) },
    portMaps: portMapsOf(r, info.addrs),
  };
  if (r.spec.mac !== undefined) st.mac = r.spec.mac.toLowerCase();
  return st;
}

/** One route per local address; if two endpoints claim an address, the first by id keeps it. */
export function routesOf(endpoints: EndpointState[]): RouteState[] {
  const byDst = new Map<string, RouteState>();
  for (const ep of endpoints) {
    for (const a of ep.addresses) {
      // Canonical CIDRs: only IPv6 ones contain ':'.
      if (!byDst.has(a)) byDst.set(a, { dst: a, family: a.includes(':') ? 6 : 4, dev: ep.interfaceName });
    }
  }
  return [...byDst.values()].sort((a, b) => a.family - b.family || byCodePoint(a.dst, b.dst));
}

export function natOf(pools: IPPool[]): NatState {
  const masq = new Set<string>();
  const all = new Set<string>();
  for (const p of pools) {
    const c = cidrFacts(p.spec.cidr).canonical;
    all.add(c);
    if (p.spec.natOutgoing && !p.spec.disabled) masq.add(c);
  }
  return { masqueradeSources: [...masq].sort(), allPools: [...all].sort() };
}
