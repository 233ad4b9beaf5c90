// Route filters (Calico's BGPFilter) as the speaker applies them: a peer's filters are
// compiled once per configuration into one ordered rule list per direction and family,
// and a route's verdict is the action of the first rule that matches it, or null when
// none does (then the peer's importPolicy / exportPolicy decide, as Calico's generated
// BIRD filter falls through to its default import and export rules). Pure: no sockets,
// no timers; the speaker asks for verdicts when a route enters the Adj-RIB-In or is
// queued for the Adj-RIB-Out.
import type { PathAttributes } from './attributes.js';
import { BgpConfigError } from './errors.js';
import { parseCommunity } from './peer-config.js';
import { type AfiFamily, type ParsedPrefix, parsePrefix, prefixCovers } from './prefix.js';
import type { RouteFilter, RouteFilterRule } from './types.js';

export type FilterVerdict = 'Accept' | 'Reject';

/** One rule ready to match: its CIDR parsed, its length range resolved. */
export interface CompiledRule {
  /** "BGPFilter NAME importV4[2]": where the rule came from, for logs and errors. */
  where: string;
  net: ParsedPrefix | null;
  op: RouteFilterRule['matchOperator'];
  /** Prefix lengths the CIDR condition admits. */
  minLength: number;
  maxLength: number;
  learned: boolean | null;
  iface: RegExp | null;
  ebgp: boolean | null;
  community: { std?: number; large?: [number, number, number] } | null;
  asPathPrefix: number[] | null;
  action: FilterVerdict;
}

/** A peer's rules per direction and family, every filter's rules in the peer's order. */
export interface PeerFilters {
  import: Record<AfiFamily, CompiledRule[]>;
  export: Record<AfiFamily, CompiledRule[]>;
}

export const NO_FILTERS: PeerFilters = Object.freeze({ import: { 4: [], 6: [] }, export: { 4: [], 6: [] } }) as PeerFilters;

/** What a rule can look at in one route. */
export interface RouteFacts {
  prefix: ParsedPrefix;
  /** Learned from a BGP peer (false: the node's own announcement). */
  learned: boolean;
  /** The interface of a local route, when the agent gave one. */
  interface?: string;
  /** The session the filter belongs to is eBGP. */
  ebgp: boolean;
  attrs: PathAttributes;
}

const KEYS = ['importV4', 'importV6', 'exportV4', 'exportV6'] as const;

/** BIRD's interface patterns: "*" stands for any run of characters, the rest is literal. */
function interfacePattern(p: string): RegExp {
  return new RegExp(`^${p.split('*').map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
}

function compileRule(r: RouteFilterRule, family: AfiFamily, where: string): CompiledRule {
  const bad = (why: string) => new BgpConfigError('INVALID_CONFIG', `${where}: ${why}`);
  const max = family === 4 ? 32 : 128;
  let net: ParsedPrefix | null = null;
  if (r.cidr !== undefined) {
    try { net = parsePrefix(r.cidr); } catch (e) { throw bad((e as Error).message); }
    if (net.family !== family) throw bad(`cidr "${r.cidr}" is not IPv${family}`);
    if (!r.matchOperator) throw bad('cidr needs matchOperator');
  } else if (r.matchOperator || r.prefixLength) {
    throw bad('matchOperator and prefixLength need cidr');
  }
  let community: CompiledRule['community'] = null;
  if (r.community !== undefined) {
    try { community = parseCommunity(r.community); } catch (e) { throw bad((e as Error).message); }
  }
  const asns = r.asPathPrefix ?? null;
  if (asns?.some((a) => !Number.isInteger(a) || a < 0 || a > 0xffffffff)) throw bad(`asPathPrefix ${JSON.stringify(asns)} holds a value that is not an AS number`);
  return {
    where,
    net,
    op: r.matchOperator,
    // As Calico's BIRD prefix pattern cidr{min,max}: never shorter than the CIDR itself.
    minLength: Math.max(net?.length ?? 0, r.prefixLength?.min ?? 0),
    maxLength: Math.min(max, r.prefixLength?.max ?? max),
    learned: r.source === 'RemotePeers' ? true : null,
    iface: r.interface !== undefined ? interfacePattern(r.interface) : null,
    ebgp: r.peerType === undefined ? null : r.peerType === 'eBGP',
    community,
    asPathPrefix: asns && asns.length > 0 ? asns : null,
    action: r.action,
  };
}

/** Compiles a peer's filters; throws BgpConfigError naming the filter and rule that cannot be used. */
export function compileFilters(filters: readonly RouteFilter[] | undefined): PeerFilters {
  if (!filters || filters.length === 0) return NO_FILTERS;
  const out: PeerFilters = { import: { 4: [], 6: [] }, export: { 4: [], 6: [] } };
  for (const f of filters) {
    for (const key of KEYS) {
      const family: AfiFamily = key.endsWith('V4') ? 4 : 6;
      const list = key.startsWith('import') ? out.import[family] : out.export[family];
      (f[key] ?? []).forEach((r, i) => list.push(compileRule(r, family, `BGPFilter ${f.name} ${key}[${i}]`)));
    }
  }
  return out;
}

function cidrMatches(r: CompiledRule, p: ParsedPrefix): boolean {
  const net = r.net!;
  const inRange = p.length >= r.minLength && p.length <= r.maxLength;
  switch (r.op) {
    case 'In': return inRange && p.length >= net.length && prefixCovers(net, p);
    case 'NotIn': return !(inRange && p.length >= net.length && prefixCovers(net, p));
    case 'Equal': return inRange && p.length === net.length && prefixCovers(net, p);
    case 'NotEqual': return !(inRange && p.length === net.length && prefixCovers(net, p));
    default: return false;
  }
}

function asPathStartsWith(attrs: PathAttributes, want: readonly number[]): boolean {
  let i = 0;
  for (const seg of attrs.asPath) {
    // Only an AS_SEQUENCE has an order to compare with.
    if (seg.type !== 2) return false;
    for (const asn of seg.asns) {
      if (asn !== want[i]) return false;
      if (++i === want.length) return true;
    }
  }
  return false;
}

export function ruleMatches(r: CompiledRule, f: RouteFacts): boolean {
  if (r.net && !cidrMatches(r, f.prefix)) return false;
  if (r.learned !== null && f.learned !== r.learned) return false;
  if (r.iface && (f.interface === undefined || !r.iface.test(f.interface))) return false;
  if (r.ebgp !== null && f.ebgp !== r.ebgp) return false;
  if (r.community) {
    const c = r.community;
    if (c.std !== undefined && !(f.attrs.communities ?? []).includes(c.std)) return false;
    if (c.large && !(f.attrs.largeCommunities ?? []).some((l) => l[0] === c.large![0] && l[1] === c.large![1] && l[2] === c.large![2])) return false;
  }
  if (r.asPathPrefix && !asPathStartsWith(f.attrs, r.asPathPrefix)) return false;
  return true;
}

/** The first matching rule's action, or null when no rule matches (the policy decides). */
export function filterVerdict(rules: readonly CompiledRule[], f: RouteFacts): FilterVerdict | null {
  for (const r of rules) if (ruleMatches(r, f)) return r.action;
  return null;
}
