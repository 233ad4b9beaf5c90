// Calico v3 fields that Trellis does not implement. A Calico user who writes one gets
// told so (and what to use instead, where there is something), rather than "unknown
// field", and nothing is silently ignored. Keys are field paths with list indices
// written "[]"; "*" stands for any kind.
const RULE = ['spec.ingress[]', 'spec.egress[]'];
const ENTITY = RULE.flatMap((r) => [`${r}.source`, `${r}.destination`]);
const POLICY_KINDS = ['NetworkPolicy', 'GlobalNetworkPolicy', 'Profile'];

const table = new Map<string, string>();
function add(kinds: readonly string[], paths: readonly string[], fields: Record<string, string>): void {
  for (const k of kinds) for (const p of paths) for (const [f, hint] of Object.entries(fields)) table.set(`${k}:${p}.${f}`, hint);
}

add(POLICY_KINDS, RULE, { http: 'Trellis matches at layers 3 and 4: protocol, ports, nets and selectors' });
add(POLICY_KINDS, ENTITY, {
  services: 'match the service\'s endpoints by selector, or their addresses by nets',
  serviceAccounts: 'match the workloads by a label selector instead',
});
add(['NetworkPolicy', 'GlobalNetworkPolicy'], ['spec'], {
  serviceAccountSelector: 'select the workloads by a label selector instead',
  performanceHints: '',
});
add(['WorkloadEndpoint'], ['spec'], {
  ipv4Gateway: 'Trellis routes containers through the host end of their veth',
  ipv6Gateway: 'Trellis routes containers through the host end of their veth',
  allowSpoofedSourcePrefixes: '',
  qosControls: '',
  serviceAccountName: 'use a label',
});
add(['IPPool'], ['spec'], {
  allowedUses: 'every Trellis pool is for workloads',
  disableBGPExport: 'use exportPolicy on the BGPPeer',
  namespaceSelector: 'pick the pool with the CNI configuration\'s ipam.ipv4_pools',
  assignmentMode: '',
  ipip: 'Trellis has no IP-in-IP (the kernel has no ipip module); use vxlanMode (this is Calico\'s older form of ipipMode)',
  'nat-outgoing': 'use natOutgoing',
});
add(['Node'], ['spec'], {
  ipv6VXLANTunnelAddr: 'Trellis encapsulates IPv4 pools only',
  vxlanTunnelMACAddrV6: 'Trellis encapsulates IPv4 pools only',
  orchRefs: '', addresses: 'give the BGP addresses in spec.bgp', wireguard: '', interfaces: '',
});
add(['Node'], ['spec.bgp'], {
  ipv4IPIPTunnelAddr: 'Trellis has no IP-in-IP (the kernel has no ipip module); use VXLAN',
  interfaceIPv4Address: '', interfaceIPv6Address: '',
});
add(['BGPPeer'], ['spec'], {
  localASNumber: '', nextHopMode: 'use keepOriginalNextHop', numAllowedLocalASNumbers: '', ttlSecurity: '',
  reachableBy: '', localWorkloadSelector: '', reversePeering: '',
});
add(['BGPFilter'], ['spec.exportV4[]', 'spec.importV4[]', 'spec.exportV6[]', 'spec.importV6[]'], {
  priority: 'Trellis installs learned routes with one metric: there is no route priority to match',
  operations: 'a Trellis filter accepts or rejects a route as it is',
});
add(['BGPConfiguration'], ['spec'], {
  serviceClusterIPs: 'advertise them with prefixAdvertisements', serviceExternalIPs: 'advertise them with prefixAdvertisements',
  serviceLoadBalancerIPs: 'advertise them with prefixAdvertisements', serviceLoadBalancerAggregation: '',
  nodeMeshPassword: '', bindMode: '', ignoredInterfaces: '', localWorkloadPeeringIPV4: '', localWorkloadPeeringIPV6: '',
  programClusterRoutes: '', ipv4NormalRoutePriority: '', ipv6NormalRoutePriority: '',
});

/** "Calico field spec.x is not supported by Trellis (...)" for a Calico field Trellis
 *  lacks, or null for a field Calico does not have either. */
export function unsupportedCalicoField(kind: string, path: ReadonlyArray<string | number>, shown: string): string | null {
  const key = path.map((s) => (typeof s === 'number' ? '[]' : `.${s}`)).join('').replace(/^\./, '').replace(/\.\[\]/g, '[]');
  const hint = table.get(`${kind}:${key}`);
  if (hint === undefined) return null;
  return `Calico field ${shown} is not supported by Trellis${hint ? ` (${hint})` : ''}`;
}
