// The desired state of one node, computed from scratch: the reference the incremental
// calculator is tested against, and what `policy explain` evaluates. Straightforward
// scans, no caches: this file says what the answer is, incremental.ts says how to keep
// it cheaply.
import { byCodePoint, resourceKey, type HostEndpoint, type IPPool, type Resource, type WorkloadEndpoint } from '../model/index.js';
import {
  comparePolicies, compilePolicy, compileProfile, endpointInSet, endpointMembers, endpointState,
  hostEndpointInfo, ipSetState, natOf, networkSetInfo, routesOf, tierGroups, tierInfo, workloadEndpointInfo,
  type CompiledPolicy, type TierInfo, type CompiledProfile, type EndpointInfo, type SetDef,
} from './compile.js';
import { endpointRefusals } from './claims.js';
import { createLabelIndex } from './label-index.js';
import { defaultHostConfig, hostEndpointState, isLocalHostEndpoint, type HostConfig } from './host-endpoints.js';
import type { DesiredState, EndpointState, HostEndpointState } from './state.js';

export interface ComputeInput { nodeName: string; resources: readonly Resource[]; host?: HostConfig }

/** The latest resource per key, in a stable order (a later duplicate replaces an earlier one). */
export function latestByKey(resources: readonly Resource[]): Resource[] {
  const m = new Map<string, Resource>();
  for (const r of resources) {
    const k = resourceKey(r);
    m.set(`${k.kind}/${k.namespace ?? ''}/${k.name}`, r);
  }
  return [...m.values()];
}

