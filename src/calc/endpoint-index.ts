// Every endpoint in the cluster as calc sees it (resource and EndpointInfo), indexed by
// namespace and by profile (their labels are inherited, so a change there relabels these
// endpoints), by effective label (so a new set scans only candidates) and by address (so
// explain finds the endpoint that owns a source address without a scan).
import type { GlobalNetworkSet, HostEndpoint, NetworkSet, WorkloadEndpoint } from '../model/index.js';
import { createLabelIndex, type LabelIndex } from './label-index.js';
import type { EndpointInfo } from './compile.js';

/** Network sets are indexed beside endpoints: rule selectors match both (compile.ts). */
export type EndpointResource = WorkloadEndpoint | HostEndpoint | NetworkSet | GlobalNetworkSet;

export interface EndpointIndex {
  readonly resources: ReadonlyMap<string, EndpointResource>;
  readonly infos: ReadonlyMap<string, EndpointInfo>;
  readonly labels: LabelIndex;
  inNamespace(ns: string): ReadonlySet<string> | undefined;
  withProfile(name: string): ReadonlySet<string> | undefined;
  /** Workload endpoints whose networks include this canonical CIDR ("10.0.0.5/32"). */
  withAddress(cidr: string): ReadonlySet<string> | undefined;
  /** Keys of every NetworkSet and GlobalNetworkSet (explain names the one that matched). */
  readonly networkSets: ReadonlySet<string>;
  /** Replaces (or with undefined removes) one endpoint; returns its previous info. */
  put(key: string, r: EndpointResource | undefined, info: EndpointInfo | undefined): EndpointInfo | undefined;
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

export function createEndpointIndex(): EndpointIndex {
  const resources = new Map<string, EndpointResource>();
  const infos = new Map<string, EndpointInfo>();
  const byNamespace = new Map<string, Set<string>>();
  const byProfile = new Map<string, Set<string>>();
  const byAddress = new Map<string, Set<string>>();
  const labels = createLabelIndex();
  const networkSets = new Set<string>();
  const isSet = (r: EndpointResource) => r.kind === 'NetworkSet' || r.kind === 'GlobalNetworkSet';

  const unlink = (key: string, r: EndpointResource, info: EndpointInfo | undefined) => {
    if (r.kind === 'WorkloadEndpoint' || r.kind === 'NetworkSet') removeFrom(byNamespace, r.metadata.namespace ?? 'default', key);
    if (isSet(r)) networkSets.delete(key);
    for (const n of info?.profiles ?? []) removeFrom(byProfile, n, key);
    if (r.kind === 'WorkloadEndpoint') for (const a of info?.addrs ?? []) removeFrom(byAddress, a, key);
    if (info) labels.remove(key, info.labels);
  };
  const link = (key: string, r: EndpointResource, info: EndpointInfo) => {
    if (r.kind === 'WorkloadEndpoint' || r.kind === 'NetworkSet') addTo(byNamespace, info.namespace!, key);
    if (isSet(r)) networkSets.add(key);
    for (const n of info.profiles) addTo(byProfile, n, key);
    if (r.kind === 'WorkloadEndpoint') for (const a of info.addrs) addTo(byAddress, a, key);
    labels.add(key, info.labels);
  };

  return {
    resources, infos, labels, networkSets,
    inNamespace: (ns) => byNamespace.get(ns),
    withProfile: (name) => byProfile.get(name),
    withAddress: (cidr) => byAddress.get(cidr),
    put(key, r, info) {
      const before = infos.get(key);
      const beforeRes = resources.get(key);
      if (beforeRes) unlink(key, beforeRes, before);
      if (r && info) {
        resources.set(key, r);
        infos.set(key, info);
        link(key, r, info);
      } else {
        resources.delete(key);
        infos.delete(key);
      }
      return before;
    },
  };
}
