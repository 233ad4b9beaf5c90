// Path attributes (RFC 4271 4.3 and 5, RFC 1997 communities, RFC 8092 large
// communities, RFC 4456 ORIGINATOR_ID/CLUSTER_LIST, RFC 6793 AS4_PATH/AS4_AGGREGATOR,
// RFC 4760 MP_REACH/MP_UNREACH) and their error handling per RFC 7606: an attribute that
// is malformed either withdraws the UPDATE's routes (treat-as-withdraw), is dropped
// (attribute discard), or, where the NLRI can no longer be located, resets the session.
import { BgpError, ErrorCode, UpdateSub } from './errors.js';
import {
  type AfiFamily, AFI_IPV4, AFI_IPV6, SAFI_UNICAST, addressBytes, decodeNlri, familyOfAfi, formatAddress,
} from './prefix.js';

export const AttrType = {
  Origin: 1, AsPath: 2, NextHop: 3, Med: 4, LocalPref: 5, AtomicAggregate: 6, Aggregator: 7,
  Communities: 8, OriginatorId: 9, ClusterList: 10, MpReach: 14, MpUnreach: 15, As4Path: 17,
  As4Aggregator: 18, LargeCommunities: 32,
} as const;

export const Flag = { Optional: 0x80, Transitive: 0x40, Partial: 0x20, ExtendedLength: 0x10 } as const;
export const AS_TRANS = 23456;
export const AsSegmentType = { Set: 1, Sequence: 2 } as const;
export type Origin = 0 | 1 | 2;

export interface AsPathSegment { type: 1 | 2; asns: number[] }
export interface RawAttribute { flags: number; type: number; value: Buffer }

export interface PathAttributes {
  origin: Origin;
  asPath: AsPathSegment[];
  /** The IPv4 NEXT_HOP attribute (IPv6 next hops travel in MP_REACH_NLRI). */
  nextHop?: string;
  med?: number;
  localPref?: number;
  atomicAggregate?: boolean;
  aggregator?: { asn: number; address: string };
  /** RFC 1997 communities as 32-bit values (asn << 16 | value). */
  communities?: number[];
  largeCommunities?: [number, number, number][];
  originatorId?: string;
  clusterList?: string[];
  /** Optional transitive attributes this speaker does not know: passed on with the Partial bit. */
  unknown?: RawAttribute[];
}

export interface MpReach { afi: number; safi: number; nextHop: string; linkLocalNextHop?: string; nlri: string[] }
export interface MpUnreach { afi: number; safi: number; withdrawn: string[] }

export interface DecodedAttributes {
  attrs: PathAttributes | null;
  mpReach: MpReach | null;
  mpUnreach: MpUnreach | null;
  /** Set when RFC 7606 says the UPDATE's routes are to be treated as withdrawn. */
  treatAsWithdraw: BgpError | null;
  /** Attributes dropped under RFC 7606 "attribute discard", with why. */
  discarded: string[];
}

export interface CodecContext {
  fourOctetAs: boolean;
  /** The peer is in another AS (changes how LOCAL_PREF is handled, RFC 7606 7.5). */
  ebgp?: boolean;
}

/** The (optional, transitive) flag bits each known attribute must carry. */
const EXPECTED_FLAGS: Record<number, number> = {
  [AttrType.Origin]: Flag.Transitive, [AttrType.AsPath]: Flag.Transitive, [AttrType.NextHop]: Flag.Transitive,
  [AttrType.Med]: Flag.Optional, [AttrType.LocalPref]: Flag.Transitive, [AttrType.AtomicAggregate]: Flag.Transitive,
  [AttrType.Aggregator]: Flag.Optional | Flag.Transitive, [AttrType.Communities]: Flag.Optional | Flag.Transitive,
  [AttrType.OriginatorId]: Flag.Optional, [AttrType.ClusterList]: Flag.Optional, [AttrType.MpReach]: Flag.Optional,
  [AttrType.MpUnreach]: Flag.Optional, [AttrType.As4Path]: Flag.Optional | Flag.Transitive,
  [AttrType.As4Aggregator]: Flag.Optional | Flag.Transitive, [AttrType.LargeCommunities]: Flag.Optional | Flag.Transitive,
};

/** RFC 7606 section 7: what a malformed instance of each attribute costs. */
const DISCARDABLE = new Set<number>([AttrType.AtomicAggregate, AttrType.Aggregator, AttrType.As4Aggregator, AttrType.As4Path]);
const SESSION_RESET = new Set<number>([AttrType.MpReach, AttrType.MpUnreach]);

