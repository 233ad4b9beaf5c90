// Adj-RIB-In: what one peer sent us, before and after import policy, and the pure rules
// that turn a decoded UPDATE into withdrawals and announcements (RFC 4271 9, RFC 4760,
// RFC 7606). Nothing here holds a socket or a timer: the classifier is tested with golden
// UPDATE bytes, the speaker applies its verdict to the Loc-RIB.
import { type PathAttributes } from './attributes.js';
import { BgpError } from './errors.js';
import { type CodecContext } from './attributes.js';
import { type UpdateMessage, decodeMessage, endOfRibFamily } from './messages.js';
import { type AfiFamily, type ParsedPrefix, familyOfAfi, parsePrefix, prefixCovers, SAFI_UNICAST } from './prefix.js';
import type { RibRoute, RouteSource } from './rib.js';
import type { ImportPolicy } from './types.js';

/** Prefixes an UPDATE announces for one family, all with one next hop. */
export interface Announced { family: AfiFamily; prefixes: string[]; nextHop: string }

/** What one UPDATE means for the peer's Adj-RIB-In (RFC 7606 section 2's four outcomes). */
export type UpdateVerdict =
  | { kind: 'end-of-rib'; family: AfiFamily }
  | {
    kind: 'routes';
    /** Prefixes to remove: withdrawn ones, and under treat-as-withdraw every prefix the UPDATE carried. */
    withdrawn: string[];
    announced: Announced[];
    /** Set when RFC 7606 says withdraw instead of announce; the error says why (for logs). */
    treatAsWithdraw: BgpError | null;
    /** Attributes dropped under RFC 7606 "attribute discard". */
    discarded: string[];
    /** MP_(UN)REACH families not negotiated on the session: their NLRI are ignored. */
    ignoredFamilies: { afi: number; safi: number }[];
  }
  | { kind: 'session-reset'; error: BgpError };

/**
 * Classifies a decoded UPDATE for a session that negotiated `families`. Pure: the same
 * message and families always give the same verdict.
 */
export function classifyUpdate(u: UpdateMessage, families: readonly AfiFamily[]): UpdateVerdict {
  const eor = endOfRibFamily(u);
  if (eor !== null) return { kind: 'end-of-rib', family: eor };
  const withdrawn: string[] = [];
  const announced: Announced[] = [];
  const ignoredFamilies: { afi: number; safi: number }[] = [];
  if (families.includes(4)) {
    withdrawn.push(...u.withdrawn);
    if (u.nlri.length && u.attrs?.nextHop) announced.push({ family: 4, prefixes: u.nlri, nextHop: u.attrs.nextHop });
    else if (u.nlri.length) withdrawn.push(...u.nlri);
  }
  for (const mp of [u.mpReach, u.mpUnreach]) {
    if (!mp) continue;
    const f = familyOfAfi(mp.afi);
    if (f === null || mp.safi !== SAFI_UNICAST || !families.includes(f)) { ignoredFamilies.push({ afi: mp.afi, safi: mp.safi }); continue; }
    if ('withdrawn' in mp) withdrawn.push(...mp.withdrawn);
    else if (mp.nlri.length) announced.push({ family: f, prefixes: mp.nlri, nextHop: mp.nextHop });
  }
  const treatAsWithdraw = u.treatAsWithdraw;
  if (treatAsWithdraw || !u.attrs) {
    for (const a of announced) withdrawn.push(...a.prefixes);
    announced.length = 0;
  }
  return { kind: 'routes', withdrawn, announced, treatAsWithdraw, discarded: u.discarded, ignoredFamilies };
}

/**
 * Decodes one whole UPDATE message (header included) and classifies it: a decoding error
 * is the fourth outcome, session reset, with the NOTIFICATION it maps to.
 */
export function classifyUpdateBytes(msg: Buffer, ctx: CodecContext, families: readonly AfiFamily[]): UpdateVerdict {
  let m;
  try {
    m = decodeMessage(msg, ctx);
  } catch (e) {
    if (e instanceof BgpError) return { kind: 'session-reset', error: e };
    throw e;
  }
  if (m.type !== 'update') throw new Error(`classifyUpdateBytes: a ${m.type} message is not an UPDATE`);
  return classifyUpdate(m, families);
}

