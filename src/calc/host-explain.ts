// Explain for host endpoints: which failsafe, policy, profile or default decides a new
// connection to the host itself (from outside through one of its interfaces, or from a
// workload) or from the host's own processes out through one of its interfaces. It
// evaluates the same DesiredState the dataplane renders, in the order the packet meets it
// (README, "Host endpoints"): failsafes, doNotTrack, preDNAT (ingress), then the normal
// policies and profiles; from a local workload: its egress policy, the all-interfaces
// endpoint's policies, DefaultEndpointToHostAction; to a local workload: its ingress policy
// alone (no host endpoint lies between the host and its workloads). A workload on another
// node adds its own side, evaluated on its node's state.
import {
  ExplainError, describeVerdict, endpointOfState, evaluateDirection, inNetSet, lookupOfState, protoNumber, ruleMatches,
  type CompiledEndpoint, type ExplainView, type Packet, type RuleHit, type Verdict,
} from './explain.js';
import { canonicalCidr, isValidCidrOrIp } from '../model/index.js';
import type { DesiredState, DirectionState, EndpointState, Family, FailsafePort, HostEndpointState, PolicyState } from './state.js';

export interface HostVerdict {
  allowed: boolean;
  /** The host endpoint that polices the flow, if any ("HostEndpoint/eth0"). */
  endpoint?: string;
  /** Set for the host's own traffic out through the endpoint; absent: traffic to the host. */
  direction?: 'egress';
  /** What decided, in words the CLI prints. */
  decidedBy:
    | { kind: 'failsafe'; failsafe: FailsafePort; outbound?: true }
    | { kind: 'rule'; stage: 'doNotTrack' | 'preDNAT' | 'policy' | 'profile' | 'all-interfaces policy'; hit: RuleHit }
    | { kind: 'default'; reason: string }
    | { kind: 'workload egress'; verdict: Verdict }
    | { kind: 'workload ingress'; verdict: Verdict };
}

const ALL = '*';
export type Direction = 'ingress' | 'egress';

/** The host endpoint that polices an interface: the named one, else "*", else none. */
export function hostEndpointFor(ds: DesiredState, iface: string): HostEndpointState | undefined {
  const eps = ds.host?.endpoints ?? [];
  if (iface === 'lo') return undefined;
  return eps.find((e) => e.interfaceName === iface) ?? eps.find((e) => e.interfaceName === ALL);
}

type Outcome = { hit: RuleHit } | { passed: true } | null;

const hostPolicies = new WeakMap<DesiredState, Map<string, PolicyState>>();
function hostPolicy(ds: DesiredState, id: string): PolicyState | undefined {
  let m = hostPolicies.get(ds);
  if (!m) hostPolicies.set(ds, (m = new Map((ds.host?.policies ?? []).map((p) => [p.id, p]))));
  return m.get(id);
}

/** Policies in order, as the host chains run them: the first Allow or Deny decides, Pass ends the list, Log continues. */
function runPolicies(ds: DesiredState, ids: readonly string[], pkt: Packet, dir: Direction = 'ingress'): Outcome {
  const set = lookupOfState(ds).set;
  for (const id of ids) {
    const p = hostPolicy(ds, id);
    if (!p) return { hit: { origin: `missing policy ${id}`, action: 'Deny', policy: id, index: 0 } };
    for (const [i, rule] of p[dir].entries()) {
      if (!ruleMatches(rule, pkt, set)) continue;
      if (rule.action === 'Log') continue;
      if (rule.action === 'Pass') return { passed: true };
      return { hit: { origin: rule.origin, action: rule.action, policy: id, index: i } };
    }
  }
  return null;
}

/**
 * A direction's normal policies tier by tier, as the host chains run them (a plain list is
 * one tier ending in Deny): a rule's Allow or Deny decides; Pass, or a tier whose default
 * action is Pass, goes on to the next tier. `tierDeny`: a tier's default Deny decided (its
 * reason when tiered; null for the plain list, whose caller words it). `passed`: every tier
 * passed, on to the profiles. null: no policy applies.
 */
function runTiers(ds: DesiredState, d: DirectionState, pkt: Packet, dir: Direction): { hit: RuleHit } | { tierDeny: string | null } | { passed: true } | null {
  const tiers = d.tiers ?? (d.policies.length > 0 ? [{ name: 'default', defaultAction: 'Deny' as const, policies: d.policies }] : []);
  for (const t of tiers) {
    const o = runPolicies(ds, t.policies, pkt, dir);
    if (o && 'hit' in o) return o;
    if (!o && t.defaultAction === 'Deny') return { tierDeny: d.tiers ? `tier ${t.name}: its policies applied but none allowed or passed: the tier's default action, Deny` : null };
  }
  return tiers.length > 0 ? { passed: true } : null;
}

