// Raw etcd reads shared by the store and its watcher: paged range reads pinned to one
// revision, so a large kind (10,000 endpoints) is read consistently without one huge
// gRPC message.
import { Range, type Etcd3, type IKeyValue } from 'etcd3';

const PAGE = 1000;

export interface RangeResult { kvs: IKeyValue[]; revision: bigint }

/** The store's current revision (a count-only read). */
export async function currentRevision(etcd: Etcd3, prefix: string): Promise<bigint> {
  const r = Range.prefix(prefix);
  const res = await etcd.kv.range({ key: r.start, range_end: r.end, count_only: true });
  return BigInt(res.header.revision);
}

/** Every key under `prefix` as of `revision` (default: now), read in pages. */
export async function rangePrefix(etcd: Etcd3, prefix: string, revision?: bigint): Promise<RangeResult> {
  const { start, end } = Range.prefix(prefix);
  const kvs: IKeyValue[] = [];
  let key = start;
  let rev = revision;
  for (;;) {
    const res = await etcd.kv.range({ key, range_end: end, limit: PAGE, ...(rev !== undefined ? { revision: rev.toString() } : {}) });
    rev ??= BigInt(res.header.revision);
    kvs.push(...res.kvs);
    const last = res.kvs[res.kvs.length - 1];
    if (!res.more || !last) break;
    key = Buffer.concat([last.key, Buffer.from([0])]);
  }
  return { kvs, revision: rev ?? 0n };
}

export function isCompactedError(err: unknown): boolean {
  return err instanceof Error && /compacted/i.test(err.message);
}