function attrError(subcode: number, message: string, flags: number, type: number, value: Buffer): BgpError {
  const hdr = flags & Flag.ExtendedLength ? Buffer.from([flags, type, value.length >> 8, value.length & 0xff]) : Buffer.from([flags, type, value.length & 0xff]);
  return new BgpError(ErrorCode.UpdateMessage, subcode, message, Buffer.concat([hdr, value]));
}

function decodeAsPath(v: Buffer, asSize: 2 | 4, name: string): AsPathSegment[] {
  const segs: AsPathSegment[] = [];
  let off = 0;
  while (off < v.length) {
    if (off + 2 > v.length) throw new Error(`${name} segment header truncated`);
    const type = v[off]!;
    const count = v[off + 1]!;
    if (type !== AsSegmentType.Set && type !== AsSegmentType.Sequence) throw new Error(`${name} segment type ${type} is not AS_SET or AS_SEQUENCE`);
    if (count === 0) throw new Error(`${name} segment of length 0`);
    off += 2;
    if (off + count * asSize > v.length) throw new Error(`${name} segment overruns the attribute`);
    const asns: number[] = [];
    for (let i = 0; i < count; i++) {
      asns.push(asSize === 4 ? v.readUInt32BE(off) : v.readUInt16BE(off));
      off += asSize;
    }
    segs.push({ type: type as 1 | 2, asns });
  }
  return segs;
}

/** AS_PATH length for the decision process: a sequence counts each AS, a set counts one. */
export function asPathLength(path: AsPathSegment[]): number {
  let n = 0;
  for (const s of path) n += s.type === AsSegmentType.Sequence ? s.asns.length : 1;
  return n;
}

/** RFC 6793 4.2.3: rebuild the true path from AS_PATH (with AS_TRANS) and AS4_PATH. */
function mergeAs4Path(asPath: AsPathSegment[], as4: AsPathSegment[]): AsPathSegment[] {
  const n2 = asPathLength(asPath);
  const n4 = asPathLength(as4);
  if (n2 < n4) return asPath;
  let keep = n2 - n4;
  const lead: AsPathSegment[] = [];
  for (const s of asPath) {
    if (keep <= 0) break;
    if (s.type === AsSegmentType.Set) { lead.push(s); keep -= 1; continue; }
    const take = s.asns.slice(0, keep);
    lead.push({ type: 2, asns: take });
    keep -= take.length;
  }
  return [...lead, ...as4];
}

function readIpv4(v: Buffer, off: number): string { return `${v[off]}.${v[off + 1]}.${v[off + 2]}.${v[off + 3]}`; }

function decodeMpReach(v: Buffer): MpReach {
  const bad = (msg: string) => new BgpError(ErrorCode.UpdateMessage, UpdateSub.OptionalAttribute, `MP_REACH_NLRI: ${msg}`);
  if (v.length < 5) throw bad('shorter than its fixed fields');
  const afi = v.readUInt16BE(0);
  const safi = v[2]!;
  const nhLen = v[3]!;
  if (4 + nhLen + 1 > v.length) throw bad(`next hop length ${nhLen} overruns the attribute`);
  const nh = v.subarray(4, 4 + nhLen);
  const nlriStart = 4 + nhLen + 1; // one reserved octet
  const family = familyOfAfi(afi);
  if (family === null || safi !== SAFI_UNICAST) return { afi, safi, nextHop: '', nlri: [] };
  let nextHop: string;
  let linkLocalNextHop: string | undefined;
  if (family === 4) {
    if (nhLen !== 4) throw bad(`IPv4 next hop length ${nhLen} is not 4`);
    nextHop = readIpv4(nh, 0);
  } else {
    if (nhLen !== 16 && nhLen !== 32) throw bad(`IPv6 next hop length ${nhLen} is not 16 or 32`);
    nextHop = formatAddress(nh.subarray(0, 16));
    if (nhLen === 32) linkLocalNextHop = formatAddress(nh.subarray(16, 32));
  }
  const nlri = decodeNlri(v, nlriStart, v.length, family);
  return linkLocalNextHop ? { afi, safi, nextHop, linkLocalNextHop, nlri } : { afi, safi, nextHop, nlri };
}

