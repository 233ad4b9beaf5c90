// Dispatch chains as trees. A flat dispatch lists every endpoint, so adding one endpoint
// rewrote three chains of a thousand rules each; split by interface-name prefix (and, for
// the by-address dispatch, by /24 or /120), an endpoint add rewrites one small leaf and
// at most the branch above it. Pure.
import { canonicalCidr } from '../../model/index.js';
import { MARK_VERDICT, VERDICT_DONE, byCodePoint, hex, shortHash, verdictMark } from './names.js';

export interface DispatchChain { name: string; body: string[] }

/** Most jumps a chain of the tree holds before it is split further. */
export const DISPATCH_LEAF = 16;

const UNKNOWN = '-m comment --comment "unknown workload interface" -j DROP';

function commonPrefixLength(names: readonly string[]): number {
  const first = names[0] ?? '';
  let n = first.length;
  for (const s of names) {
    let i = 0;
    while (i < n && i < s.length && s[i] === first[i]) i++;
    n = i;
  }
  return n;
}

/**
 * The chains that send `-i`/`-o` traffic of each interface to its endpoint chain: `root`
 * first, then its branches (`<root>-<prefix>`, matched with the `<prefix>+` wildcard).
 * Every chain of the tree ends in the unknown-interface drop: `-g` leaves the tree for
 * good, so a miss in a branch must not fall back to whoever jumped into the root.
 */
export function interfaceDispatch(
  root: string, flag: '-i' | '-o', interfaces: readonly string[], target: (iface: string) => string, leaf = DISPATCH_LEAF,
): DispatchChain[] {
  const out: DispatchChain[] = [];
  const build = (name: string, names: string[]) => {
    const body: string[] = [];
    out.push({ name, body });
    if (names.length <= leaf) {
      for (const n of names) body.push(`${flag} ${n} -g ${target(n)}`);
      body.push(UNKNOWN);
      return;
    }
    const depth = commonPrefixLength(names);
    const groups = new Map<string, string[]>();
    for (const n of names) {
      // A name equal to the shared prefix has no next character: it is matched exactly, first.
      if (n.length === depth) body.push(`${flag} ${n} -g ${target(n)}`);
      else {
        const p = n.slice(0, depth + 1);
        const g = groups.get(p);
        if (g) g.push(n);
        else groups.set(p, [n]);
      }
    }
    for (const [prefix, members] of groups) {
      if (members.length === 1) {
        body.push(`${flag} ${members[0]} -g ${target(members[0]!)}`);
        continue;
      }
      const child = `${root}-${prefix}`;
      body.push(`${flag} ${prefix}+ -g ${child}`);
      build(child, members);
    }
    body.push(UNKNOWN);
  };
  build(root, [...new Set(interfaces)].sort(byCodePoint));
  return out;
}

/** The /24 (IPv4, by text: calc hands over canonical addresses) or /120 (IPv6) holding an address. */
function branchNet(address: string, family: 4 | 6): string {
  const bare = address.split('/')[0]!;
  if (family === 4) return `${bare.slice(0, bare.lastIndexOf('.'))}.0/24`;
  return canonicalCidr(`${bare}/120`);
}

/**
 * Dispatch by destination address (host-originated DNAT, where the interface is lo):
 * `root` clears the marks and sends each /24 (IPv4) or /120 (IPv6) holding endpoint
 * addresses to a branch listing them. A miss returns to the caller, as the flat chain did.
 */
export function addressDispatch(
  root: string, head: string[], entries: ReadonlyArray<{ address: string; chain: string }>, family: 4 | 6, leaf = DISPATCH_LEAF,
): DispatchChain[] {
  const rules = [...entries].sort((a, b) => byCodePoint(a.address, b.address)).map((e) => ({ ...e, rule: `-d ${e.address} -g ${e.chain}` }));
  if (rules.length <= leaf) return [{ name: root, body: [...head, ...rules.map((r) => r.rule)] }];
  const groups = new Map<string, string[]>();
  for (const r of rules) {
    const net = branchNet(r.address, family);
    const g = groups.get(net);
    if (g) g.push(r.rule);
    else groups.set(net, [r.rule]);
  }
  const out: DispatchChain[] = [{ name: root, body: [...head] }];
  for (const [net, body] of [...groups].sort(([a], [b]) => byCodePoint(a, b))) {
    // IPv6 networks are too long for a chain name (28 characters): name those by hash.
    const child = `${root}-${family === 4 ? net.split('/')[0]! : shortHash(net, 12)}`;
    out[0]!.body.push(`-d ${net} -g ${child}`);
    out.push({ name: child, body });
  }
  return out;
}

const UNKNOWN_VERDICT = '-m comment --comment "unknown verdict" -j DROP';
const verdictMatch = (value: number, mask: number) => `-m mark --mark ${hex(value)}/${hex(mask)}`;

/**
 * Dispatch by the verdict id an endpoint chain put in the mark: `root` returns at once for
 * VERDICT_DONE, sends each id to its verdict chain (split by the id's top four bits past 16
 * entries) and drops anything else, so a packet whose endpoint chain set no id (or one we
 * no longer know) fails closed.
 */
export function verdictDispatch(
  root: string, entries: ReadonlyArray<{ id: number; chain: string }>, leaf = DISPATCH_LEAF,
): DispatchChain[] {
  const rules = [...entries].sort((a, b) => a.id - b.id).map((e) => ({ ...e, rule: `${verdictMatch(verdictMark(e.id), MARK_VERDICT)} -g ${e.chain}` }));
  const head = `${verdictMatch(verdictMark(VERDICT_DONE), MARK_VERDICT)} -j RETURN`;
  if (rules.length <= leaf) return [{ name: root, body: [head, ...rules.map((r) => r.rule), UNKNOWN_VERDICT] }];
  const top = 0xf0000000;
  const groups = new Map<number, string[]>();
  for (const r of rules) {
    const nibble = (verdictMark(r.id) & top) >>> 0;
    const g = groups.get(nibble);
    if (g) g.push(r.rule);
    else groups.set(nibble, [r.rule]);
  }
  const out: DispatchChain[] = [{ name: root, body: [head] }];
  for (const [nibble, body] of groups) {
    const child = `${root}-${(nibble >>> 28).toString(16)}`;
    out[0]!.body.push(`${verdictMatch(nibble, top)} -g ${child}`);
    out.push({ name: child, body: [...body, UNKNOWN_VERDICT] });
  }
  out[0]!.body.push(UNKNOWN_VERDICT);
  return out;
}