/** Inbound failsafes test the destination port and the source; outbound ones the destination port and address. */
function failsafeHit(ds: DesiredState, pkt: Packet, dir: Direction): FailsafePort | undefined {
  const proto = pkt.protocol === 6 ? 'tcp' : pkt.protocol === 17 ? 'udp' : undefined;
  const list = dir === 'ingress' ? ds.host?.failsafe.inbound : ds.host?.failsafe.outbound;
  const remote = dir === 'ingress' ? pkt.src : pkt.dst;
  return (list ?? []).find((f) => f.protocol === proto && f.port === pkt.port && (!f.net || inCidr(remote, f.net)));
}

function inCidr(addr: string, cidr: string): boolean {
  return inNetSet({ id: 'f', type: 'hash:net', key: '', members: [cidr] }, addr);
}

/**
 * One host endpoint's verdict for the host's own traffic in one direction, in the order the
 * packet meets the tables: failsafes (raw, mangle, filter), doNotTrack, preDNAT (ingress
 * only), then the normal policies and the profiles, none allowing denies (fail closed).
 */
function hostEndpointVerdict(ds: DesiredState, ep: HostEndpointState, dir: Direction, pkt: Packet): HostVerdict {
  const at = { endpoint: ep.id, ...(dir === 'egress' ? { direction: 'egress' as const } : {}) };
  const fs = failsafeHit(ds, pkt, dir);
  if (fs) return { allowed: true, ...at, decidedBy: { kind: 'failsafe', failsafe: fs, ...(dir === 'egress' ? { outbound: true as const } : {}) } };
  const un = runPolicies(ds, dir === 'ingress' ? ep.untrackedIngress : ep.untrackedEgress, pkt, dir);
  if (un && 'hit' in un) return { allowed: un.hit.action === 'Allow', ...at, decidedBy: { kind: 'rule', stage: 'doNotTrack', hit: un.hit } };
  if (dir === 'ingress') {
    const pre = runPolicies(ds, ep.preDnatIngress, pkt);
    if (pre && 'hit' in pre && pre.hit.action === 'Deny') return { allowed: false, ...at, decidedBy: { kind: 'rule', stage: 'preDNAT', hit: pre.hit } };
  }
  const d = ep[dir];
  const o = runTiers(ds, d, pkt, dir);
  if (o && 'hit' in o) return { allowed: o.hit.action === 'Allow', ...at, decidedBy: { kind: 'rule', stage: 'policy', hit: o.hit } };
  if (o && 'tierDeny' in o) return { allowed: false, ...at, decidedBy: { kind: 'default', reason: o.tierDeny ?? 'policies applied but no rule matched: default deny' } };
  const passed = o !== null;
  const set = lookupOfState(ds).set;
  for (const id of d.profiles) {
    const prof = ds.profiles.find((p) => p.id === id);
    for (const [i, rule] of (prof?.[dir] ?? []).entries()) {
      if (!ruleMatches(rule, pkt, set) || rule.action === 'Log') continue;
      if (rule.action === 'Pass') break;
      return { allowed: rule.action === 'Allow', ...at, decidedBy: { kind: 'rule', stage: 'profile', hit: { origin: rule.origin, action: rule.action, profile: id, index: i } } };
    }
  }
  return {
    allowed: false, ...at,
    decidedBy: { kind: 'default', reason: passed ? 'passed to profiles, none allowed: default deny' : 'no policy or profile allowed: default deny (host endpoints fail closed)' },
  };
}

/** A local workload's traffic to the host once its egress policy allowed it: the all-interfaces endpoint's policies, then DefaultEndpointToHostAction. */
function afterWorkloadEgress(ds: DesiredState, pkt: Packet): HostVerdict {
  const all = ds.host?.endpoints.find((e) => e.interfaceName === ALL);
  if (all && all.ingress.policies.length > 0) {
    const o = runTiers(ds, all.ingress, pkt, 'ingress');
    if (o && 'hit' in o) return { allowed: o.hit.action === 'Allow', endpoint: all.id, decidedBy: { kind: 'rule', stage: 'all-interfaces policy', hit: o.hit } };
    if (o && 'tierDeny' in o) return { allowed: false, endpoint: all.id, decidedBy: { kind: 'default', reason: o.tierDeny ?? 'policies of the all-interfaces host endpoint applied but none allowed: default deny' } };
  }
  const action = ds.host?.endpointToHost ?? 'Drop';
  return { allowed: action !== 'Drop', decidedBy: { kind: 'default', reason: `DefaultEndpointToHostAction ${action}${action === 'Return' ? ' (the host\'s own INPUT rules decide)' : ''}` } };
}

