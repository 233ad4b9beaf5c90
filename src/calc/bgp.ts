// Desired BGP configuration for one node, from BGPConfiguration, Node and BGPPeer
// resources: what the agent hands to the speaker's configure(). Pure. The shape matches
// the speaker's SpeakerConfig structurally (calc may not import bgp).
import {
  type BGPConfiguration, type BGPFilter, type BGPFilterRule, type BGPPeer, type Node, type Resource, parseCidr, parseSelector, cidrContains,
} from '../model/index.js';

export const DEFAULT_AS = 64512;
export const DEFAULT_BGP_PORT = 179;

/** One BGPFilter rule as the speaker takes it (its RouteFilterRule). */
export interface DesiredFilterRule {
  cidr?: string;
  matchOperator?: 'Equal' | 'NotEqual' | 'In' | 'NotIn';
  prefixLength?: { min?: number; max?: number };
  source?: 'RemotePeers';
  interface?: string;
  peerType?: 'eBGP' | 'iBGP';
  community?: string;
  asPathPrefix?: number[];
  action: 'Accept' | 'Reject';
}

/** A BGPFilter as the speaker takes it (its RouteFilter). */
export interface DesiredFilter {
  name: string;
  importV4?: DesiredFilterRule[];
  importV6?: DesiredFilterRule[];
  exportV4?: DesiredFilterRule[];
  exportV6?: DesiredFilterRule[];
}

export interface DesiredBgpPeer {
  address: string;
  port?: number;
  asn: number;
  name: string;
  localAddress?: string;
  families: (4 | 6)[];
  holdTimeSec?: number;
  keepaliveSec?: number;
  /** TCP-MD5 key given inline in the BGPPeer. */
  password?: string;
  /** TCP-MD5 key held in a secret (BGPPeer password.secretKeyRef, as in Calico): the agent reads it. */
  passwordSecret?: { name: string; key: string };
  routeReflectorClient?: boolean;
  importPolicy?: 'Accept' | 'Reject';
  exportPolicy?: 'Reject' | 'LocalBlocks' | 'All';
  keepOriginalNextHop?: boolean;
  maxRestartTimeSec?: number;
  /** The BGPPeer's filters that exist, in its order. */
  filters?: DesiredFilter[];
}

export interface DesiredBgp {
  /** False when this node has no Node resource with a BGP address: run no speaker. */
  enabled: boolean;
  localAsn: number;
  routerId: string;
  listenPort: number;
  clusterId?: string;
  localAddresses: { ipv4?: string; ipv6?: string };
  peers: DesiredBgpPeer[];
  /** prefixAdvertisements with community names resolved: local prefixes inside cidr carry these. */
  prefixCommunities: { cidr: string; communities: string[] }[];
  /** Problems in the resources that left something out (named, for logs and status). */
  problems: string[];
}

/** AS numbers as plain (64512) or asdot ("1.10" = 1*65536+10). */
export function parseAsNumber(v: number | string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'number') return v;
  const [hi, lo] = v.split('.');
  return lo === undefined ? Number(hi) : Number(hi) * 65536 + Number(lo);
}

export function parseDurationSec(d: string | undefined): number | undefined {
  if (!d) return undefined;
  const m = /^(\d+)(ms|s|m|h)$/.exec(d);
  if (!m) return undefined;
  const n = Number(m[1]);
  return m[2] === 'ms' ? Math.max(1, Math.round(n / 1000)) : m[2] === 's' ? n : m[2] === 'm' ? n * 60 : n * 3600;
}

/** "10.0.0.1", "10.0.0.1:1790", "[fd00::1]:1790", "fd00::1" -> address and optional port. */
export function parsePeerIp(s: string): { address: string; port?: number } | null {
  const br = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (br) return br[2] ? { address: br[1]!, port: Number(br[2]) } : { address: br[1]! };
  const v4 = /^(\d+\.\d+\.\d+\.\d+)(?::(\d+))?$/.exec(s);
  if (v4) return v4[2] ? { address: v4[1]!, port: Number(v4[2]) } : { address: v4[1]! };
  try { parseCidr(s); } catch { return null; }
  return s.includes('/') ? null : { address: s };
}

function nodeAddrs(n: Node): { ipv4?: string; ipv6?: string } {
  const out: { ipv4?: string; ipv6?: string } = {};
  if (n.spec?.bgp?.ipv4Address) out.ipv4 = n.spec.bgp.ipv4Address.split('/')[0]!;
  if (n.spec?.bgp?.ipv6Address) out.ipv6 = n.spec.bgp.ipv6Address.split('/')[0]!;
  return out;
}

/** A router id from the node name when the node has no IPv4 address (IPv6-only nodes). */
function routerIdFromName(name: string): string {
  let h = 2166136261;
  for (const c of name) h = Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0;
  return [(h >>> 24) | 1, (h >>> 16) & 255, (h >>> 8) & 255, h & 255].join('.');
}

