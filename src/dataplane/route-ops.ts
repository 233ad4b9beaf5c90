// A route write as plain data, and its two encodings: the `ip -batch` line and the rtnetlink
// request (RTM_NEWROUTE / RTM_DELROUTE, as `ip route add|del DST via GW proto P` sends it).
// The requests are what native/rtnetlink sends many at a time; their bytes are pinned by
// golden tests (test/dataplane/route-ops.test.ts).
import { endianness } from 'node:os';
import ipaddr from 'ipaddr.js';
import type { Family } from '../calc/index.js';
import { ipv4Number } from '../model/index.js';

/** The route an operation is about. */
export interface RouteTarget {
  /** Canonical CIDR. */
  readonly dst: string;
  readonly family: Family;
  /** Next hop; a delete without one matches the destination and protocol alone. */
  readonly via?: string;
}

export type RouteOpKind = 'add' | 'del';

/** Add a route (fails if the destination is routed already) or delete ours. */
export interface RouteOp extends RouteTarget {
  op: RouteOpKind;
}

/** Operations in order, read by index (what a route writer takes). */
export interface RouteOps {
  readonly length: number;
  kind(i: number): RouteOpKind;
  target(i: number): RouteTarget;
}

/**
 * Operations kept as a kind and the route object they are about, with no object per
 * operation: a planner hands over the routes it already holds. A full table is 100 000
 * operations that live until the kernel has answered, long enough to be promoted to V8's
 * old space; an object each there left the old space half empty once they were gone (#11).
 */
export class RouteOpList implements RouteOps {
  private readonly kinds: RouteOpKind[] = [];
  private readonly targets: RouteTarget[] = [];
  static of(ops: readonly RouteOp[]): RouteOpList {
    const l = new RouteOpList();
    for (const o of ops) l.push(o.op, o);
    return l;
  }
  get length(): number { return this.kinds.length; }
  push(kind: RouteOpKind, target: RouteTarget): void {
    this.kinds.push(kind);
    this.targets.push(target);
  }
  kind(i: number): RouteOpKind { return this.kinds[i]!; }
  target(i: number): RouteTarget { return this.targets[i]!; }
}

/** The `ip -batch` line of operation i (also what names it in an error). */
export function routeOpLineAt(ops: RouteOps, i: number, proto: number): string {
  const r = ops.target(i);
  return `route ${ops.kind(i)} ${r.dst}${r.via ? ` via ${r.via}` : ''} proto ${proto}`;
}

/** The `ip -batch` line of every operation, in order. */
export function routeOpLines(ops: RouteOps, proto: number): string[] {
  return Array.from({ length: ops.length }, (_, i) => routeOpLineAt(ops, i, proto));
}

// linux/rtnetlink.h, linux/netlink.h
const RTM_NEWROUTE = 24;
const RTM_DELROUTE = 25;
const NLM_F_REQUEST = 0x1;
const NLM_F_EXCL = 0x200;
const NLM_F_CREATE = 0x400;
const AF_INET = 2;
const AF_INET6 = 10;
const RT_TABLE_MAIN = 254;
const RT_SCOPE_UNIVERSE = 0;
const RT_SCOPE_NOWHERE = 255;
const RTN_UNICAST = 1;
const RTA_DST = 1;
const RTA_GATEWAY = 5;
const NLMSG_HDRLEN = 16;
const RTMSG_LEN = 12;
const RTA_HDRLEN = 4;

/** Netlink headers are in the host's byte order, addresses in network order. */
const LE = endianness() === 'LE';

function writeAddress(buf: Buffer, at: number, text: string, family: Family): void {
  // Canonical dotted quads (nearly every address here) without ipaddr.js; the rest, "010.1.2.3"
  // (octal to inet_aton) included, as ipaddr.js reads them.
  const n = family === 4 ? ipv4Number(text) : null;
  if (n !== null) { buf.writeUInt32BE(n, at); return; }
  const bytes = ipaddr.parse(text).toByteArray();
  if (bytes.length !== (family === 4 ? 4 : 16)) throw new RangeError(`${text} is not an IPv${family} address`);
  buf.set(bytes, at);
}

const addrLen = (f: Family) => (f === 4 ? 4 : 16);

/** Bytes of one request. */
export function routeOpSize(o: RouteTarget): number {
  const a = RTA_HDRLEN + addrLen(o.family);
  return NLMSG_HDRLEN + RTMSG_LEN + a + (o.via ? a : 0);
}

/**
 * The requests for ops, sequence numbers firstSeq, firstSeq + 1, ... in order (op i has
 * firstSeq + i). No NLM_F_ACK: the sender asks for acknowledgements where it needs them.
 * Throws RangeError for an address that is not of the op's family.
 */
export function encodeRouteOps(ops: readonly RouteOp[], proto: number, firstSeq = 1): Buffer {
  const list = RouteOpList.of(ops);
  const buf = Buffer.alloc(routeOpsSize(list));
  encodeRouteOpsInto(buf, 0, list, 0, list.length, proto, firstSeq);
  return buf;
}

/** Bytes of all the requests. */
export function routeOpsSize(ops: RouteOps): number {
  let total = 0;
  for (let i = 0; i < ops.length; i++) total += routeOpSize(ops.target(i));
  return total;
}

/**
 * ops[from, to) into buf (zero-filled) from byte `at`, op i with sequence number firstSeq + i;
 * returns the byte after the last request.
 */
export function encodeRouteOpsInto(buf: Buffer, at: number, ops: RouteOps, from: number, to: number, proto: number, firstSeq: number): number {
  const u16 = (v: number, p: number) => (LE ? buf.writeUInt16LE(v, p) : buf.writeUInt16BE(v, p));
  const u32 = (v: number, p: number) => (LE ? buf.writeUInt32LE(v, p) : buf.writeUInt32BE(v, p));
  for (let i = from; i < to; i++) {
    const o = ops.target(i);
    const len = routeOpSize(o);
    const add = ops.kind(i) === 'add';
    const slash = o.dst.indexOf('/');
    const alen = addrLen(o.family);
    u32(len, at);
    u16(add ? RTM_NEWROUTE : RTM_DELROUTE, at + 4);
    u16(add ? NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL : NLM_F_REQUEST, at + 6);
    u32((firstSeq + i) >>> 0, at + 8);
    // nlmsg_pid 0: the kernel.
    const r = at + NLMSG_HDRLEN;
    buf[r] = o.family === 4 ? AF_INET : AF_INET6;
    buf[r + 1] = Number(o.dst.slice(slash + 1));
    // src_len, tos 0; then table, protocol, scope, type; rtm_flags 0.
    buf[r + 4] = RT_TABLE_MAIN;
    buf[r + 5] = proto;
    buf[r + 6] = add ? RT_SCOPE_UNIVERSE : RT_SCOPE_NOWHERE;
    buf[r + 7] = add ? RTN_UNICAST : 0;
    let a = r + RTMSG_LEN;
    u16(RTA_HDRLEN + alen, a);
    u16(RTA_DST, a + 2);
    writeAddress(buf, a + RTA_HDRLEN, o.dst.slice(0, slash), o.family);
    a += RTA_HDRLEN + alen;
    if (o.via) {
      u16(RTA_HDRLEN + alen, a);
      u16(RTA_GATEWAY, a + 2);
      writeAddress(buf, a + RTA_HDRLEN, o.via, o.family);
    }
    at += len;
  }
  return at;
}
