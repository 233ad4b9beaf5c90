// `policy explain`: which policy or profile rule decides a new connection. It evaluates
// the same CompiledRules and set members the dataplane renders (the DesiredState of the
// source's node for egress and of the destination's node for ingress): there is no second
// policy engine to drift from the first.
import ipaddr from 'ipaddr.js';
import { TrellisError, byCodePoint, canonicalCidr, protocolByName, protocolByNumber, parseCidr, parseSelector, type IPPool, type Resource, type WorkloadEndpoint } from '../model/index.js';
import { endpointRefusals } from './claims.js';
import { computeDesiredState, latestByKey } from './compute.js';
import { cidrFacts, networkSetInfo, portProtocolName, type EndpointInfo } from './compile.js';
import type {
  CompiledRule, DesiredState, DirectionState, EndpointState, Family, IpSetState, PolicyState, PortRange, ProfileState, RuleAction,
} from './state.js';

export class ExplainError extends TrellisError<'EXPLAIN_INPUT'> {
  constructor(message: string) {
    super('EXPLAIN_INPUT', message);
  }
}

export type FlowEnd = { endpoint: string } | { cidr: string };

export interface ExplainInput {
  resources: readonly Resource[];
  from: FlowEnd;
  to: { endpoint: string };
  /** Calico name (TCP, UDP, SCTP, UDPLite, ICMP, ICMPv6) or IANA number. */
  protocol: string | number;
  /** Destination port (port protocols). */
  port?: number;
  /** Source port; when absent, rules that test source ports are treated as not matching. */
  srcPort?: number;
  icmp?: { type: number; code?: number };
  /** Which address family to explain when both ends have both. Default: 4 if possible. */
  ipVersion?: Family;
}

export interface RuleHit {
  origin: string; action: RuleAction; policy?: string; profile?: string; index: number; failClosed?: string;
  /** The NetworkSets and GlobalNetworkSets that put the flow's source or destination into
   *  the rule's selector sets: "source 198.51.100.7 in GlobalNetworkSet external (198.51.100.0/24)". */
  networkSets?: string[];
}

export interface Verdict {
  direction: 'ingress' | 'egress';
  /** The endpoint whose policy decides ("WorkloadEndpoint/tenant-a/web"). */
  endpoint: string;
  node: string;
  allowed: boolean;
  /** What decided: a rule, or a default. */
  decidedBy:
    | { kind: 'rule'; hit: RuleHit }
    | { kind: 'default'; reason: 'no policy and no profile: default deny' | 'policies applied but no rule matched: default deny' | 'no profile rule matched: default deny' | 'passed to profiles, but the endpoint has none: default deny' }
    | { kind: 'default'; reason: 'tier default action'; tier: string };
  /** The last Pass rule that sent the flow on (to the next tier or the profiles), if any. */
  passedBy?: RuleHit;
  /** Tiers whose policies applied but decided nothing, and whose defaultAction Pass sent the flow on. */
  tierPasses?: string[];
  /** The endpoint's policies by tier, when not all in the default tier. */
  tiers?: DirectionState['tiers'];
  /** Log rules the flow hit on the way. */
  logged: RuleHit[];
  policies: string[];
  profiles: string[];
}

export interface ExplainResult {
  allowed: boolean;
  flow: { src: string; dst: string; family: Family; protocol: number; port?: number; srcPort?: number; icmp?: { type: number; code?: number } };
  from: string;
  to: string;
  /** Absent when the source is outside the cluster. */
  egress?: Verdict;
  ingress: Verdict;
  notes: string[];
}

export function protoNumber(p: string | number): number {
  if (typeof p === 'number') {
    if (!Number.isInteger(p) || p < 1 || p > 255) throw new ExplainError(`protocol ${p} is not 1-255`);
    return p;
  }
  const n = protocolByName(p)?.number ?? (/^\d+$/.test(p) ? Number(p) : undefined);
  if (n === undefined || n < 1 || n > 255) throw new ExplainError(`unknown protocol "${p}" (TCP, UDP, SCTP, UDPLite, ICMP, ICMPv6 or 1-255)`);
  return n;
}

