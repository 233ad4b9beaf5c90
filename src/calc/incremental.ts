// The incremental calculator the agent keeps: the same answer as computeDesiredState
// (tests compare them over random update sequences), kept up to date per resource.
// Indexes: endpoints by namespace and by profile (label inheritance), local endpoints'
// applicable policies, and for every set in use the endpoints in it and a sorted,
// reference-counted member list. So one label change costs one pass over the sets and
// the policies, one policy edit one pass over the local endpoints (plus a scan of all
// endpoints only for a set nobody used before), and state() rebuilds only what changed.
import { resourceKey, type IPPool, type Resource, type ResourceKey, type WorkloadEndpoint, type HostEndpoint } from '../model/index.js';
import { createLabelIndex } from './label-index.js';
import {
  comparePolicies, compilePolicy, compileProfile, compareStrings, endpointInSet, endpointMembers, endpointState,
  hostEndpointInfo, ipSetState, natOf, routesOf, workloadEndpointInfo,
  type CompiledPolicy, type CompiledProfile, type EndpointInfo, type SetDef,
} from './compile.js';
import type { DesiredState, EndpointState, IpSetState, NatState, PolicyState, ProfileState, RouteState } from './state.js';

export interface Calculator {
  readonly nodeName: string;
  upsert(resource: Resource): void;
  remove(key: ResourceKey): void;
  /** The desired state; unchanged parts are the same objects as in the previous call. Treat as read-only. */
  state(): DesiredState;
  /** Grows whenever an update may have changed state(); equal numbers mean equal states. */
  generation(): number;
}

type Labels = Record<string, string>;

interface LocalEp { r: WorkloadEndpoint; info: EndpointInfo; ingress: Set<string>; egress: Set<string> }

interface ActiveSet {
  def: SetDef;
  refs: number;
  eps: Set<string>;
  counts: Map<string, number>;
  sorted: string[];
  state: IpSetState | null;
}

const keyString = (k: ResourceKey) => `${k.kind}/${k.namespace ?? ''}/${k.name}`;