/**
 * A new connection to the host's own processes. `via`: the interface it arrives on (from
 * outside), or the local workload it comes from.
 */
export function explainToHost(ds: DesiredState, via: { iface: string } | { workload: EndpointState }, pkt: Packet): HostVerdict {
  if ('workload' in via) {
    const egress = evaluateDirection(lookupOfState(ds), via.workload, 'egress', pkt);
    if (!egress.allowed) return { allowed: false, decidedBy: { kind: 'workload egress', verdict: egress } };
    return afterWorkloadEgress(ds, pkt);
  }
  const ep = hostEndpointFor(ds, via.iface);
  if (!ep) return { allowed: true, decidedBy: { kind: 'default', reason: `no host endpoint polices ${via.iface}: unpoliced` } };
  return hostEndpointVerdict(ds, ep, 'ingress', pkt);
}

/**
 * A new connection from the host's own processes. `via`: the interface it leaves by (to
 * another host, a remote workload or outside), or the local workload it goes to: that
 * leaves by the workload's own interface, which no host endpoint polices, so only the
 * workload's ingress policy decides (trl-output).
 */
export function explainFromHost(ds: DesiredState, via: { iface: string } | { workload: EndpointState }, pkt: Packet): HostVerdict {
  if ('workload' in via) {
    const ingress = evaluateDirection(lookupOfState(ds), via.workload, 'ingress', pkt);
    return { allowed: ingress.allowed, direction: 'egress', decidedBy: { kind: 'workload ingress', verdict: ingress } };
  }
  const ep = hostEndpointFor(ds, via.iface);
  if (!ep) return { allowed: true, direction: 'egress', decidedBy: { kind: 'default', reason: `no host endpoint polices ${via.iface}: unpoliced` } };
  return hostEndpointVerdict(ds, ep, 'egress', pkt);
}

/** One line saying what decided. */
export function formatHostVerdict(v: HostVerdict): string {
  const verdict = v.allowed ? 'ALLOWED' : 'DENIED';
  const who = v.endpoint ? ` at ${v.endpoint}` : '';
  const d = v.decidedBy;
  const why = (w: Verdict) => (w.decidedBy.kind === 'rule' ? w.decidedBy.hit.origin : w.decidedBy.reason);
  switch (d.kind) {
    case 'failsafe': return `${verdict}${who} by ${d.outbound ? 'outbound ' : ''}failsafe ${d.failsafe.protocol}:${d.failsafe.port}${d.failsafe.net ? `:${d.failsafe.net}` : ''}`;
    case 'rule': return `${verdict}${who} by ${d.stage} rule ${d.hit.origin} (${d.hit.action})`;
    case 'workload egress': return `${verdict} by the workload's egress: ${why(d.verdict)}`;
    case 'workload ingress': return `${verdict} by the workload's ingress (the host reaches its own workloads through no host endpoint): ${why(d.verdict)}`;
    default: return `${verdict}${who}: ${d.reason}`;
  }
}

export interface HostFlowQuery {
  /** A workload ("ns/name", "WorkloadEndpoint/ns/name"), an address, or (flows from the host) "HOST/<name>" or a host endpoint's address. */
  from: string;
  /** "HOST/<name>", "HostEndpoint/<name>" or a host endpoint's address; or (flows from the host) a workload or an address. */
  to: string;
  protocol?: string;
  port?: number;
  srcPort?: number;
  icmp?: { type: number; code?: number };
}

/**
 * A flow between this node's host and a workload on another node: both sides decide, each
 * on its own node's state (the workload's egress then the host endpoint's ingress, or the
 * host endpoint's egress then the workload's ingress).
 */
export interface HostFlowResult {
  allowed: boolean;
  host: HostVerdict;
  workload: Verdict;
}

const HOST_REF = /^(HOST|HostEndpoint)\//;

/** The flow's other end: a workload here, one on another node (needs a view), or an address. */
export type OtherEnd =
  | { kind: 'local'; ref: string; endpoint: EndpointState }
  | { kind: 'remote'; ref: string; compiled: CompiledEndpoint }
  | { kind: 'address'; ref: string; addr: string };

const bare = (cidr: string) => cidr.replace(/\/\d+$/, '');

/**
 * Which of this node's host endpoints `ref` names: "HOST/<name>", "HostEndpoint/<name>"
 * (refused when it does not exist), or an address in its expectedIPs (the first such
 * endpoint by id). Undefined when `ref` is something else.
 */
