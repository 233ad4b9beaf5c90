// The calculator's output: the DesiredState pieces it last built and what made each of
// them stale. The indexes say what changed (an endpoint, the policy list, the pools...);
// state() rebuilds only those pieces, so unchanged parts stay the same objects and the
// dataplane's memos keyed on them hold.
import { byCodePoint, type HostEndpoint, type IPPool, type WorkloadEndpoint } from '../model/index.js';
import { endpointState, natOf, routesOf, type CompiledProfile, type EndpointInfo } from './compile.js';
import { hostEndpointState, type HostConfig } from './host-endpoints.js';
import type { PolicyIndex } from './policy-index.js';
import type { SetIndex } from './set-index.js';
import type { DesiredState, EndpointState, HostState, NatState, PolicyState, ProfileState, RouteState } from './state.js';
import type { Usage } from './usage.js';

export interface LocalEndpoint { r: WorkloadEndpoint; info: EndpointInfo }
export interface LocalHostEndpoint { r: HostEndpoint; info: EndpointInfo }

/** What the output cache holds and what is stale. */
export interface OutputCache {
  readonly endpointStates: ReadonlyMap<string, EndpointState>;
  readonly dirtyEndpoints: ReadonlySet<string>;
  readonly cached: DesiredState | null;
}

/** The pieces of DesiredState that can go stale on their own. */
export type Piece = 'endpointList' | 'policyList' | 'profileList' | 'nat' | 'routes' | 'host';

export interface Output extends OutputCache {
  /** Any update: the assembled state is rebuilt on the next state() call. */
  invalidate(): void;
  stale(piece: Piece): void;
  /** A local endpoint whose own state must be rebuilt. */
  endpointStale(key: string): void;
  endpointGone(key: string): void;
  state(src: OutputSources): DesiredState;
}

/** What the output reads to build: the calculator's indexes, never changed from here. */
export interface OutputSources {
  nodeName: string;
  hostConfig: HostConfig;
  locals: ReadonlyMap<string, LocalEndpoint>;
  localHosts: ReadonlyMap<string, LocalHostEndpoint>;
  pools: ReadonlyMap<string, IPPool>;
  sets: SetIndex;
  policies: PolicyIndex;
  hostPolicies: PolicyIndex;
  profiles: Usage<CompiledProfile>;
}

export function createOutput(): Output {
  const endpointStates = new Map<string, EndpointState>();
  const dirtyEndpoints = new Set<string>();
  const stale = new Set<Piece>(['endpointList', 'policyList', 'profileList', 'nat', 'routes', 'host']);
  let cached: DesiredState | null = null;
  let sortedLocalKeys: string[] = [];
  let endpointList: EndpointState[] = [];
  let routes: RouteState[] = [];
  let policyList: PolicyState[] = [];
  let profileList: ProfileState[] = [];
  let nat: NatState = { masqueradeSources: [], allPools: [] };
  let host: HostState | null = null;

  /** Profile ids of the names an endpoint lists that exist. */
  const profileIds = ({ profiles }: OutputSources, names: readonly string[]) => [...new Set(names.filter((n) => profiles.items.has(n)).map((n) => profiles.items.get(n)!.id))];

  function buildEndpoint(src: OutputSources, key: string): EndpointState {
    const { locals, policies } = src;
    const lep = locals.get(key)!;
    const ingress = policies.ordered(key, 'ingress');
    const egress = policies.ordered(key, 'egress');
    return endpointState(lep.r, lep.info, ingress, egress, profileIds(src, lep.info.profiles), { ingress: policies.tierGroups(ingress), egress: policies.tierGroups(egress) });
  }

  function buildHost(src: OutputSources): HostState {
    const { hostConfig, localHosts, hostPolicies } = src;
    const stateOf = (ids: string[]) => ids.map((id) => hostPolicies.get(id)!.state);
    const eps = [...localHosts]
      .map(([key, lh]) => hostEndpointState(
        lh.r, lh.info, stateOf(hostPolicies.ordered(key, 'ingress')), stateOf(hostPolicies.ordered(key, 'egress')), profileIds(src, lh.info.profiles),
        (ids) => hostPolicies.tierGroups(ids),
      ))
      .sort((a, b) => byCodePoint(a.id, b.id));
    return {
      endpoints: eps,
      policies: [...hostPolicies.usage.used].map((id) => hostPolicies.get(id)!.state).sort((a, b) => byCodePoint(a.id, b.id)),
      failsafe: { inbound: hostConfig.failsafeInbound, outbound: hostConfig.failsafeOutbound },
      endpointToHost: hostConfig.endpointToHost,
    };
  }

  function state(src: OutputSources): DesiredState {
    if (cached) return cached;
    const { nodeName, pools, sets, policies, profiles } = src;
    if (dirtyEndpoints.size > 0 || stale.has('endpointList')) {
      for (const k of dirtyEndpoints) endpointStates.set(k, buildEndpoint(src, k));
      dirtyEndpoints.clear();
      if (stale.delete('endpointList')) sortedLocalKeys = [...endpointStates.entries()].sort(([, a], [, b]) => byCodePoint(a.id, b.id)).map(([k]) => k);
      endpointList = sortedLocalKeys.map((k) => endpointStates.get(k)!);
      // Routes follow local endpoints' addresses and interfaces only.
      if (stale.delete('routes')) routes = routesOf(endpointList);
    }
    if (stale.delete('policyList')) policyList = [...policies.usage.used].map((id) => policies.get(id)!.state).sort((a, b) => byCodePoint(a.id, b.id));
    if (stale.delete('profileList')) profileList = [...profiles.used].map((n) => profiles.items.get(n)!.state).sort((a, b) => byCodePoint(a.id, b.id));
    const ipsets = sets.list();
    if (stale.delete('nat')) nat = natOf([...pools.values()]);
    if (stale.delete('host') || !host) host = buildHost(src);
    cached = { nodeName, endpoints: endpointList, policies: policyList, profiles: profileList, ipsets, routes, nat, host };
    return cached;
  }

  return {
    endpointStates,
    dirtyEndpoints,
    get cached() { return cached; },
    invalidate() { cached = null; },
    stale(piece) { stale.add(piece); },
    endpointStale(key) { dirtyEndpoints.add(key); },
    endpointGone(key) {
      endpointStates.delete(key);
      dirtyEndpoints.delete(key);
      stale.add('endpointList');
      stale.add('routes');
    },
    state,
  };
}
