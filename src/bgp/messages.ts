// BGP messages on the wire: the 19-octet header (RFC 4271 4.1), OPEN with capabilities
// (RFC 5492; multiprotocol RFC 4760, route refresh RFC 2918, graceful restart RFC 4724,
// 4-octet AS RFC 6793), UPDATE, NOTIFICATION, KEEPALIVE and ROUTE-REFRESH (RFC 2918/7313).
// decodeMessage checks every length and field and throws only BgpError.
import { BgpError, ErrorCode, HeaderSub, OpenSub, RouteRefreshSub } from './errors.js';
import {
  type CodecContext, type MpReach, type MpUnreach, type PathAttributes, decodeAttributes, encodeAttributes,
} from './attributes.js';
import { type AfiFamily, AFI_IPV4, AFI_IPV6, SAFI_UNICAST, decodeNlri, formatAddress, parsePrefix, writePrefix } from './prefix.js';

export const MARKER = Buffer.alloc(16, 0xff);
export const HEADER_LEN = 19;
export const MAX_MESSAGE_LEN = 4096;
export const MsgType = { Open: 1, Update: 2, Notification: 3, Keepalive: 4, RouteRefresh: 5 } as const;
export const CapCode = { Multiprotocol: 1, RouteRefresh: 2, GracefulRestart: 64, FourOctetAs: 65 } as const;

export interface AfiSafi { afi: number; safi: number }
export interface GracefulRestartCap {
  /** R bit: the sender has restarted and is re-learning its routes. */
  restarting: boolean;
  /** Seconds the peer's routes should be kept while its session is down (12 bits). */
  restartTimeSec: number;
  /** Per AFI/SAFI: whether the sender kept forwarding state (F bit). */
  families: { afi: number; safi: number; forwardingPreserved: boolean }[];
}
export interface Capabilities {
  multiprotocol: AfiSafi[];
  routeRefresh: boolean;
  fourOctetAs: number | null;
  gracefulRestart: GracefulRestartCap | null;
  /** Capabilities this speaker does not use, kept for logs. */
  other: { code: number; value: Buffer }[];
}

export interface OpenMessage {
  type: 'open';
  version: number;
  /** The 2-octet My Autonomous System field (AS_TRANS for 4-octet ASes). */
  myAs: number;
  holdTime: number;
  bgpId: string;
  capabilities: Capabilities;
}
export interface UpdateMessage {
  type: 'update';
  /** IPv4 prefixes in the Withdrawn Routes field. */
  withdrawn: string[];
  attrs: PathAttributes | null;
  /** IPv4 prefixes in the NLRI field. */
  nlri: string[];
  mpReach: MpReach | null;
  mpUnreach: MpUnreach | null;
  treatAsWithdraw: BgpError | null;
  discarded: string[];
}
export interface NotificationMessage { type: 'notification'; code: number; subcode: number; data: Buffer }
export interface KeepaliveMessage { type: 'keepalive' }
export interface RouteRefreshMessage { type: 'route-refresh'; afi: number; safi: number; subtype: number }
export type Message = OpenMessage | UpdateMessage | NotificationMessage | KeepaliveMessage | RouteRefreshMessage;

function header(type: number, bodyLen: number): Buffer {
  const b = Buffer.alloc(HEADER_LEN);
  MARKER.copy(b, 0);
  b.writeUInt16BE(HEADER_LEN + bodyLen, 16);
  b[18] = type;
  return b;
}
function frame(type: number, body: Buffer): Buffer { return Buffer.concat([header(type, body.length), body]); }

// ---- encoders -------------------------------------------------------------------

function encodeCapabilities(c: Capabilities): Buffer {
  const caps: Buffer[] = [];
  const cap = (code: number, value: Buffer) => caps.push(Buffer.concat([Buffer.from([code, value.length]), value]));
  for (const m of c.multiprotocol) {
    const v = Buffer.alloc(4); v.writeUInt16BE(m.afi, 0); v[3] = m.safi; cap(CapCode.Multiprotocol, v);
  }
  if (c.routeRefresh) cap(CapCode.RouteRefresh, Buffer.alloc(0));
  if (c.gracefulRestart) {
    const g = c.gracefulRestart;
    const v = Buffer.alloc(2 + g.families.length * 4);
    v.writeUInt16BE((g.restarting ? 0x8000 : 0) | (g.restartTimeSec & 0x0fff), 0);
    g.families.forEach((f, i) => { v.writeUInt16BE(f.afi, 2 + i * 4); v[4 + i * 4] = f.safi; v[5 + i * 4] = f.forwardingPreserved ? 0x80 : 0; });
    cap(CapCode.GracefulRestart, v);
  }
  if (c.fourOctetAs !== null) { const v = Buffer.alloc(4); v.writeUInt32BE(c.fourOctetAs); cap(CapCode.FourOctetAs, v); }
  for (const o of c.other) cap(o.code, o.value);
  // One Capabilities optional parameter per capability, as most speakers send them.
  return Buffer.concat(caps.map((c1) => Buffer.concat([Buffer.from([2, c1.length]), c1])));
}

