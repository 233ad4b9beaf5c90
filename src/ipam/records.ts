// The IPAM key layout in etcd and the JSON records stored there. Every record is
// validated on read: a corrupt value is reported by key, never half-used.
//
//   <prefix>ipam/blocks/<base>-<len>            Block  (one per claimed block, e.g. 10.65.0.64-26)
//   <prefix>ipam/affinity/<node>/<base>-<len>   Affinity index: the blocks a node holds, with a free-count hint
//   <prefix>ipam/handles/<handle>               Handle: the addresses one workload holds
import { z } from 'zod';
import { IpamError } from './errors.js';

export const allocationRecord = z.object({
  handle: z.string(),
  /** The node that allocated the address (differs from the block's affinity when borrowed). */
  node: z.string(),
}).strict();

export const blockRecord = z.object({
  cidr: z.string(),
  /** The pool the block was carved from when it was claimed (informational). */
  pool: z.string(),
  affinity: z.string().nullable(),
  /** Ordinal (offset from the block's base, decimal) -> allocation. */
  allocations: z.record(z.string(), allocationRecord),
  claimedAt: z.string(),
  /** Set when the last allocation left; cleared by the next one. Drives the release grace period. */
  emptySince: z.string().nullable(),
}).strict();
export type BlockRecord = z.infer<typeof blockRecord>;

export const handleRecord = z.object({
  handle: z.string(),
  node: z.string(),
  addresses: z.array(z.object({ address: z.string(), block: z.string() }).strict()),
  /** What the address was allocated for: namespace/endpoint/containerID, for leak checks. */
  attrs: z.record(z.string(), z.string()),
  createdAt: z.string(),
}).strict();
export type HandleRecord = z.infer<typeof handleRecord>;

/** The affinity index entry; `free` is a hint kept in step by every block write (the block is the truth). */
export const affinityRecord = z.object({ cidr: z.string(), free: z.number() }).strict();
export type AffinityRecord = z.infer<typeof affinityRecord>;

/** "10.65.0.64/26" -> "10.65.0.64-26" (and fd00::40/122 -> fd00::40-122): a key segment without '/'. */
export function cidrSegment(cidr: string): string {
  return cidr.replace('/', '-');
}

export function segmentCidr(seg: string): string {
  const i = seg.lastIndexOf('-');
  return `${seg.slice(0, i)}/${seg.slice(i + 1)}`;
}

const HANDLE_RE = /^[A-Za-z0-9_.:@-]{1,253}$/;
export function checkHandle(handle: string): void {
  if (!HANDLE_RE.test(handle)) {
    throw new IpamError('INVALID_REQUEST', `handle "${handle}" must be 1-253 characters of letters, digits and "_.:@-"`);
  }
}

const NODE_RE = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,251}[A-Za-z0-9])?$/;
export function checkNode(node: string): void {
  if (!NODE_RE.test(node)) throw new IpamError('INVALID_REQUEST', `node name "${node}" is not a valid host name`);
}

export interface Keys {
  ipam: string;
  blocks: string;
  block(cidr: string): string;
  affinityOf(node: string): string;
  affinity(node: string, cidr: string): string;
  handles: string;
  handle(h: string): string;
}

export function keysFor(prefix: string): Keys {
  const ipam = `${prefix}ipam/`;
  return {
    ipam,
    blocks: `${ipam}blocks/`,
    block: (cidr) => `${ipam}blocks/${cidrSegment(cidr)}`,
    affinityOf: (node) => `${ipam}affinity/${node}/`,
    affinity: (node, cidr) => `${ipam}affinity/${node}/${cidrSegment(cidr)}`,
    handles: `${ipam}handles/`,
    handle: (h) => `${ipam}handles/${h}`,
  };
}

export function decode<T>(schema: z.ZodType<T>, key: string, raw: string): T {
  let json: unknown;
  try { json = JSON.parse(raw); } catch (e) {
    throw new IpamError('CORRUPT_RECORD', `${key}: not JSON (${(e as Error).message})`);
  }
  const r = schema.safeParse(json);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new IpamError('CORRUPT_RECORD', `${key}: ${i ? `${i.path.join('.') || '(root)'}: ${i.message}` : 'invalid'}`);
  }
  return r.data;
}
