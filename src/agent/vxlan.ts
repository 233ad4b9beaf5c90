// VXLAN on this host: its VTEP (a tunnel address from a VXLAN pool, allocated by IPAM
// under one handle, and a MAC), recorded on this host's Node resource; then, from every
// host's blocks in IPAM and every Node's VTEP, calc's VxlanState brought to the kernel.
// No BGP involved: the store says where each block lives.
import { createHash } from 'node:crypto';
import { computeVxlanState, vxlanPools, type HostBlock, type VxlanSettings, type VxlanState } from '../calc/index.js';
import { cidrContains, type Node, type Resource } from '../model/index.js';
import { addressesOf, allocate, hostBlocks, IpamError, releaseByHandle, VXLAN_TUNNEL_USE, type IpamStore } from '../ipam/index.js';
import type { Logger } from '../log/index.js';
import type { Store } from '../store/index.js';
import type { DataplanePort } from './ports.js';

/** The IPAM handle of a host's tunnel address (Calico's name for it). */
export const vxlanTunnelHandle = (node: string): string => `vxlan-tunnel-addr-${node}`;

/**
 * The host's VTEP MAC: locally administered, unicast, from a hash of the node name, so the
 * same host gets the same MAC back if its Node record is rewritten without it.
 */
export function vtepMac(node: string): string {
  const b = createHash('sha256').update(`trellis-vtep:${node}`).digest();
  b[0] = (b[0]! & 0xfc) | 0x02;
  return [...b.subarray(0, 6)].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

export interface VtepPlan {
  /** Pools (enabled, encapsulating) a new tunnel address may come from; empty: none is needed. */
  allocateFrom: string[];
  /** Whether this host needs a VTEP at all (some IPv4 pool encapsulates). */
  wanted: boolean;
  /** The address recorded now, if it is still inside an encapsulating pool. */
  keep: string | null;
  /** CIDRs of the encapsulating pools (an address IPAM already holds for us inside one is reused). */
  pools: string[];
  mac: string;
}

/** What the Node's VTEP fields should become, from the resources alone (pure). */
export function planVtep(node: Node | undefined, resources: readonly Resource[]): VtepPlan {
  const name = node?.metadata.name ?? '';
  const pools = vxlanPools(resources).filter((p) => p.mode !== 'Never');
  const enabled = resources.filter((r): r is Extract<Resource, { kind: 'IPPool' }> => r.kind === 'IPPool' && !r.spec.disabled && pools.some((p) => p.cidr === r.spec.cidr));
  const have = node?.spec.ipv4VXLANTunnelAddr;
  const keep = have && pools.some((p) => cidrContains(p.cidr, have)) ? have : null;
  return { wanted: pools.length > 0, pools: pools.map((p) => p.cidr), allocateFrom: enabled.map((p) => p.metadata.name), keep, mac: node?.spec.vxlanTunnelMACAddr?.toLowerCase() ?? vtepMac(name) };
}

export interface VxlanComponentState {
  /** The last state handed to the dataplane (null before the first sync). */
  last: VxlanState | null;
  /** Why this host has no VTEP (no Node, no address, IPAM refused), or null. */
  vtepProblem: string | null;
}

export interface VxlanComponent {
  readonly state: Readonly<VxlanComponentState>;
  /** Ensures the VTEP, reads IPAM's blocks and syncs the kernel; throws when the store or the kernel fails. */
  refresh(resources: readonly Resource[], how: { resync?: boolean }): Promise<boolean>;
  /** Destinations VXLAN routes (BGP-learned routes to them are not installed). */
  owned(): ReadonlySet<string>;
}

export interface VxlanOptions {
  node: string;
  store: Store;
  dataplane: DataplanePort;
  settings: VxlanSettings;
  log: Logger;
}

export function createVxlanComponent(o: VxlanOptions): VxlanComponent {
  const state: VxlanComponentState = { last: null, vtepProblem: null };
  let owned: ReadonlySet<string> = new Set();
  const ipam: IpamStore = o.store;
  const handle = vxlanTunnelHandle(o.node);

  /** Brings the Node's VTEP fields (and the IPAM handle) to the plan; true when the Node was written. */
  async function ensureVtep(resources: readonly Resource[]): Promise<boolean> {
    const node = resources.find((r): r is Node => r.kind === 'Node' && r.metadata.name === o.node);
    const plan = planVtep(node, resources);
    if (!node) {
      state.vtepProblem = plan.wanted ? `no Node resource named ${o.node}: create it (with spec.bgp.ipv4Address) to get a VTEP` : null;
      return false;
    }
    let addr: string | null = null;
    if (plan.wanted) {
      const held = await addressesOf(ipam, handle);
      // After a crash between the allocation and the Node write, IPAM already holds one for us.
      const reuse = plan.keep && held.includes(plan.keep) ? plan.keep : held.find((a) => plan.pools.some((c) => cidrContains(c, a)));
      if (reuse) {
        addr = reuse;
      } else {
        if (held.length) await releaseByHandle(ipam, handle);
        if (!plan.allocateFrom.length) {
          state.vtepProblem = 'every VXLAN pool is disabled: no tunnel address to allocate';
          return false;
        }
        try {
          addr = (await allocate(ipam, { node: o.node, handle, family: 4, pools: plan.allocateFrom, attrs: { use: VXLAN_TUNNEL_USE } })).address;
        } catch (err) {
          state.vtepProblem = `tunnel address: ${err instanceof IpamError ? `${err.code}: ${err.message}` : (err as Error).message}`;
          throw err;
        }
      }
    } else if (node.spec.ipv4VXLANTunnelAddr || (await addressesOf(ipam, handle)).length) {
      await releaseByHandle(ipam, handle);
    }
    state.vtepProblem = null;
    const spec = { ...node.spec };
    delete spec.ipv4VXLANTunnelAddr;
    delete spec.vxlanTunnelMACAddr;
    const next: Node = { ...node, spec: addr ? { ...spec, ipv4VXLANTunnelAddr: addr, vxlanTunnelMACAddr: plan.mac } : spec };
    const mac = addr ? plan.mac : undefined;
    if ((node.spec.ipv4VXLANTunnelAddr ?? null) === (addr ?? null) && (node.spec.vxlanTunnelMACAddr?.toLowerCase() ?? undefined) === mac) return false;
    const cur = await o.store.get({ kind: 'Node', name: o.node });
    if (!cur) return false;
    // Guarded by the revision we read: an operator's edit in between wins, and the next apply tries again.
    const written = { ...(cur.resource as Node), spec: next.spec };
    await o.store.replace(written, cur.revision);
    o.log.info({ tunnelAddr: addr, mac: addr ? plan.mac : null }, addr ? 'VTEP recorded on the Node' : 'VTEP removed from the Node');
    return true;
  }

  return {
    state,
    owned: () => owned,
    async refresh(resources, how) {
      const wanted = vxlanPools(resources).some((p) => p.mode !== 'Never');
      // Nothing to do when VXLAN is not in use and the kernel was already cleared of it once.
      if (!wanted && state.last && state.last.device === null && state.last.routes.length === 0 && !how.resync) return false;
      const wrote = await ensureVtep(resources);
      if (wrote) return true; // the Node's watch event brings the next apply, with the new fields
      const blocks: HostBlock[] = wanted ? await hostBlocks(ipam) : [];
      const next = computeVxlanState({ nodeName: o.node, resources, blocks, settings: o.settings });
      if (state.vtepProblem) next.problems.unshift(state.vtepProblem);
      if (!o.dataplane.syncVxlan) return false;
      const summary = await o.dataplane.syncVxlan(next, how);
      state.last = next;
      const dsts = next.routes.map((r) => r.dst);
      if (dsts.length !== owned.size || dsts.some((d) => !owned.has(d))) owned = new Set(dsts);
      if (next.problems.length) o.log.debug({ problems: next.problems }, 'vxlan: left out');
      return summary.changed;
    },
  };
}