function decodeMpUnreach(v: Buffer): MpUnreach {
  if (v.length < 3) throw new BgpError(ErrorCode.UpdateMessage, UpdateSub.OptionalAttribute, 'MP_UNREACH_NLRI: shorter than its fixed fields');
  const afi = v.readUInt16BE(0);
  const safi = v[2]!;
  const family = familyOfAfi(afi);
  if (family === null || safi !== SAFI_UNICAST) return { afi, safi, withdrawn: [] };
  return { afi, safi, withdrawn: decodeNlri(v, 3, v.length, family) };
}

/**
 * Decodes the path attribute field [start, end). Throws BgpError only where RFC 7606
 * leaves session reset; other problems come back as treatAsWithdraw / discarded.
 * hasIpv4Nlri says whether NEXT_HOP is mandatory.
 */
export function decodeAttributes(buf: Buffer, start: number, end: number, ctx: CodecContext, hasIpv4Nlri: boolean): DecodedAttributes {
  const out: DecodedAttributes = { attrs: null, mpReach: null, mpUnreach: null, treatAsWithdraw: null, discarded: [] };
  const a: Partial<PathAttributes> & { unknown?: RawAttribute[] } = {};
  const seen = new Set<number>();
  let as4Path: AsPathSegment[] | null = null;
  let as4Aggregator: { asn: number; address: string } | null = null;
  const withdraw = (e: BgpError) => { if (!out.treatAsWithdraw) out.treatAsWithdraw = e; };
  let off = start;
  while (off < end) {
    // RFC 7606 4: an attribute list whose last attribute cannot be whole (a header cut
    // short, or a length past the list's end) is treat-as-withdraw: Total Path Attribute
    // Length still locates the NLRI. Only an MP_(UN)REACH_NLRI cut short hides NLRI we
    // could not withdraw, and that resets the session (RFC 7606 5.3).
    const type = off + 1 < end ? buf[off + 1]! : -1;
    const cutShort = (subcode: number, message: string) => {
      if (SESSION_RESET.has(type)) throw new BgpError(ErrorCode.UpdateMessage, subcode, message);
      withdraw(new BgpError(ErrorCode.UpdateMessage, subcode, message));
    };
    const flags = buf[off]!;
    const ext = (flags & Flag.ExtendedLength) !== 0;
    if (off + (ext ? 4 : 3) > end) { cutShort(UpdateSub.MalformedAttributeList, `path attribute header truncated: ${end - off} octet(s) left in the attribute list`); break; }
    const len = ext ? buf.readUInt16BE(off + 2) : buf[off + 2]!;
    const vStart = off + (ext ? 4 : 3);
    if (vStart + len > end) { cutShort(UpdateSub.AttributeLength, `path attribute ${type} length ${len} overruns the attribute list`); break; }
    const v = buf.subarray(vStart, vStart + len);
    off = vStart + len;

    if (seen.has(type)) {
      if (SESSION_RESET.has(type)) throw new BgpError(ErrorCode.UpdateMessage, UpdateSub.MalformedAttributeList, `attribute ${type} appears twice`);
      out.discarded.push(`duplicate attribute ${type} ignored`);
      continue;
    }
    seen.add(type);

    // RFC 7606 7.5: LOCAL_PREF means nothing across an AS boundary: dropped whatever its form.
    if (type === AttrType.LocalPref && ctx.ebgp) { out.discarded.push('LOCAL_PREF from an external peer'); continue; }
    const expected = EXPECTED_FLAGS[type];
    if (expected === undefined) {
      if (!(flags & Flag.Optional)) throw attrError(UpdateSub.UnrecognizedWellKnown, `unrecognized well-known attribute ${type}`, flags, type, Buffer.from(v));
      if (flags & Flag.Transitive) (a.unknown ??= []).push({ flags, type, value: Buffer.from(v) });
      continue;
    }
    const fail = (subcode: number, message: string): void => {
      const e = attrError(subcode, message, flags, type, Buffer.from(v));
      if (SESSION_RESET.has(type)) throw e;
      if (DISCARDABLE.has(type)) out.discarded.push(message);
      else withdraw(e);
    };
    if ((flags & (Flag.Optional | Flag.Transitive)) !== expected) { fail(UpdateSub.AttributeFlags, `attribute ${type} has flags 0x${flags.toString(16)}`); continue; }

    switch (type) {
      case AttrType.Origin:
        if (len !== 1) { fail(UpdateSub.AttributeLength, `ORIGIN length ${len} is not 1`); break; }
        if (v[0]! > 2) { fail(UpdateSub.InvalidOrigin, `ORIGIN value ${v[0]} is not IGP, EGP or INCOMPLETE`); break; }
        a.origin = v[0] as Origin;
        break;
      case AttrType.AsPath:
        try { a.asPath = decodeAsPath(v, ctx.fourOctetAs ? 4 : 2, 'AS_PATH'); } catch (e) { fail(UpdateSub.MalformedAsPath, (e as Error).message); }
        break;
      case AttrType.NextHop:
        if (len !== 4) { fail(UpdateSub.AttributeLength, `NEXT_HOP length ${len} is not 4`); break; }
        a.nextHop = readIpv4(v, 0);
        break;
      case AttrType.Med:
        if (len !== 4) { fail(UpdateSub.AttributeLength, `MULTI_EXIT_DISC length ${len} is not 4`); break; }
        a.med = v.readUInt32BE(0);
        break;
      case AttrType.LocalPref:
        if (len !== 4) { fail(UpdateSub.AttributeLength, `LOCAL_PREF length ${len} is not 4`); break; }
        a.localPref = v.readUInt32BE(0);
        break;
      case AttrType.AtomicAggregate:
        if (len !== 0) { fail(UpdateSub.AttributeLength, `ATOMIC_AGGREGATE length ${len} is not 0`); break; }
        a.atomicAggregate = true;
        break;
      case AttrType.Aggregator: {
        const want = ctx.fourOctetAs ? 8 : 6;
        if (len !== want) { fail(UpdateSub.AttributeLength, `AGGREGATOR length ${len} is not ${want}`); break; }
        a.aggregator = ctx.fourOctetAs ? { asn: v.readUInt32BE(0), address: readIpv4(v, 4) } : { asn: v.readUInt16BE(0), address: readIpv4(v, 2) };
        break;
      }
      case AttrType.Communities: {
        if (len % 4 !== 0) { fail(UpdateSub.OptionalAttribute, `COMMUNITIES length ${len} is not a multiple of 4`); break; }
        const cs: number[] = [];
        for (let i = 0; i < len; i += 4) cs.push(v.readUInt32BE(i));
        a.communities = cs;
        break;
      }
      case AttrType.LargeCommunities: {
        if (len % 12 !== 0) { fail(UpdateSub.OptionalAttribute, `LARGE_COMMUNITY length ${len} is not a multiple of 12`); break; }
        const cs: [number, number, number][] = [];
        for (let i = 0; i < len; i += 12) cs.push([v.readUInt32BE(i), v.readUInt32BE(i + 4), v.readUInt32BE(i + 8)]);
        a.largeCommunities = cs;
        break;
      }
      case AttrType.OriginatorId:
        if (len !== 4) { fail(UpdateSub.AttributeLength, `ORIGINATOR_ID length ${len} is not 4`); break; }
        a.originatorId = readIpv4(v, 0);
        break;
      case AttrType.ClusterList: {
        if (len % 4 !== 0) { fail(UpdateSub.AttributeLength, `CLUSTER_LIST length ${len} is not a multiple of 4`); break; }
        const ids: string[] = [];
        for (let i = 0; i < len; i += 4) ids.push(readIpv4(v, i));
        a.clusterList = ids;
        break;
      }
      case AttrType.MpReach:
        out.mpReach = decodeMpReach(v);
        break;
      case AttrType.MpUnreach:
        out.mpUnreach = decodeMpUnreach(v);
        break;
      case AttrType.As4Path:
        if (ctx.fourOctetAs) { out.discarded.push('AS4_PATH received on a 4-octet AS session'); break; }
        try { as4Path = decodeAsPath(v, 4, 'AS4_PATH'); } catch (e) { out.discarded.push((e as Error).message); }
        break;
      case AttrType.As4Aggregator:
        if (ctx.fourOctetAs) { out.discarded.push('AS4_AGGREGATOR received on a 4-octet AS session'); break; }
        if (len !== 8) { fail(UpdateSub.AttributeLength, `AS4_AGGREGATOR length ${len} is not 8`); break; }
        as4Aggregator = { asn: v.readUInt32BE(0), address: readIpv4(v, 4) };
        break;
    }
  }

  // RFC 6793 4.2.3: a real AGGREGATOR AS means a 2-octet speaker aggregated: AS4_* are stale.
  if (a.aggregator && a.aggregator.asn !== AS_TRANS) { as4Path = null; as4Aggregator = null; }
  if (as4Aggregator) a.aggregator = as4Aggregator;
  if (as4Path && a.asPath) a.asPath = mergeAs4Path(a.asPath, as4Path);

  const hasReach = hasIpv4Nlri || (out.mpReach !== null && out.mpReach.nlri.length > 0);
  if (seen.size === 0 || (!hasReach && !seen.has(AttrType.Origin) && !seen.has(AttrType.AsPath))) {
    // Withdrawal-only UPDATE (or End-of-RIB): no attributes required.
    if (a.origin !== undefined || a.asPath) out.attrs = { origin: a.origin ?? 0, asPath: a.asPath ?? [], ...rest(a) };
    return out;
  }
  if (hasReach) {
    const missing: number[] = [];
    if (a.origin === undefined && !seen.has(AttrType.Origin)) missing.push(AttrType.Origin);
    if (!a.asPath && !seen.has(AttrType.AsPath)) missing.push(AttrType.AsPath);
    if (hasIpv4Nlri && a.nextHop === undefined && !seen.has(AttrType.NextHop)) missing.push(AttrType.NextHop);
    if (missing.length) withdraw(new BgpError(ErrorCode.UpdateMessage, UpdateSub.MissingWellKnown, `missing well-known attribute ${missing[0]}`, Buffer.from([missing[0]!])));
    if (a.nextHop !== undefined && !validUnicastNextHop(a.nextHop)) {
      withdraw(new BgpError(ErrorCode.UpdateMessage, UpdateSub.InvalidNextHop, `NEXT_HOP ${a.nextHop} is not a unicast address`));
    }
  }
  out.attrs = { origin: a.origin ?? 0, asPath: a.asPath ?? [], ...rest(a) };
  return out;
}

