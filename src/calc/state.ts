// Desired dataplane state as plain data: what calc computes from the model and the
// dataplane renders into ipset / iptables-restore / ip -batch text. No iptables syntax
// here: rules are structured matches, sets are logical ids with members.

// Their home is the model (the workload-attach path writes workload routes too); calc's
// face passes them on beside the RouteState they describe.
export { ROUTE_PROTO_BGP, ROUTE_PROTO_WORKLOAD } from '../model/index.js';

export type Family = 4 | 6;

export interface PortRange { from: number; to: number }

/** One member set (selector, CIDR list or named port), split by the dataplane into a v4 and a v6 kernel set. */
export interface IpSetState {
  /** Stable short id derived from the canonical content key (e.g. a hash of the canonical selector). */
  id: string;
  /** hash:net for selectors and CIDRs (members are canonical CIDRs, /32 or /128 for endpoints); hash:ip,port for named ports. */
  type: 'hash:net' | 'hash:ip,port';
  /** Canonical key: what the set stands for, e.g. 'sel:ns == "tenant-a" && role == "db"' or 'nets:10.0.0.0/8'. */
  key: string;
  /** Sorted members: "10.0.0.5/32", "fd00::5/128"; for hash:ip,port "10.0.0.5,tcp:8080". */
  members: string[];
}

export type RuleAction = 'Allow' | 'Deny' | 'Log' | 'Pass';

/** A policy or profile rule compiled against the model: every selector and net is a set reference. */
export interface CompiledRule {
  action: RuleAction;
  /** Restrict to one IP family (from ipVersion, or implied by ICMP vs ICMPv6 / nets of one family). */
  ipVersion?: Family;
  /** IANA protocol numbers. */
  protocol?: number;
  notProtocol?: number;
  icmp?: { type: number; code?: number };
  notIcmp?: { type: number; code?: number };
  /** All listed sets must contain the source address (AND); notSrcSets: none may. */
  srcSets: string[];
  notSrcSets: string[];
  dstSets: string[];
  notDstSets: string[];
  /** Numeric ports; an empty list means any port. */
  srcPorts: PortRange[];
  notSrcPorts: PortRange[];
  dstPorts: PortRange[];
  notDstPorts: PortRange[];
  /** Named ports resolved to hash:ip,port sets: the packet's (addr, proto:port) must be in one of them (OR, together with the numeric ports). */
  srcNamedPortSets: string[];
  dstNamedPortSets: string[];
  /** True when a referenced set can only ever be empty and so the rule can never match (kept so explain can say why). */
  neverMatches?: boolean;
  /** Set when part of the rule could not be compiled faithfully and calc failed closed
   *  (an Allow or Log that never matches, or a Deny that matches more): the reason, for
   *  logs, rule comments and explain. Additive: renderers may ignore it. */
  failClosed?: string;
  /** Where the rule came from, for logs, comments and explain: "NetworkPolicy tenant-a/web ingress[0]". */
  origin: string;
}

export interface PolicyState {
  /** "NetworkPolicy/tenant-a/web" or "GlobalNetworkPolicy/deny-all". */
  id: string;
  order: number | null;
  ingress: CompiledRule[];
  egress: CompiledRule[];
  /** Host endpoint policy flags (GlobalNetworkPolicy only; absent = false). preDNAT and
   *  doNotTrack policies never apply to workloads. */
  applyOnForward?: true;
  preDNAT?: true;
  doNotTrack?: true;
}

export interface ProfileState {
  /** "Profile/tenant-a". */
  id: string;
  ingress: CompiledRule[];
  egress: CompiledRule[];
}

/** One tier's share of an endpoint's policies: evaluated in turn; Pass (a rule, or the
 *  tier's defaultAction when no rule decides) goes on to the next tier, then the profiles. */
export interface TierState {
  name: string;
  defaultAction: 'Deny' | 'Pass';
  /** Policy ids, in order. */
  policies: string[];
}