/** A workload endpoint as explain addresses it. `addrs`: its networks, canonical CIDRs. */
export interface EndpointRef { ns: string; name: string; node: string; addrs: string[] }

/** The policies, profiles and sets one node renders, by id. */
export interface RuleLookup {
  readonly nodeName: string;
  /** Lookups with one basis answer alike for every id (they differ only in nodeName): the
   *  matrix evaluates each distinct endpoint shape once per basis, not once per node. */
  readonly basis: object;
  set(id: string): IpSetState | undefined;
  policy(id: string): PolicyState | undefined;
  profile(id: string): ProfileState | undefined;
}

/** One endpoint as its node programs it: its EndpointState and the rules behind it. */
export interface CompiledEndpoint { endpoint: EndpointState; rules: RuleLookup }

/** Where explain reads the cluster from: resources computed from scratch (the CLI), or the
 *  agent's incremental calculator (the API, the matrix). */
export interface ExplainView {
  findEndpoint(ns: string, name: string): EndpointRef | undefined;
  /** The workload endpoint that has exactly this network (a /32 or /128), if any. */
  ownerOf(hostCidr: string): EndpointRef | undefined;
  compiled(ep: EndpointRef): CompiledEndpoint | undefined;
  /** Why a stored endpoint is refused (claims.ts), if it is: it then does not exist for explain. */
  refused?(ns: string, name: string): readonly string[] | undefined;
  /** Every NetworkSet and GlobalNetworkSet, as rule selectors see them. */
  networkSets(): Iterable<EndpointInfo>;
}

/** Which network sets a selector set holds the address through (the set's key names its selector). */
function setsVia(view: ExplainView, set: IpSetState | undefined, addr: string): string[] {
  if (!set || !set.key.startsWith('sel:')) return [];
  const sel = parseSelector(set.key.slice('sel:'.length));
  const out: string[] = [];
  for (const ns of view.networkSets()) {
    if (!sel.matches(ns.labels, { global: ns.global })) continue;
    const hit = ns.addrs.filter((a) => inNetSet({ id: '', type: 'hash:net', key: '', members: [a] }, addr));
    if (hit.length > 0) out.push(`${ns.id.replace('/', ' ')} (${hit.join(', ')})`);
  }
  return out;
}

/** Names the network sets through which the deciding rule matched (explain's "why"). */
function nameNetworkSets(view: ExplainView, rules: RuleLookup, v: Verdict, pkt: Packet): void {
  if (v.decidedBy.kind !== 'rule') return;
  const hit = v.decidedBy.hit;
  const owner = hit.policy !== undefined ? rules.policy(hit.policy) : hit.profile !== undefined ? rules.profile(hit.profile) : undefined;
  const rule = owner?.[v.direction][hit.index];
  if (!rule) return;
  const named: string[] = [];
  for (const id of rule.srcSets) for (const n of setsVia(view, rules.set(id), pkt.src)) named.push(`source ${pkt.src} in ${n}`);
  for (const id of rule.dstSets) for (const n of setsVia(view, rules.set(id), pkt.dst)) named.push(`destination ${pkt.dst} in ${n}`);
  if (named.length > 0) hit.networkSets = [...new Set(named)].sort(byCodePoint);
}

const lookups = new WeakMap<DesiredState, RuleLookup>();
/** The lookup for a DesiredState, built once per state object (states are immutable). */
export function lookupOfState(state: DesiredState): RuleLookup {
  let l = lookups.get(state);
  if (l) return l;
  const sets = new Map(state.ipsets.map((s) => [s.id, s]));
  const policies = new Map(state.policies.map((p) => [p.id, p]));
  const profiles = new Map(state.profiles.map((p) => [p.id, p]));
  l = { nodeName: state.nodeName, basis: state, set: (id) => sets.get(id), policy: (id) => policies.get(id), profile: (id) => profiles.get(id) };
  lookups.set(state, l);
  return l;
}