export function computeDesiredState({ nodeName, resources, host = defaultHostConfig() }: ComputeInput): DesiredState {
  const all = latestByKey(resources);
  const namespaceLabels = new Map<string, Record<string, string>>();
  const profiles = new Map<string, CompiledProfile>();
  const policies: CompiledPolicy[] = [];
  const pools: IPPool[] = [];
  const tiers = new Map<string, TierInfo>();
  for (const r of all) {
    if (r.kind === 'Tier') tiers.set(r.metadata.name, tierInfo(r));
    if (r.kind === 'Namespace') namespaceLabels.set(r.metadata.name, r.metadata.labels ?? {});
    else if (r.kind === 'Profile') profiles.set(r.metadata.name, compileProfile(r));
    else if (r.kind === 'NetworkPolicy' || r.kind === 'GlobalNetworkPolicy') {
      const p = compilePolicy(r);
      if (p) policies.push(p);
    } else if (r.kind === 'IPPool') pools.push(r);
  }
  policies.sort((a, b) => comparePolicies(a, b, tiers));
  const profileLabels = (name: string) => profiles.get(name)?.labels;

  const endpoints: EndpointInfo[] = [];
  const locals: Array<{ r: WorkloadEndpoint; info: EndpointInfo }> = [];
  const localHosts: Array<{ r: HostEndpoint; info: EndpointInfo }> = [];
  const wepKey = (r: WorkloadEndpoint) => `WorkloadEndpoint/${r.metadata.namespace ?? 'default'}/${r.metadata.name}`;
  const refused = endpointRefusals(all.filter((r): r is WorkloadEndpoint => r.kind === 'WorkloadEndpoint').map((r) => [wepKey(r), r]), pools);
  for (const r of all) {
    if (r.kind === 'WorkloadEndpoint') {
      if (refused.has(wepKey(r))) continue; // as if absent (claims.ts)
      const info = workloadEndpointInfo(r, namespaceLabels.get(r.metadata.namespace ?? 'default'), profileLabels);
      endpoints.push(info);
      if (r.spec.node === nodeName) locals.push({ r, info });
    } else if (r.kind === 'HostEndpoint') {
      const info = hostEndpointInfo(r, profileLabels);
      endpoints.push(info);
      if (isLocalHostEndpoint(r, nodeName)) localHosts.push({ r, info });
    } else if (r.kind === 'NetworkSet') {
      endpoints.push(networkSetInfo(r, namespaceLabels.get(r.metadata.namespace ?? 'default')));
    } else if (r.kind === 'GlobalNetworkSet') {
      endpoints.push(networkSetInfo(r, undefined));
    }
  }

  const usedPolicies = new Map<string, CompiledPolicy>();
  const usedProfiles = new Map<string, CompiledProfile>();
  const epStates: EndpointState[] = [];
  for (const { r, info } of locals) {
    const applies = (p: CompiledPolicy) => !p.hostOnly && p.scope.matches(info.labels, { global: false });
    const ingress = policies.filter((p) => p.ingress && applies(p));
    const egress = policies.filter((p) => p.egress && applies(p));
    for (const p of [...ingress, ...egress]) usedPolicies.set(p.id, p);
    // A profile that does not exist allows nothing: it is left out.
    const profs = info.profiles.map((n) => profiles.get(n)).filter((p): p is CompiledProfile => p !== undefined);
    for (const p of profs) usedProfiles.set(p.id, p);
    epStates.push(endpointState(r, info, ingress.map((p) => p.id), egress.map((p) => p.id), [...new Set(profs.map((p) => p.id))],
      { ingress: tierGroups(ingress, tiers), egress: tierGroups(egress, tiers) }));
  }
  epStates.sort((a, b) => byCodePoint(a.id, b.id));

  // Host endpoints: selectors see them with global() true, and every policy kind applies.
  const usedHostPolicies = new Map<string, CompiledPolicy>();
  const hepStates: HostEndpointState[] = [];
  for (const { r, info } of localHosts) {
    const applies = (p: CompiledPolicy) => p.scope.matches(info.labels, { global: true });
    const ingress = policies.filter((p) => p.ingress && applies(p));
    const egress = policies.filter((p) => p.egress && applies(p));
    for (const p of [...ingress, ...egress]) usedHostPolicies.set(p.id, p);
    const profs = info.profiles.map((n) => profiles.get(n)).filter((p): p is CompiledProfile => p !== undefined);
    for (const p of profs) usedProfiles.set(p.id, p);
    const tiersOf = (ids: string[]) => tierGroups(ids.map((id) => usedHostPolicies.get(id)!), tiers);
    hepStates.push(hostEndpointState(r, info, ingress.map((p) => p.state), egress.map((p) => p.state), [...new Set(profs.map((p) => p.id))], tiersOf));
  }
  hepStates.sort((a, b) => byCodePoint(a.id, b.id));

  const defs = new Map<string, SetDef>();
  for (const p of [...usedPolicies.values(), ...usedHostPolicies.values(), ...usedProfiles.values()]) for (const d of p.sets) defs.set(d.id, d);
  // Set members: every endpoint cluster-wide that the set's selector matches (the label
  // index only narrows which endpoints are tested).
  const index = createLabelIndex();
  endpoints.forEach((ep, i) => index.add(String(i), ep.labels));
  const ipsets = [...defs.values()].map((d) => {
    if (d.kind === 'nets') return ipSetState(d, d.nets);
    const members = new Set<string>();
    const consider = (ep: EndpointInfo) => { if (endpointInSet(d, ep)) for (const m of endpointMembers(d, ep)) members.add(m); };
    const cands = index.candidates(d.selector.ast);
    if (cands) for (const group of cands) for (const i of group) consider(endpoints[Number(i)]!);
    else endpoints.forEach(consider);
    return ipSetState(d, [...members].sort(byCodePoint));
  });

  return {
    nodeName,
    endpoints: epStates,
    policies: [...usedPolicies.values()].map((p) => p.state).sort((a, b) => byCodePoint(a.id, b.id)),
    profiles: [...usedProfiles.values()].map((p) => p.state).sort((a, b) => byCodePoint(a.id, b.id)),
    ipsets: ipsets.sort((a, b) => byCodePoint(a.id, b.id)),
    routes: routesOf(epStates),
    nat: natOf(pools),
    host: {
      endpoints: hepStates,
      policies: [...usedHostPolicies.values()].map((p) => p.state).sort((a, b) => byCodePoint(a.id, b.id)),
      failsafe: { inbound: host.failsafeInbound, outbound: host.failsafeOutbound },
      endpointToHost: host.endpointToHost,
    },
  };
}
