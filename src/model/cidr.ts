// IP addresses and CIDRs, parsed by ipaddr.js: validation and canonical forms.
import ipaddr from 'ipaddr.js';

export type IpFamily = 4 | 6;
export interface Cidr { family: IpFamily; address: string; prefixLength: number }

export function isValidIp(s: string): boolean {
  return ipaddr.isValid(s) && (ipaddr.IPv4.isValidFourPartDecimal(s) || (s.includes(':') && ipaddr.IPv6.isValid(s)));
}

// The calculator parses every endpoint's and pool's CIDR, often more than once per update:
// dotted-quad IPv4 in its canonical decimal form (what isValidIp accepts, and what ipaddr
// prints back) is read here with plain arithmetic; anything else goes through ipaddr.
const OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const IPV4_CIDR_RE = new RegExp(`^(${OCTET})\\.(${OCTET})\\.(${OCTET})\\.(${OCTET})(?:/(\\d{1,2}))?$`);

/** A canonical dotted-quad IPv4 address or CIDR as [address as a number, prefix length], or null. */
function fastIpv4(s: string): [number, number] | null {
  const m = IPV4_CIDR_RE.exec(s);
  if (!m) return null;
  const len = m[5] === undefined ? 32 : Number(m[5]);
  if (len > 32) return null;
  // The octets as captured: no split and no array per address (the learned-route path reads 100k at a time).
  return [((Number(m[1]) << 24) >>> 0) + (Number(m[2]) << 16) + (Number(m[3]) << 8) + Number(m[4]), len];
}

/** A canonical dotted-quad IPv4 address (no length) as a number, or null for any other text. */
export function ipv4Number(s: string): number | null {
  const f = s.includes('/') ? null : fastIpv4(s);
  return f ? f[0] : null;
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
  const f = fastIpv4(s);
  if (f) {
    const net = (f[0] & ipv4Mask(f[1])) >>> 0;
    // Already canonical: the text itself, no new string (a learned-route sync canonicalizes
    // every changed prefix of a BGP table).
    if (net === f[0] && s.endsWith(`/${f[1]}`)) return s;
    return `${ipv4Text(net)}/${f[1]}`;
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