const endpointMaps = new WeakMap<DesiredState, Map<string, EndpointState>>();
/** A node state's endpoint by id, via a map built once per state object. */
export function endpointOfState(state: DesiredState, id: string): EndpointState | undefined {
  let m = endpointMaps.get(state);
  if (!m) endpointMaps.set(state, (m = new Map(state.endpoints.map((e) => [e.id, e]))));
  return m.get(id);
}

/** Cached: explain of a matrix asks for the same endpoints' addresses again and again. */
const hostOf = (cidr: string) => cidrFacts(cidr).address;

// Set membership as the kernel's hash sets answer it, built once per IpSetState (states
// are immutable and reused while unchanged): host members in a hash, wider nets tested in turn.
interface NetMatcher { hosts: Set<string>; nets: Array<{ family: Family; net: ipaddr.IPv4 | ipaddr.IPv6; prefix: number }> }
const netMatchers = new WeakMap<IpSetState, NetMatcher>();
const portMatchers = new WeakMap<IpSetState, Set<string>>();

function netMatcher(set: IpSetState): NetMatcher {
  let m = netMatchers.get(set);
  if (m) return m;
  m = { hosts: new Set(), nets: [] };
  for (const member of set.members) {
    const c = parseCidr(member);
    if (c.prefixLength === (c.family === 4 ? 32 : 128)) m.hosts.add(ipaddr.parse(c.address).toString());
    else m.nets.push({ family: c.family, net: ipaddr.parse(c.address), prefix: c.prefixLength });
  }
  netMatchers.set(set, m);
  return m;
}

/** addr: a bare address as ipaddr prints it. */
export function inNetSet(set: IpSetState, addr: string): boolean {
  const m = netMatcher(set);
  if (m.hosts.has(addr)) return true;
  if (m.nets.length === 0) return false;
  const a = ipaddr.parse(addr);
  const fam = a.kind() === 'ipv4' ? 4 : 6;
  return m.nets.some((n) => n.family === fam && a.match(n.net, n.prefix));
}

export function inPortSet(set: IpSetState, addr: string, protocol: number, port: number | undefined): boolean {
  const name = portProtocolName(protocol);
  if (port === undefined || name === undefined) return false;
  let m = portMatchers.get(set);
  if (!m) {
    m = new Set(set.members.map((member) => {
      const [ip, pp] = member.split(',') as [string, string | undefined];
      return `${ipaddr.parse(ip).toString()},${pp ?? ''}`;
    }));
    portMatchers.set(set, m);
  }
  return m.has(`${addr},${name}:${port}`);
}

function inRanges(ranges: PortRange[], p: number): boolean {
  for (const r of ranges) if (p >= r.from && p <= r.to) return true;
  return false;
}

const fam = (a: string): Family => (a.includes(':') ? 6 : 4);

export interface Packet { src: string; dst: string; family: Family; protocol: number; port?: number; srcPort?: number; icmp?: { type: number; code?: number } }

type SetOf = (id: string) => IpSetState | undefined;

const icmpHit = (pkt: Packet, t: { type: number; code?: number }) => pkt.icmp !== undefined && pkt.icmp.type === t.type && (t.code === undefined || pkt.icmp.code === t.code);
// A set the state does not carry can hold nothing.
function inSet(set: SetOf, id: string, addr: string): boolean {
  const s = set(id);
  return s !== undefined && s.type === 'hash:net' && inNetSet(s, addr);
}
function allIn(set: SetOf, ids: string[], addr: string): boolean {
  for (const id of ids) if (!inSet(set, id, addr)) return false;
  return true;
}
function anyIn(set: SetOf, ids: string[], addr: string): boolean {
  for (const id of ids) if (inSet(set, id, addr)) return true;
  return false;
}
function portSide(set: SetOf, pkt: Packet, ports: PortRange[], notPorts: PortRange[], named: string[], addr: string, port: number | undefined): boolean {
  if (ports.length + notPorts.length + named.length === 0) return true;
  if (port === undefined || portProtocolName(pkt.protocol) === undefined) return false;
  if (ports.length + named.length > 0) {
    let hit = inRanges(ports, port);
    for (const id of named) {
      if (hit) break;
      const s = set(id);
      hit = s !== undefined && inPortSet(s, addr, pkt.protocol, port);
    }
    if (!hit) return false;
  }
  return !inRanges(notPorts, port);
}

