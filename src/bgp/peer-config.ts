// Checks and canonical forms for what configure() and announce() are given: one peer key
// per address whatever its spelling, typed errors naming the peer and field.
import { BgpConfigError } from './errors.js';
import { addressBytes, formatAddress } from './prefix.js';
import type { PeerConfig, SpeakerConfig } from './types.js';

/** Fields whose change needs a new session (the rest are applied in place). */
export const RESET_FIELDS: readonly (keyof PeerConfig)[] = ['port', 'asn', 'localAddress', 'passive', 'families', 'holdTimeSec', 'keepaliveSec', 'password'];

export function needsReset(a: PeerConfig, b: PeerConfig): boolean {
  return RESET_FIELDS.some((f) => JSON.stringify(a[f]) !== JSON.stringify(b[f]));
}

/** The peer key: one text per address (IPv4-mapped IPv6 as IPv4, IPv6 compressed). */
export function canonicalAddress(addr: string): string {
  const a = addr.startsWith('::ffff:') && addr.includes('.') ? addr.slice(7) : addr;
  return formatAddress(addressBytes(a));
}

export function validatePeer(c: PeerConfig, cfg: SpeakerConfig): void {
  try { canonicalAddress(c.address); } catch { throw new BgpConfigError('INVALID_CONFIG', `peer address "${c.address}" is not an IP address`); }
  if (!Number.isInteger(c.asn) || c.asn < 1 || c.asn > 0xffffffff) throw new BgpConfigError('INVALID_CONFIG', `peer ${c.address}: AS number ${c.asn} is out of range`);
  if (c.holdTimeSec !== undefined && c.holdTimeSec !== 0 && (c.holdTimeSec < 3 || c.holdTimeSec > 65535)) throw new BgpConfigError('INVALID_CONFIG', `peer ${c.address}: hold time ${c.holdTimeSec} must be 0 or 3-65535 s`);
  if (c.routeReflectorClient && !cfg.clusterId) throw new BgpConfigError('INVALID_CONFIG', `peer ${c.address} is a route reflector client but no cluster id is configured`);
}

export function parseCommunity(text: string): { std?: number; large?: [number, number, number] } {
  const parts = text.split(':').map(Number);
  if (parts.some((n) => !Number.isInteger(n) || n < 0)) throw new BgpConfigError('INVALID_CONFIG', `community "${text}" is not numeric`);
  if (parts.length === 2 && parts[0]! <= 0xffff && parts[1]! <= 0xffff) return { std: ((parts[0]! << 16) | parts[1]!) >>> 0 };
  if (parts.length === 3 && parts.every((n) => n <= 0xffffffff)) return { large: [parts[0]!, parts[1]!, parts[2]!] };
  throw new BgpConfigError('INVALID_CONFIG', `community "${text}" is not "asn:value" (16-bit each) or large "a:b:c" (32-bit each)`);
}
