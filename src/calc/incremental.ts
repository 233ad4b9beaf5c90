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
import { resourceKey, type HostEndpoint, type IPPool, type Resource, type ResourceKey, type WorkloadEndpoint } from '../model/index.js';
import {
  compilePolicy, compileProfile, hostEndpointInfo, networkSetInfo, tierInfo, workloadEndpointInfo,
  type CompiledProfile, type EndpointInfo,
} from './compile.js';
import { claimedAddresses, createClaims, poolCidrs } from './claims.js';
import { createEndpointIndex, type EndpointIndex, type EndpointResource } from './endpoint-index.js';
import { createSetIndex, sameStrings, type SetIndex } from './set-index.js';
import { createPolicyIndex, type PolicyIndex } from './policy-index.js';
import { createUsage, type Usage } from './usage.js';
import { defaultHostConfig, isLocalHostEndpoint, type HostConfig } from './host-endpoints.js';
import { createOutput, type LocalEndpoint, type LocalHostEndpoint, type OutputCache } from './output.js';
import type { DesiredState } from './state.js';

export type { LocalEndpoint, LocalHostEndpoint, OutputCache } from './output.js';

export interface Calculator {
  readonly nodeName: string;
  upsert(resource: Resource): void;
  remove(key: ResourceKey): void;
  /** Workload endpoints refused (a conflicting or out-of-pool address, see claims.ts), by key, with the reasons. */
  refused(): ReadonlyMap<string, readonly string[]>;
  /** The desired state; unchanged parts are the same objects as in the previous call. Treat as read-only. */
  state(): DesiredState;
  /** Grows whenever an update may have changed state(); equal numbers mean equal states. */
  generation(): number;
  /** The parts, for tests and for explain. Read-only. */
  readonly parts: CalculatorParts;
}

type Labels = Record<string, string>;

export interface CalculatorParts {
  readonly endpoints: EndpointIndex;
  readonly sets: SetIndex;
  readonly policies: PolicyIndex;
  /** The same policies matched against this node's host endpoints (global() true, every kind). */
  readonly hostPolicies: PolicyIndex;
  readonly profiles: Usage<CompiledProfile>;
  readonly namespaceLabels: ReadonlyMap<string, Labels>;
  readonly pools: ReadonlyMap<string, IPPool>;
  /** This node's workload endpoints. */
  readonly locals: ReadonlyMap<string, LocalEndpoint>;
  /** This node's policed host endpoints. */
  readonly localHosts: ReadonlyMap<string, LocalHostEndpoint>;
  readonly output: OutputCache;
}

const keyString = (k: ResourceKey) => `${k.kind}/${k.namespace ?? ''}/${k.name}`;
/** Policy ids as PolicyState names them. */
export const policyKey = (k: ResourceKey) => `${k.kind}/${k.namespace !== undefined ? `${k.namespace}/` : ''}${k.name}`;

function sameLabels(a: Labels, b: Labels): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) if (a[k] !== b[k]) return false;
  return true;
}

export interface CalculatorOptions { host?: HostConfig }

