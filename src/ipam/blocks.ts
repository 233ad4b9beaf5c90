// Reading blocks and the affinity index; finding free ordinals and unclaimed blocks.
import type { Etcd3 } from 'etcd3';
import type { IpFamily } from '../model/index.js';
import { bigIntToIp, nthBlock, netSize, netToString, parseNet, type Net } from './addr.js';
import type { PoolInfo } from './pools.js';
import { overlapping, reservationOf, type Reservation } from './reservations.js';
import { affinityRecord, blockRecord, decode, segmentCidr, type AffinityRecord, type BlockRecord, type Keys } from './records.js';
import { getRaw, listKeys, listRaw, type Versioned } from './store.js';

export interface LoadedBlock extends Versioned<BlockRecord> { net: Net }

function toLoaded(key: string, value: string, modRevision: string): LoadedBlock {
  const rec = decode(blockRecord, key, value);
  return { key, value: rec, modRevision, net: parseNet(rec.cidr) };
}

export async function readBlock(etcd: Etcd3, keys: Keys, cidr: string): Promise<LoadedBlock | null> {
  const key = keys.block(cidr);
  const raw = await getRaw(etcd, key);
  return raw ? toLoaded(key, raw.value, raw.modRevision) : null;
}

export async function readAllBlocks(etcd: Etcd3, keys: Keys): Promise<LoadedBlock[]> {
  const kvs = await listRaw(etcd, keys.blocks);
  return kvs.map((kv) => toLoaded(kv.key, kv.value, kv.modRevision));
}

/** The CIDRs of the blocks a node holds by affinity, from the index. */
export async function affineCidrs(etcd: Etcd3, keys: Keys, node: string): Promise<string[]> {
  const prefix = keys.affinityOf(node);
  const ks = await listKeys(etcd, prefix);
  return sortByCidr(ks.map((k) => segmentCidr(k.slice(prefix.length))), (c) => c);
}

/** The node's affinity index entries (block CIDR and free-count hint), lowest block first. */
export async function readAffinities(etcd: Etcd3, keys: Keys, node: string): Promise<AffinityRecord[]> {
  const kvs = await listRaw(etcd, keys.affinityOf(node));
  return sortByCidr(kvs.map((kv) => decode(affinityRecord, kv.key, kv.value)), (a) => a.cidr);
}

/** The free-count hint for a block as it will be after a write. */
export function freeHint(b: BlockRecord): string {
  const size = netSize(parseNet(b.cidr));
  return JSON.stringify({ cidr: b.cidr, free: Number(size - BigInt(Object.keys(b.allocations).length)) });
}

export function sortByCidr<T>(items: T[], cidr: (t: T) => string): T[] {
  const keyed = items.map((t) => ({ t, n: parseNet(cidr(t)) }));
  keyed.sort((a, b) => (a.n.family !== b.n.family ? a.n.family - b.n.family
    : a.n.base < b.n.base ? -1 : a.n.base > b.n.base ? 1 : a.n.prefixLength - b.n.prefixLength));
  return keyed.map((k) => k.t);
}

/** The node's affine blocks, read in parallel (a block whose index entry is stale is skipped). */
export async function readAffineBlocks(etcd: Etcd3, keys: Keys, node: string): Promise<LoadedBlock[]> {
  const cidrs = await affineCidrs(etcd, keys, node);
  const blocks = await Promise.all(cidrs.map((c) => readBlock(etcd, keys, c)));
  return blocks.filter((b): b is LoadedBlock => b !== null && b.value.affinity === node);
}

/** The lowest free ordinal of a block that no reservation holds, or null when there is none. */
export function firstFree(b: { net: Net; value: Pick<BlockRecord, 'allocations'> }, reserved: readonly Reservation[] = []): bigint | null {
  const size = netSize(b.net);
  const here = overlapping(reserved, b.net);
  for (let o = 0n; o < size; o++) {
    if (o.toString() in b.value.allocations) continue;
    if (here.length > 0 && reservationOf(here, b.net.family, b.net.base + o)) continue;
    return o;
  }
  return null;
}

export function freeCount(b: LoadedBlock): bigint {
  return netSize(b.net) - BigInt(Object.keys(b.value.allocations).length);
}

export function ordinalAddress(b: LoadedBlock, ord: bigint): string {
  return bigIntToIp(b.net.family, b.net.base + ord);
}

/** The first block of the pool that nobody has claimed and that has an address no
 *  reservation holds, or null when there is none. */
export async function firstUnclaimed(etcd: Etcd3, keys: Keys, pool: PoolInfo, reserved: readonly Reservation[] = []): Promise<string | null> {
  const claimed = new Set((await listKeys(etcd, keys.blocks)).map((k) => segmentCidr(k.slice(keys.blocks.length))));
  for (let i = 0n; ; i++) {
    const n = nthBlock(pool.net, pool.blockPrefix, i);
    if (!n) return null;
    const cidr = netToString(n);
    if (claimed.has(cidr)) continue;
    // A block wholly reserved would be claimed for nothing.
    if (firstFree({ net: n, value: { allocations: {} } }, reserved) === null) continue;
    return cidr;
  }
}

export function familyOf(b: LoadedBlock): IpFamily { return b.net.family; }
