// Reading IPAM for others (BGP advertisements, trellisctl, metrics) and keeping it tidy:
// releasing empty blocks after a grace period, finding leaked allocations.
import { bigIntToIp, ipToBigInt, netContains, netSize } from './addr.js';
import { freeCount, readAffineBlocks, readAllBlocks, type LoadedBlock } from './blocks.js';
import { IpamError } from './errors.js';
import { loadPools } from './pools.js';
import { checkNode, decode, handleRecord, keysFor, type HandleRecord } from './records.js';
import { backoff, commit, listRaw, MAX_ATTEMPTS, newTxn, type IpamStore } from './store.js';
import type { Node, WorkloadEndpoint } from '../model/index.js';

/** attrs.use of a handle holding a host's VXLAN tunnel address. */
export const VXLAN_TUNNEL_USE = 'vxlanTunnel';

/** The CIDRs of the blocks a node holds by affinity (what its BGP speaker advertises). */
export async function affineBlocks(store: IpamStore, node: string): Promise<string[]> {
  checkNode(node);
  const blocks = await readAffineBlocks(store.etcd, keysFor(store.prefix), node);
  return blocks.map((b) => b.value.cidr);
}

/** Addresses this node allocated from other nodes' blocks, as /32 or /128 (advertised as host routes). */
export async function borrowedAddresses(store: IpamStore, node: string): Promise<string[]> {
  checkNode(node);
  const out: string[] = [];
  for (const b of await readAllBlocks(store.etcd, keysFor(store.prefix))) {
    if (b.value.affinity === node) continue;
    for (const [ord, a] of Object.entries(b.value.allocations)) {
      if (a.node !== node) continue;
      out.push(`${ordAddress(b, ord)}/${b.net.family === 4 ? 32 : 128}`);
    }
  }
  return out.sort();
}

/**
 * Every node's blocks (by affinity) and every address borrowed from another node's block
 * (as /32 or /128), with the node each lives on: what a host needs to route to the others
 * without BGP (VXLAN). One read of the blocks.
 */
export async function hostBlocks(store: IpamStore): Promise<Array<{ cidr: string; node: string }>> {
  const out: Array<{ cidr: string; node: string }> = [];
  for (const b of await readAllBlocks(store.etcd, keysFor(store.prefix))) {
    if (b.value.affinity) out.push({ cidr: b.value.cidr, node: b.value.affinity });
    for (const [ord, a] of Object.entries(b.value.allocations)) {
      if (a.node === b.value.affinity) continue;
      out.push({ cidr: `${ordAddress(b, ord)}/${b.net.family === 4 ? 32 : 128}`, node: a.node });
    }
  }
  return out.sort((x, y) => (x.cidr < y.cidr ? -1 : x.cidr > y.cidr ? 1 : 0));
}

function ordAddress(b: LoadedBlock, ord: string): string {
  return bigIntToIp(b.net.family, b.net.base + BigInt(ord));
}

/** How long trellisd keeps an empty block (a container restarted right away gets its block
 *  back); it gives the block back at its first resync after that. */
export const EMPTY_BLOCK_GRACE_MS = 5 * 60_000;

/**
 * Releases the node's affine blocks that have been empty for at least graceMs: each
 * deletion is guarded by the block's mod revision, so a concurrent allocation wins.
 * Returns the released block CIDRs.
 */
export async function releaseEmptyBlocks(store: IpamStore, node: string, graceMs: number): Promise<string[]> {
  checkNode(node);
  const keys = keysFor(store.prefix);
  const released: string[] = [];
  const cutoff = Date.now() - graceMs;
  for (const b of await readAffineBlocks(store.etcd, keys, node)) {
    if (Object.keys(b.value.allocations).length > 0 || b.value.emptySince === null) continue;
    if (Date.parse(b.value.emptySince) > cutoff) continue;
    const t = newTxn();
    t.expect.set(b.key, b.modRevision);
    t.deletes.add(b.key);
    t.deletes.add(keys.affinity(node, b.value.cidr));
    if (await commit(store.etcd, t)) released.push(b.value.cidr);
  }
  return released;
}

/** Drops every affinity a node holds (node removed): its blocks stay, their addresses stay allocated. */
export async function releaseAffinities(store: IpamStore, node: string): Promise<string[]> {
  checkNode(node);
  const keys = keysFor(store.prefix);
  const out: string[] = [];
  for (const b of await readAffineBlocks(store.etcd, keys, node)) {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const t = newTxn();
      t.expect.set(b.key, b.modRevision);
      t.deletes.add(keys.affinity(node, b.value.cidr));
      if (Object.keys(b.value.allocations).length === 0) t.deletes.add(b.key);
      else t.puts.set(b.key, JSON.stringify({ ...b.value, affinity: null }));
      if (await commit(store.etcd, t)) { out.push(b.value.cidr); break; }
      await backoff(attempt);
      const fresh = (await readAffineBlocks(store.etcd, keys, node)).find((x) => x.key === b.key);
      if (!fresh) break;
      b.modRevision = fresh.modRevision;
      b.value = fresh.value;
    }
  }
  return out;
}

export interface BlockUsage { cidr: string; affinity: string | null; used: number; free: number; borrowed: number; emptySince: string | null }
export interface PoolUsage {
  name: string; cidr: string; blockSize: number; disabled: boolean; nodeSelector: string | null;
  /** Addresses in the pool (IPv6 capacities beyond 2^53 are approximate). */
  capacity: number; used: number; free: number; blocks: BlockUsage[];
}
export interface IpamUsage { pools: PoolUsage[]; orphanBlocks: BlockUsage[]; handles: number }