export function encodeOpen(m: Omit<OpenMessage, 'type'>): Buffer {
  const params = encodeCapabilities(m.capabilities);
  if (params.length > 255) throw new Error('OPEN optional parameters exceed 255 octets');
  const b = Buffer.alloc(10);
  b[0] = m.version;
  b.writeUInt16BE(m.myAs, 1);
  b.writeUInt16BE(m.holdTime, 3);
  Buffer.from(m.bgpId.split('.').map(Number)).copy(b, 5);
  b[9] = params.length;
  return frame(MsgType.Open, Buffer.concat([b, params]));
}

export function encodeKeepalive(): Buffer { return header(MsgType.Keepalive, 0); }

export function encodeNotification(code: number, subcode: number, data: Buffer = Buffer.alloc(0)): Buffer {
  return frame(MsgType.Notification, Buffer.concat([Buffer.from([code, subcode]), data]));
}

export function encodeRouteRefresh(family: AfiFamily, subtype = 0): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt16BE(family === 4 ? AFI_IPV4 : AFI_IPV6, 0);
  b[2] = subtype;
  b[3] = SAFI_UNICAST;
  return frame(MsgType.RouteRefresh, b);
}

/** A raw UPDATE from its three fields (each already encoded). */
export function encodeUpdateRaw(withdrawn: Buffer, attrs: Buffer, nlri: Buffer): Buffer {
  const b = Buffer.alloc(4 + withdrawn.length + attrs.length + nlri.length);
  b.writeUInt16BE(withdrawn.length, 0);
  withdrawn.copy(b, 2);
  b.writeUInt16BE(attrs.length, 2 + withdrawn.length);
  attrs.copy(b, 4 + withdrawn.length);
  nlri.copy(b, 4 + withdrawn.length + attrs.length);
  if (HEADER_LEN + b.length > MAX_MESSAGE_LEN) throw new Error(`UPDATE of ${HEADER_LEN + b.length} octets exceeds ${MAX_MESSAGE_LEN}`);
  return frame(MsgType.Update, b);
}

export function encodePrefixes(prefixes: string[]): Buffer {
  const parsed = prefixes.map(parsePrefix);
  const b = Buffer.alloc(parsed.reduce((n, p) => n + 1 + p.bytes.length, 0));
  let off = 0;
  for (const p of parsed) off = writePrefix(b, off, p);
  return b;
}

/** RFC 4724 2: End-of-RIB is an empty UPDATE (IPv4) or one with an empty MP_UNREACH_NLRI. */
export function encodeEndOfRib(family: AfiFamily): Buffer {
  if (family === 4) return encodeUpdateRaw(Buffer.alloc(0), Buffer.alloc(0), Buffer.alloc(0));
  const v = Buffer.from([0, AFI_IPV6, SAFI_UNICAST]);
  return encodeUpdateRaw(Buffer.alloc(0), Buffer.concat([Buffer.from([0x80, 15, v.length]), v]), Buffer.alloc(0));
}

/** Which family an UPDATE marks End-of-RIB for, or null. */
export function endOfRibFamily(u: UpdateMessage): AfiFamily | null {
  // A malformed or discarded attribute means the list was not empty: not a marker.
  if (u.treatAsWithdraw !== null || u.discarded.length > 0) return null;
  if (u.withdrawn.length === 0 && u.nlri.length === 0 && u.attrs === null && u.mpReach === null) {
    if (u.mpUnreach === null) return 4;
    if (u.mpUnreach.withdrawn.length === 0 && u.mpUnreach.safi === SAFI_UNICAST) return u.mpUnreach.afi === AFI_IPV4 ? 4 : u.mpUnreach.afi === AFI_IPV6 ? 6 : null;
  }
  return null;
}

export { encodeAttributes };

// ---- decoders -------------------------------------------------------------------

