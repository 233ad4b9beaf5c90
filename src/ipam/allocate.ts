// Allocation and release. Each step is one etcd transaction guarded by the mod revisions
// of every key it read (block, handle, affinity index): on a conflict it re-reads and
// retries, so concurrent allocators on one host or many never hand out the same address.
import type { IpFamily } from '../model/index.js';
import { blockOf, ipToBigInt, netContains, netToString, parseNet } from './addr.js';
import {
  firstFree, firstUnclaimed, freeHint, ordinalAddress, readAllBlocks, readBlock, sortByCidr, type LoadedBlock,
} from './blocks.js';
import { IpamError } from './errors.js';
import { eligiblePools, loadPools, nodeLabels, poolRefusal, type PoolInfo } from './pools.js';
import { loadReservations, reservationOf } from './reservations.js';
import {
  affinityRecord, checkHandle, checkNode, decode, handleRecord, keysFor,
  type AffinityRecord, type BlockRecord, type HandleRecord, type Keys,
} from './records.js';
import { backoff, commit, getRaw, MAX_ATTEMPTS, newTxn, readMany, type IpamStore, type TxnOps, type Versioned } from './store.js';

export interface AllocateRequest {
  node: string;
  /** Names the allocation for an exact release later, e.g. "<containerID>.<ifname>". */
  handle: string;
  /** Address family; defaults to the family of `address`, else 4. */
  family?: IpFamily;
  /** A specific address: honoured when free, refused with ADDRESS_IN_USE when not. */
  address?: string;
  /** Restrict to these pools (names or CIDRs). */
  pools?: string[];
  /** Recorded with the handle: namespace, endpoint, containerID ... (used by checkLeaks). */
  attrs?: Record<string, string>;
}

export interface Allocation {
  address: string;
  family: IpFamily;
  /** The block the address came from, e.g. 10.65.0.0/26. */
  block: string;
  pool: string;
  /** True when the address came from another node's block (pool otherwise exhausted). */
  borrowed: boolean;
}

const now = () => new Date().toISOString();

async function readHandle(store: IpamStore, keys: Keys, handle: string): Promise<Versioned<HandleRecord | null>> {
  const key = keys.handle(handle);
  const raw = await getRaw(store.etcd, key);
  return { key, value: raw ? decode(handleRecord, key, raw.value) : null, modRevision: raw?.modRevision ?? '0' };
}

/** The handle and the node's affinity index in one round trip. */
async function readHandleAndAffinities(
  store: IpamStore, keys: Keys, handle: string, node: string,
): Promise<[Versioned<HandleRecord | null>, AffinityRecord[]]> {
  const key = keys.handle(handle);
  const [hs, as] = await readMany(store.etcd, [{ key }, { prefix: keys.affinityOf(node) }]);
  const hk = hs?.[0];
  const h = { key, value: hk ? decode(handleRecord, key, hk.value) : null, modRevision: hk?.modRevision ?? '0' };
  return [h, sortByCidr((as ?? []).map((kv) => decode(affinityRecord, kv.key, kv.value)), (a) => a.cidr)];
}

function poolOf(pools: PoolInfo[], b: LoadedBlock): PoolInfo | undefined {
  return pools.find((p) => netContains(p.net, b.net.family, b.net.base));
}

/** Adds the allocation to the transaction: block (updated or new) and handle. */
function stageAllocation(
  t: TxnOps, req: AllocateRequest, h: Versioned<HandleRecord | null>, blockKey: string, block: BlockRecord, ord: bigint, address: string,
): void {
  const updated: BlockRecord = {
    ...block,
    allocations: { ...block.allocations, [ord.toString()]: { handle: req.handle, node: req.node } },
    emptySince: null,
  };
  t.puts.set(blockKey, JSON.stringify(updated));
  if (updated.affinity !== null) t.puts.set(keysFor(prefixOf(blockKey)).affinity(updated.affinity, updated.cidr), freeHint(updated));
  const rec: HandleRecord = h.value
    ? { ...h.value, addresses: [...h.value.addresses, { address, block: block.cidr }] }
    : { handle: req.handle, node: req.node, addresses: [{ address, block: block.cidr }], attrs: req.attrs ?? {}, createdAt: now() };
  t.expect.set(h.key, h.modRevision);
  t.puts.set(h.key, JSON.stringify(rec));
}

/** The store prefix a block key lives under. */
function prefixOf(blockKey: string): string {
  return blockKey.slice(0, blockKey.lastIndexOf('ipam/blocks/'));
}

function newBlock(cidr: string, pool: string, node: string): BlockRecord {
  return { cidr, pool, affinity: node, allocations: {}, claimedAt: now(), emptySince: null };
}

function stageClaim(t: TxnOps, keys: Keys, node: string, cidr: string): void {
  t.expect.set(keys.block(cidr), '0');
  t.expect.set(keys.affinity(node, cidr), '0');
}