function filterRule(r: BGPFilterRule): DesiredFilterRule {
  const out: DesiredFilterRule = { action: r.action };
  if (r.cidr !== undefined && r.cidr !== '') out.cidr = r.cidr;
  if (r.matchOperator !== undefined) out.matchOperator = r.matchOperator;
  if (r.prefixLength !== undefined) out.prefixLength = r.prefixLength;
  if (r.source !== undefined) out.source = r.source;
  if (r.interface !== undefined) out.interface = r.interface;
  if (r.peerType !== undefined) out.peerType = r.peerType;
  if (r.communities !== undefined) out.community = r.communities.values[0]!;
  if (r.asPathPrefix !== undefined && r.asPathPrefix.length > 0) out.asPathPrefix = r.asPathPrefix.map((a) => parseAsNumber(a)!);
  return out;
}

/** A BGPFilter resource as the speaker takes it. */
export function desiredFilter(f: BGPFilter): DesiredFilter {
  const out: DesiredFilter = { name: f.metadata.name };
  for (const k of ['importV4', 'importV6', 'exportV4', 'exportV6'] as const) {
    const rules = f.spec[k];
    if (rules && rules.length > 0) out[k] = rules.map(filterRule);
  }
  return out;
}

function selects(expr: string | undefined, labels: Record<string, string> | undefined): boolean {
  if (expr === undefined) return false;
  return parseSelector(expr).matches(labels ?? {});
}