function rest(a: Partial<PathAttributes>): Omit<PathAttributes, 'origin' | 'asPath'> {
  const r: Omit<PathAttributes, 'origin' | 'asPath'> = {};
  if (a.nextHop !== undefined) r.nextHop = a.nextHop;
  if (a.med !== undefined) r.med = a.med;
  if (a.localPref !== undefined) r.localPref = a.localPref;
  if (a.atomicAggregate) r.atomicAggregate = true;
  if (a.aggregator) r.aggregator = a.aggregator;
  if (a.communities) r.communities = a.communities;
  if (a.largeCommunities) r.largeCommunities = a.largeCommunities;
  if (a.originatorId !== undefined) r.originatorId = a.originatorId;
  if (a.clusterList) r.clusterList = a.clusterList;
  if (a.unknown) r.unknown = a.unknown;
  return r;
}

/** RFC 4271 6.3: 0.0.0.0, broadcast, class D/E and loopback are never next hops. */
export function validUnicastNextHop(ip: string): boolean {
  const first = Number(ip.split('.')[0]);
  return ip !== '0.0.0.0' && first !== 0 && first < 224;
}

// ---- encoding ----------------------------------------------------------------

function attr(flags: number, type: number, value: Buffer): Buffer {
  if (value.length > 255) {
    const h = Buffer.from([flags | Flag.ExtendedLength, type, value.length >> 8, value.length & 0xff]);
    return Buffer.concat([h, value]);
  }
  return Buffer.concat([Buffer.from([flags & ~Flag.ExtendedLength, type, value.length]), value]);
}