/** The dataplane's match, in words of the contract (state.ts). */
export function ruleMatches(rule: CompiledRule, pkt: Packet, set: SetOf): boolean {
  if (rule.neverMatches) return false;
  if (rule.ipVersion !== undefined && rule.ipVersion !== pkt.family) return false;
  if (rule.protocol !== undefined && rule.protocol !== pkt.protocol) return false;
  if (rule.notProtocol !== undefined && rule.notProtocol === pkt.protocol) return false;
  if (rule.icmp && !icmpHit(pkt, rule.icmp)) return false;
  if (rule.notIcmp && icmpHit(pkt, rule.notIcmp)) return false;
  if (!allIn(set, rule.srcSets, pkt.src)) return false;
  if (anyIn(set, rule.notSrcSets, pkt.src)) return false;
  if (!allIn(set, rule.dstSets, pkt.dst)) return false;
  if (anyIn(set, rule.notDstSets, pkt.dst)) return false;
  if (!portSide(set, pkt, rule.srcPorts, rule.notSrcPorts, rule.srcNamedPortSets, pkt.src, pkt.srcPort)) return false;
  if (!portSide(set, pkt, rule.dstPorts, rule.notDstPorts, rule.dstNamedPortSets, pkt.dst, pkt.port)) return false;
  return true;
}

function hitOf(rule: CompiledRule, index: number, owner: { policy?: string; profile?: string }): RuleHit {
  const h: RuleHit = { origin: rule.origin, action: rule.action, index, ...owner };
  if (rule.failClosed) h.failClosed = rule.failClosed;
  return h;
}
function decide(v: Verdict, hit: RuleHit): Verdict {
  v.allowed = hit.action === 'Allow';
  v.decidedBy = { kind: 'rule', hit };
  return v;
}

/** Calico's evaluation for one endpoint and direction, tier by tier (a plain policy list
 *  is the default tier): in a tier whose policies apply, Allow and Deny decide, Log
 *  continues, Pass goes to the next tier; when no rule decides, the tier's defaultAction
 *  (Deny, or Pass to the next tier). After the last tier (or when no policy applies) the
 *  profiles in order, where Pass moves to the next profile. */