function blockUsage(b: LoadedBlock): BlockUsage {
  const allocs = Object.values(b.value.allocations);
  return {
    cidr: b.value.cidr,
    affinity: b.value.affinity,
    used: allocs.length,
    free: Number(freeCount(b)),
    borrowed: allocs.filter((a) => a.node !== b.value.affinity).length,
    emptySince: b.value.emptySince,
  };
}

/** Per pool: its blocks (affinity, used, free) and totals; blocks in no current pool listed apart. */
export async function ipamUsage(store: IpamStore): Promise<IpamUsage> {
  const keys = keysFor(store.prefix);
  const [pools, blocks, handles] = await Promise.all([
    loadPools(store), readAllBlocks(store.etcd, keys), store.etcd.getAll().prefix(keys.handles).count(),
  ]);
  const seen = new Set<string>();
  const out: PoolUsage[] = pools.map((p) => {
    const mine = blocks.filter((b) => netContains(p.net, b.net.family, b.net.base));
    for (const b of mine) seen.add(b.key);
    const used = mine.reduce((n, b) => n + Object.keys(b.value.allocations).length, 0);
    const capacity = Number(netSize(p.net));
    return {
      name: p.name, cidr: p.cidr, blockSize: p.blockPrefix, disabled: p.disabled, nodeSelector: p.nodeSelector ?? null,
      capacity, used, free: capacity - used, blocks: mine.map(blockUsage),
    };
  });
  return { pools: out, orphanBlocks: blocks.filter((b) => !seen.has(b.key)).map(blockUsage), handles };
}

export interface Leak {
  handle: string | null;
  addresses: string[];
  node: string;
  reason: string;
  createdAt: string | null;
}

/**
 * Allocations nothing uses any more: handles whose WorkloadEndpoint is gone (or, without a
 * recorded endpoint, whose addresses no endpoint carries), and block allocations whose
 * handle record is missing. Handles younger than minAgeMs are skipped: a CNI ADD writes
 * its endpoint just after allocating.
 */
/** Every handle record (a corrupt one is an error naming its key), optionally only one node's. */
export async function listHandles(store: IpamStore, node?: string): Promise<HandleRecord[]> {
  const kvs = await listRaw(store.etcd, keysFor(store.prefix).handles);
  return kvs.map((kv) => decode(handleRecord, kv.key, kv.value)).filter((h) => node === undefined || h.node === node);
}

export async function checkLeaks(store: IpamStore, opts: { minAgeMs?: number } = {}): Promise<Leak[]> {
  const keys = keysFor(store.prefix);
  const [handleKvs, blocks, weps, nodes] = await Promise.all([
    listRaw(store.etcd, keys.handles), readAllBlocks(store.etcd, keys), store.list('WorkloadEndpoint'), store.list('Node'),
  ]);
  // A VXLAN tunnel address belongs to its Node, not to an endpoint.
  const tunnelAddrs = new Map<string, string>();
  for (const s of nodes) {
    const n = s.resource as Node;
    if (n.spec.ipv4VXLANTunnelAddr) tunnelAddrs.set(n.metadata.name, canonicalIp(n.spec.ipv4VXLANTunnelAddr));
  }
  const endpointKeys = new Set<string>();
  const endpointIps = new Set<string>();
  for (const s of weps) {
    const w = s.resource as WorkloadEndpoint;
    endpointKeys.add(`${w.metadata.namespace ?? 'default'}/${w.metadata.name}`);
    for (const n of w.spec.ipNetworks) endpointIps.add(canonicalIp(n.split('/')[0]!));
  }
  const cutoff = Date.now() - (opts.minAgeMs ?? 0);
  const leaks: Leak[] = [];
  const handles = new Map<string, HandleRecord>();
  for (const kv of handleKvs) {
    const h = decode(handleRecord, kv.key, kv.value);
    handles.set(h.handle, h);
    if (Date.parse(h.createdAt) > cutoff) continue;
    const addresses = h.addresses.map((a) => a.address);
    const ep = h.attrs.endpoint;
    let reason: string | null = null;
    if (h.attrs.use === VXLAN_TUNNEL_USE) {
      if (!addresses.some((a) => tunnelAddrs.get(h.node) === canonicalIp(a))) reason = `Node ${h.node} does not record it as its VXLAN tunnel address`;
    } else if (ep !== undefined) {
      if (!endpointKeys.has(ep)) reason = `WorkloadEndpoint ${ep} does not exist`;
    } else if (!addresses.some((a) => endpointIps.has(canonicalIp(a)))) {
      reason = 'no WorkloadEndpoint carries its addresses';
    }
    if (reason) leaks.push({ handle: h.handle, addresses, node: h.node, reason, createdAt: h.createdAt });
  }
  for (const b of blocks) {
    for (const [ord, a] of Object.entries(b.value.allocations)) {
      const address = ordAddress(b, ord);
      const h = handles.get(a.handle);
      if (!h || !h.addresses.some((x) => x.address === address)) {
        leaks.push({ handle: a.handle, addresses: [address], node: a.node, reason: `block ${b.value.cidr} allocation has no matching handle record`, createdAt: null });
      }
    }
  }
  return leaks;
}

function canonicalIp(ip: string): string {
  try {
    const { family, value } = ipToBigInt(ip);
    return `${family}:${value}`;
  } catch { throw new IpamError('CORRUPT_RECORD', `"${ip}" is not an IP address`); }
}