/** Allocates one address for req.handle on req.node. */
export async function allocate(store: IpamStore, req: AllocateRequest): Promise<Allocation> {
  checkNode(req.node);
  checkHandle(req.handle);
  const keys = keysFor(store.prefix);
  let family: IpFamily = req.family ?? 4;
  let wanted: bigint | undefined;
  if (req.address !== undefined) {
    let parsed;
    try { parsed = ipToBigInt(req.address); } catch {
      throw new IpamError('INVALID_REQUEST', `requested address "${req.address}" is not an IP address`);
    }
    if (req.family !== undefined && req.family !== parsed.family) {
      throw new IpamError('INVALID_REQUEST', `requested address ${req.address} is not IPv${req.family}`);
    }
    family = parsed.family;
    wanted = parsed.value;
  }
  const [pools, labels, reserved] = await Promise.all([loadPools(store), nodeLabels(store, req.node), loadReservations(store)]);
  if (wanted !== undefined) {
    const r = reservationOf(reserved, family, wanted);
    if (r) throw new IpamError('ADDRESS_RESERVED', `${req.address} is reserved by IPReservation ${r.name} (${r.cidr}): IPAM never hands it out; request another address or change the reservation`);
    return allocateSpecific(store, keys, req, pools, labels, family, wanted);
  }

  const { eligible, reasons } = eligiblePools(pools, labels, family, req.pools);
  if (eligible.length === 0) {
    throw new IpamError('NO_POOL', `no IPv${family} pool can serve node ${req.node}${req.pools?.length ? ` among ${req.pools.join(', ')}` : ''}${reasons.length ? `: ${reasons.join('; ')}` : ''}`);
  }
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    if (attempt > 0) await backoff(attempt);
    const [h, affinities] = await readHandleAndAffinities(store, keys, req.handle, req.node);
    if (h.value?.addresses.some((a) => ipToBigInt(a.address).family === family)) {
      throw new IpamError('HANDLE_IN_USE', `handle ${req.handle} already holds an IPv${family} address (${h.value.addresses.map((a) => a.address).join(', ')}); release it first`);
    }
    // 1. The node's own blocks: the index says which have room; the block itself decides.
    const affine = affinities.filter((a) => a.free > 0 && a.cidr.includes(':') === (family === 6));
    let staged: { t: TxnOps; alloc: Allocation } | null = null;
    // Takes address `ord` of a block that exists, guarded by the revision it was read at.
    const fromExistingBlock = (b: LoadedBlock, ord: bigint, pool: string, borrowed: boolean) => {
      const t = newTxn();
      t.expect.set(b.key, b.modRevision);
      const address = ordinalAddress(b, ord);
      stageAllocation(t, req, h, b.key, b.value, ord, address);
      return { t, alloc: { address, family, block: b.value.cidr, pool, borrowed } };
    };
    for (const hint of affine) {
      const b = await readBlock(store.etcd, keys, hint.cidr);
      const p = b ? poolOf(eligible, b) : undefined;
      if (!b || !p || b.value.affinity !== req.node || b.net.family !== family) continue;
      const ord = firstFree(b, reserved);
      if (ord === null) continue;
      staged = fromExistingBlock(b, ord, p.name, false);
      break;
    }
    // 2. A new block.
    if (!staged) {
      for (const p of eligible) {
        const cidr = await firstUnclaimed(store.etcd, keys, p, reserved);
        if (!cidr) continue;
        const t = newTxn();
        stageClaim(t, keys, req.node, cidr);
        const block = newBlock(cidr, p.name, req.node);
        const loaded: LoadedBlock = { key: keys.block(cidr), value: block, modRevision: '0', net: parseNet(cidr) };
        const ord = firstFree(loaded, reserved)!;
        const address = ordinalAddress(loaded, ord);
        stageAllocation(t, req, h, loaded.key, block, ord, address);
        staged = { t, alloc: { address, family, block: cidr, pool: p.name, borrowed: false } };
        break;
      }
    }
    // 3. Borrow from another node's block: only when the pools have nothing left to claim.
    if (!staged) {
      const all = await readAllBlocks(store.etcd, keys);
      for (const b of all) {
        if (b.net.family !== family || b.value.affinity === req.node) continue;
        const p = poolOf(eligible, b);
        if (!p) continue;
        const ord = firstFree(b, reserved);
        if (ord === null) continue;
        staged = fromExistingBlock(b, ord, p.name, true);
        break;
      }
    }
    if (!staged) {
      const held = reserved.filter((r) => r.net.family === family).map((r) => `${r.name} (${r.cidr})`);
      throw new IpamError('POOL_EXHAUSTED', `no free IPv${family} address in ${eligible.map((p) => `${p.name} (${p.cidr})`).join(', ')}${held.length ? `; reserved by IPReservation ${[...new Set(held)].join(', ')}` : ''}`);
    }
    if (await commit(store.etcd, staged.t)) return staged.alloc;
  }
  throw new IpamError('CONFLICT_RETRIES', `allocation for ${req.handle} still conflicted after ${MAX_ATTEMPTS} attempts`);
}