/** Checks a header; returns [length, type]. Throws BgpError (Message Header Error). */
export function checkHeader(buf: Buffer, off = 0): [number, number] {
  for (let i = 0; i < 16; i++) {
    if (buf[off + i] !== 0xff) throw new BgpError(ErrorCode.MessageHeader, HeaderSub.NotSynchronized, 'message marker is not all ones');
  }
  const len = buf.readUInt16BE(off + 16);
  const type = buf[off + 18]!;
  const lenData = Buffer.from(buf.subarray(off + 16, off + 18));
  if (len < HEADER_LEN || len > MAX_MESSAGE_LEN) throw new BgpError(ErrorCode.MessageHeader, HeaderSub.BadLength, `message length ${len} is outside 19-4096`, lenData);
  const min: Record<number, number> = { 1: 29, 2: 23, 3: 21, 4: 19, 5: 23 };
  const want = min[type];
  if (want === undefined) throw new BgpError(ErrorCode.MessageHeader, HeaderSub.BadType, `message type ${type} is unknown`, Buffer.from([type]));
  if (len < want || (type === MsgType.Keepalive && len !== HEADER_LEN)) {
    throw new BgpError(ErrorCode.MessageHeader, HeaderSub.BadLength, `message length ${len} is wrong for type ${type}`, lenData);
  }
  return [len, type];
}

function decodeCapabilities(v: Buffer, caps: Capabilities): void {
  let off = 0;
  while (off < v.length) {
    if (off + 2 > v.length) throw new BgpError(ErrorCode.OpenMessage, 0, 'capability header truncated');
    const code = v[off]!;
    const len = v[off + 1]!;
    if (off + 2 + len > v.length) throw new BgpError(ErrorCode.OpenMessage, 0, `capability ${code} length ${len} overruns its parameter`);
    const c = v.subarray(off + 2, off + 2 + len);
    off += 2 + len;
    const badLen = () => new BgpError(ErrorCode.OpenMessage, 0, `capability ${code} has length ${len}`);
    switch (code) {
      case CapCode.Multiprotocol:
        if (len !== 4) throw badLen();
        caps.multiprotocol.push({ afi: c.readUInt16BE(0), safi: c[3]! });
        break;
      case CapCode.RouteRefresh:
        if (len !== 0) throw badLen();
        caps.routeRefresh = true;
        break;
      case CapCode.FourOctetAs:
        if (len !== 4) throw badLen();
        caps.fourOctetAs = c.readUInt32BE(0);
        break;
      case CapCode.GracefulRestart: {
        if (len < 2 || (len - 2) % 4 !== 0) throw badLen();
        const w = c.readUInt16BE(0);
        const families: GracefulRestartCap['families'] = [];
        for (let i = 2; i < len; i += 4) families.push({ afi: c.readUInt16BE(i), safi: c[i + 2]!, forwardingPreserved: (c[i + 3]! & 0x80) !== 0 });
        caps.gracefulRestart = { restarting: (w & 0x8000) !== 0, restartTimeSec: w & 0x0fff, families };
        break;
      }
      default:
        caps.other.push({ code, value: Buffer.from(c) });
    }
  }
}

export function emptyCapabilities(): Capabilities {
  return { multiprotocol: [], routeRefresh: false, fourOctetAs: null, gracefulRestart: null, other: [] };
}

function decodeOpen(body: Buffer): OpenMessage {
  const version = body[0]!;
  if (version !== 4) throw new BgpError(ErrorCode.OpenMessage, OpenSub.UnsupportedVersion, `BGP version ${version} is not 4`, Buffer.from([0, 4]));
  const myAs = body.readUInt16BE(1);
  const holdTime = body.readUInt16BE(3);
  if (holdTime === 1 || holdTime === 2) throw new BgpError(ErrorCode.OpenMessage, OpenSub.UnacceptableHoldTime, `hold time ${holdTime} s is below 3`);
  const bgpId = formatAddress(body.subarray(5, 9));
  if (bgpId === '0.0.0.0') throw new BgpError(ErrorCode.OpenMessage, OpenSub.BadBgpIdentifier, 'BGP identifier 0.0.0.0');
  const optLen = body[9]!;
  if (10 + optLen !== body.length) throw new BgpError(ErrorCode.MessageHeader, HeaderSub.BadLength, `OPEN optional parameter length ${optLen} disagrees with the message length`, u16(body.length + HEADER_LEN));
  const capabilities = emptyCapabilities();
  let off = 10;
  while (off < body.length) {
    if (off + 2 > body.length) throw new BgpError(ErrorCode.OpenMessage, 0, 'optional parameter header truncated');
    const ptype = body[off]!;
    const plen = body[off + 1]!;
    if (off + 2 + plen > body.length) throw new BgpError(ErrorCode.OpenMessage, 0, `optional parameter length ${plen} overruns the OPEN`);
    if (ptype !== 2) throw new BgpError(ErrorCode.OpenMessage, OpenSub.UnsupportedOptionalParameter, `optional parameter type ${ptype} is not supported`);
    decodeCapabilities(body.subarray(off + 2, off + 2 + plen), capabilities);
    off += 2 + plen;
  }
  return { type: 'open', version, myAs, holdTime, bgpId, capabilities };
}