export function hostEndpointByRef(ds: DesiredState, ref: string): HostEndpointState | undefined {
  const eps = ds.host?.endpoints ?? [];
  if (HOST_REF.test(ref)) {
    const name = ref.replace(HOST_REF, '');
    const ep = eps.find((e) => e.name === name);
    if (!ep) throw new ExplainError(`no host endpoint "${name}" on this node (${eps.map((e) => e.name).join(', ') || 'it has none'})`);
    return ep;
  }
  if (ref.includes('/') && !/^[0-9a-fA-F:.]+\/(32|128)$/.test(ref)) return undefined;
  if (!isValidCidrOrIp(ref)) return undefined;
  const cidr = canonicalCidr(ref);
  return eps.find((e) => e.addresses.includes(cidr));
}

function otherEnd(ds: DesiredState, view: ExplainView | undefined, s: string): OtherEnd | undefined {
  const name = s.replace(/^WorkloadEndpoint\//, '');
  const m = /^([^/]+)\/([^/]+)$/.exec(name);
  if (m && !isValidCidrOrIp(name)) {
    const local = endpointOfState(ds, `WorkloadEndpoint/${name}`);
    if (local) return { kind: 'local', ref: name, endpoint: local };
    const ep = view?.findEndpoint(m[1]!, m[2]!);
    const c = ep ? view!.compiled(ep) : undefined;
    return c ? { kind: 'remote', ref: name, compiled: c } : undefined;
  }
  if (!isValidCidrOrIp(s)) return undefined;
  const cidr = canonicalCidr(s);
  const addr = bare(cidr);
  // An address that belongs to a workload is that workload, as in explainFlow.
  const local = ds.endpoints.find((e) => e.addresses.includes(cidr));
  if (local) return { kind: 'local', ref: `${local.namespace}/${local.name}`, endpoint: local };
  const owner = view?.ownerOf(cidr);
  const c = owner && owner.node !== ds.nodeName ? view!.compiled(owner) : undefined;
  if (owner && c) return { kind: 'remote', ref: `${owner.ns}/${owner.name}`, compiled: c };
  return { kind: 'address', ref: s, addr };
}

const addressesOf = (o: OtherEnd): string[] => (o.kind === 'address' ? [o.addr] : (o.kind === 'local' ? o.endpoint : o.compiled.endpoint).addresses.map(bare));
const familyOf = (a: string): Family => (a.includes(':') ? 6 : 4);

/** The core of a host flow, for explain and the matrix alike. */
function evaluateHostFlow(ds: DesiredState, ep: HostEndpointState, other: OtherEnd, dir: Direction, pkt: Packet): HostVerdict | HostFlowResult {
  if (other.kind === 'local') return dir === 'ingress' ? explainToHost(ds, { workload: other.endpoint }, pkt) : explainFromHost(ds, { workload: other.endpoint }, pkt);
  const host = hostEndpointVerdict(ds, ep, dir, pkt);
  if (other.kind === 'address') return host;
  const workload = evaluateDirection(other.compiled.rules, other.compiled.endpoint, dir === 'ingress' ? 'egress' : 'ingress', pkt);
  return { allowed: host.allowed && workload.allowed, host, workload };
}

/** The packet of a host flow: the other end's first address of a family the host endpoint shares (IPv4 first), the endpoint's address in it. */
function hostPacket(ep: HostEndpointState, other: OtherEnd, dir: Direction, proto: number, extra: Pick<Packet, 'port' | 'srcPort' | 'icmp'>): Packet {
  const theirs = addressesOf(other);
  const families: Family[] = proto === 1 ? [4] : proto === 58 ? [6] : [4, 6];
  const family = families.find((f) => theirs.some((a) => familyOf(a) === f)) ?? families[0]!;
  const remote = theirs.find((a) => familyOf(a) === family) ?? theirs[0]!;
  const own = ep.addresses.map(bare).find((a) => familyOf(a) === family) ?? (family === 6 ? '::' : '0.0.0.0');
  const [src, dst] = dir === 'ingress' ? [remote, own] : [own, remote];
  return { src, dst, family, protocol: proto, ...extra };
}

/** A workload or address as a host flow's other end, resolved once (the matrix asks about it per host endpoint). */
export function hostFlowPeer(ds: DesiredState, view: ExplainView | undefined, ref: string): OtherEnd | undefined {
  return otherEnd(ds, view, ref);
}

/** A workload's verdict in one direction for a packet (the matrix memoizes it). */
export type WorkloadDecider = (c: CompiledEndpoint, direction: Direction, pkt: Packet) => boolean;
const decideNow: WorkloadDecider = (c, direction, pkt) => evaluateDirection(c.rules, c.endpoint, direction, pkt).allowed;

/**
 * Whether a new connection gets through between a host endpoint and a peer: explain's
 * verdict (evaluateHostFlow), composed of the same steps in the same order, with the
 * workload's own side answered by `decide` (the matrix's memo) and skipped once the host
 * side has denied.
 */
export function hostFlowAllowed(ds: DesiredState, ep: HostEndpointState, peer: OtherEnd, dir: Direction, proto: number, port: number | undefined, decide = decideNow): boolean {
  const pkt = hostPacket(ep, peer, dir, proto, port !== undefined ? { port } : {});
  if (peer.kind === 'address') return hostEndpointVerdict(ds, ep, dir, pkt).allowed;
  if (peer.kind === 'local') {
    const c = { endpoint: peer.endpoint, rules: lookupOfState(ds) };
    return dir === 'ingress' ? decide(c, 'egress', pkt) && afterWorkloadEgress(ds, pkt).allowed : decide(c, 'ingress', pkt);
  }
  return hostEndpointVerdict(ds, ep, dir, pkt).allowed && decide(peer.compiled, dir === 'ingress' ? 'egress' : 'ingress', pkt);
}

const LOOPBACK: HostVerdict = { allowed: true, decidedBy: { kind: 'default', reason: 'the host reaches its own addresses over loopback: unpoliced' } };

/**
 * A flow to or from one of this node's host endpoints as the API and `trellisctl policy
 * explain` take it: the same parsing and the same text in both, so they cannot disagree.
 * To the host (`to` names a host endpoint): from a workload or an address. From the host
 * (`from` names one): to a workload or an address. `view` finds workloads on other nodes;
 * without it only this node's are known.
 */
export function explainHostFlow(ds: DesiredState, q: HostFlowQuery, view?: ExplainView): { text: string; result: HostVerdict | HostFlowResult } {
  const toEp = hostEndpointByRef(ds, q.to);
  const fromEp = hostEndpointByRef(ds, q.from);
  const ep = toEp ?? fromEp;
  if (!ep) throw new ExplainError(`neither ${q.from} nor ${q.to} is a host endpoint of this node (HOST/<name> or one of its expectedIPs; ${ds.host?.endpoints.map((e) => e.name).join(', ') || 'it has none'})`);
  const dir: Direction = toEp ? 'ingress' : 'egress';
  const protocol = (q.protocol ?? 'TCP').toUpperCase();
  let proto: number;
  try { proto = protoNumber(protocol); } catch { throw new ExplainError(`protocol "${q.protocol}" is not TCP, UDP or 1-255`); }
  const extra = { ...(q.port !== undefined ? { port: q.port } : {}), ...(q.srcPort !== undefined ? { srcPort: q.srcPort } : {}), ...(q.icmp ? { icmp: q.icmp } : {}) };
  const what = q.port !== undefined ? ` ${protocol}/${q.port}`
    : q.icmp ? ` ${proto === 58 ? 'ICMPv6' : 'ICMP'}/${q.icmp.type}${q.icmp.code !== undefined ? `/${q.icmp.code}` : ''}` : '';
  const otherRef = dir === 'ingress' ? q.from : q.to;
  // The host to one of its own addresses: loopback, which no host endpoint polices.
  if (toEp && fromEp) return { text: `${q.from} -> ${q.to}${what}: ${formatHostVerdict(LOOPBACK)}\n`, result: LOOPBACK };
  const other = otherEnd(ds, view, otherRef);
  if (!other) {
    throw new ExplainError(`${dir === 'ingress' ? 'from' : 'to'} "${otherRef}" is neither a ${view ? '' : 'local '}workload (ns/name) nor an address`);
  }
  const result = evaluateHostFlow(ds, ep, other, dir, hostPacket(ep, other, dir, proto, extra));
  const head = `${q.from} -> ${q.to}${what}`;
  if (!('host' in result)) return { text: `${head}: ${formatHostVerdict(result)}\n`, result };
  const hostLine = `${dir === 'ingress' ? 'ingress' : 'egress'} of the host (node ${ds.nodeName}): ${formatHostVerdict(result.host)}`;
  const wl = describeVerdict(result.workload);
  const lines = [`${head}: ${result.allowed ? 'ALLOWED' : 'DENIED'}`, ...(dir === 'ingress' ? [...wl, hostLine] : [hostLine, ...wl])];
  return { text: `${lines.join('\n')}\n`, result };
}
