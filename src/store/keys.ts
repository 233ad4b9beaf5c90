// The etcd key layout:
//   <prefix><kind lower-case>/<namespace>/<name>   namespaced kinds (NetworkPolicy, WorkloadEndpoint)
//   <prefix><kind lower-case>/<name>               every other kind
//   <prefix>ipam/...                               IPAM (not resources; owned by src/ipam)
//   <prefix>docker/...                             the Docker driver's records (not resources; owned by src/docker)
import { KINDS, NAMESPACED_KINDS, type Kind, type ResourceKey } from '../model/index.js';

export const DEFAULT_PREFIX = '/trellis/v1/';
export const IPAM_SEGMENT = 'ipam';
export const DOCKER_SEGMENT = 'docker';
/** Subtrees under the prefix that hold no resources: the watch passes them by unjudged. */
const OWNED_SEGMENTS: ReadonlySet<string> = new Set([IPAM_SEGMENT, DOCKER_SEGMENT]);

const KIND_BY_SEGMENT = new Map<string, Kind>(KINDS.map((k) => [k.toLowerCase(), k]));

export function normalizePrefix(prefix: string | undefined): string {
  const p = prefix ?? DEFAULT_PREFIX;
  return p.endsWith('/') ? p : `${p}/`;
}

export function kindSegment(kind: Kind): string {
  return kind.toLowerCase();
}

export function keyFor(prefix: string, key: ResourceKey): string {
  if (NAMESPACED_KINDS.has(key.kind)) return `${prefix}${kindSegment(key.kind)}/${key.namespace ?? 'default'}/${key.name}`;
  return `${prefix}${kindSegment(key.kind)}/${key.name}`;
}

/** The etcd prefix holding every resource of a kind (optionally in one namespace). */
export function kindPrefix(prefix: string, kind: Kind, namespace?: string): string {
  if (namespace !== undefined && NAMESPACED_KINDS.has(kind)) return `${prefix}${kindSegment(kind)}/${namespace}/`;
  return `${prefix}${kindSegment(kind)}/`;
}

export type ParsedKey =
  | { type: 'resource'; key: ResourceKey }
  | { type: 'owned'; segment: string }
  | { type: 'invalid'; reason: string };

/** Reads an etcd key back into a ResourceKey; IPAM's and the Docker driver's keys and malformed keys are told apart. */
export function parseEtcdKey(prefix: string, etcdKey: string): ParsedKey {
  if (!etcdKey.startsWith(prefix)) return { type: 'invalid', reason: `key is outside the prefix ${prefix}` };
  const parts = etcdKey.slice(prefix.length).split('/');
  if (OWNED_SEGMENTS.has(parts[0] ?? '')) return { type: 'owned', segment: parts[0]! };
  const kind = KIND_BY_SEGMENT.get(parts[0] ?? '');
  if (!kind) return { type: 'invalid', reason: `unknown kind "${parts[0] ?? ''}" in key` };
  const namespaced = NAMESPACED_KINDS.has(kind);
  const want = namespaced ? 3 : 2;
  if (parts.length !== want || parts.slice(1).some((p) => p === '')) {
    return { type: 'invalid', reason: `a ${kind} key must be <prefix>${kindSegment(kind)}/${namespaced ? '<namespace>/' : ''}<name>` };
  }
  return { type: 'resource', key: namespaced ? { kind, namespace: parts[1]!, name: parts[2]! } : { kind, name: parts[1]! } };
}
