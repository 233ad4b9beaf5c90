// Packs many prefixes into as few UPDATEs as fit in 4096 octets: one attribute set per
// message, IPv4 NLRI in the classic fields, IPv6 inside MP_REACH/MP_UNREACH_NLRI.
import { type CodecContext, type PathAttributes, AttrType, Flag, encodeAttributes, mpReachHeader, mpUnreachHeader } from './attributes.js';
import { HEADER_LEN, MAX_MESSAGE_LEN, encodeUpdateRaw } from './messages.js';
import { type AfiFamily, type ParsedPrefix, parsePrefix, writePrefix } from './prefix.js';

const ROOM = MAX_MESSAGE_LEN - HEADER_LEN - 4;

function chunks(prefixes: ParsedPrefix[], room: number): ParsedPrefix[][] {
  const out: ParsedPrefix[][] = [];
  let cur: ParsedPrefix[] = [];
  let used = 0;
  for (const p of prefixes) {
    const size = 1 + p.bytes.length;
    if (used + size > room && cur.length) { out.push(cur); cur = []; used = 0; }
    cur.push(p);
    used += size;
  }
  if (cur.length) out.push(cur);
  return out;
}

function nlriBytes(ps: ParsedPrefix[]): Buffer {
  const b = Buffer.alloc(ps.reduce((n, p) => n + 1 + p.bytes.length, 0));
  let off = 0;
  for (const p of ps) off = writePrefix(b, off, p);
  return b;
}

/**
 * UPDATEs announcing prefixes (all of one family) with attrs. For IPv4 attrs.nextHop is
 * the NEXT_HOP; for IPv6 nextHop6 goes into MP_REACH_NLRI and attrs.nextHop is ignored.
 */
export function packAnnouncements(family: AfiFamily, attrs: PathAttributes, prefixes: string[], ctx: CodecContext, nextHop6?: string): Buffer[] {
  const parsed = prefixes.map(parsePrefix);
  if (family === 4) {
    const a = encodeAttributes(attrs, ctx);
    return chunks(parsed, ROOM - a.length).map((c) => encodeUpdateRaw(Buffer.alloc(0), a, nlriBytes(c)));
  }
  if (!nextHop6) throw new Error('an IPv6 announcement needs an IPv6 next hop');
  const { nextHop: _ignored, ...rest } = attrs;
  const base = encodeAttributes(rest, ctx);
  const mpHead = mpReachHeader(6, nextHop6);
  const room = ROOM - base.length - 4 - mpHead.length;
  return chunks(parsed, room).map((c) => {
    const value = Buffer.concat([mpHead, nlriBytes(c)]);
    const mp = Buffer.concat([Buffer.from([Flag.Optional | Flag.ExtendedLength, AttrType.MpReach, value.length >> 8, value.length & 0xff]), value]);
    // MP_REACH_NLRI placed after the rest: order of attributes is free on the wire.
    return encodeUpdateRaw(Buffer.alloc(0), Buffer.concat([base, mp]), Buffer.alloc(0));
  });
}

export function packWithdrawals(family: AfiFamily, prefixes: string[]): Buffer[] {
  const parsed = prefixes.map(parsePrefix);
  if (family === 4) return chunks(parsed, ROOM).map((c) => encodeUpdateRaw(nlriBytes(c), Buffer.alloc(0), Buffer.alloc(0)));
  const head = mpUnreachHeader(6);
  return chunks(parsed, ROOM - 4 - head.length).map((c) => {
    const value = Buffer.concat([head, nlriBytes(c)]);
    const attr = Buffer.concat([Buffer.from([Flag.Optional | Flag.ExtendedLength, AttrType.MpUnreach, value.length >> 8, value.length & 0xff]), value]);
    return encodeUpdateRaw(Buffer.alloc(0), attr, Buffer.alloc(0));
  });
}