/** For one endpoint and direction: the policies that apply, in order; then the profiles. */
export interface DirectionState {
  policies: string[];
  profiles: string[];
  /** The policies split by tier, in tier order. Absent when every policy is in the default
   *  tier (defaultAction Deny): then `policies` is that one tier. */
  tiers?: TierState[];
}

/** Docker's -p: hostIP:hostPort -> container address:port. */
export interface PortMapState {
  protocol: 'tcp' | 'udp' | 'sctp';
  hostPort: number;
  hostIP?: string;
  containerIP: string;
  containerPort: number;
}

export interface EndpointState {
  /** "WorkloadEndpoint/tenant-a/web-1". */
  id: string;
  namespace: string;
  name: string;
  /** Host side of the veth. */
  interfaceName: string;
  /** Canonical /32 and /128 CIDRs. */
  addresses: string[];
  mac?: string;
  /** Ingress: traffic to the workload. Egress: traffic from it. */
  ingress: DirectionState;
  egress: DirectionState;
  portMaps: PortMapState[];
}

export interface RouteState {
  /** Canonical CIDR. */
  dst: string;
  family: Family;
  /** Device route over the endpoint's veth ('scope link'). */
  dev: string;
}

export interface NatState {
  /** Pools with natOutgoing: traffic from these to anywhere outside allPools is masqueraded. */
  masqueradeSources: string[];
  /** Every pool CIDR (traffic between pools is never NATed). */
  allPools: string[];
}

/** One failsafe: traffic no policy can close (Calico's FailsafeInbound/OutboundHostPorts). */
export interface FailsafePort {
  protocol: 'tcp' | 'udp';
  port: number;
  /** Canonical CIDR: the remote end (source inbound, destination outbound); absent = anywhere. */
  net?: string;
}

/** What happens to a local workload's traffic to the host itself, after its egress policy (Calico's DefaultEndpointToHostAction). */
export type EndpointToHostAction = 'Drop' | 'Return' | 'Accept';

/** This node's host endpoint policy, per kind of traffic, each list in policy order. */
export interface HostEndpointState {
  /** "HostEndpoint/eth0-h1". */
  id: string;
  name: string;
  /** The interface it stands for; "*" is every interface of the host but loopback and workload interfaces. */
  interfaceName: string;
  /** Canonical CIDRs of expectedIPs. */
  addresses: string[];
  /** Traffic to and from the host's own processes: normal policies (applyOnForward or not), then profiles. */
  ingress: DirectionState;
  egress: DirectionState;
  /** Forwarded traffic: applyOnForward policies only (none: forwarded traffic is allowed). */
  forwardIngress: string[];
  forwardEgress: string[];
  /** preDNAT policies (ingress only), before DNAT; no default deny. */
  preDnatIngress: string[];
  /** doNotTrack policies, stateless, in the raw table; no default deny. */
  untrackedIngress: string[];
  untrackedEgress: string[];
}

export interface HostState {
  /** Local host endpoints with an interfaceName, sorted by id. */
  endpoints: HostEndpointState[];
  /** Every policy a host endpoint uses, sorted by id (profiles go in DesiredState.profiles). */
  policies: PolicyState[];
  failsafe: { inbound: FailsafePort[]; outbound: FailsafePort[] };
  endpointToHost: EndpointToHostAction;
}

export interface DesiredState {
  nodeName: string;
  /** Local workload endpoints, sorted by id. */
  endpoints: EndpointState[];
  /** Every policy and profile referenced by a local endpoint, sorted by id. */
  policies: PolicyState[];
  profiles: ProfileState[];
  /** Every set referenced by those rules, sorted by id. */
  ipsets: IpSetState[];
  routes: RouteState[];
  nat: NatState;
  /** Host protection; absent (hand-written states): no host endpoints, Calico's default failsafes, workload-to-host Drop. */
  host?: HostState;
}
