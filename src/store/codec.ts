// Values in etcd are JSON resources. Everything read back is validated like user input:
// etcd is shared, and a value written by another tool or version must not reach the
// dataplane unchecked. The key is the truth for kind/namespace/name.
import { NAMESPACED_KINDS, resourceKey, describeKey, type Resource, type ResourceKey } from '../model/index.js';
import { validateValue } from './validate.js';

/** The JSON written to etcd: resourceVersion is the etcd mod revision, never stored. */
export function encodeResource(r: Resource): string {
  const metadata: Record<string, unknown> = { ...r.metadata };
  delete metadata.resourceVersion;
  if (NAMESPACED_KINDS.has(r.kind) && metadata.namespace === undefined) metadata.namespace = 'default';
  return JSON.stringify({ ...r, metadata });
}

export type Decoded = { ok: true; resource: Resource } | { ok: false; error: string };

function sameKey(a: ResourceKey, b: ResourceKey): boolean {
  return a.kind === b.kind && a.name === b.name && (a.namespace ?? '') === (b.namespace ?? '');
}

/** Parses and validates a value read from etcd under `key` at `revision`. */
export function decodeValue(etcdKey: string, key: ResourceKey, value: Buffer | string, revision: string): Decoded {
  let json: unknown;
  try {
    json = JSON.parse(typeof value === 'string' ? value : value.toString('utf8'));
  } catch (err) {
    return { ok: false, error: `${etcdKey}: value is not JSON: ${(err as Error).message}` };
  }
  const checked = validateValue(json, etcdKey);
  if (!checked.ok) return checked;
  const r = checked.resource;
  const inValue = resourceKey(r);
  if (!sameKey(inValue, key)) {
    return { ok: false, error: `${etcdKey}: value describes ${describeKey(inValue)}, but the key says ${describeKey(key)}` };
  }
  return { ok: true, resource: { ...r, metadata: { ...r.metadata, resourceVersion: revision } } as Resource };
}
