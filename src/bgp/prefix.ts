// NLRI prefixes and addresses as bytes (RFC 4271 4.3, RFC 4760 5): prefix length in
// bits, then the minimum number of octets. Prefixes travel through the speaker as
// canonical CIDR strings ("10.0.0.0/24", "fd00::/64"), which are also the map keys.
import ipaddr from 'ipaddr.js';
import { BgpError, ErrorCode, UpdateSub } from './errors.js';

export type AfiFamily = 4 | 6;
export const AFI_IPV4 = 1;
export const AFI_IPV6 = 2;
export const SAFI_UNICAST = 1;

export function afiOf(family: AfiFamily): number { return family === 4 ? AFI_IPV4 : AFI_IPV6; }
export function familyOfAfi(afi: number): AfiFamily | null { return afi === AFI_IPV4 ? 4 : afi === AFI_IPV6 ? 6 : null; }

const V4_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** Address bytes (4 or 16); throws Error for text that is not an address. */
export function addressBytes(addr: string): Buffer {
  const m = V4_RE.exec(addr);
  if (m) {
    const b = Buffer.alloc(4);
    for (let i = 0; i < 4; i++) {
      const n = Number(m[i + 1]);
      if (n > 255) throw new Error(`"${addr}" is not an IPv4 address`);
      b[i] = n;
    }
    return b;
  }
  if (!ipaddr.IPv6.isValid(addr)) throw new Error(`"${addr}" is not an IP address`);
  return Buffer.from(ipaddr.IPv6.parse(addr).toByteArray());
}

export function formatAddress(bytes: Uint8Array): string {
  if (bytes.length === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  return ipaddr.fromByteArray(Array.from(bytes)).toString();
}

export function addressFamily(addr: string): AfiFamily {
  return addr.includes(':') ? 6 : 4;
}

export interface ParsedPrefix { family: AfiFamily; length: number; bytes: Buffer }

/** Parses a CIDR string into its family, length and significant bytes (host bits cleared). */
export function parsePrefix(cidr: string): ParsedPrefix {
  const slash = cidr.indexOf('/');
  if (slash < 0) throw new Error(`"${cidr}" is not a prefix (expected address/length)`);
  const addr = addressBytes(cidr.slice(0, slash));
  const family: AfiFamily = addr.length === 4 ? 4 : 6;
  const lenText = cidr.slice(slash + 1);
  const length = Number(lenText);
  if (!/^\d{1,3}$/.test(lenText) || length > addr.length * 8) throw new Error(`"${cidr}" has an invalid prefix length`);
  const n = (length + 7) >> 3;
  const bytes = Buffer.from(addr.subarray(0, n));
  if (length % 8 !== 0 && n > 0) bytes[n - 1]! &= (0xff << (8 - (length % 8))) & 0xff;
  return { family, length, bytes };
}

/** Whether inner (at least as long as outer) lies inside outer: their first outer.length bits agree. */
export function prefixCovers(outer: { length: number; bytes: Buffer }, inner: { length: number; bytes: Buffer }): boolean {
  const full = outer.length >> 3;
  for (let i = 0; i < full; i++) if (outer.bytes[i] !== inner.bytes[i]) return false;
  const rem = outer.length % 8;
  if (rem === 0) return true;
  const mask = (0xff << (8 - rem)) & 0xff;
  return ((inner.bytes[full] ?? 0) & mask) === (outer.bytes[full] ?? 0);
}

/** The canonical CIDR text of a prefix (host bits cleared, RFC 5952 for IPv6). */
export function canonicalPrefix(cidr: string): string {
  const p = parsePrefix(cidr);
  return prefixText(p.family, p.length, p.bytes);
}

function prefixText(family: AfiFamily, length: number, bytes: Uint8Array): string {
  const full = new Uint8Array(family === 4 ? 4 : 16);
  full.set(bytes.subarray(0, Math.min(bytes.length, full.length)));
  return `${formatAddress(full)}/${length}`;
}

/** Bytes one prefix takes on the wire. */
export function prefixWireSize(p: ParsedPrefix): number { return 1 + p.bytes.length; }

export function writePrefix(buf: Buffer, off: number, p: ParsedPrefix): number {
  buf[off] = p.length;
  p.bytes.copy(buf, off + 1);
  return off + 1 + p.bytes.length;
}

/**
 * Decodes a run of NLRI prefixes between start and end. A length beyond the family's
 * maximum or a prefix overrunning the field is an invalid network field (3/10): the
 * NLRI cannot be located, so RFC 7606 leaves session reset as the only answer.
 */
export function decodeNlri(buf: Buffer, start: number, end: number, family: AfiFamily): string[] {
  const out: string[] = [];
  const max = family === 4 ? 32 : 128;
  let off = start;
  while (off < end) {
    const length = buf[off]!;
    if (length > max) throw new BgpError(ErrorCode.UpdateMessage, UpdateSub.InvalidNetworkField, `NLRI prefix length ${length} exceeds ${max} for IPv${family}`);
    const n = (length + 7) >> 3;
    if (off + 1 + n > end) throw new BgpError(ErrorCode.UpdateMessage, UpdateSub.InvalidNetworkField, `NLRI prefix of length ${length} overruns its field`);
    if (family === 4) {
      out.push(v4PrefixText(buf, off + 1, n, length));
    } else {
      const bytes = Buffer.from(buf.subarray(off + 1, off + 1 + n));
      if (length % 8 !== 0 && n > 0) bytes[n - 1]! &= (0xff << (8 - (length % 8))) & 0xff;
      out.push(prefixText(family, length, bytes));
    }
    off += 1 + n;
  }
  return out;
}

/** Room for "255.255.255.255/32". */
const v4Text = Buffer.alloc(18);

/** Writes v in decimal at `at`; returns the byte after it. */
function putDecimal(at: number, v: number): number {
  if (v >= 100) { v4Text[at++] = 48 + ((v / 100) | 0); v %= 100; v4Text[at++] = 48 + ((v / 10) | 0); v %= 10; } else if (v >= 10) { v4Text[at++] = 48 + ((v / 10) | 0); v %= 10; }
  v4Text[at++] = 48 + v;
  return at;
}

/**
 * The text of an IPv4 NLRI prefix (n significant bytes at `off`, host bits cleared), made
 * in one piece from the wire bytes: a full table is 100 000 of these, and building each
 * from a copied buffer and concatenated parts left several objects of garbage per prefix
 * and a key of two strings (a cons string over its text) for as long as the route lived.
 */
function v4PrefixText(buf: Buffer, off: number, n: number, length: number): string {
  let at = 0;
  for (let i = 0; i < 4; i++) {
    let v = i < n ? buf[off + i]! : 0;
    if (i === n - 1 && length % 8 !== 0) v &= (0xff << (8 - (length % 8))) & 0xff;
    at = putDecimal(at, v);
    v4Text[at++] = i < 3 ? 0x2e : 0x2f; // '.', then '/'
  }
  at = putDecimal(at, length);
  return v4Text.toString('latin1', 0, at);
}
