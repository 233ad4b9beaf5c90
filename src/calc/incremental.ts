// The incremental calculator the agent keeps: the same answer as computeDesiredState
// (tests compare them over random update sequences), kept up to date per resource. It is
// wired from named parts a test can inspect (`parts`):
//   endpoints  every endpoint in the cluster, by namespace, profile, label and address
//   sets       the sets in use here, with sorted, reference-counted members
//   policies   compiled policies and which apply to each local endpoint
//   profiles   compiled profiles and which local endpoints list them
//   output     the cached DesiredState pieces and what invalidates them
// So one label change costs one pass over the sets and the policies, one policy edit one
// pass over the local endpoints (plus a scan for a set nobody used before), and state()
// rebuilds only what changed.
import { resourceKey, type IPPool, type Resource, type ResourceKey, type WorkloadEndpoint } from '../model/index.js';
import {
  compilePolicy, compileProfile, compareStrings, endpointState, hostEndpointInfo, natOf, networkSetInfo, routesOf, tierInfo, workloadEndpointInfo,
  type CompiledProfile, type EndpointInfo,
} from './compile.js';
import { createEndpointIndex, type EndpointIndex, type EndpointResource } from './endpoint-index.js';
import { createSetIndex, type SetIndex } from './set-index.js';
import { createPolicyIndex, type PolicyIndex } from './policy-index.js';
import { createUsage, type Usage } from './usage.js';
import type { DesiredState, EndpointState, NatState, PolicyState, ProfileState, RouteState } from './state.js';

export interface Calculator {
  readonly nodeName: string;
  upsert(resource: Resource): void;
  remove(key: ResourceKey): void;
  /** The desired state; unchanged parts are the same objects as in the previous call. Treat as read-only. */
  state(): DesiredState;
  /** Grows whenever an update may have changed state(); equal numbers mean equal states. */
  generation(): number;
  /** The parts, for tests and for explain. Read-only. */
  readonly parts: CalculatorParts;
}

type Labels = Record<string, string>;

export interface LocalEndpoint { r: WorkloadEndpoint; info: EndpointInfo }

/** What the output cache holds and what is stale. */
export interface OutputCache {
  readonly endpointStates: ReadonlyMap<string, EndpointState>;
  readonly dirtyEndpoints: ReadonlySet<string>;
  readonly cached: DesiredState | null;
}

export interface CalculatorParts {
  readonly endpoints: EndpointIndex;
  readonly sets: SetIndex;
  readonly policies: PolicyIndex;
  readonly profiles: Usage<CompiledProfile>;
  readonly namespaceLabels: ReadonlyMap<string, Labels>;
  readonly pools: ReadonlyMap<string, IPPool>;
  /** This node's workload endpoints. */
  readonly locals: ReadonlyMap<string, LocalEndpoint>;
  readonly output: OutputCache;
}

const keyString = (k: ResourceKey) => `${k.kind}/${k.namespace ?? ''}/${k.name}`;
/** Policy ids as PolicyState names them. */
export const policyKey = (k: ResourceKey) => `${k.kind}/${k.namespace !== undefined ? `${k.namespace}/` : ''}${k.name}`;

function sameStrings(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function sameLabels(a: Labels, b: Labels): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) if (a[k] !== b[k]) return false;
  return true;
}

