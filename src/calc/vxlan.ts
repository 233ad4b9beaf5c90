// The desired VXLAN state of one host, from the store alone (no BGP): for every remote
// host's affine blocks and borrowed /32s in a pool with vxlanMode Always (or CrossSubnet
// and the host is on another subnet), a route over this host's VXLAN device via that
// host's VTEP address, a permanent neighbour entry (VTEP address -> VTEP MAC) and an FDB
// entry (VTEP MAC -> the host's underlay address). With all three static the device needs
// no learning, flooding or multicast. CrossSubnet hosts on this host's subnet get a plain
// route via their underlay address instead. Pure: the dataplane renders exactly this.
import { cidrFamily, parseCidr, type Resource, type VxlanMode } from '../model/index.js';

export { VXLAN_DEVICE } from '../model/index.js';
/** Routes programmed from the VXLAN state (encapsulated or CrossSubnet-native), as felix's own protocol. */
export const ROUTE_PROTO_VXLAN = 80;
/** Calico's defaults (FelixConfiguration vxlanVni, vxlanPort). */
export const DEFAULT_VXLAN_VNI = 4096;
export const DEFAULT_VXLAN_PORT = 4789;
/** IPv4 + UDP + VXLAN + inner Ethernet. */
export const VXLAN_OVERHEAD = 50;

export interface VxlanSettings {
  vni: number;
  port: number;
  /** The VXLAN device's MTU; 0: the underlying interface's MTU minus VXLAN_OVERHEAD. */
  mtu: number;
}

/** One block (or borrowed /32) and the host it lives on, as IPAM records it. */
export interface HostBlock { cidr: string; node: string }

export interface Vtep {
  node: string;
  /** The host's underlay address (Node spec.bgp.ipv4Address without its length). */
  address: string;
  /** ipv4VXLANTunnelAddr. */
  tunnelAddr: string;
  /** vxlanTunnelMACAddr, lower case. */
  mac: string;
}

export interface VxlanRoute {
  dst: string;
  node: string;
  /** True: over the VXLAN device via the host's VTEP address; false: natively via its underlay address. */
  encap: boolean;
  via: string;
}

export interface VxlanState {
  /** This host's device; null when no IPv4 pool encapsulates or this host has no VTEP yet. */
  device: (Vtep & { vni: number; port: number; mtu: number }) | null;
  /** Remote VTEPs some route goes through: one neighbour and one FDB entry each. */
  vteps: Vtep[];
  /** Sorted by destination. */
  routes: VxlanRoute[];
  /** Why something is left out (a remote host without a VTEP yet, a block of an unknown host). */
  problems: string[];
}

export interface VxlanInput {
  nodeName: string;
  /** Nodes and IPPools (anything else is ignored). */
  resources: readonly Resource[];
  blocks: readonly HostBlock[];
  settings: VxlanSettings;
}

interface NodeAddr { name: string; cidr?: string; address?: string; tunnelAddr?: string; mac?: string }

function nodeAddrs(resources: readonly Resource[]): Map<string, NodeAddr> {
  const out = new Map<string, NodeAddr>();
  for (const r of resources) {
    if (r.kind !== 'Node') continue;
    const cidr = r.spec.bgp?.ipv4Address;
    const n: NodeAddr = { name: r.metadata.name };
    if (cidr) { n.cidr = cidr; n.address = cidr.split('/')[0]!; }
    if (r.spec.ipv4VXLANTunnelAddr) n.tunnelAddr = r.spec.ipv4VXLANTunnelAddr;
    if (r.spec.vxlanTunnelMACAddr) n.mac = r.spec.vxlanTunnelMACAddr.toLowerCase();
    out.set(n.name, n);
  }
  return out;
}