function encodeAsPath(path: AsPathSegment[], asSize: 2 | 4): Buffer {
  const parts: Buffer[] = [];
  for (const s of path) {
    // A segment holds at most 255 ASes: longer sequences split.
    for (let i = 0; i < s.asns.length; i += 255) {
      const chunk = s.asns.slice(i, i + 255);
      const b = Buffer.alloc(2 + chunk.length * asSize);
      b[0] = s.type;
      b[1] = chunk.length;
      chunk.forEach((asn, j) => {
        if (asSize === 4) b.writeUInt32BE(asn, 2 + j * 4);
        else b.writeUInt16BE(asn > 0xffff ? AS_TRANS : asn, 2 + j * 2);
      });
      parts.push(b);
    }
  }
  return Buffer.concat(parts);
}

function u32(n: number): Buffer { const b = Buffer.alloc(4); b.writeUInt32BE(n >>> 0); return b; }

/** Encodes attributes (type order), with an already-encoded MP_REACH/MP_UNREACH value if given. */
export function encodeAttributes(a: PathAttributes, ctx: CodecContext, mp?: { type: 14 | 15; value: Buffer }): Buffer {
  const out: Buffer[] = [];
  out.push(attr(Flag.Transitive, AttrType.Origin, Buffer.from([a.origin])));
  out.push(attr(Flag.Transitive, AttrType.AsPath, encodeAsPath(a.asPath, ctx.fourOctetAs ? 4 : 2)));
  if (a.nextHop !== undefined) out.push(attr(Flag.Transitive, AttrType.NextHop, addressBytes(a.nextHop)));
  if (a.med !== undefined) out.push(attr(Flag.Optional, AttrType.Med, u32(a.med)));
  if (a.localPref !== undefined) out.push(attr(Flag.Transitive, AttrType.LocalPref, u32(a.localPref)));
  if (a.atomicAggregate) out.push(attr(Flag.Transitive, AttrType.AtomicAggregate, Buffer.alloc(0)));
  let needAs4Aggregator = false;
  if (a.aggregator) {
    const asn = a.aggregator.asn;
    const v = ctx.fourOctetAs ? Buffer.concat([u32(asn), addressBytes(a.aggregator.address)]) : Buffer.alloc(6);
    if (!ctx.fourOctetAs) {
      v.writeUInt16BE(asn > 0xffff ? AS_TRANS : asn, 0);
      addressBytes(a.aggregator.address).copy(v, 2);
      needAs4Aggregator = asn > 0xffff;
    }
    out.push(attr(Flag.Optional | Flag.Transitive, AttrType.Aggregator, v));
  }
  if (a.communities?.length) out.push(attr(Flag.Optional | Flag.Transitive, AttrType.Communities, Buffer.concat(a.communities.map(u32))));
  if (a.originatorId !== undefined) out.push(attr(Flag.Optional, AttrType.OriginatorId, addressBytes(a.originatorId)));
  if (a.clusterList?.length) out.push(attr(Flag.Optional, AttrType.ClusterList, Buffer.concat(a.clusterList.map(addressBytes))));
  if (mp) out.push(attr(Flag.Optional, mp.type, mp.value));
  if (!ctx.fourOctetAs && a.asPath.some((s) => s.asns.some((n) => n > 0xffff))) {
    out.push(attr(Flag.Optional | Flag.Transitive, AttrType.As4Path, encodeAsPath(a.asPath, 4)));
  }
  if (needAs4Aggregator && a.aggregator) {
    out.push(attr(Flag.Optional | Flag.Transitive, AttrType.As4Aggregator, Buffer.concat([u32(a.aggregator.asn), addressBytes(a.aggregator.address)])));
  }
  if (a.largeCommunities?.length) {
    out.push(attr(Flag.Optional | Flag.Transitive, AttrType.LargeCommunities, Buffer.concat(a.largeCommunities.flatMap((c) => c.map(u32)))));
  }
  for (const u of a.unknown ?? []) out.push(attr(u.flags | Flag.Partial, u.type, u.value));
  return Buffer.concat(out);
}

/** The fixed part of an MP_REACH_NLRI value (AFI, SAFI, next hop, reserved); NLRI follow. */
export function mpReachHeader(family: AfiFamily, nextHop: string, linkLocal?: string): Buffer {
  const nh = linkLocal ? Buffer.concat([addressBytes(nextHop), addressBytes(linkLocal)]) : addressBytes(nextHop);
  const b = Buffer.alloc(5 + nh.length);
  b.writeUInt16BE(family === 4 ? AFI_IPV4 : AFI_IPV6, 0);
  b[2] = SAFI_UNICAST;
  b[3] = nh.length;
  nh.copy(b, 4);
  b[4 + nh.length] = 0;
  return b;
}

export function mpUnreachHeader(family: AfiFamily): Buffer {
  const b = Buffer.alloc(3);
  b.writeUInt16BE(family === 4 ? AFI_IPV4 : AFI_IPV6, 0);
  b[2] = SAFI_UNICAST;
  return b;
}

/** A stable text key for a set of attributes: routes sharing it can share an UPDATE. */
export function attributesKey(a: PathAttributes): string {
  return JSON.stringify(a, (_k, v: unknown) => (Buffer.isBuffer(v) ? v.toString('hex') : v));
}