function u16(n: number): Buffer { const b = Buffer.alloc(2); b.writeUInt16BE(n); return b; }

function decodeUpdate(body: Buffer, ctx: CodecContext): UpdateMessage {
  const malformed = (msg: string) => new BgpError(ErrorCode.UpdateMessage, 1, msg);
  const wLen = body.readUInt16BE(0);
  if (2 + wLen + 2 > body.length) throw malformed(`withdrawn routes length ${wLen} overruns the UPDATE`);
  const withdrawn = decodeNlri(body, 2, 2 + wLen, 4);
  const aStart = 2 + wLen + 2;
  const aLen = body.readUInt16BE(2 + wLen);
  if (aStart + aLen > body.length) throw malformed(`total path attribute length ${aLen} overruns the UPDATE`);
  const nlri = decodeNlri(body, aStart + aLen, body.length, 4);
  const d = decodeAttributes(body, aStart, aStart + aLen, ctx, nlri.length > 0);
  return { type: 'update', withdrawn, nlri, attrs: d.attrs, mpReach: d.mpReach, mpUnreach: d.mpUnreach, treatAsWithdraw: d.treatAsWithdraw, discarded: d.discarded };
}

/** Decodes one whole message (header included). Throws BgpError and nothing else. */
export function decodeMessage(buf: Buffer, ctx: CodecContext): Message {
  if (buf.length < HEADER_LEN) throw new BgpError(ErrorCode.MessageHeader, HeaderSub.BadLength, `message of ${buf.length} octets is shorter than a header`, u16(buf.length));
  const [len, type] = checkHeader(buf);
  if (len !== buf.length) throw new BgpError(ErrorCode.MessageHeader, HeaderSub.BadLength, `header length ${len} disagrees with ${buf.length} octets received`, u16(len));
  const body = buf.subarray(HEADER_LEN);
  try {
    switch (type) {
      case MsgType.Open: return decodeOpen(body);
      case MsgType.Update: return decodeUpdate(body, ctx);
      case MsgType.Notification: return { type: 'notification', code: body[0]!, subcode: body[1]!, data: Buffer.from(body.subarray(2)) };
      case MsgType.Keepalive: return { type: 'keepalive' };
      default: {
        if (body.length !== 4) throw new BgpError(ErrorCode.RouteRefresh, RouteRefreshSub.InvalidLength, `ROUTE-REFRESH body of ${body.length} octets is not 4`, Buffer.from(buf));
        return { type: 'route-refresh', afi: body.readUInt16BE(0), subtype: body[2]!, safi: body[3]! };
      }
    }
  } catch (e) {
    if (e instanceof BgpError) throw e;
    // A RangeError from a read past the end means a length field lied: same answer as a malformed list.
    throw new BgpError(type === MsgType.Open ? ErrorCode.OpenMessage : ErrorCode.UpdateMessage, type === MsgType.Open ? 0 : 1, `malformed message: ${(e as Error).message}`);
  }
}

/**
 * Splits a TCP byte stream into messages. The header is checked as soon as it has
 * arrived, so a bad length is answered without waiting for bytes that never come.
 */
export class Framer {
  private buf: Buffer = Buffer.alloc(0);
  push(chunk: Buffer): Buffer[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: Buffer[] = [];
    let off = 0;
    while (this.buf.length - off >= HEADER_LEN) {
      const [len] = checkHeader(this.buf, off);
      if (this.buf.length - off < len) break;
      out.push(this.buf.subarray(off, off + len));
      off += len;
    }
    this.buf = off === this.buf.length ? Buffer.alloc(0) : this.buf.subarray(off);
    return out;
  }
}
