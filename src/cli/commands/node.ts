// `trellisctl node status`: the local trellisd's BGP peers, read from its API
// (GET /status -> bgp.peers), as a table in the manner of `birdc show protocols`, or JSON.
import type { Command } from 'commander';
import { print } from '../context.js';
import { CliError, EXIT } from '../errors.js';
import { loadContext } from '../lab-context.js';

/** One peer as GET /status reports it (the speaker's PeerStatus). */
export interface PeerStatus {
  peer: string;
  name?: string;
  asn: number;
  state: string;
  uptimeSec: number;
  received: number;
  advertised: number;
  lastError: string | null;
  stale?: boolean;
}

export const DEFAULT_API = 'http://127.0.0.1:9099';

/** --api, else TRELLIS_API_LISTEN ("host:port" or a URL), else the default. */
export function apiBase(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const v = flag ?? env.TRELLIS_API_LISTEN;
  if (!v) return DEFAULT_API;
  const withScheme = /^https?:\/\//.test(v) ? v : `http://${v.replace(/^0\.0\.0\.0:/, '127.0.0.1:').replace(/^\[::\]:/, '127.0.0.1:')}`;
  try { return new URL(withScheme).toString().replace(/\/$/, ''); } catch {
    throw new CliError(EXIT.BAD_INPUT, `--api "${v}" is not a URL or host:port (e.g. http://127.0.0.1:9099)`);
  }
}

function since(uptimeSec: number, now: number): string {
  return new Date(now - uptimeSec * 1000).toISOString().replace('T', ' ').slice(0, 19);
}

/** The table `node status` prints: one row per peer, columns padded to their widest cell;
 *  with byNode (every node of a context), a NODE column first. */
export function formatPeerTable(peers: PeerStatus[], now = Date.now(), byNode?: Array<{ node: string; peers: PeerStatus[] }>): string {
  const cells = (p: PeerStatus) => [
    p.peer, p.name ?? '-', String(p.asn), p.stale ? `${p.state} (stale)` : p.state, since(p.uptimeSec, now),
    String(p.received), String(p.advertised), p.lastError ?? '-',
  ];
  const header = [...(byNode ? ['NODE'] : []), 'PEER', 'NAME', 'AS', 'STATE', 'SINCE', 'RECEIVED', 'ADVERTISED', 'LAST ERROR'];
  const rows = byNode ? byNode.flatMap((n) => n.peers.map((p) => [n.node, ...cells(p)])) : peers.map(cells);
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  return all.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}

interface StatusBody { bgp?: { peers?: PeerStatus[] } | null }

export async function fetchPeers(base: string): Promise<PeerStatus[] | null> {
  let res: Response;
  try {
    res = await fetch(`${base}/status`, { signal: AbortSignal.timeout(5000) });
  } catch (e) {
    throw new CliError(EXIT.REFUSED, `cannot reach trellisd at ${base}: ${(e as Error).message} (is it running? set --api or TRELLIS_API_LISTEN)`);
  }
  if (!res.ok) throw new CliError(EXIT.REFUSED, `trellisd at ${base} answered GET /status with HTTP ${res.status}`);
  let body: StatusBody;
  try { body = (await res.json()) as StatusBody; } catch {
    throw new CliError(EXIT.REFUSED, `trellisd at ${base} answered GET /status with something that is not JSON`);
  }
  if (!body.bgp) return null;
  if (!Array.isArray(body.bgp.peers)) throw new CliError(EXIT.REFUSED, `trellisd at ${base}: GET /status has no bgp.peers list`);
  return body.bgp.peers;
}

/** GET /status -> vxlan, as trellisd reports it (absent: VXLAN never synced on that node). */
export interface VxlanStatus {
  device: { node: string; address: string; tunnelAddr: string; mac: string; vni: number; port: number } | null;
  vteps: Array<{ node: string; address: string; tunnelAddr: string; mac: string }>;
  routes: Array<{ dst: string; node: string; via: string; mode: string }>;
  problems: string[];
}