/** IPv4 pools with their mode, most specific first (a block belongs to the longest pool that holds it). */
export function vxlanPools(resources: readonly Resource[]): Array<{ cidr: string; mode: VxlanMode }> {
  const pools: Array<{ cidr: string; mode: VxlanMode; len: number }> = [];
  for (const r of resources) {
    if (r.kind !== 'IPPool' || cidrFamily(r.spec.cidr) !== 4) continue;
    pools.push({ cidr: r.spec.cidr, mode: r.spec.vxlanMode ?? 'Never', len: parseCidr(r.spec.cidr).prefixLength });
  }
  return pools.sort((a, b) => b.len - a.len || (a.cidr < b.cidr ? -1 : 1)).map(({ cidr, mode }) => ({ cidr, mode }));
}

/** "a.b.c.d" -> its 32-bit value, null for anything else. ipaddr.js per block took tens of ms at a thousand hosts, on every apply. */
function v4(s: string): number | null {
  const p = s.split('.');
  if (p.length !== 4) return null;
  let n = 0;
  for (const o of p) {
    if (!/^\d{1,3}$/.test(o) || Number(o) > 255) return null;
    n = n * 256 + Number(o);
  }
  return n;
}

/** An IPv4 CIDR as a test of membership (null for IPv6 or junk). */
function v4Net(cidr: string): ((addr: number) => boolean) | null {
  const [a, l] = cidr.split('/');
  const base = v4(a ?? '');
  const len = Number(l ?? '32');
  if (base === null || !Number.isInteger(len) || len < 0 || len > 32) return null;
  const size = 2 ** (32 - len);
  const net = base - (base % size);
  return (addr) => addr - (addr % size) === net;
}

function vtepOf(n: NodeAddr | undefined): Vtep | null {
  return n?.address && n.tunnelAddr && n.mac ? { node: n.name, address: n.address, tunnelAddr: n.tunnelAddr, mac: n.mac } : null;
}

export function computeVxlanState(input: VxlanInput): VxlanState {
  const nodes = nodeAddrs(input.resources);
  const pools = vxlanPools(input.resources);
  const state: VxlanState = { device: null, vteps: [], routes: [], problems: [] };
  if (!pools.some((p) => p.mode !== 'Never')) return state;
  const self = nodes.get(input.nodeName);
  const own = vtepOf(self);
  if (!own) {
    state.problems.push(`${input.nodeName}: no VTEP yet (needs spec.bgp.ipv4Address, ipv4VXLANTunnelAddr and vxlanTunnelMACAddr on its Node)`);
    return state;
  }
  state.device = { ...own, vni: input.settings.vni, port: input.settings.port, mtu: input.settings.mtu };
  const vteps = new Map<string, Vtep>();
  const seen = new Set<string>();
  const poolNets = pools.map((p) => ({ ...p, has: v4Net(p.cidr) ?? (() => false) }));
  const ownSubnet = self!.cidr !== undefined ? v4Net(self!.cidr) : null;
  for (const b of input.blocks) {
    if (b.node === input.nodeName || seen.has(b.cidr)) continue;
    const base = v4(b.cidr.split('/')[0]!);
    if (base === null) continue;
    const pool = poolNets.find((p) => p.has(base));
    if (!pool || pool.mode === 'Never') continue;
    const remote = nodes.get(b.node);
    if (!remote?.address) {
      state.problems.push(`${b.cidr}: host ${b.node} has no Node with spec.bgp.ipv4Address`);
      continue;
    }
    const remoteAddr = v4(remote.address);
    const sameSubnet = pool.mode === 'CrossSubnet' && ownSubnet !== null && remoteAddr !== null && ownSubnet(remoteAddr);
    if (sameSubnet) {
      seen.add(b.cidr);
      state.routes.push({ dst: b.cidr, node: b.node, encap: false, via: remote.address });
      continue;
    }
    const v = vtepOf(remote);
    if (!v) {
      state.problems.push(`${b.cidr}: host ${b.node} has no VTEP yet`);
      continue;
    }
    seen.add(b.cidr);
    vteps.set(v.node, v);
    state.routes.push({ dst: b.cidr, node: b.node, encap: true, via: v.tunnelAddr });
  }
  state.routes.sort((a, b) => (a.dst < b.dst ? -1 : a.dst > b.dst ? 1 : 0));
  state.vteps = [...vteps.values()].sort((a, b) => (a.node < b.node ? -1 : 1));
  return state;
}
