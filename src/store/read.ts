// Reading one etcd key/value back into a resource: parse the key, decode and validate the
// value, and say precisely why when either is wrong. The one place this is done: list, get,
// the watcher's snapshot and its event stream all go through it.
import type { ResourceKey } from '../model/index.js';
import { decodeValue } from './codec.js';
import { parseEtcdKey } from './keys.js';
import type { Stored } from './types.js';

/** The parts of an etcd key/value a read needs (what etcd3's IKeyValue carries). */
export interface RawKv { key: Buffer; value: Buffer; mod_revision: string }

export type KeyRead =
  /** Not a resource (IPAM's keys share the prefix). */
  | { type: 'other'; etcdKey: string }
  | { type: 'invalid'; etcdKey: string; error: string }
  | { type: 'key'; etcdKey: string; key: ResourceKey };

export type KvRead =
  | { type: 'other'; etcdKey: string }
  /** `key`: the resource the key names, when only its value is bad. */
  | { type: 'invalid'; etcdKey: string; error: string; key?: ResourceKey }
  | { type: 'resource'; etcdKey: string; key: ResourceKey; stored: Stored };

export function readKey(prefix: string, etcdKey: string): KeyRead {
  const parsed = parseEtcdKey(prefix, etcdKey);
  if (parsed.type === 'owned') return { type: 'other', etcdKey };
  if (parsed.type === 'invalid') return { type: 'invalid', etcdKey, error: `${etcdKey}: ${parsed.reason}` };
  return { type: 'key', etcdKey, key: parsed.key };
}

/**
 * `accept` picks the kinds the reader wants: another kind's value comes back as 'other'
 * without being decoded (a watcher of two kinds does not validate, or report, the rest).
 */
export function readKv(prefix: string, kv: RawKv, accept: (key: ResourceKey) => boolean = () => true): KvRead {
  const k = readKey(prefix, kv.key.toString('utf8'));
  if (k.type !== 'key') return k;
  if (!accept(k.key)) return { type: 'other', etcdKey: k.etcdKey };
  const d = decodeValue(k.etcdKey, k.key, kv.value, kv.mod_revision);
  if (!d.ok) return { type: 'invalid', etcdKey: k.etcdKey, error: d.error, key: k.key };
  return { type: 'resource', etcdKey: k.etcdKey, key: k.key, stored: { resource: d.resource, revision: kv.mod_revision } };
}
