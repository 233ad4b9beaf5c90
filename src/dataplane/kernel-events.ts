// What the kernel's change notifications say, and which of them mean someone else changed
// what Trellis programmed. Pure: kernel-watch.ts feeds it the lines of `ip -o monitor route`,
// `nft monitor`, `bridge monitor fdb` and `ip -4 -o monitor neigh`, and asks for a repair of
// what it names. The periodic resync stays the safety net for what no notification reports
// (ipset members; IPv4 routes a deleted link took along).
import { ROUTE_PROTO_VXLAN, ROUTE_PROTO_WORKLOAD } from '../calc/index.js';
import { routeDst } from './routes.js';

/** One change someone else made to what Trellis programmed, and which part repairs it. */
export interface KernelDrift {
  part: 'routes' | 'policy' | 'vxlan';
  /** For the log line: what changed, in the kernel's own words. */
  what: string;
}

export interface RouteEvent { deleted: boolean; dst: string; dev: string | null; proto: string | null; table: string | null }

const ROUTE_TYPES = new Set(['unicast', 'local', 'broadcast', 'multicast', 'anycast', 'unreachable', 'blackhole', 'prohibit', 'throw', 'nat']);

/** A monitor line's words, with the leading "Deleted" that iproute2's monitors print taken off as a flag. */
function monitorWords(line: string): { deleted: boolean; words: string[] } {
  const words = line.trim().split(/\s+/).filter(Boolean);
  const deleted = words[0] === 'Deleted';
  if (deleted) words.shift();
  return { deleted, words };
}

/** The word after keyword `k` ("dev", "dst", "proto"...), never the first word; null when absent. */
function wordAfter(words: readonly string[], k: string): string | null {
  const i = words.indexOf(k);
  return i > 0 && i + 1 < words.length ? words[i + 1]! : null;
}

/** A line of `ip -o monitor route` (with or without `-o`), or null for what is not a route. */
export function parseRouteEvent(line: string): RouteEvent | null {
  const { deleted, words } = monitorWords(line);
  if (words[0] !== undefined && ROUTE_TYPES.has(words[0])) {
    if (words[0] !== 'unicast') return null; // not a route to a host over a device
    words.shift();
  }
  const dst = words[0];
  if (!dst || !/^(default|[0-9a-fA-F:.]+(\/\d+)?)$/.test(dst) || !/[.:]|default/.test(dst)) return null;
  const after = (k: string) => wordAfter(words, k);
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

/** What the VXLAN sync last asked for, as the drift checks need it. */
export interface VxlanWanted {
  device: string;
  /** Our proto 80 routes by destination. */
  routes: ReadonlySet<string>;
  /** FDB: VTEP MAC -> underlay address. */
  fdb: ReadonlyMap<string, string>;
  /** Neighbours: VTEP address -> MAC. */
  neigh: ReadonlyMap<string, string>;
}

/**
 * A VXLAN route of ours deleted, or one of another protocol put in its place. Only the VXLAN
 * sync writes proto 80, and it deletes only routes no longer wanted.
 */
export function vxlanRouteDrift(ev: RouteEvent, wanted: VxlanWanted): KernelDrift | null {
  if (ev.table !== null && ev.table !== 'main') return null;
  if (!wanted.routes.has(ev.dst)) return null;
  const proto = String(ROUTE_PROTO_VXLAN);
  if (ev.deleted) {
    if (ev.proto !== null && ev.proto !== proto) return null;
    return { part: 'vxlan', what: `vxlan route ${ev.dst}${ev.dev ? ` dev ${ev.dev}` : ''} deleted` };
  }
  if (ev.proto === proto) return null;
  return { part: 'vxlan', what: `vxlan route ${ev.dst} replaced by one ${ev.dev ? `dev ${ev.dev} ` : ''}proto ${ev.proto ?? 'boot'}` };
}

export interface FdbEvent { deleted: boolean; mac: string; dev: string | null; dst: string | null }

/** A line of `bridge monitor fdb` ("[Deleted ]MAC dev DEV [dst ADDR] self permanent"), or null. */
export function parseFdbEvent(line: string): FdbEvent | null {
  const { deleted, words } = monitorWords(line);
  const mac = words[0]?.toLowerCase();
  if (!mac || !/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(mac)) return null;
  const after = (k: string) => wordAfter(words, k);
  return { deleted, mac, dev: after('dev'), dst: after('dst') };
}

/**
 * An FDB entry of ours deleted, or pointed elsewhere. Our own writes replace an entry with
 * the wanted address and delete only entries of MACs no longer wanted, or an old address.
 */
export function fdbDrift(ev: FdbEvent, wanted: VxlanWanted): KernelDrift | null {
  if (ev.dev !== wanted.device) return null;
  const dst = wanted.fdb.get(ev.mac);
  if (dst === undefined) return null;
  if (ev.deleted) return ev.dst === dst ? { part: 'vxlan', what: `fdb ${ev.mac} dst ${dst} on ${wanted.device} deleted` } : null;
  return ev.dst === dst ? null : { part: 'vxlan', what: `fdb ${ev.mac} on ${wanted.device} now dst ${ev.dst ?? 'none'} (wanted ${dst})` };
}

export interface NeighEvent { deleted: boolean; dst: string; dev: string | null; lladdr: string | null; permanent: boolean; state: string }

/** A line of `ip -4 -o monitor neigh` ("[Deleted ]ADDR dev DEV [lladdr MAC] STATE"), or null. */
export function parseNeighEvent(line: string): NeighEvent | null {
  const { deleted, words } = monitorWords(line);
  const dst = words[0];
  if (!dst || !/^\d{1,3}(\.\d{1,3}){3}$/.test(dst)) return null;
  const after = (k: string) => wordAfter(words, k);
  const states = words.filter((w) => /^[A-Z_]+$/.test(w));
  return { deleted, dst, dev: after('dev'), lladdr: after('lladdr')?.toLowerCase() ?? null, permanent: states.includes('PERMANENT'), state: states.join(',') || '?' };
}

/** A permanent neighbour of ours deleted, or changed (another MAC, no longer permanent). */
export function neighDrift(ev: NeighEvent, wanted: VxlanWanted): KernelDrift | null {
  if (ev.dev !== wanted.device) return null;
  const mac = wanted.neigh.get(ev.dst);
  if (mac === undefined) return null;
  if (ev.deleted) return { part: 'vxlan', what: `neighbour ${ev.dst} on ${wanted.device} deleted` };
  if (ev.lladdr === mac && ev.permanent) return null;
  return { part: 'vxlan', what: `neighbour ${ev.dst} on ${wanted.device} now ${ev.lladdr ?? 'without lladdr'} ${ev.state} (wanted ${mac} PERMANENT)` };
}