export function desiredBgp(input: { nodeName: string; resources: Resource[] }): DesiredBgp {
  const nodes = input.resources.filter((r): r is Node => r.kind === 'Node');
  const peersRes = input.resources.filter((r): r is BGPPeer => r.kind === 'BGPPeer').sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  const configs = input.resources.filter((r): r is BGPConfiguration => r.kind === 'BGPConfiguration');
  const filters = new Map(input.resources.filter((r): r is BGPFilter => r.kind === 'BGPFilter').map((f) => [f.metadata.name, f]));
  const cfg = (configs.find((c) => c.metadata.name === 'default') ?? configs.sort((a, b) => a.metadata.name.localeCompare(b.metadata.name))[0])?.spec ?? {};
  const problems: string[] = [];
  const me = nodes.find((n) => n.metadata.name === input.nodeName);
  const globalAsn = parseAsNumber(cfg.asNumber) ?? DEFAULT_AS;
  const asnOf = (n: Node) => parseAsNumber(n.spec?.bgp?.asNumber) ?? globalAsn;
  const listenPort = cfg.listenPort ?? DEFAULT_BGP_PORT;
  const mine = me ? nodeAddrs(me) : {};
  const localAsn = me ? asnOf(me) : globalAsn;
  const clusterId = me?.spec?.bgp?.routeReflectorClusterID;
  const names = new Map((cfg.communities ?? []).map((c) => [c.name, c.value]));
  const prefixCommunities = (cfg.prefixAdvertisements ?? []).map((p) => ({
    cidr: p.cidr,
    communities: p.communities.flatMap((c) => {
      if (/^\d+:\d+(:\d+)?$/.test(c)) return [c];
      const v = names.get(c);
      if (v === undefined) { problems.push(`BGPConfiguration prefixAdvertisements ${p.cidr}: community "${c}" is neither a value nor a name in communities`); return []; }
      return [v];
    }),
  }));
  const base: DesiredBgp = {
    enabled: false, localAsn, routerId: mine.ipv4 ?? routerIdFromName(input.nodeName), listenPort,
    localAddresses: mine, peers: [], prefixCommunities, problems,
  };
  if (clusterId) base.clusterId = clusterId;
  if (!me || (!mine.ipv4 && !mine.ipv6)) {
    if (!me) problems.push(`no Node resource named "${input.nodeName}": BGP disabled`);
    else problems.push(`Node ${input.nodeName} has no spec.bgp.ipv4Address or ipv6Address: BGP disabled`);
    return base;
  }
  base.enabled = true;
  const ebgpImport = cfg.ebgpImportPolicy;
  const ebgpExport = cfg.ebgpExportPolicy;
  const peers = new Map<string, DesiredBgpPeer>();
  const add = (p: DesiredBgpPeer, override: boolean) => {
    if (p.address === mine.ipv4 || p.address === mine.ipv6) return;
    if (!override && peers.has(p.address)) return;
    peers.set(p.address, p);
  };

  const nodePeers = (n: Node, name: string, extra: Partial<DesiredBgpPeer>): DesiredBgpPeer[] => {
    if (n.metadata.name === input.nodeName) return [];
    const theirs = nodeAddrs(n);
    const asn = asnOf(n);
    const out: DesiredBgpPeer[] = [];
    for (const f of [4, 6] as const) {
      const addr = f === 4 ? theirs.ipv4 : theirs.ipv6;
      const local = f === 4 ? mine.ipv4 : mine.ipv6;
      if (!addr || !local) continue;
      const p: DesiredBgpPeer = { address: addr, asn, name, localAddress: local, families: [f], ...extra };
      if (listenPort !== DEFAULT_BGP_PORT) p.port = listenPort;
      // Node-to-node eBGP (nodes with their own AS) stays inside the cluster: each side sends its local blocks.
      if (asn !== localAsn) { p.importPolicy ??= 'Accept'; p.exportPolicy ??= 'LocalBlocks'; }
      // A reflector treats nodes outside its cluster as its clients.
      if (clusterId && n.spec?.bgp?.routeReflectorClusterID !== clusterId) p.routeReflectorClient = true;
      out.push(p);
    }
    return out;
  };

  if (cfg.nodeToNodeMeshEnabled ?? true) {
    for (const n of nodes) for (const p of nodePeers(n, `Node ${n.metadata.name}`, {})) add(p, false);
  }

  for (const r of peersRes) {
    const s = r.spec;
    const appliesHere = s.node !== undefined ? s.node === input.nodeName : s.nodeSelector !== undefined ? safeSelects(s.nodeSelector, me.metadata.labels, r, problems) : true;
    const common: Partial<DesiredBgpPeer> = {};
    const hold = parseDurationSec(s.holdTime); if (hold !== undefined) common.holdTimeSec = hold;
    const ka = parseDurationSec(s.keepaliveTime); if (ka !== undefined) common.keepaliveSec = ka;
    const mrt = parseDurationSec(s.maxRestartTime); if (mrt !== undefined) common.maxRestartTimeSec = mrt;
    if (s.keepOriginalNextHop) common.keepOriginalNextHop = true;
    if (s.filters && s.filters.length > 0) {
      // As in Calico, a name with no BGPFilter behind it is skipped; here it is also said.
      const found: DesiredFilter[] = [];
      for (const name of s.filters) {
        const f = filters.get(name);
        if (f) found.push(desiredFilter(f));
        else problems.push(`BGPPeer ${r.metadata.name}: filter "${name}" names no BGPFilter: it is left out until one exists`);
      }
      if (found.length > 0) common.filters = found;
    }
    // A secret reference is resolved by the agent (I/O); never used as the key text itself.
    if (typeof s.password === 'string') common.password = s.password;
    else if (s.password !== undefined) common.passwordSecret = { name: s.password.secretKeyRef.name, key: s.password.secretKeyRef.key };
    if (s.peerSelector !== undefined) {
      // Node-to-node peerings by selector are reciprocal: selected nodes peer back.
      for (const n of nodes) {
        if (n.metadata.name === input.nodeName) continue;
        const forward = appliesHere && safeSelects(s.peerSelector, n.metadata.labels, r, problems);
        const reverse = safeSelects(s.peerSelector, me.metadata.labels, r, problems) &&
          (s.node !== undefined ? s.node === n.metadata.name : s.nodeSelector !== undefined ? safeSelects(s.nodeSelector, n.metadata.labels, r, problems) : true);
        if (!forward && !reverse) continue;
        for (const p of nodePeers(n, `BGPPeer ${r.metadata.name} (Node ${n.metadata.name})`, { ...common })) add(p, true);
      }
      continue;
    }
    if (!appliesHere) continue;
    if (!s.peerIP) { problems.push(`BGPPeer ${r.metadata.name}: needs peerIP or peerSelector`); continue; }
    const ip = parsePeerIp(s.peerIP);
    if (!ip) { problems.push(`BGPPeer ${r.metadata.name}: peerIP "${s.peerIP}" is not an address or address:port`); continue; }
    const family: 4 | 6 = ip.address.includes(':') ? 6 : 4;
    const local = family === 4 ? mine.ipv4 : mine.ipv6;
    const asn = parseAsNumber(s.asNumber) ?? globalAsn;
    const p: DesiredBgpPeer = { address: ip.address, asn, name: `BGPPeer ${r.metadata.name}`, families: [family], ...common };
    if (ip.port !== undefined) p.port = ip.port;
    if (local && s.sourceAddress !== 'None') p.localAddress = local;
    if (asn !== localAsn) {
      p.importPolicy = s.importPolicy ?? ebgpImport ?? 'Reject';
      p.exportPolicy = s.exportPolicy ?? ebgpExport ?? 'Reject';
    }
    if (clusterId && asn === localAsn) p.routeReflectorClient = true;
    add(p, true);
  }
  base.peers = [...peers.values()].sort((a, b) => a.address.localeCompare(b.address));
  return base;
}

function safeSelects(expr: string, labels: Record<string, string> | undefined, r: BGPPeer, problems: string[]): boolean {
  try { return selects(expr, labels); } catch (e) { problems.push(`BGPPeer ${r.metadata.name}: selector "${expr}": ${(e as Error).message}`); return false; }
}

/** Communities a local prefix is announced with: from every prefixAdvertisement containing it. */
export function communitiesFor(prefix: string, d: Pick<DesiredBgp, 'prefixCommunities'>): string[] {
  const [addr, lenText] = prefix.split('/');
  const len = Number(lenText);
  const out = new Set<string>();
  for (const pc of d.prefixCommunities) {
    let c;
    try { c = parseCidr(pc.cidr); } catch { continue; }
    if (c.prefixLength <= len && cidrContains(pc.cidr, addr!)) for (const v of pc.communities) out.add(v);
  }
  return [...out].sort();
}
