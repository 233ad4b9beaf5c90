// The cluster's workload endpoints as /status and /matrix list them.
import type { EndpointDoc } from '../api/index.js';
import type { Resource, WorkloadEndpoint } from '../model/index.js';
import type { ResourceCache } from './cache.js';

function tenantOf(ns: string, namespaces: Map<string, Resource>): string {
  return namespaces.get(ns)?.metadata.labels?.tenant ?? ns;
}

export function endpointDocs(resources: Resource[], node: string, refused: ReadonlyMap<string, readonly string[]> = new Map()): EndpointDoc[] {
  const namespaces = new Map(resources.filter((r) => r.kind === 'Namespace').map((r) => [r.metadata.name, r]));
  return resources
    .filter((r): r is WorkloadEndpoint => r.kind === 'WorkloadEndpoint')
    .map((r) => {
      const ns = r.metadata.namespace ?? 'default';
      const id = `WorkloadEndpoint/${ns}/${r.metadata.name}`;
      const why = refused.get(id);
      return {
        ...(why ? { refused: [...why] } : {}),
        id,
        namespace: ns,
        name: r.metadata.name,
        node: r.spec.node,
        tenant: tenantOf(ns, namespaces),
        labels: r.metadata.labels ?? {},
        addresses: r.spec.ipNetworks,
        interfaceName: r.spec.interfaceName,
        local: r.spec.node === node,
      };
    })
    .sort((a, b) => a.id.localeCompare(b.id));
}

/**
 * Tens of thousands of endpoints cost tens of milliseconds to list, on the loop that
 * applies policy: a status page polling must not pay that again while nothing changed.
 */
export function endpointView(cache: ResourceCache, node: string): () => EndpointDoc[] {
  let memo: { generation: number; doc: EndpointDoc[] } | null = null;
  return () => {
    if (memo?.generation !== cache.generation) memo = { generation: cache.generation, doc: endpointDocs(cache.list(), node, cache.refused()) };
    return memo.doc;
  };
}
