// Address arithmetic on BigInt: pools carve into aligned blocks, blocks into ordinals.
import ipaddr from 'ipaddr.js';
import type { IpFamily } from '../model/index.js';

export interface Net { family: IpFamily; base: bigint; prefixLength: number }

const bits = (f: IpFamily): number => (f === 4 ? 32 : 128);

/** Parses an address (throws on garbage); picks the family first, as ipaddr.parse tries IPv6 on everything. */
export function ipToBigInt(ip: string): { family: IpFamily; value: bigint } {
  const v6 = ip.includes(':');
  if (!v6 && !ipaddr.IPv4.isValidFourPartDecimal(ip)) throw new Error(`"${ip}" is not an IP address`);
  const a = v6 ? ipaddr.IPv6.parse(ip) : ipaddr.IPv4.parse(ip);
  let v = 0n;
  for (const b of a.toByteArray()) v = (v << 8n) | BigInt(b);
  return { family: v6 ? 6 : 4, value: v };
}

export function bigIntToIp(family: IpFamily, v: bigint): string {
  const n = family === 4 ? 4 : 16;
  const bytes: number[] = new Array<number>(n);
  for (let i = n - 1; i >= 0; i--) { bytes[i] = Number(v & 0xffn); v >>= 8n; }
  return ipaddr.fromByteArray(bytes).toString();
}

/** A CIDR with host bits cleared. */
export function parseNet(cidr: string): Net {
  const slash = cidr.indexOf('/');
  const { family, value } = ipToBigInt(slash < 0 ? cidr : cidr.slice(0, slash));
  const prefixLength = slash < 0 ? bits(family) : Number(cidr.slice(slash + 1));
  if (slash >= 0 && !/^\d{1,3}$/.test(cidr.slice(slash + 1))) throw new Error(`"${cidr}" is not a valid CIDR`);
  if (prefixLength > bits(family)) throw new Error(`"${cidr}" has a prefix length beyond /${bits(family)}`);
  const host = bits(family) - prefixLength;
  return { family, base: (value >> BigInt(host)) << BigInt(host), prefixLength };
}

export function netToString(n: Net): string {
  return `${bigIntToIp(n.family, n.base)}/${n.prefixLength}`;
}

export function netSize(n: Net): bigint {
  return 1n << BigInt(bits(n.family) - n.prefixLength);
}

export function netContains(n: Net, family: IpFamily, v: bigint): boolean {
  return family === n.family && v >= n.base && v < n.base + netSize(n);
}

/** The aligned block of the given prefix length that holds address v. */
export function blockOf(family: IpFamily, v: bigint, blockPrefix: number): Net {
  const host = BigInt(bits(family) - blockPrefix);
  return { family, base: (v >> host) << host, prefixLength: blockPrefix };
}

/** The i-th aligned block of a pool (i from 0), or null past its end. */
export function nthBlock(pool: Net, blockPrefix: number, i: bigint): Net | null {
  const size = 1n << BigInt(bits(pool.family) - blockPrefix);
  const base = pool.base + i * size;
  if (base >= pool.base + netSize(pool)) return null;
  return { family: pool.family, base, prefixLength: blockPrefix };
}

export function blockCount(pool: Net, blockPrefix: number): bigint {
  return 1n << BigInt(blockPrefix - pool.prefixLength);
}

export const DEFAULT_BLOCK_SIZE: Record<IpFamily, number> = { 4: 26, 6: 122 };

/** The block prefix a pool carves into: its blockSize (default /26, /122), never wider than the pool itself. */
export function effectiveBlockSize(pool: Net, blockSize: number | undefined): number {
  return Math.max(blockSize ?? DEFAULT_BLOCK_SIZE[pool.family], pool.prefixLength);
}
