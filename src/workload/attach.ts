// Attaching a workload to Trellis, whatever runtime asks (trellis-cni, the Docker driver):
// addresses from IPAM, the veth pair and its routes, the WorkloadEndpoint record. Each
// change records its undo step first; when a later step fails they run in reverse, so a
// failed attach leaves no address, interface or endpoint. Detach is idempotent.
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { allocate, releaseByHandle, type IpamStore } from '../ipam/index.js';
import { VXLAN_DEVICE, type EndpointPort, type ResourceKey, type WorkloadEndpoint } from '../model/index.js';
import { GATEWAY_V4, GATEWAY_V6 } from './names.js';
import { configureContainer, createVethAndHostSide, deleteHostVeth } from './netlink.js';

/** The store operations attaching uses (src/store's Store satisfies it). */
export interface WorkloadStore extends IpamStore {
  apply(r: WorkloadEndpoint): Promise<unknown>;
  delete(key: ResourceKey): Promise<void>;
}

export interface AttachDeps {
  log: Logger;
  /** Runs an IPAM change while no other runs on this host; CAS still decides. */
  ipamLock<T>(fn: () => Promise<T>): Promise<T>;
  /** Called after each step ("ipam", "veth", "endpoint"): a test hook that may throw to exercise the undo path. */
  afterStep?(step: AttachStep): void;
}

export type AttachStep = 'ipam' | 'veth' | 'endpoint';

export interface AttachRequest {
  node: string;
  /** The IPAM handle every address of this attachment is held under. */
  handle: string;
  /** IPv4 and/or IPv6, in this order. */
  families: Array<4 | 6>;
  requested?: { v4?: string; v6?: string };
  /**
   * Addresses the runtime already holds under `handle` (Docker asks its IPAM driver first):
   * nothing is allocated, and an undo leaves them to the runtime's own release.
   */
  allocated?: string[];
  pools?: string[];
  /** Recorded with the handle (endpoint, containerID, network): what leak checks and GC read. */
  attrs: Record<string, string>;
  veth: { host: string; ifname: string; mac: string; mtu?: number };
  /**
   * Where the container end goes: a sandbox path (made there and configured: addresses,
   * gateway neighbour, default route), or null when the runtime moves and configures it
   * itself (Docker does, from what Join answers).
   */
  netns: string | null;
  /** The record to write, given the addresses allocated. */
  endpoint(addresses: string[]): WorkloadEndpoint;
}

export interface Attachment {
  addresses: string[];
  endpoint: WorkloadEndpoint;
  /** The store revision of the endpoint record's write (when the store reports one): what a caller waits to see programmed. */
  revision?: string;
}

export const withPrefix = (a: string): string => `${a}/${a.includes(':') ? 128 : 32}`;
export const gatewayOf = (a: string): string => (a.includes(':') ? GATEWAY_V6 : GATEWAY_V4);

export function endpointKey(namespace: string, name: string): ResourceKey {
  return { kind: 'WorkloadEndpoint', namespace, name };
}

/** "ns/name" as IPAM attributes record it. */
export function endpointKeyOf(ref: string): ResourceKey {
  const slash = ref.indexOf('/');
  return endpointKey(ref.slice(0, slash), ref.slice(slash + 1));
}

function ignoreNotFound(e: unknown): void {
  if ((e as { code?: unknown })?.code !== 'NOT_FOUND') throw e;
}

export async function attach(store: WorkloadStore, req: AttachRequest, deps: AttachDeps): Promise<Attachment> {
  const log = deps.log;
  const undo: Array<[string, () => Promise<unknown>]> = [];
  try {
    const addresses: string[] = [...(req.allocated ?? [])];
    if (!req.allocated) await deps.ipamLock(async () => {
      for (const family of req.families) {
        const wanted = family === 4 ? req.requested?.v4 : req.requested?.v6;
        const alloc = await allocate(store, {
          node: req.node, handle: req.handle, family,
          ...(wanted ? { address: wanted } : {}),
          ...(req.pools ? { pools: req.pools } : {}),
          attrs: req.attrs,
        });
        if (addresses.length === 0) undo.push(['release addresses', () => deps.ipamLock(() => releaseByHandle(store, req.handle))]);
        addresses.push(alloc.address);
        log.debug({ address: alloc.address, block: alloc.block, borrowed: alloc.borrowed }, 'allocated');
      }
    });
    deps.afterStep?.('ipam');
    // Before the attempt: a batch that fails half-way may have made the pair (the host end's
    // name is this attachment's own, so deleting whatever has it is right).
    undo.push(['delete veth', () => deleteHostVeth(req.veth.host)]);
    const mtu = req.veth.mtu ?? tunnelMtu();
    await createVethAndHostSide({ ...req.veth, ...(mtu ? { mtu } : {}), ...(req.netns ? { netns: req.netns } : {}) }, addresses);
    if (req.netns) await configureContainer(req.netns, req.veth.ifname, addresses);
    deps.afterStep?.('veth');
    const endpoint = req.endpoint(addresses);
    const stored = await store.apply(endpoint);
    const revision = (stored as { revision?: unknown } | null)?.revision;
    undo.push(['delete endpoint', () => store.delete(endpointKey(endpoint.metadata.namespace ?? 'default', endpoint.metadata.name)).catch(ignoreNotFound)]);
    deps.afterStep?.('endpoint');
    return { addresses, endpoint, ...(typeof revision === 'string' ? { revision } : {}) };
  } catch (e) {
    for (const [what, step] of undo.reverse()) {
      try { await step(); } catch (ue) { log.error({ err: ue }, `undo failed: ${what}`); }
    }
    throw e;
  }
}

export interface DetachRequest {
  /** The IPAM handle to release; null when the runtime releases the addresses itself. */
  handle: string | null;
  host: string;
  /** Every endpoint record this attachment may have written. */
  endpoints: ResourceKey[];
}

/** Endpoint first, address last: a detach cut short is finished by the next one. Returns the addresses released. */
export async function detach(store: WorkloadStore, req: DetachRequest, deps: Pick<AttachDeps, 'ipamLock'>): Promise<string[]> {
  for (const k of req.endpoints) await store.delete(k).catch(ignoreNotFound);
  await deleteHostVeth(req.host);
  const handle = req.handle;
  return handle === null ? [] : deps.ipamLock(() => releaseByHandle(store, handle));
}

/** Port maps as the endpoint records them. */
export function endpointPorts(maps: Array<{ hostPort: number; containerPort: number; protocol?: string | undefined; hostIP?: string | undefined }>): EndpointPort[] {
  return maps.map((p) => {
    const proto = (p.protocol ?? 'tcp').toLowerCase();
    return {
      name: `hp-${p.hostPort}-${proto}`,
      protocol: proto === 'udp' ? 'UDP' : proto === 'sctp' ? 'SCTP' : 'TCP',
      port: p.containerPort,
      hostPort: p.hostPort,
      ...(p.hostIP ? { hostIP: p.hostIP } : {}),
    };
  });
}

/**
 * Without an MTU from the runtime's configuration, a host with a VXLAN device gives its
 * workloads the device's MTU (what trellisd derived from the underlying interface), so a
 * full-size segment to another host fits the tunnel instead of relying on ICMP.
 */
export function tunnelMtu(sysClassNet = '/sys/class/net'): number | undefined {
  try {
    const n = Number(readFileSync(`${sysClassNet}/${VXLAN_DEVICE}/mtu`, 'utf8').trim());
    return Number.isInteger(n) && n >= 576 ? n : undefined;
  } catch {
    return undefined;
  }
}
