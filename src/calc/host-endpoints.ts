// Host endpoints as calc sees them: which of this node's HostEndpoints are policed, and
// which policies apply to each per kind of traffic, following Calico's summary of host
// endpoint policy:
//   - traffic to and from the host's own processes through the interface meets the normal
//     policies (applyOnForward or not; never preDNAT or doNotTrack), then the profiles;
//     none allowing means denied (fail closed), the failsafes excepted;
//   - forwarded traffic meets only applyOnForward policies, and is allowed in a direction
//     where none applies;
//   - preDNAT policies (ingress only) run before DNAT, doNotTrack policies in the raw table:
//     neither has a default deny, a packet they do not decide goes on.
// A HostEndpoint without interfaceName (expectedIPs only) names no interface here: it is a
// member of selector sets but polices nothing (Trellis does not map addresses to interfaces).
import type { HostEndpoint } from '../model/index.js';
import type { EndpointInfo } from './compile.js';
import type { EndpointToHostAction, FailsafePort, HostEndpointState, PolicyState, TierState } from './state.js';

/** The node-local settings of host protection (trellisd's configuration). */
export interface HostConfig {
  failsafeInbound: FailsafePort[];
  failsafeOutbound: FailsafePort[];
  endpointToHost: EndpointToHostAction;
}

/**
 * Calico's default failsafes, less the ports of components Trellis does not run (Typha,
 * the Kubernetes API): SSH, DHCP, BGP and etcd in; DNS, DHCP, BGP and etcd out.
 */
export const DEFAULT_FAILSAFE_INBOUND: readonly FailsafePort[] = [
  { protocol: 'tcp', port: 22 }, { protocol: 'udp', port: 68 }, { protocol: 'tcp', port: 179 },
  { protocol: 'tcp', port: 2379 }, { protocol: 'tcp', port: 2380 },
];
export const DEFAULT_FAILSAFE_OUTBOUND: readonly FailsafePort[] = [
  { protocol: 'udp', port: 53 }, { protocol: 'udp', port: 67 }, { protocol: 'tcp', port: 179 },
  { protocol: 'tcp', port: 2379 }, { protocol: 'tcp', port: 2380 },
];

export function defaultHostConfig(): HostConfig {
  return { failsafeInbound: [...DEFAULT_FAILSAFE_INBOUND], failsafeOutbound: [...DEFAULT_FAILSAFE_OUTBOUND], endpointToHost: 'Drop' };
}

/** Whether a HostEndpoint is policed on `nodeName`. */
export function isLocalHostEndpoint(r: HostEndpoint, nodeName: string): boolean {
  return r.spec.node === nodeName && r.spec.interfaceName !== undefined;
}

const normal = (p: PolicyState) => !p.preDNAT && !p.doNotTrack;

/** One host endpoint's lists from the policies that apply to it (each list in policy order) and its profiles. */
export function hostEndpointState(
  r: HostEndpoint, info: EndpointInfo, ingress: readonly PolicyState[], egress: readonly PolicyState[], profiles: string[],
  tiersOf: (ids: string[]) => TierState[] | undefined,
): HostEndpointState {
  const ids = (ps: readonly PolicyState[], keep: (p: PolicyState) => boolean) => ps.filter(keep).map((p) => p.id);
  // The normal policies are evaluated tier by tier, as a workload's are (Calico: the host
  // endpoint's tiers end in their default action, Pass goes on to the next tier).
  const direction = (ps: readonly PolicyState[]) => {
    const policies = ids(ps, normal);
    const tiers = tiersOf(policies);
    return { policies, profiles, ...(tiers ? { tiers } : {}) };
  };
  return {
    id: info.id,
    name: r.metadata.name,
    interfaceName: r.spec.interfaceName!,
    addresses: info.addrs,
    ingress: direction(ingress),
    egress: direction(egress),
    forwardIngress: ids(ingress, (p) => normal(p) && p.applyOnForward === true),
    forwardEgress: ids(egress, (p) => normal(p) && p.applyOnForward === true),
    preDnatIngress: ids(ingress, (p) => p.preDNAT === true),
    untrackedIngress: ids(ingress, (p) => p.doNotTrack === true),
    untrackedEgress: ids(egress, (p) => p.doNotTrack === true),
  };
}
