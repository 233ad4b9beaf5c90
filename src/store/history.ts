// The last valid version of a key whose current value is invalid, read from etcd's own
// history. A running trellisd keeps the version it last saw valid; a trellisd that starts
// while a value is already invalid has never seen one, and without this a corrupted Deny
// policy would vanish from the kernel at its first apply (issue 12). etcd keeps every
// revision until it is compacted, so the key's earlier values are asked for one by one,
// newest first, until one validates.
//
// The walk ends without a version when the key's current incarnation has no earlier value
// (it was created invalid, or deleted and created again), when the history is compacted
// away, or after MAX_STEPS earlier values that are all invalid: then nothing of the
// resource is in force, as before it existed.
import type { Etcd3 } from 'etcd3';
import { isCompactedError } from './kv.js';
import type { RawKv } from './read.js';
import type { Stored } from './types.js';

export interface HistoryKv extends RawKv { create_revision: string }

/** The key's value as of `revision` (null: the key did not exist then). Throws when compacted. */
export type ReadAt = (revision: bigint) => Promise<HistoryKv | null>;

/** Decodes one earlier value: the resource, or null when that value is invalid too. */
export type DecodeKv = (kv: HistoryKv) => Stored | null;

export const MAX_STEPS = 16;

export type HistoryOutcome =
  | { found: Stored }
  | { found: null; why: 'created-invalid' | 'compacted' | 'all-invalid' };

export async function lastValidInHistory(current: HistoryKv, readAt: ReadAt, decode: DecodeKv, maxSteps = MAX_STEPS): Promise<HistoryOutcome> {
  let kv = current;
  for (let step = 0; step < maxSteps; step++) {
    // The first value of this incarnation of the key: nothing valid came before it.
    if (kv.mod_revision === kv.create_revision) return { found: null, why: 'created-invalid' };
    let prev: HistoryKv | null;
    try {
      prev = await readAt(BigInt(kv.mod_revision) - 1n);
    } catch (err) {
      if (isCompactedError(err)) return { found: null, why: 'compacted' };
      throw err;
    }
    if (!prev) return { found: null, why: 'created-invalid' };
    const stored = decode(prev);
    if (stored) return { found: stored };
    kv = prev;
  }
  return { found: null, why: 'all-invalid' };
}

/** readAt for one key of a live etcd. */
export function etcdReadAt(etcd: Etcd3, key: Buffer): ReadAt {
  return async (revision) => {
    const res = await etcd.kv.range({ key, revision: revision.toString() });
    return res.kvs[0] ?? null;
  };
}