export function evaluateDirection(rules: RuleLookup, ep: EndpointState, direction: 'ingress' | 'egress', pkt: Packet): Verdict {
  const dir: DirectionState = ep[direction];
  const set = rules.set;
  const v: Verdict = {
    direction, endpoint: ep.id, node: rules.nodeName, allowed: false,
    decidedBy: { kind: 'default', reason: 'no policy and no profile: default deny' },
    logged: [], policies: dir.policies, profiles: dir.profiles, ...(dir.tiers ? { tiers: dir.tiers } : {}),
  };
  const tiers = dir.tiers ?? (dir.policies.length > 0 ? [{ name: 'default', defaultAction: 'Deny' as const, policies: dir.policies }] : []);
  let passed = false;
  for (const tier of tiers) {
    let tierPassed = false;
    outer: for (const id of tier.policies) {
      const list = rules.policy(id)?.[direction] ?? [];
      for (const [i, rule] of list.entries()) {
        if (!ruleMatches(rule, pkt, set)) continue;
        const hit = hitOf(rule, i, { policy: id });
        if (rule.action === 'Log') { v.logged.push(hit); continue; }
        if (rule.action === 'Pass') { v.passedBy = hit; tierPassed = true; break outer; }
        return decide(v, hit);
      }
    }
    if (!tierPassed && tier.defaultAction === 'Deny') {
      v.decidedBy = dir.tiers
        ? { kind: 'default', reason: 'tier default action', tier: tier.name }
        : { kind: 'default', reason: 'policies applied but no rule matched: default deny' };
      return v;
    }
    if (!tierPassed) v.tierPasses = [...(v.tierPasses ?? []), tier.name];
    passed = true;
  }
  if (dir.profiles.length === 0) {
    v.decidedBy = { kind: 'default', reason: passed ? 'passed to profiles, but the endpoint has none: default deny' : 'no policy and no profile: default deny' };
    return v;
  }
  for (const id of dir.profiles) {
    const list = rules.profile(id)?.[direction] ?? [];
    for (const [i, rule] of list.entries()) {
      if (!ruleMatches(rule, pkt, set)) continue;
      const hit = hitOf(rule, i, { profile: id });
      if (rule.action === 'Log') { v.logged.push(hit); continue; }
      if (rule.action === 'Pass') break; // on to the next profile
      return decide(v, hit);
    }
  }
  v.decidedBy = { kind: 'default', reason: 'no profile rule matched: default deny' };
  return v;
}

function findIn(view: ExplainView, ref: string): EndpointRef {
  const m = /^([^/]+)\/([^/]+)$/.exec(ref);
  if (!m) throw new ExplainError(`"${ref}" is not NAMESPACE/ENDPOINT`);
  const [, ns, name] = m as unknown as [string, string, string];
  const ep = view.findEndpoint(ns, name);
  const refused = ep ? undefined : view.refused?.(ns, name);
  if (refused) throw new ExplainError(`WorkloadEndpoint ${ns}/${name} is refused, so nothing is programmed for it: ${refused.join('; ')}`);
  if (!ep) throw new ExplainError(`no WorkloadEndpoint ${ns}/${name}`);
  return ep;
}

/** explainFlow's question without the resources: the view says where the cluster is read from. */
export type ExplainQuestion = Omit<ExplainInput, 'resources'>;

