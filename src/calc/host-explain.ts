// Explain for host endpoints: which failsafe, policy, profile or default decides a new
// connection to the host itself, from outside through one of its interfaces or from one of
// its workloads. It evaluates the same DesiredState the dataplane renders, in the order the
// packet meets it (README, "Host endpoints"): failsafes, doNotTrack, preDNAT, then the
// normal policies and profiles; from a workload: its egress policy, the all-interfaces
// endpoint's policies, DefaultEndpointToHostAction.
import { ExplainError, evaluateDirection, lookupOfState, ruleMatches, type Packet, type RuleHit, type Verdict } from './explain.js';
import { isValidCidrOrIp } from '../model/index.js';
import type { DesiredState, EndpointState, FailsafePort, HostEndpointState, PolicyState } from './state.js';

export interface HostVerdict {
  allowed: boolean;
  /** The host endpoint that polices the flow, if any ("HostEndpoint/eth0"). */
  endpoint?: string;
  /** What decided, in words the CLI prints. */
  decidedBy:
    | { kind: 'failsafe'; failsafe: FailsafePort }
    | { kind: 'rule'; stage: 'doNotTrack' | 'preDNAT' | 'policy' | 'profile' | 'all-interfaces policy'; hit: RuleHit }
    | { kind: 'default'; reason: string }
    | { kind: 'workload egress'; verdict: Verdict };
}

const ALL = '*';

/** The host endpoint that polices an interface: the named one, else "*", else none. */
export function hostEndpointFor(ds: DesiredState, iface: string): HostEndpointState | undefined {
  const eps = ds.host?.endpoints ?? [];
  if (iface === 'lo') return undefined;
  return eps.find((e) => e.interfaceName === iface) ?? eps.find((e) => e.interfaceName === ALL);
}

type Outcome = { hit: RuleHit } | { passed: true } | null;

/** Policies in order: the first Allow or Deny decides, Pass ends the list, Log continues. */
function runPolicies(ds: DesiredState, ids: readonly string[], pkt: Packet): Outcome {
  const byId = new Map<string, PolicyState>((ds.host?.policies ?? []).map((p) => [p.id, p]));
  const set = lookupOfState(ds).set;
  for (const id of ids) {
    const p = byId.get(id);
    if (!p) return { hit: { origin: `missing policy ${id}`, action: 'Deny', policy: id, index: 0 } };
    for (const [i, rule] of p.ingress.entries()) {
      if (!ruleMatches(rule, pkt, set)) continue;
      if (rule.action === 'Log') continue;
      if (rule.action === 'Pass') return { passed: true };
      return { hit: { origin: rule.origin, action: rule.action, policy: id, index: i } };
    }
  }
  return null;
}

function failsafeHit(ds: DesiredState, pkt: Packet): FailsafePort | undefined {
  const proto = pkt.protocol === 6 ? 'tcp' : pkt.protocol === 17 ? 'udp' : undefined;
  return (ds.host?.failsafe.inbound ?? []).find((f) => f.protocol === proto && f.port === pkt.port && (!f.net || inCidr(pkt.src, f.net)));
}

function inCidr(addr: string, cidr: string): boolean {
  const set = { id: 'f', type: 'hash:net' as const, key: '', members: [cidr] };
  return ruleMatches({
    action: 'Allow', srcSets: ['f'], notSrcSets: [], dstSets: [], notDstSets: [], srcPorts: [], notSrcPorts: [], dstPorts: [], notDstPorts: [],
    srcNamedPortSets: [], dstNamedPortSets: [], origin: '',
  }, { src: addr, dst: addr, family: addr.includes(':') ? 6 : 4, protocol: 0 }, () => set);
}

/**
 * A new connection to the host's own processes. `via`: the interface it arrives on (from
 * outside), or the local workload it comes from.
 */