export function createCalculator(nodeName: string): Calculator {
  let gen = 0;
  const namespaceLabels = new Map<string, Labels>();
  const pools = new Map<string, IPPool>();
  const locals = new Map<string, LocalEndpoint>();
  const endpoints = createEndpointIndex();
  const sets = createSetIndex(endpoints);

  // Output caches and what invalidates them.
  const endpointStates = new Map<string, EndpointState>();
  const dirtyEndpoints = new Set<string>();
  let endpointListDirty = true;
  let policyListDirty = true;
  let profileListDirty = true;
  let natDirty = true;
  /** Routes follow local endpoints' addresses and interfaces only. */
  let routesDirty = true;
  let cached: DesiredState | null = null;
  let sortedLocalKeys: string[] = [];
  let endpointList: EndpointState[] = [];
  let routes: RouteState[] = [];
  let policyList: PolicyState[] = [];
  let profileList: ProfileState[] = [];
  let nat: NatState = { masqueradeSources: [], allPools: [] };

  const policies = createPolicyIndex({ hold: sets.hold, listChanged: () => { policyListDirty = true; } });
  const profiles = createUsage<CompiledProfile>('profile:', { hold: sets.hold, listChanged: () => { profileListDirty = true; } });
  const profileLabels = (name: string) => profiles.items.get(name)?.labels;

  function setProfileUse(key: string, before: string[], after: string[]): void {
    for (const n of before) if (!after.includes(n)) { profiles.removeUser(n, key); profiles.sync(n); }
    for (const n of after) if (!before.includes(n)) { profiles.addUser(n, key); profiles.sync(n); }
  }

  function dropLocal(key: string): void {
    const lep = locals.get(key);
    if (!lep) return;
    policies.drop(key);
    setProfileUse(key, lep.info.profiles, []);
    locals.delete(key);
    routesDirty = true;
    endpointStates.delete(key);
    dirtyEndpoints.delete(key);
    endpointListDirty = true;
  }

  function infoOf(r: EndpointResource): EndpointInfo {
    switch (r.kind) {
      case 'WorkloadEndpoint': return workloadEndpointInfo(r, namespaceLabels.get(r.metadata.namespace ?? 'default'), profileLabels);
      case 'HostEndpoint': return hostEndpointInfo(r, profileLabels);
      case 'NetworkSet': return networkSetInfo(r, namespaceLabels.get(r.metadata.namespace ?? 'default'));
      case 'GlobalNetworkSet': return networkSetInfo(r, undefined);
    }
  }

  function putEndpoint(key: string, r: EndpointResource | undefined): void {
    const after = r ? infoOf(r) : undefined;
    const before = endpoints.put(key, r, after);
    sets.moveEndpoint(key, before, after);

    if (r === undefined || r.kind !== 'WorkloadEndpoint' || r.spec.node !== nodeName || !after) { dropLocal(key); return; }
    const old = locals.get(key);
    if (!old) endpointListDirty = true;
    if (!old || old.r.spec.interfaceName !== r.spec.interfaceName || !sameStrings(old.info.addrs, after.addrs)) routesDirty = true;
    const oldProfiles = old ? old.info.profiles : [];
    locals.set(key, { r, info: after });
    if (!old || !sameLabels(before?.labels ?? {}, after.labels)) policies.match(key, after.labels);
    setProfileUse(key, oldProfiles, after.profiles);
    dirtyEndpoints.add(key);
  }

  /** Recomputes effective labels of the given endpoints (namespace or profile labels changed). */
  function relabel(keys: Iterable<string> | undefined): void {
    for (const key of [...(keys ?? [])]) {
      const r = endpoints.resources.get(key);
      if (r) putEndpoint(key, r);
    }
  }

  function putProfile(name: string, cp: CompiledProfile | undefined): void {
    const old = profiles.items.get(name);
    profiles.set(name, cp);
    profiles.sync(name, true);
    if (!sameLabels(old?.labels ?? {}, cp?.labels ?? {})) relabel(endpoints.withProfile(name));
    // Endpoint states list only profiles that exist.
    if ((old === undefined) !== (cp === undefined)) for (const k of profiles.users.get(name) ?? []) dirtyEndpoints.add(k);
  }

  function putNamespace(name: string, labels: Labels | undefined): void {
    const old = namespaceLabels.get(name);
    if (labels) namespaceLabels.set(name, labels);
    else namespaceLabels.delete(name);
    if (!sameLabels(old ?? {}, labels ?? {})) relabel(endpoints.inNamespace(name));
  }

  function apply(key: ResourceKey, r: Resource | undefined): void {
    const ks = keyString(key);
    gen++;
    cached = null;
    switch (key.kind) {
      case 'WorkloadEndpoint':
      case 'HostEndpoint':
      case 'NetworkSet':
      case 'GlobalNetworkSet':
        putEndpoint(ks, r as EndpointResource | undefined);
        break;
      case 'NetworkPolicy':
      case 'GlobalNetworkPolicy': {
        const cp = r && (r.kind === 'NetworkPolicy' || r.kind === 'GlobalNetworkPolicy') ? compilePolicy(r) : null;
        for (const k of policies.put(policyKey(key), cp, (lk) => locals.get(lk)!.info.labels)) dirtyEndpoints.add(k);
        break;
      }
      case 'Tier':
        policies.setTier(key.name, r && r.kind === 'Tier' ? tierInfo(r) : undefined);
        // Tier order and default actions shape every endpoint's lists.
        for (const k of locals.keys()) dirtyEndpoints.add(k);
        break;
      case 'Profile':
        putProfile(key.name, r && r.kind === 'Profile' ? compileProfile(r) : undefined);
        break;
      case 'Namespace':
        putNamespace(key.name, r ? r.metadata.labels ?? {} : undefined);
        break;
      case 'IPPool':
        if (r && r.kind === 'IPPool') pools.set(ks, r);
        else pools.delete(ks);
        natDirty = true;
        break;
      default:
        gen--; // BGP and node resources do not shape this state
        break;
    }
  }

  function buildEndpoint(key: string): EndpointState {
    const lep = locals.get(key)!;
    const profs = [...new Set(lep.info.profiles.filter((n) => profiles.items.has(n)).map((n) => profiles.items.get(n)!.id))];
    const ingress = policies.ordered(key, 'ingress');
    const egress = policies.ordered(key, 'egress');
    return endpointState(lep.r, lep.info, ingress, egress, profs, { ingress: policies.tierGroups(ingress), egress: policies.tierGroups(egress) });
  }

  function state(): DesiredState {
    if (cached) return cached;
    if (dirtyEndpoints.size > 0 || endpointListDirty) {
      for (const k of dirtyEndpoints) endpointStates.set(k, buildEndpoint(k));
      dirtyEndpoints.clear();
      if (endpointListDirty) sortedLocalKeys = [...endpointStates.entries()].sort(([, a], [, b]) => compareStrings(a.id, b.id)).map(([k]) => k);
      endpointList = sortedLocalKeys.map((k) => endpointStates.get(k)!);
      if (routesDirty) { routes = routesOf(endpointList); routesDirty = false; }
      endpointListDirty = false;
    }
    if (policyListDirty) {
      policyList = [...policies.usage.used].map((id) => policies.get(id)!.state).sort((a, b) => compareStrings(a.id, b.id));
      policyListDirty = false;
    }
    if (profileListDirty) {
      profileList = [...profiles.used].map((n) => profiles.items.get(n)!.state).sort((a, b) => compareStrings(a.id, b.id));
      profileListDirty = false;
    }
    const ipsets = sets.list();
    if (natDirty) { nat = natOf([...pools.values()]); natDirty = false; }
    cached = { nodeName, endpoints: endpointList, policies: policyList, profiles: profileList, ipsets, routes, nat };
    return cached;
  }

  const output: OutputCache = {
    endpointStates, dirtyEndpoints,
    get cached() { return cached; },
  };

  return {
    nodeName,
    upsert: (r) => apply(resourceKey(r), r),
    remove: (key) => apply(key, undefined),
    state,
    generation: () => gen,
    parts: { endpoints, sets, policies, profiles, namespaceLabels, pools, locals, output },
  };
}