async function allocateSpecific(
  store: IpamStore, keys: Keys, req: AllocateRequest, pools: PoolInfo[], labels: Record<string, string>, family: IpFamily, wanted: bigint,
): Promise<Allocation> {
  const address = req.address!;
  const pool = pools.find((p) => netContains(p.net, family, wanted)
    && (!req.pools?.length || req.pools.includes(p.name) || req.pools.includes(p.cidr)));
  if (!pool) throw new IpamError('NO_POOL', `no IPPool${req.pools?.length ? ` among ${req.pools.join(', ')}` : ''} contains ${address}`);
  const why = poolRefusal(pool, labels);
  if (why) throw new IpamError('NO_POOL', `cannot allocate ${address}: ${why}`);
  const cidr = netToString(blockOf(family, wanted, pool.blockPrefix));
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    if (attempt > 0) await backoff(attempt);
    const [h, b] = await Promise.all([readHandle(store, keys, req.handle), readBlock(store.etcd, keys, cidr)]);
    const t = newTxn();
    let block: BlockRecord;
    let ord: bigint;
    if (b) {
      ord = wanted - b.net.base;
      const holder = b.value.allocations[ord.toString()];
      if (holder) {
        if (holder.handle === req.handle) {
          return { address, family, block: cidr, pool: pool.name, borrowed: b.value.affinity !== req.node };
        }
        throw new IpamError('ADDRESS_IN_USE', `${address} is already allocated (handle ${holder.handle} on node ${holder.node})`);
      }
      t.expect.set(b.key, b.modRevision);
      block = b.value;
    } else {
      stageClaim(t, keys, req.node, cidr);
      block = newBlock(cidr, pool.name, req.node);
      ord = wanted - parseNet(cidr).base;
    }
    if (h.value?.addresses.some((a) => ipToBigInt(a.address).family === family)) {
      throw new IpamError('HANDLE_IN_USE', `handle ${req.handle} already holds an IPv${family} address (${h.value.addresses.map((a) => a.address).join(', ')}); release it first`);
    }
    stageAllocation(t, req, h, keys.block(cidr), block, ord, address);
    if (await commit(store.etcd, t)) {
      return { address, family, block: cidr, pool: pool.name, borrowed: block.affinity !== req.node };
    }
  }
  throw new IpamError('CONFLICT_RETRIES', `allocation of ${address} still conflicted after ${MAX_ATTEMPTS} attempts`);
}

/**
 * Releases every address held by the handle, in one transaction. Idempotent: an unknown
 * handle releases nothing and returns []. Returns the released addresses.
 */
export async function releaseByHandle(store: IpamStore, handle: string): Promise<string[]> {
  checkHandle(handle);
  const keys = keysFor(store.prefix);
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    if (attempt > 0) await backoff(attempt);
    const h = await readHandle(store, keys, handle);
    if (!h.value) return [];
    const t = newTxn();
    t.expect.set(h.key, h.modRevision);
    t.deletes.add(h.key);
    const byBlock = new Map<string, string[]>();
    for (const a of h.value.addresses) byBlock.set(a.block, [...(byBlock.get(a.block) ?? []), a.address]);
    const blocks = await Promise.all([...byBlock.keys()].map((c) => readBlock(store.etcd, keys, c)));
    const released: string[] = [];
    for (const b of blocks) {
      if (!b) continue;
      const allocations = { ...b.value.allocations };
      let changed = false;
      for (const address of byBlock.get(b.value.cidr) ?? []) {
        const ord = (ipToBigInt(address).value - b.net.base).toString();
        // Only our own allocation: a stale handle never frees someone else's address.
        if (allocations[ord]?.handle === handle) { delete allocations[ord]; changed = true; released.push(address); }
      }
      if (!changed) continue;
      const empty = Object.keys(allocations).length === 0;
      t.expect.set(b.key, b.modRevision);
      const updated: BlockRecord = { ...b.value, allocations, emptySince: empty ? (b.value.emptySince ?? now()) : null };
      t.puts.set(b.key, JSON.stringify(updated));
      if (updated.affinity !== null) t.puts.set(keys.affinity(updated.affinity, updated.cidr), freeHint(updated));
    }
    if (await commit(store.etcd, t)) return released;
  }
  throw new IpamError('CONFLICT_RETRIES', `release of ${handle} still conflicted after ${MAX_ATTEMPTS} attempts`);
}

/** The handle holding an address, or null when it is free (or in no claimed block). */
export async function handleOfAddress(store: IpamStore, address: string): Promise<string | null> {
  const keys = keysFor(store.prefix);
  const { family, value } = ipToBigInt(address);
  for (const b of await readAllBlocks(store.etcd, keys)) {
    if (netContains(b.net, family, value)) return b.value.allocations[(value - b.net.base).toString()]?.handle ?? null;
  }
  return null;
}

/** The addresses a handle holds (empty when unknown). */
export async function addressesOf(store: IpamStore, handle: string): Promise<string[]> {
  checkHandle(handle);
  const h = await readHandle(store, keysFor(store.prefix), handle);
  return h.value?.addresses.map((a) => a.address) ?? [];
}

/** A handle's record (addresses and the attributes recorded at allocation), or null. */
export async function handleInfo(store: IpamStore, handle: string): Promise<HandleRecord | null> {
  checkHandle(handle);
  return (await readHandle(store, keysFor(store.prefix), handle)).value;
}
