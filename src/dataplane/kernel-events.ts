// What the kernel's change notifications say, and which of them mean someone else changed
// what Trellis programmed. Pure: kernel-watch.ts feeds it the lines of `ip -o monitor route`
// and `nft monitor`, and asks for a repair of what it names. The periodic resync stays the
// safety net for what no notification reports (ipset members; IPv4 routes a deleted link took along).
import { ROUTE_PROTO_WORKLOAD } from '../calc/index.js';
import { routeDst } from './routes.js';

/** One change someone else made to what Trellis programmed, and which part repairs it. */
export interface KernelDrift {
  part: 'routes' | 'policy';
  /** For the log line: what changed, in the kernel's own words. */
  what: string;
}

export interface RouteEvent { deleted: boolean; dst: string; dev: string | null; proto: string | null; table: string | null }

const ROUTE_TYPES = new Set(['unicast', 'local', 'broadcast', 'multicast', 'anycast', 'unreachable', 'blackhole', 'prohibit', 'throw', 'nat']);

/**
 * Whether a line of `ip -o monitor route` can be about a host route (/32, /128, printed
 * without a length), the only kind Trellis writes for an endpoint and so the only kind
 * routeDrift can report. Reads the destination word alone: a full BGP table installed or
 * withdrawn is 100,000 events of prefixes, dismissed here without being parsed.
 */
export function mayBeHostRouteEvent(line: string): boolean {
  let i = 0;
  const word = (): string => {
    while (i < line.length && (line[i] === ' ' || line[i] === '\t')) i++;
    const start = i;
    while (i < line.length && line[i] !== ' ' && line[i] !== '\t') i++;
    return line.slice(start, i);
  };
  let w = word();
  if (w === 'Deleted') w = word();
  if (ROUTE_TYPES.has(w)) w = word();
  const slash = w.indexOf('/');
  if (slash < 0) return true;
  const len = w.slice(slash + 1);
  return len === '32' || len === '128';
}

/** A line of `ip -o monitor route` (with or without `-o`), or null for what is not a route. */
export function parseRouteEvent(line: string): RouteEvent | null {
  const words = line.trim().split(/\s+/).filter(Boolean);
  let deleted = false;
  if (words[0] === 'Deleted') {
    deleted = true;
    words.shift();
  }
  if (words[0] !== undefined && ROUTE_TYPES.has(words[0])) {
    if (words[0] !== 'unicast') return null; // not a route to a host over a device
    words.shift();
  }
  const dst = words[0];
  if (!dst || !/^(default|[0-9a-fA-F:.]+(\/\d+)?)$/.test(dst) || !/[.:]|default/.test(dst)) return null;
  const after = (k: string): string | null => {
    const i = words.indexOf(k);
    return i > 0 && i + 1 < words.length ? words[i + 1]! : null;
  };
  const family = dst.includes(':') ? 6 : 4;
  let canonical: string;
  try {
    canonical = routeDst(dst, family);
  } catch {
    return null;
  }
  return { deleted, dst: canonical, dev: after('dev'), proto: after('proto'), table: after('table') };
}

/**
 * Drift a route event shows, given the workload routes last programmed (destination ->
 * device): one of ours deleted, or replaced by a route of another protocol or device. Our
 * own writes never do either to a route still wanted (a delete is of a route no endpoint
 * wants, a replace writes what is wanted), so no attribution is needed.
 */
export function routeDrift(ev: RouteEvent, ours: ReadonlyMap<string, string>): KernelDrift | null {
  if (ev.table !== null && ev.table !== 'main') return null;
  const dev = ours.get(ev.dst);
  if (dev === undefined) return null;
  const proto = String(ROUTE_PROTO_WORKLOAD);
  if (ev.deleted) {
    if (ev.proto !== null && ev.proto !== proto) return null; // someone else's route to the same place went
    return { part: 'routes', what: `route ${ev.dst} dev ${ev.dev ?? dev} deleted` };
  }
  if (ev.proto === proto && ev.dev === dev) return null;
  return { part: 'routes', what: `route ${ev.dst} replaced by one ${ev.dev ? `dev ${ev.dev} ` : ''}proto ${ev.proto ?? 'boot'}` };
}

/** The iptables-nft tables (families ip and ip6): what Trellis's policy backend writes. */
const IPTABLES_TABLES = new Set(['filter', 'nat', 'raw', 'mangle', 'security']);

/** One nf_tables transaction as `nft monitor` prints it: its changes, then the generation line naming the process. */
export interface NftTransaction { pid: number | null; comm: string; changes: string[] }

/**
 * Splits `nft monitor` output into transactions. Feed it line by line; it returns a
 * transaction when its closing `# new generation N by process PID (comm)` line arrives.
 */
export function createNftParser(): (line: string) => NftTransaction | null {
  let changes: string[] = [];
  return (line) => {
    const t = line.trim();
    if (!t) return null;
    const gen = /^# new generation \d+(?: by process (\d+) \(([^)]*)\))?/.exec(t);
    if (!gen) {
      if (!t.startsWith('#')) changes.push(t);
      return null;
    }
    const tx: NftTransaction = { pid: gen[1] ? Number(gen[1]) : null, comm: gen[2] ?? '?', changes };
    changes = [];
    return tx;
  };
}

/** Whether an nft change line concerns an iptables table ("add rule ip filter FORWARD ...", "delete table ip6 nat"). */
export function touchesIptables(change: string): boolean {
  const m = /^(?:add|delete|create|flush|replace|insert|update|destroy)\s+(?:rule|chain|table|set|element|flowtable|obj\w*)\s+(ip|ip6)\s+(\S+)/.exec(change);
  return m !== null && IPTABLES_TABLES.has(m[2]!);
}

/** The drift a transaction shows: an iptables table changed by a process that is not one of ours. */
export function nftDrift(tx: NftTransaction, ownPid: (pid: number) => boolean): KernelDrift | null {
  if (tx.pid !== null && ownPid(tx.pid)) return null;
  const hits = tx.changes.filter(touchesIptables);
  if (!hits.length) return null;
  const by = tx.pid === null ? 'an unknown process' : `process ${tx.pid} (${tx.comm})`;
  const shown = hits.slice(0, 3).map((c) => c.replace(/\s+counter packets \d+ bytes \d+/, '')).join('; ');
  return { part: 'policy', what: `${shown}${hits.length > 3 ? `; and ${hits.length - 3} more` : ''} by ${by}` };
}