export function createCalculator(nodeName: string, opts: CalculatorOptions = {}): Calculator {
  const hostConfig = opts.host ?? defaultHostConfig();
  let gen = 0;
  const localHosts = new Map<string, LocalHostEndpoint>();
  const namespaceLabels = new Map<string, Labels>();
  const pools = new Map<string, IPPool>();
  const locals = new Map<string, LocalEndpoint>();
  const endpoints = createEndpointIndex();
  const sets = createSetIndex(endpoints);
  // Every WorkloadEndpoint as stored, refused or not; the index above holds only those not refused.
  const weps = new Map<string, WorkloadEndpoint>();
  const claims = createClaims();
  const refused = new Map<string, readonly string[]>();
  let poolList: string[] = [];

  const output = createOutput();
  const policies = createPolicyIndex({ hold: sets.hold, listChanged: () => output.stale('policyList') });
  const hostPolicies = createPolicyIndex({ hold: sets.hold, listChanged: () => output.stale('host') }, { hostEndpoints: true, ownerPrefix: 'hpolicy:' });
  const profiles = createUsage<CompiledProfile>('profile:', { hold: sets.hold, listChanged: () => output.stale('profileList') });
  const sources = { nodeName, hostConfig, locals, localHosts, pools, sets, policies, hostPolicies, profiles };
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
    output.endpointGone(key);
  }

  function infoOf(r: EndpointResource): EndpointInfo {
    switch (r.kind) {
      case 'WorkloadEndpoint': return workloadEndpointInfo(r, namespaceLabels.get(r.metadata.namespace ?? 'default'), profileLabels);
      case 'HostEndpoint': return hostEndpointInfo(r, profileLabels);
      case 'NetworkSet': return networkSetInfo(r, namespaceLabels.get(r.metadata.namespace ?? 'default'));
      case 'GlobalNetworkSet': return networkSetInfo(r, undefined);
    }
  }

  function dropLocalHost(key: string): void {
    const lh = localHosts.get(key);
    if (!lh) return;
    hostPolicies.drop(key);
    setProfileUse(key, lh.info.profiles, []);
    localHosts.delete(key);
    output.stale('host');
  }

  function putHostEndpoint(key: string, r: HostEndpoint, after: EndpointInfo, before: EndpointInfo | undefined): void {
    if (!isLocalHostEndpoint(r, nodeName)) { dropLocalHost(key); return; }
    const old = localHosts.get(key);
    localHosts.set(key, { r, info: after });
    if (!old || !sameLabels(before?.labels ?? {}, after.labels)) hostPolicies.match(key, after.labels);
    setProfileUse(key, old ? old.info.profiles : [], after.profiles);
    output.stale('host');
  }

  function putEndpoint(key: string, r: EndpointResource | undefined): void {
    const after = r ? infoOf(r) : undefined;
    const before = endpoints.put(key, r, after);
    sets.moveEndpoint(key, before, after);
    if (r?.kind === 'HostEndpoint' && after) { putHostEndpoint(key, r, after, before); return; }
    dropLocalHost(key);

    if (r === undefined || r.kind !== 'WorkloadEndpoint' || r.spec.node !== nodeName || !after) { dropLocal(key); return; }
    const old = locals.get(key);
    if (!old) output.stale('endpointList');
    if (!old || old.r.spec.interfaceName !== r.spec.interfaceName || !sameStrings(old.info.addrs, after.addrs)) output.stale('routes');
    const oldProfiles = old ? old.info.profiles : [];
    locals.set(key, { r, info: after });
    if (!old || !sameLabels(before?.labels ?? {}, after.labels)) policies.match(key, after.labels);
    setProfileUse(key, oldProfiles, after.profiles);
    output.endpointStale(key);
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
    if ((old === undefined) !== (cp === undefined)) {
      for (const k of profiles.users.get(name) ?? []) {
        if (localHosts.has(k)) output.stale('host');
        else output.endpointStale(k);
      }
    }
  }

  function putNamespace(name: string, labels: Labels | undefined): void {
    const old = namespaceLabels.get(name);
    if (labels) namespaceLabels.set(name, labels);
    else namespaceLabels.delete(name);
    if (!sameLabels(old ?? {}, labels ?? {})) relabel(endpoints.inNamespace(name));
  }

  /** Programs a stored endpoint, or takes it out, as its claims now allow. */
  function reconsider(key: string): void {
    const r = weps.get(key);
    const why = r ? claims.reasons(key, poolList) : [];
    if (!r || why.length) {
      if (r) refused.set(key, why);
      else refused.delete(key);
      if (endpoints.resources.has(key)) putEndpoint(key, undefined);
      return;
    }
    refused.delete(key);
    if (endpoints.resources.get(key) !== r) putEndpoint(key, r);
  }

  function putWorkload(key: string, r: WorkloadEndpoint | undefined): void {
    if (r) weps.set(key, r);
    else weps.delete(key);
    for (const k of claims.put(key, r ? claimedAddresses(r) : undefined)) reconsider(k);
  }

  function apply(key: ResourceKey, r: Resource | undefined): void {
    const ks = keyString(key);
    gen++;
    output.invalidate();
    switch (key.kind) {
      case 'WorkloadEndpoint':
        putWorkload(ks, r && r.kind === 'WorkloadEndpoint' ? r : undefined);
        break;
      case 'HostEndpoint':
      case 'NetworkSet':
      case 'GlobalNetworkSet':
        putEndpoint(ks, r as EndpointResource | undefined);
        break;
      case 'NetworkPolicy':
      case 'GlobalNetworkPolicy': {
        const cp = r && (r.kind === 'NetworkPolicy' || r.kind === 'GlobalNetworkPolicy') ? compilePolicy(r) : null;
        for (const k of policies.put(policyKey(key), cp, (lk) => locals.get(lk)!.info.labels)) output.endpointStale(k);
        if (hostPolicies.put(policyKey(key), cp, (lk) => localHosts.get(lk)!.info.labels).length > 0) output.stale('host');
        break;
      }
      case 'Tier': {
        const t = r && r.kind === 'Tier' ? tierInfo(r) : undefined;
        policies.setTier(key.name, t);
        hostPolicies.setTier(key.name, t);
        // Tier order and default actions shape every endpoint's lists, the host endpoints' too.
        for (const k of locals.keys()) output.endpointStale(k);
        output.stale('host');
        break;
      }
      case 'Profile':
        putProfile(key.name, r && r.kind === 'Profile' ? compileProfile(r) : undefined);
        break;
      case 'Namespace':
        putNamespace(key.name, r ? r.metadata.labels ?? {} : undefined);
        break;
      case 'IPPool':
        if (r && r.kind === 'IPPool') pools.set(ks, r);
        else pools.delete(ks);
        output.stale('nat');
        // The address plan changed: any endpoint may now be inside it or outside it.
        poolList = poolCidrs(pools.values());
        for (const k of [...weps.keys()]) reconsider(k);
        break;
      case 'StagedNetworkPolicy':
      case 'StagedGlobalNetworkPolicy':
        gen--; // never enforced (Calico): only the preview reads them (staged.ts)
        break;
      default:
        gen--; // BGP and node resources do not shape this state
        break;
    }
  }

  return {
    nodeName,
    upsert: (r) => apply(resourceKey(r), r),
    remove: (key) => apply(key, undefined),
    state: () => output.state(sources),
    refused: () => refused,
    generation: () => gen,
    parts: { endpoints, sets, policies, hostPolicies, profiles, namespaceLabels, pools, locals, localHosts, output },
  };
}