/** The VTEPs (this host's first) and the routes to remote blocks, or '' when there is nothing to show. */
export function formatVxlan(v: VxlanStatus | undefined): string {
  if (!v || (!v.device && v.routes.length === 0 && v.problems.length === 0)) return '';
  const table = (rows: string[][]) => {
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
  };
  const out: string[] = [];
  const d = v.device;
  out.push(d ? `VXLAN: vni ${d.vni}, port ${d.port}` : 'VXLAN: no local VTEP');
  const vteps = [...(d ? [{ ...d, self: true }] : []), ...v.vteps.map((x) => ({ ...x, self: false }))];
  if (vteps.length) out.push(table([['VTEP NODE', 'ADDRESS', 'TUNNEL ADDRESS', 'MAC'], ...vteps.map((x) => [x.self ? `${x.node} (this)` : x.node, x.address, x.tunnelAddr, x.mac])]));
  if (v.routes.length) out.push(table([['ROUTE', 'NODE', 'VIA', 'MODE'], ...v.routes.map((r) => [r.dst, r.node, r.via, r.mode])]));
  for (const p of v.problems) out.push(`note: ${p}`);
  return out.join('\n');
}

export async function fetchVxlan(base: string): Promise<VxlanStatus | undefined> {
  try {
    const res = await fetch(`${base}/status`, { signal: AbortSignal.timeout(5000) });
    return res.ok ? ((await res.json()) as { vxlan?: VxlanStatus }).vxlan : undefined;
  } catch {
    return undefined;
  }
}

/** Which APIs to ask: --api, else --node from the context, else TRELLIS_API_LISTEN, else every
 *  node of a context, else the local default. null node: the one local trellisd. */
export function apiTargets(opts: { api?: string; node?: string }, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Array<{ node: string | null; base: string }> {
  if (opts.api !== undefined) {
    if (opts.node !== undefined) throw new CliError(EXIT.BAD_INPUT, '--api and --node: give one');
    return [{ node: null, base: apiBase(opts.api, env) }];
  }
  const ctx = opts.node !== undefined || !env.TRELLIS_API_LISTEN ? loadContext(cwd, env) : null;
  if (opts.node !== undefined) {
    if (!ctx) throw new CliError(EXIT.BAD_INPUT, `--node ${opts.node}: no context file names nodes (run "npm run lab", or use --api URL)`);
    const n = ctx.context.nodes[opts.node];
    if (!n) throw new CliError(EXIT.BAD_INPUT, `--node ${opts.node}: not in ${ctx.file} (nodes: ${Object.keys(ctx.context.nodes).join(', ') || 'none'})`);
    return [{ node: opts.node, base: apiBase(n.api, env) }];
  }
  if (!env.TRELLIS_API_LISTEN && ctx && Object.keys(ctx.context.nodes).length > 0) {
    return Object.entries(ctx.context.nodes).map(([node, n]) => ({ node, base: apiBase(n.api, env) }));
  }
  return [{ node: null, base: apiBase(undefined, env) }];
}

export function register(program: Command): void {
  const node = program.command('node').description('this node: BGP peers and daemon status');
  node.command('status')
    .description('show BGP peer status from trellisd (GET /status): the local one, --node NAME of a lab context, or every node of the context')
    .option('--api <url>', `trellisd API (default: TRELLIS_API_LISTEN or ${DEFAULT_API})`)
    .option('--node <name>', 'the node of the context (.lab/context.json, written by npm run lab) to ask')
    .option('-o, --output <format>', 'table or json', 'table')
    .action(async (opts: { api?: string; node?: string; output: string }) => {
      if (opts.output !== 'table' && opts.output !== 'json') throw new CliError(EXIT.BAD_INPUT, `-o ${opts.output}: use table or json`);
      const targets = apiTargets(opts);
      if (targets.length > 1) {
        const byNode = await Promise.all(targets.map(async (t) => ({ node: t.node!, peers: (await fetchPeers(t.base)) ?? [] })));
        if (opts.output === 'json') { print(JSON.stringify(Object.fromEntries(byNode.map((n) => [n.node, n.peers])), null, 2)); return; }
        print(formatPeerTable([], Date.now(), byNode));
        return;
      }
      const peers = await fetchPeers(targets[0]!.base);
      if (opts.output === 'json') { print(JSON.stringify(peers ?? [], null, 2)); return; }
      if (peers === null) print('BGP is not running on this node (no bgp section in /status)');
      else if (peers.length === 0) print('no BGP peers configured');
      else print(formatPeerTable(peers));
      const vx = formatVxlan(await fetchVxlan(targets[0]!.base));
      if (vx) print(`\n${vx}`);
    });
}
