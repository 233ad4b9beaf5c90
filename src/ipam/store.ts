// What IPAM needs from the store: the raw etcd client for its own keys (compare-and-swap
// transactions on mod revisions) and read access to IPPool, Node and WorkloadEndpoint
// resources. The store's Store satisfies this structurally.
import type { Etcd3 } from 'etcd3';
import type { Kind, Resource, ResourceKey } from '../model/index.js';

export interface IpamStore {
  readonly etcd: Etcd3;
  readonly prefix: string;
  list(kind: Kind, namespace?: string): Promise<Array<{ resource: Resource; revision: string }>>;
  get(key: ResourceKey): Promise<{ resource: Resource; revision: string } | null>;
}

/** A value read together with the mod revision the compare-and-swap is made against ('0': absent). */
export interface Versioned<T> { key: string; value: T; modRevision: string }

export async function getRaw(etcd: Etcd3, key: string): Promise<{ value: string; modRevision: string } | null> {
  const r = await etcd.get(key).exec();
  const kv = r.kvs[0];
  return kv ? { value: kv.value.toString(), modRevision: String(kv.mod_revision) } : null;
}

export async function listRaw(etcd: Etcd3, prefix: string): Promise<Array<{ key: string; value: string; modRevision: string }>> {
  const r = await etcd.getAll().prefix(prefix).exec();
  return r.kvs.map((kv) => ({ key: kv.key.toString(), value: kv.value.toString(), modRevision: String(kv.mod_revision) }));
}

export async function listKeys(etcd: Etcd3, prefix: string): Promise<string[]> {
  return etcd.getAll().prefix(prefix).keys();
}

export interface TxnOps {
  /** key -> expected mod revision ('0' = must not exist). */
  expect: Map<string, string>;
  puts: Map<string, string>;
  deletes: Set<string>;
}

export function newTxn(): TxnOps {
  return { expect: new Map(), puts: new Map(), deletes: new Set() };
}

/** Commits all puts and deletes if every expected revision still holds; false on conflict. */
export async function commit(etcd: Etcd3, t: TxnOps): Promise<boolean> {
  const entries = [...t.expect];
  if (entries.length === 0) throw new Error('IPAM transaction without a compare');
  const [k0, r0] = entries[0]!;
  let b = etcd.if(k0, 'Mod', '==', r0);
  for (const [k, r] of entries.slice(1)) b = b.and(k, 'Mod', '==', r);
  const ops = [
    ...[...t.puts].map(([k, v]) => etcd.put(k).value(v)),
    ...[...t.deletes].map((k) => etcd.delete().key(k)),
  ];
  const res = await b.then(...ops).commit();
  return res.succeeded;
}

/** Jittered backoff between compare-and-swap attempts, growing with contention. */
export function backoff(attempt: number): Promise<void> {
  const ms = Math.random() * Math.min(10, 1 + attempt);
  return new Promise((r) => setTimeout(r, ms));
}

export const MAX_ATTEMPTS = 200;

/**
 * Several reads in one round trip, at one revision: a transaction whose compare always
 * holds (every key's create revision is below the maximum) and whose branch is only gets.
 */
export async function readMany(
  etcd: Etcd3, reads: Array<{ key: string } | { prefix: string }>,
): Promise<Array<Array<{ key: string; value: string; modRevision: string }>>> {
  const first = reads[0]!;
  const anchor = 'key' in first ? first.key : first.prefix;
  const ops = reads.map((r) => ('key' in r ? etcd.get(r.key) : etcd.getAll().prefix(r.prefix)));
  const res = await etcd.if(anchor, 'Create', '<', '9223372036854775807').then(...ops).commit();
  return res.responses.map((op) => (op.response_range?.kvs ?? []).map((kv) => ({
    key: kv.key.toString(), value: kv.value.toString(), modRevision: String(kv.mod_revision),
  })));
}
