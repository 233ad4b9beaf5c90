// Routes, the decision process (RFC 4271 9.1.2 with RFC 4456 tie-breaks) and the export
// rules that turn a Loc-RIB best path into what one peer is sent (RFC 4271 5.1, RFC 4456
// route reflection, RFC 8212 eBGP policy). Pure functions over plain data.
import { ipNumber as ipNum } from '../model/index.js';
import { type PathAttributes, asPathLength } from './attributes.js';
import type { AfiFamily } from './prefix.js';
import type { ExportPolicy } from './types.js';

export const LOCAL = 'local';

/** What routes learned in one UPDATE (or announced together) share. */
export interface RouteSource {
  /** Peer key (address) or LOCAL. */
  peer: string;
  attrs: PathAttributes;
  nextHop: string;
  ebgp: boolean;
  /** Learned from one of our route reflector clients. */
  fromClient: boolean;
  peerRouterId: string;
  peerAddress: string;
  /** A local route's interface (for filter rules on `interface`). */
  interface?: string;
}

export interface RibRoute {
  prefix: string;
  family: AfiFamily;
  src: RouteSource;
  /** Kept from a restarting peer until it re-announces or its End-of-RIB (RFC 4724). */
  stale: boolean;
}

function neighborAs(a: PathAttributes): number | null {
  const first = a.asPath[0];
  return first && first.type === 2 ? first.asns[0] ?? null : null;
}

/**
 * Negative when a is the better path. Locally originated routes always win: a prefix the
 * agent announces is never replaced by a learned one.
 */
export function compareRoutes(a: RibRoute, b: RibRoute): number {
  const sa = a.src; const sb = b.src;
  if ((sa.peer === LOCAL) !== (sb.peer === LOCAL)) return sa.peer === LOCAL ? -1 : 1;
  const lpa = sa.attrs.localPref ?? 100; const lpb = sb.attrs.localPref ?? 100;
  if (lpa !== lpb) return lpb - lpa;
  const la = asPathLength(sa.attrs.asPath); const lb = asPathLength(sb.attrs.asPath);
  if (la !== lb) return la - lb;
  if (sa.attrs.origin !== sb.attrs.origin) return sa.attrs.origin - sb.attrs.origin;
  // MED compares only between paths from the same neighbouring AS.
  if (neighborAs(sa.attrs) === neighborAs(sb.attrs)) {
    const ma = sa.attrs.med ?? 0; const mb = sb.attrs.med ?? 0;
    if (ma !== mb) return ma - mb;
  }
  if (sa.ebgp !== sb.ebgp) return sa.ebgp ? -1 : 1;
  // A fresh path beats a stale one held for a restarting peer.
  if (a.stale !== b.stale) return a.stale ? 1 : -1;
  const ida = ipNum(sa.attrs.originatorId ?? sa.peerRouterId); const idb = ipNum(sb.attrs.originatorId ?? sb.peerRouterId);
  if (ida !== idb) return ida < idb ? -1 : 1;
  const cla = sa.attrs.clusterList?.length ?? 0; const clb = sb.attrs.clusterList?.length ?? 0;
  if (cla !== clb) return cla - clb;
  const pa = ipNum(sa.peerAddress); const pb = ipNum(sb.peerAddress);
  return pa === pb ? 0 : pa < pb ? -1 : 1;
}

export function selectBest(candidates: Iterable<RibRoute>): RibRoute | null {
  let best: RibRoute | null = null;
  for (const r of candidates) if (!best || compareRoutes(r, best) < 0) best = r;
  return best;
}

/** The receiving side of an export: one peer as the export rules see it. */
export interface ExportTarget {
  key: string;
  ebgp: boolean;
  rrClient: boolean;
  exportPolicy: ExportPolicy;
  keepOriginalNextHop: boolean;
  /** NEXT_HOP self per family; a family without one cannot be sent. */
  selfIpv4?: string;
  selfIpv6?: string;
}

export interface ExportContext { localAsn: number; clusterId?: string }

export interface Exported { attrs: PathAttributes; nextHop: string }

/** What peer t is sent for route r, or null when r is not advertised to t. */
export function exportRoute(r: RibRoute, t: ExportTarget, ctx: ExportContext): Exported | null {
  const s = r.src;
  if (s.peer === t.key) return null;
  const local = s.peer === LOCAL;
  let reflected = false;
  if (t.ebgp) {
    if (t.exportPolicy === 'Reject') return null;
    if (t.exportPolicy === 'LocalBlocks' && !local) return null;
  } else if (!local && !s.ebgp) {
    // iBGP-learned to an iBGP peer only when reflecting: client routes to everyone, others to clients.
    if (!ctx.clusterId || (!s.fromClient && !t.rrClient)) return null;
    reflected = true;
  }
  const self = r.family === 4 ? t.selfIpv4 : t.selfIpv6;
  const a = s.attrs;
  if (t.ebgp) {
    const nextHop = !local && t.keepOriginalNextHop ? s.nextHop : self;
    if (!nextHop) return null;
    const first = a.asPath[0];
    const asPath = first && first.type === 2 && first.asns.length < 255
      ? [{ type: 2 as const, asns: [ctx.localAsn, ...first.asns] }, ...a.asPath.slice(1)]
      : [{ type: 2 as const, asns: [ctx.localAsn] }, ...a.asPath];
    const out: PathAttributes = { origin: a.origin, asPath };
    if (local && a.med !== undefined) out.med = a.med;
    if (a.atomicAggregate) out.atomicAggregate = true;
    if (a.aggregator) out.aggregator = a.aggregator;
    if (a.communities) out.communities = a.communities;
    if (a.largeCommunities) out.largeCommunities = a.largeCommunities;
    if (a.unknown) out.unknown = a.unknown;
    return { attrs: out, nextHop };
  }
  const nextHop = local ? self : s.nextHop;
  if (!nextHop) return null;
  const { originatorId: _o, clusterList: _c, ...rest } = a;
  const out: PathAttributes = { ...rest, localPref: a.localPref ?? 100 };
  if (reflected) {
    out.originatorId = a.originatorId ?? s.peerRouterId;
    out.clusterList = [ctx.clusterId!, ...(a.clusterList ?? [])];
  }
  return { attrs: out, nextHop };
}