export function explainIn(view: ExplainView, input: ExplainQuestion): ExplainResult {
  const notes: string[] = [];
  const protocol = protoNumber(input.protocol);
  if (input.port !== undefined && (!Number.isInteger(input.port) || input.port < 0 || input.port > 65535)) throw new ExplainError(`port ${input.port} is not 0-65535`);
  if (input.port !== undefined && portProtocolName(protocol) === undefined) throw new ExplainError(`protocol ${input.protocol} has no ports`);
  const dstEp = findIn(view, input.to.endpoint);

  let srcEp: EndpointRef | undefined;
  let srcCandidates: string[];
  if ('endpoint' in input.from) {
    srcEp = findIn(view, input.from.endpoint);
    srcCandidates = srcEp.addrs.map(hostOf);
  } else {
    let c;
    try { c = parseCidr(input.from.cidr); } catch { throw new ExplainError(`"${input.from.cidr}" is not an IP address or CIDR`); }
    const first = ipaddr.IPv4.isValid(c.address) && c.family === 4
      ? ipaddr.IPv4.networkAddressFromCIDR(`${c.address}/${c.prefixLength}`).toString()
      : ipaddr.IPv6.networkAddressFromCIDR(`${c.address}/${c.prefixLength}`).toString();
    if (c.prefixLength < (c.family === 4 ? 32 : 128)) notes.push(`source ${input.from.cidr} evaluated at its first address ${first}; rules with nets inside it may decide differently for other addresses`);
    srcCandidates = [first];
    // An address that belongs to an endpoint is that endpoint: its egress policy applies too.
    const owner = view.ownerOf(`${first}/${c.family === 4 ? 32 : 128}`);
    if (owner) {
      srcEp = owner;
      notes.push(`source ${first} is WorkloadEndpoint ${owner.ns}/${owner.name}`);
    }
  }
  const dstAddrs = dstEp.addrs.map(hostOf);
  const families: Family[] = input.ipVersion !== undefined ? [input.ipVersion] : protocol === 58 ? [6] : protocol === 1 ? [4] : [4, 6];
  let src: string | undefined;
  let dst: string | undefined;
  let family: Family | undefined;
  for (const f of families) {
    src = srcCandidates.find((a) => fam(a) === f);
    dst = dstAddrs.find((a) => fam(a) === f);
    if (src && dst) { family = f; break; }
  }
  if (!src || !dst || !family) throw new ExplainError(`the source and ${input.to.endpoint} share no address family${input.ipVersion ? ` (asked for IPv${input.ipVersion})` : ''}`);
  if ((protocol === 1 && family !== 4) || (protocol === 58 && family !== 6)) throw new ExplainError(`protocol ${input.protocol} does not fit IPv${family}`);

  const pkt: Packet = { src, dst, family, protocol };
  if (input.port !== undefined) pkt.port = input.port;
  if (input.srcPort !== undefined) pkt.srcPort = input.srcPort;
  if (input.icmp) pkt.icmp = input.icmp;

  const compiledOf = (ep: EndpointRef): CompiledEndpoint => {
    const c = view.compiled(ep);
    if (!c) throw new ExplainError(`WorkloadEndpoint ${ep.ns}/${ep.name} is missing from node ${ep.node}'s state`);
    return c;
  };
  const dstC = compiledOf(dstEp);
  const ingress = evaluateDirection(dstC.rules, dstC.endpoint, 'ingress', pkt);
  nameNetworkSets(view, dstC.rules, ingress, pkt);
  let egress: Verdict | undefined;
  if (srcEp) {
    const srcC = compiledOf(srcEp);
    egress = evaluateDirection(srcC.rules, srcC.endpoint, 'egress', pkt);
    nameNetworkSets(view, srcC.rules, egress, pkt);
  }
  const result: ExplainResult = {
    allowed: ingress.allowed && (egress?.allowed ?? true),
    flow: pkt,
    from: srcEp ? `${srcEp.ns}/${srcEp.name}` : ('cidr' in input.from ? input.from.cidr : ''),
    to: `${dstEp.ns}/${dstEp.name}`,
    ingress,
    notes,
  };
  if (egress) result.egress = egress;
  return result;
}

/** A view over plain resources: each node's state computed from scratch when first asked. */
export function resourceView(resources: readonly Resource[]): ExplainView {
  const all = latestByKey(resources);
  const stored = new Map<string, WorkloadEndpoint>();
  for (const r of all) if (r.kind === 'WorkloadEndpoint') stored.set(`${r.metadata.namespace ?? 'default'}/${r.metadata.name}`, r);
  const refusals = endpointRefusals([...stored].map(([k, r]) => [`WorkloadEndpoint/${k}`, r]), all.filter((r): r is IPPool => r.kind === 'IPPool'));
  const weps = new Map([...stored].filter(([k]) => !refusals.has(`WorkloadEndpoint/${k}`)));
  const refOf = (r: WorkloadEndpoint): EndpointRef => ({
    ns: r.metadata.namespace ?? 'default', name: r.metadata.name, node: r.spec.node, addrs: r.spec.ipNetworks.map(canonicalCidr),
  });
  const states = new Map<string, DesiredState>();
  const nets: EndpointInfo[] = [];
  const nsLabels = new Map(all.flatMap((r) => (r.kind === 'Namespace' ? [[r.metadata.name, r.metadata.labels ?? {}] as const] : [])));
  for (const r of all) {
    if (r.kind === 'NetworkSet') nets.push(networkSetInfo(r, nsLabels.get(r.metadata.namespace ?? 'default')));
    else if (r.kind === 'GlobalNetworkSet') nets.push(networkSetInfo(r, undefined));
  }
  nets.sort((a, b) => byCodePoint(a.id, b.id));
  return {
    networkSets: () => nets,
    findEndpoint(ns, name) { const r = weps.get(`${ns}/${name}`); return r ? refOf(r) : undefined; },
    refused: (ns, name) => refusals.get(`WorkloadEndpoint/${ns}/${name}`),
    ownerOf(hostCidr) {
      // Two endpoints claiming one address: the first by namespace/name, as the calculator's view picks.
      const owners = [...weps.entries()].filter(([, r]) => r.spec.ipNetworks.some((n) => canonicalCidr(n) === hostCidr)).map(([k]) => k).sort(byCodePoint);
      return owners.length > 0 ? refOf(weps.get(owners[0]!)!) : undefined;
    },
    compiled(ep) {
      let state = states.get(ep.node);
      if (!state) states.set(ep.node, (state = computeDesiredState({ nodeName: ep.node, resources: all })));
      const endpoint = endpointOfState(state, `WorkloadEndpoint/${ep.ns}/${ep.name}`);
      return endpoint ? { endpoint, rules: lookupOfState(state) } : undefined;
    },
  };
}

