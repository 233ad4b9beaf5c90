// IP addresses and CIDRs, parsed by ipaddr.js: validation and canonical forms.
import ipaddr from 'ipaddr.js';

export type IpFamily = 4 | 6;
export interface Cidr { family: IpFamily; address: string; prefixLength: number }

export function isValidIp(s: string): boolean {
  return ipaddr.isValid(s) && (ipaddr.IPv4.isValidFourPartDecimal(s) || (s.includes(':') && ipaddr.IPv6.isValid(s)));
}

// The calculator parses every endpoint's and pool's CIDR, often more than once per update,
// and the learned-route path every prefix of a BGP table: dotted-quad IPv4 in its canonical
// decimal form (what isValidIp accepts, and what ipaddr prints back) is read here char by
// char, with no match array or string per address; anything else goes through ipaddr.

/**
 * A canonical dotted-quad IPv4 address or CIDR as address * 64 + prefix length (exact in a
 * double; a bare address is a /32), or -1. Octets 0-255 without leading zeros, a length of
 * one or two digits up to 32.
 */
function scanIpv4(s: string): number {
  const end = s.length;
  let i = 0;
  let addr = 0;
  for (let octet = 0; octet < 4; octet++) {
    if (octet > 0) {
      if (s.charCodeAt(i) !== 0x2e) return -1;
      i++;
    }
    const start = i;
    let v = 0;
    for (let c = s.charCodeAt(i); c >= 0x30 && c <= 0x39; c = s.charCodeAt(++i)) {
      if (i - start === 3) return -1;
      v = v * 10 + c - 0x30;
    }
    if (i === start || v > 255 || (i - start > 1 && s.charCodeAt(start) === 0x30)) return -1;
    addr = addr * 256 + v;
  }
  if (i === end) return addr * 64 + 32;
  if (s.charCodeAt(i) !== 0x2f) return -1;
  const start = ++i;
  let len = 0;
  for (let c = s.charCodeAt(i); c >= 0x30 && c <= 0x39; c = s.charCodeAt(++i)) {
    if (i - start === 2) return -1;
    len = len * 10 + c - 0x30;
  }
  return i === start || i !== end || len > 32 ? -1 : addr * 64 + len;
}

/** A canonical dotted-quad IPv4 address or CIDR as [address as a number, prefix length], or null. */
function fastIpv4(s: string): [number, number] | null {
  const f = scanIpv4(s);
  return f < 0 ? null : [Math.floor(f / 64), f % 64];
}

/** A canonical dotted-quad IPv4 address (no length) as a number, or null for any other text. */
export function ipv4Number(s: string): number | null {
  const f = scanIpv4(s);
  // A bare address only (a /32 CIDR reads as 32 too: the text must not have a length).
  return f >= 0 && f % 64 === 32 && !s.includes('/') ? Math.floor(f / 64) : null;
}

const ipv4Text = (n: number) => `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
const ipv4Mask = (len: number) => (len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0);

/** Parses "10.0.0.0/24", "fd00::/64", or a bare address (taken as /32 or /128). */
export function parseCidr(s: string): Cidr {
  const f = fastIpv4(s);
  if (f) return { family: 4, address: s.includes('/') ? s.slice(0, s.indexOf('/')) : s, prefixLength: f[1] };
  if (!s.includes('/')) {
    if (!isValidIp(s)) throw new Error(`"${s}" is not a valid IP address`);
    const a = ipaddr.parse(s);
    const family: IpFamily = a.kind() === 'ipv4' ? 4 : 6;
    return { family, address: a.toString(), prefixLength: family === 4 ? 32 : 128 };
  }
  const [addr, len] = s.split('/');
  if (!addr || !len || !/^\d{1,3}$/.test(len) || !isValidIp(addr)) throw new Error(`"${s}" is not a valid CIDR`);
  // ipaddr.parseCIDR tries IPv6 first and builds a thrown Error for every IPv4 CIDR; with the
  // calculator parsing each endpoint's address and the pools per endpoint, that was most of
  // its load time. The address is valid here, so ':' tells the family.
  const [a, prefixLength] = addr.includes(':') ? ipaddr.IPv6.parseCIDR(s) : ipaddr.IPv4.parseCIDR(s);
  return { family: a.kind() === 'ipv4' ? 4 : 6, address: a.toString(), prefixLength };
}

export function isValidCidrOrIp(s: string): boolean {
  try { parseCidr(s); return true; } catch { return false; }
}

/** The network form of a CIDR with host bits cleared: "10.1.2.3/24" -> "10.1.2.0/24". */
export function canonicalCidr(s: string): string {
  const f = scanIpv4(s);
  if (f >= 0) {
    const addr = Math.floor(f / 64);
    const len = f % 64;
    const net = (addr & ipv4Mask(len)) >>> 0;
    // Already canonical: the text itself, no new string (a learned-route sync canonicalizes
    // every changed prefix of a BGP table). A bare address gets its /32.
    if (net === addr && s.charCodeAt(s.length - (len < 10 ? 2 : 3)) === 0x2f) return s;
    return `${ipv4Text(net)}/${len}`;
  }
  const c = parseCidr(s);
  const net = c.family === 4
    ? ipaddr.IPv4.networkAddressFromCIDR(`${c.address}/${c.prefixLength}`)
    : ipaddr.IPv6.networkAddressFromCIDR(`${c.address}/${c.prefixLength}`);
  return `${net.toString()}/${c.prefixLength}`;
}

export function cidrFamily(s: string): IpFamily {
  return parseCidr(s).family;
}

/** True when address (bare) lies inside cidr. */
export function cidrContains(cidr: string, address: string): boolean {
  const fc = fastIpv4(cidr);
  const fa = fastIpv4(address);
  if (fc && fa && fa[1] === 32 && !address.includes('/')) {
    const mask = ipv4Mask(fc[1]);
    return ((fa[0] & mask) >>> 0) === ((fc[0] & mask) >>> 0);
  }
  const c = parseCidr(cidr);
  const a = ipaddr.parse(address);
  if ((a.kind() === 'ipv4' ? 4 : 6) !== c.family) return false;
  return a.match(ipaddr.parse(c.address), c.prefixLength);
}

/** An address as a number, for ordering only (BGP identifiers, peer addresses): no
 *  validation and no ipaddr parse, as the BGP decision process calls it per comparison. */
export function ipNumber(ip: string): bigint {
  if (!ip.includes(':')) return BigInt(ip.split('.').reduce((n, o) => n * 256 + Number(o), 0));
  const [head = '', tail = ''] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = ip.includes('::') ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t] : h;
  return groups.reduce((n, g) => (n << 16n) + BigInt(parseInt(g || '0', 16)), 0n);
}