export function explainToHost(ds: DesiredState, via: { iface: string } | { workload: EndpointState }, pkt: Packet): HostVerdict {
  if ('workload' in via) {
    const egress = evaluateDirection(lookupOfState(ds), via.workload, 'egress', pkt);
    if (!egress.allowed) return { allowed: false, decidedBy: { kind: 'workload egress', verdict: egress } };
    const all = ds.host?.endpoints.find((e) => e.interfaceName === ALL);
    if (all && all.ingress.policies.length > 0) {
      const o = runPolicies(ds, all.ingress.policies, pkt);
      if (o && 'hit' in o) return { allowed: o.hit.action === 'Allow', endpoint: all.id, decidedBy: { kind: 'rule', stage: 'all-interfaces policy', hit: o.hit } };
      if (!o) return { allowed: false, endpoint: all.id, decidedBy: { kind: 'default', reason: 'policies of the all-interfaces host endpoint applied but none allowed: default deny' } };
    }
    const action = ds.host?.endpointToHost ?? 'Drop';
    return { allowed: action !== 'Drop', decidedBy: { kind: 'default', reason: `DefaultEndpointToHostAction ${action}${action === 'Return' ? ' (the host\'s own INPUT rules decide)' : ''}` } };
  }
  const ep = hostEndpointFor(ds, via.iface);
  if (!ep) return { allowed: true, decidedBy: { kind: 'default', reason: `no host endpoint polices ${via.iface}: unpoliced` } };
  const fs = failsafeHit(ds, pkt);
  if (fs) return { allowed: true, endpoint: ep.id, decidedBy: { kind: 'failsafe', failsafe: fs } };
  const un = runPolicies(ds, ep.untrackedIngress, pkt);
  if (un && 'hit' in un) return { allowed: un.hit.action === 'Allow', endpoint: ep.id, decidedBy: { kind: 'rule', stage: 'doNotTrack', hit: un.hit } };
  const pre = runPolicies(ds, ep.preDnatIngress, pkt);
  if (pre && 'hit' in pre && pre.hit.action === 'Deny') return { allowed: false, endpoint: ep.id, decidedBy: { kind: 'rule', stage: 'preDNAT', hit: pre.hit } };
  let passed = false;
  if (ep.ingress.policies.length > 0) {
    const o = runPolicies(ds, ep.ingress.policies, pkt);
    if (o && 'hit' in o) return { allowed: o.hit.action === 'Allow', endpoint: ep.id, decidedBy: { kind: 'rule', stage: 'policy', hit: o.hit } };
    if (!o) return { allowed: false, endpoint: ep.id, decidedBy: { kind: 'default', reason: 'policies applied but no rule matched: default deny' } };
    passed = true;
  }
  const set = lookupOfState(ds).set;
  for (const id of ep.ingress.profiles) {
    const prof = ds.profiles.find((p) => p.id === id);
    for (const [i, rule] of (prof?.ingress ?? []).entries()) {
      if (!ruleMatches(rule, pkt, set) || rule.action === 'Log') continue;
      if (rule.action === 'Pass') break;
      return { allowed: rule.action === 'Allow', endpoint: ep.id, decidedBy: { kind: 'rule', stage: 'profile', hit: { origin: rule.origin, action: rule.action, profile: id, index: i } } };
    }
  }
  return {
    allowed: false, endpoint: ep.id,
    decidedBy: { kind: 'default', reason: passed ? 'passed to profiles, none allowed: default deny' : 'no policy or profile allowed: default deny (host endpoints fail closed)' },
  };
}

/** One line saying what decided. */
export function formatHostVerdict(v: HostVerdict): string {
  const verdict = v.allowed ? 'ALLOWED' : 'DENIED';
  const who = v.endpoint ? ` at ${v.endpoint}` : '';
  const d = v.decidedBy;
  switch (d.kind) {
    case 'failsafe': return `${verdict}${who} by failsafe ${d.failsafe.protocol}:${d.failsafe.port}${d.failsafe.net ? `:${d.failsafe.net}` : ''}`;
    case 'rule': return `${verdict}${who} by ${d.stage} rule ${d.hit.origin} (${d.hit.action})`;
    case 'workload egress': return `${verdict} by the workload's egress: ${d.verdict.decidedBy.kind === 'rule' ? d.verdict.decidedBy.hit.origin : d.verdict.decidedBy.reason}`;
    default: return `${verdict}${who}: ${d.reason}`;
  }
}

export interface HostFlowQuery {
  /** A local workload ("ns/name", "WorkloadEndpoint/ns/name") or an address. */
  from: string;
  /** "HOST/<name>" or "HostEndpoint/<name>". */
  to: string;
  protocol?: string;
  port?: number;
  srcPort?: number;
  icmp?: { type: number; code?: number };
}

/**
 * A flow to one of this node's host endpoints as the API and `trellisctl policy explain`
 * take it: the same parsing and the same one-line text in both, so they cannot disagree.
 */
export function explainHostFlow(ds: DesiredState, q: HostFlowQuery): { text: string; result: HostVerdict } {
  const name = q.to.replace(/^(HOST|HostEndpoint)\//, '');
  const ep = ds.host?.endpoints.find((e) => e.name === name);
  if (!ep) throw new ExplainError(`no host endpoint "${name}" on this node (${ds.host?.endpoints.map((e) => e.name).join(', ') || 'it has none'})`);
  const protocol = (q.protocol ?? 'TCP').toUpperCase();
  const proto = protocol === 'TCP' ? 6 : protocol === 'UDP' ? 17 : /^\d+$/.test(protocol) ? Number(protocol) : NaN;
  if (!Number.isInteger(proto) || proto < 1 || proto > 255) throw new ExplainError(`protocol "${q.protocol}" is not TCP, UDP or 1-255`);
  const wl = ds.endpoints.find((e) => `${e.namespace}/${e.name}` === q.from.replace(/^WorkloadEndpoint\//, ''));
  const src = wl ? wl.addresses[0]!.replace(/\/\d+$/, '') : q.from;
  if (!wl && !isValidCidrOrIp(src)) throw new ExplainError(`from "${q.from}" is neither a local workload (ns/name) nor an address`);
  const family = (src.includes(':') ? 6 : 4) as 4 | 6;
  const dst = ep.addresses.map((a) => a.replace(/\/\d+$/, '')).find((a) => a.includes(':') === (family === 6)) ?? (family === 6 ? '::' : '0.0.0.0');
  const pkt: Packet = {
    src, dst, family, protocol: proto,
    ...(q.port !== undefined ? { port: q.port } : {}), ...(q.srcPort !== undefined ? { srcPort: q.srcPort } : {}), ...(q.icmp ? { icmp: q.icmp } : {}),
  };
  const result = explainToHost(ds, wl ? { workload: wl } : { iface: ep.interfaceName }, pkt);
  const what = q.port !== undefined ? ` ${protocol}/${q.port}`
    : q.icmp ? ` ${proto === 58 ? 'ICMPv6' : 'ICMP'}/${q.icmp.type}${q.icmp.code !== undefined ? `/${q.icmp.code}` : ''}` : '';
  return { text: `${q.from} -> ${q.to}${what}: ${formatHostVerdict(result)}\n`, result };
}