export function explainFlow(input: ExplainInput): ExplainResult {
  return explainIn(resourceView(input.resources), input);
}

export function describeVerdict(v: Verdict): string[] {
  const lines: string[] = [];
  const word = v.allowed ? 'ALLOWED' : 'DENIED';
  lines.push(`${v.direction} of ${v.endpoint} (node ${v.node}): ${word}`);
  if (v.tiers) for (const t of v.tiers) lines.push(`  tier ${t.name} (default ${t.defaultAction}): ${t.policies.join(', ')}`);
  else lines.push(`  policies: ${v.policies.length ? v.policies.join(', ') : '(none)'}`);
  lines.push(`  profiles: ${v.profiles.length ? v.profiles.join(', ') : '(none)'}`);
  for (const l of v.logged) lines.push(`  logged by ${l.origin}`);
  for (const t of v.tierPasses ?? []) lines.push(`  tier ${t}: no rule decided, its default action Pass goes on`);
  if (v.passedBy) lines.push(`  passed ${v.tiers ? 'on' : 'to profiles'} by ${v.passedBy.origin}`);
  if (v.decidedBy.kind === 'rule') {
    const h = v.decidedBy.hit;
    lines.push(`  decided by ${h.origin} (${h.action})`);
    for (const n of h.networkSets ?? []) lines.push(`  matched: ${n}`);
    if (h.failClosed) lines.push(`  note: ${h.failClosed}`);
  } else if ('tier' in v.decidedBy) {
    lines.push(`  decided by: tier ${v.decidedBy.tier}'s default action (Deny): its policies applied, none allowed or passed`);
  } else {
    lines.push(`  decided by: ${v.decidedBy.reason}`);
  }
  return lines;
}

export function formatExplanation(r: ExplainResult): string {
  const proto = protocolByNumber(r.flow.protocol)?.name ?? String(r.flow.protocol);
  const what = r.flow.port !== undefined ? `${r.flow.port}/${proto}` : r.flow.icmp ? `${proto} type ${r.flow.icmp.type}${r.flow.icmp.code !== undefined ? ` code ${r.flow.icmp.code}` : ''}` : proto;
  const lines = [`${r.allowed ? 'ALLOWED' : 'DENIED'}: ${r.from} (${r.flow.src}) -> ${r.to} (${r.flow.dst}) ${what}`];
  if (r.egress) lines.push(...describeVerdict(r.egress));
  else lines.push('egress: source is outside the cluster (no egress policy)');
  lines.push(...describeVerdict(r.ingress));
  for (const n of [...r.notes].sort(byCodePoint)) lines.push(`note: ${n}`);
  return lines.join('\n') + '\n';
}