/** The peer and local facts the import checks need. */
export interface ImportContext {
  peerKey: string;
  peerAsn: number;
  localAsn: number;
  routerId: string;
  clusterId?: string;
  fromClient: boolean;
  peerRouterId: string;
  /** Whether an address is one of this speaker's own (a NEXT_HOP that would loop). */
  ownAddress(ip: string): boolean;
}

/**
 * The route source an announcement becomes after the loop and sanity checks, or a
 * sentence saying why its routes are not accepted.
 */
export function importSource(ctx: ImportContext, attrs: PathAttributes, nextHop: string): RouteSource | string {
  const ebgp = ctx.peerAsn !== ctx.localAsn;
  const a: PathAttributes = { ...attrs };
  if (ebgp) {
    // RFC 7606 7.5 / RFC 4456: these have no meaning from another AS.
    delete a.originatorId; delete a.clusterList;
    a.localPref = 100;
    const first = a.asPath[0];
    if (!first || first.type !== 2 || first.asns[0] !== ctx.peerAsn) return `AS_PATH does not start with the peer's AS ${ctx.peerAsn}`;
  }
  if (a.asPath.some((seg) => seg.asns.includes(ctx.localAsn))) return `AS_PATH contains our AS ${ctx.localAsn} (loop)`;
  if (a.originatorId === ctx.routerId) return 'ORIGINATOR_ID is our router id (reflection loop)';
  if (ctx.clusterId && a.clusterList?.includes(ctx.clusterId)) return 'CLUSTER_LIST contains our cluster id (reflection loop)';
  if (ctx.ownAddress(nextHop)) return `NEXT_HOP ${nextHop} is one of our addresses`;
  return {
    peer: ctx.peerKey, attrs: a, nextHop, ebgp, fromClient: ctx.fromClient,
    peerRouterId: ctx.peerRouterId, peerAddress: ctx.peerKey,
  };
}

/** Import policy: whether a received prefix may enter the Loc-RIB (RFC 8212 for eBGP, reject lists). */
export function importAllowed(prefix: string, ebgp: boolean, policy: ImportPolicy | undefined, reject: readonly ParsedPrefix[]): boolean {
  if (ebgp && (policy ?? 'Reject') !== 'Accept') return false;
  if (reject.length) {
    const pp = parsePrefix(prefix);
    for (const r of reject) {
      if (r.family !== pp.family || pp.length < r.length) continue;
      if (prefixCovers(r, pp)) return false;
    }
  }
  return true;
}

/**
 * One peer's received routes, rejected ones included (a filter change can take them back).
 * The route itself is the entry: no wrapper object per prefix of a full table.
 */
export class AdjRibIn {
  private readonly entries = new Map<string, RibRoute>();

  /** Stores a route; returns what the Loc-RIB should hold for this peer and prefix. */
  set(prefix: string, route: RibRoute, eligible: boolean): RibRoute | null {
    this.entries.set(prefix, route);
    return eligible ? route : null;
  }
  get(prefix: string): RibRoute | undefined { return this.entries.get(prefix); }
  prefixes(): IterableIterator<string> { return this.entries.keys(); }
  /** Removes a route; true when there was one (the Loc-RIB candidate must go too). */
  delete(prefix: string): boolean { return this.entries.delete(prefix); }
  get size(): number { return this.entries.size; }
  [Symbol.iterator](): IterableIterator<[string, RibRoute]> { return this.entries[Symbol.iterator](); }

  /** Prefixes to drop: all, only stale ones, and optionally of one family. */
  select(onlyStale: boolean, family?: AfiFamily): string[] {
    const out: string[] = [];
    for (const [prefix, r] of this.entries) {
      if (onlyStale && !r.stale) continue;
      if (family && r.family !== family) continue;
      out.push(prefix);
    }
    return out;
  }

  /** Graceful restart helper: every route becomes stale until re-announced. */
  markStale(): void { for (const r of this.entries.values()) r.stale = true; }
}