function sameStrings(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true;
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

/** Index of the first element >= x. */
function lowerBound(arr: string[], x: string): number {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (arr[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function addTo<K, V>(m: Map<K, Set<V>>, k: K, v: V): void {
  let s = m.get(k);
  if (!s) m.set(k, (s = new Set()));
  s.add(v);
}
function removeFrom<K, V>(m: Map<K, Set<V>>, k: K, v: V): void {
  const s = m.get(k);
  if (!s) return;
  s.delete(v);
  if (s.size === 0) m.delete(k);
}

export function createCalculator(nodeName: string): Calculator {
  let gen = 0;
  const namespaceLabels = new Map<string, Labels>();
  const profiles = new Map<string, CompiledProfile>();
  const policies = new Map<string, CompiledPolicy>(); // by resource key string
  const pools = new Map<string, IPPool>();
  const endpointRes = new Map<string, WorkloadEndpoint | HostEndpoint>();
  const endpoints = new Map<string, EndpointInfo>();
  const endpointsByNamespace = new Map<string, Set<string>>();
  const endpointsByProfile = new Map<string, Set<string>>();
  const locals = new Map<string, LocalEp>();
  /** Local endpoints that use a policy (either direction) / list a profile. */
  const policyUsers = new Map<string, Set<string>>();
  const profileUsers = new Map<string, Set<string>>();
  /** The set definitions each referenced policy or profile currently holds a reference on. */
  const heldSets = new Map<string, SetDef[]>();
  const usedPolicies = new Set<string>();
  const usedProfiles = new Set<string>();
  const sets = new Map<string, ActiveSet>();
  /** Endpoints by effective label (key -> value -> endpoint keys): a new set scans only the
   *  endpoints that can match its selector's most selective equality, not all of them. */
  const labelIndex = createLabelIndex();

  // Output caches and what invalidates them.
  const endpointStates = new Map<string, EndpointState>();
  const dirtyEndpoints = new Set<string>();
  const dirtySets = new Set<string>();
  let endpointListDirty = true;
  let policyListDirty = true;
  let profileListDirty = true;
  let setListDirty = true;
  let natDirty = true;
  /** Routes follow local endpoints' addresses and interfaces only. */
  let routesDirty = true;
  let cached: DesiredState | null = null;
  let sortedSetIds: string[] = [];
  let sortedLocalKeys: string[] = [];
  let endpointList: EndpointState[] = [];
  let routes: RouteState[] = [];
  let policyList: PolicyState[] = [];
  let profileList: ProfileState[] = [];
  let setList: IpSetState[] = [];
  let nat: NatState = { masqueradeSources: [], allPools: [] };

  const profileLabels = (name: string) => profiles.get(name)?.labels;

  // ---- sets ----------------------------------------------------------------------

  function addMember(s: ActiveSet, m: string): void {
    const n = s.counts.get(m) ?? 0;
    s.counts.set(m, n + 1);
    if (n === 0) s.sorted.splice(lowerBound(s.sorted, m), 0, m);
  }
  function removeMember(s: ActiveSet, m: string): void {
    const n = s.counts.get(m) ?? 0;
    if (n <= 1) {
      s.counts.delete(m);
      const i = lowerBound(s.sorted, m);
      if (s.sorted[i] === m) s.sorted.splice(i, 1);
    } else s.counts.set(m, n - 1);
  }

  function refSet(def: SetDef): void {
    const have = sets.get(def.id);
    if (have) { have.refs++; return; }
    const s: ActiveSet = { def, refs: 1, eps: new Set(), counts: new Map(), sorted: [], state: null };
    if (def.kind === 'nets') s.sorted = [...def.nets];
    else {
      const consider = (k: string, info: EndpointInfo) => {
        if (!endpointInSet(def, info)) return;
        s.eps.add(k);
        for (const m of endpointMembers(def, info)) s.counts.set(m, (s.counts.get(m) ?? 0) + 1);
      };
      const cands = labelIndex.candidates(def.selector.ast);
      if (cands) for (const group of cands) for (const k of group) consider(k, endpoints.get(k)!);
      else for (const [k, info] of endpoints) consider(k, info);
      s.sorted = [...s.counts.keys()].sort(compareStrings);
    }
    sets.set(def.id, s);
    dirtySets.add(def.id);
    setListDirty = true;
  }
  function unrefSet(id: string): void {
    const s = sets.get(id);
    if (!s) return;
    if (--s.refs > 0) return;
    sets.delete(id);
    dirtySets.delete(id);
    setListDirty = true;
  }

  /** Holds references on exactly the sets an owner needs now (none when unreferenced). */
  function holdSets(owner: string, want: SetDef[]): void {
    const have = heldSets.get(owner) ?? [];
    if (have === want) return;
    for (const d of want) refSet(d);
    for (const d of have) unrefSet(d.id);
    if (want.length > 0) heldSets.set(owner, want);
    else heldSets.delete(owner);
  }
  /** Set references follow whether the policy is in use; the list is rebuilt only if
   *  that changed or the policy itself did (changed = recompiled). */
  function syncPolicy(id: string, changed = false): void {
    const p = policies.get(id);
    const used = p !== undefined && (policyUsers.get(id)?.size ?? 0) > 0;
    holdSets(`policy:${id}`, used ? p.sets : []);
    if (changed || used !== usedPolicies.has(id)) policyListDirty = true;
    if (used) usedPolicies.add(id);
    else usedPolicies.delete(id);
  }
  function syncProfile(name: string, changed = false): void {
    const p = profiles.get(name);
    const used = p !== undefined && (profileUsers.get(name)?.size ?? 0) > 0;
    holdSets(`profile:${name}`, used ? p.sets : []);
    if (changed || used !== usedProfiles.has(name)) profileListDirty = true;
    if (used) usedProfiles.add(name);
    else usedProfiles.delete(name);
  }

  /** Moves an endpoint's members between sets after its labels, addresses or ports changed. */
  function updateMemberships(key: string, before: EndpointInfo | undefined, after: EndpointInfo | undefined): void {
    for (const s of sets.values()) {
      if (s.def.kind === 'nets') continue;
      const was = s.eps.has(key);
      const is = after !== undefined && endpointInSet(s.def, after);
      if (!was && !is) continue;
      const oldM = was ? endpointMembers(s.def, before!) : [];
      const newM = is ? endpointMembers(s.def, after!) : [];
      if (was && is && sameStrings(oldM, newM)) continue;
      for (const m of oldM) removeMember(s, m);
      for (const m of newM) addMember(s, m);
      if (is) s.eps.add(key);
      else s.eps.delete(key);
      dirtySets.add(s.def.id);
    }
  }

  // ---- local endpoints -----------------------------------------------------------

  function matchPolicies(lep: LocalEp): void {
    const touched = new Set<string>([...lep.ingress, ...lep.egress]);
    lep.ingress = new Set();
    lep.egress = new Set();
    for (const [id, p] of policies) {
      if (!p.ingress && !p.egress) continue;
      if (!p.scope.matches(lep.info.labels, { global: false })) continue;
      if (p.ingress) lep.ingress.add(id);
      if (p.egress) lep.egress.add(id);
      touched.add(id);
    }
    const key = keyOfLocal(lep);
    for (const id of touched) {
      const uses = lep.ingress.has(id) || lep.egress.has(id);
      const had = policyUsers.get(id)?.has(key) ?? false;
      if (uses === had) continue;
      if (uses) addTo(policyUsers, id, key);
      else removeFrom(policyUsers, id, key);
      syncPolicy(id);
    }
  }
  const localKeys = new WeakMap<LocalEp, string>();
  const keyOfLocal = (lep: LocalEp) => localKeys.get(lep)!;

  function setProfileUse(key: string, before: string[], after: string[]): void {
    for (const n of before) if (!after.includes(n)) { removeFrom(profileUsers, n, key); syncProfile(n); }
    for (const n of after) if (!before.includes(n)) { addTo(profileUsers, n, key); syncProfile(n); }
  }

  function dropLocal(key: string): void {
    const lep = locals.get(key);
    if (!lep) return;
    for (const id of new Set([...lep.ingress, ...lep.egress])) { removeFrom(policyUsers, id, key); syncPolicy(id); }
    setProfileUse(key, lep.info.profiles, []);
    locals.delete(key);
    routesDirty = true;
    endpointStates.delete(key);
    dirtyEndpoints.delete(key);
    endpointListDirty = true;
  }

  // ---- endpoints -----------------------------------------------------------------

  function infoOf(r: WorkloadEndpoint | HostEndpoint): EndpointInfo {
    return r.kind === 'WorkloadEndpoint'
      ? workloadEndpointInfo(r, namespaceLabels.get(r.metadata.namespace ?? 'default'), profileLabels)
      : hostEndpointInfo(r, profileLabels);
  }

  function putEndpoint(key: string, r: WorkloadEndpoint | HostEndpoint | undefined): void {
    const before = endpoints.get(key);
    const beforeRes = endpointRes.get(key);
    if (beforeRes) {
      if (beforeRes.kind === 'WorkloadEndpoint') removeFrom(endpointsByNamespace, beforeRes.metadata.namespace ?? 'default', key);
      for (const n of before?.profiles ?? []) removeFrom(endpointsByProfile, n, key);
    }
    const after = r ? infoOf(r) : undefined;
    if (before) labelIndex.remove(key, before.labels);
    if (after) labelIndex.add(key, after.labels);
    if (r && after) {
      endpointRes.set(key, r);
      endpoints.set(key, after);
      if (r.kind === 'WorkloadEndpoint') addTo(endpointsByNamespace, after.namespace!, key);
      for (const n of after.profiles) addTo(endpointsByProfile, n, key);
    } else {
      endpointRes.delete(key);
      endpoints.delete(key);
    }
    updateMemberships(key, before, after);

    const isLocal = r !== undefined && r.kind === 'WorkloadEndpoint' && r.spec.node === nodeName;
    if (!isLocal) { dropLocal(key); return; }
    const wep = r as WorkloadEndpoint;
    const old = locals.get(key);
    const lep: LocalEp = old ?? { r: wep, info: after!, ingress: new Set(), egress: new Set() };
    if (!old) { locals.set(key, lep); localKeys.set(lep, key); endpointListDirty = true; }
    if (!old || old.r.spec.interfaceName !== wep.spec.interfaceName || !sameStrings(old.info.addrs, after!.addrs)) routesDirty = true;
    const oldProfiles = old ? old.info.profiles : [];
    lep.r = wep;
    lep.info = after!;
    if (!old || !sameLabels(before?.labels ?? {}, after!.labels)) matchPolicies(lep);
    setProfileUse(key, oldProfiles, after!.profiles);
    dirtyEndpoints.add(key);
  }

  /** Recomputes effective labels of the given endpoints (namespace or profile labels changed). */
  function relabel(keys: Iterable<string> | undefined): void {
    for (const key of [...(keys ?? [])]) {
      const r = endpointRes.get(key);
      if (r) putEndpoint(key, r);
    }
  }

  // ---- policies, profiles, namespaces, pools --------------------------------------

  function putPolicy(key: string, cp: CompiledPolicy | null): void {
    const old = policies.get(key);
    if (cp) policies.set(key, cp);
    else policies.delete(key);
    const id = key;
    for (const [lk, lep] of locals) {
      const applies = cp !== null && cp.scope.matches(lep.info.labels, { global: false });
      const inI = applies && cp.ingress;
      const inE = applies && cp.egress;
      const hadI = lep.ingress.has(id);
      const hadE = lep.egress.has(id);
      if (inI !== hadI) { if (inI) lep.ingress.add(id); else lep.ingress.delete(id); }
      if (inE !== hadE) { if (inE) lep.egress.add(id); else lep.egress.delete(id); }
      const uses = inI || inE;
      if (uses) addTo(policyUsers, id, lk);
      else removeFrom(policyUsers, id, lk);
      // Lists hold ids in policy order: an endpoint with this policy re-sorts if it moved.
      const reorder = old !== undefined && cp !== null && (old.order !== cp.order || old.sortName !== cp.sortName);
      if (inI !== hadI || inE !== hadE || (uses && reorder)) dirtyEndpoints.add(lk);
    }
    syncPolicy(id, true);
  }

  function putProfile(name: string, cp: CompiledProfile | undefined): void {
    const old = profiles.get(name);
    if (cp) profiles.set(name, cp);
    else profiles.delete(name);
    syncProfile(name, true);
    if (!sameLabels(old?.labels ?? {}, cp?.labels ?? {})) relabel(endpointsByProfile.get(name));
    // Endpoint states list only profiles that exist.
    if ((old === undefined) !== (cp === undefined)) for (const k of profileUsers.get(name) ?? []) dirtyEndpoints.add(k);
  }

  function putNamespace(name: string, labels: Labels | undefined): void {
    const old = namespaceLabels.get(name);
    if (labels) namespaceLabels.set(name, labels);
    else namespaceLabels.delete(name);
    if (!sameLabels(old ?? {}, labels ?? {})) relabel(endpointsByNamespace.get(name));
  }

  function apply(key: ResourceKey, r: Resource | undefined): void {
    const ks = keyString(key);
    gen++;
    cached = null;
    switch (key.kind) {
      case 'WorkloadEndpoint':
      case 'HostEndpoint':
        putEndpoint(ks, r as WorkloadEndpoint | HostEndpoint | undefined);
        break;
      case 'NetworkPolicy':
      case 'GlobalNetworkPolicy':
        putPolicy(`${key.kind}/${key.namespace !== undefined ? `${key.namespace}/` : ''}${key.name}`, r && (r.kind === 'NetworkPolicy' || r.kind === 'GlobalNetworkPolicy') ? compilePolicy(r) : null);
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

  // ---- output --------------------------------------------------------------------

  function buildEndpoint(key: string): EndpointState {
    const lep = locals.get(key)!;
    const ordered = (ids: Set<string>) => [...ids].map((id) => policies.get(id)!).sort(comparePolicies).map((p) => p.id);
    const profs = [...new Set(lep.info.profiles.filter((n) => profiles.has(n)).map((n) => profiles.get(n)!.id))];
    return endpointState(lep.r, lep.info, ordered(lep.ingress), ordered(lep.egress), profs);
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
      policyList = [...usedPolicies].map((id) => policies.get(id)!.state).sort((a, b) => compareStrings(a.id, b.id));
      policyListDirty = false;
    }
    if (profileListDirty) {
      profileList = [...usedProfiles].map((n) => profiles.get(n)!.state).sort((a, b) => compareStrings(a.id, b.id));
      profileListDirty = false;
    }
    if (setListDirty || dirtySets.size > 0) {
      for (const id of dirtySets) { const s = sets.get(id); if (s) s.state = null; }
      dirtySets.clear();
      if (setListDirty) sortedSetIds = [...sets.keys()].sort(compareStrings);
      setList = sortedSetIds.map((id) => {
        const s = sets.get(id)!;
        return (s.state ??= ipSetState(s.def, [...s.sorted]));
      });
      setListDirty = false;
    }
    if (natDirty) { nat = natOf([...pools.values()]); natDirty = false; }
    cached = { nodeName, endpoints: endpointList, policies: policyList, profiles: profileList, ipsets: setList, routes, nat };
    return cached;
  }

  return {
    nodeName,
    upsert: (r) => apply(resourceKey(r), r),
    remove: (key) => apply(key, undefined),
    state,
    generation: () => gen,
  };
}
