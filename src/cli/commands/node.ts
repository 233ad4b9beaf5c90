// `trellisctl node status`: the local trellisd's BGP peers, read from its API
// (GET /status -> bgp.peers), as a table in the manner of `birdc show protocols`, or JSON.
import type { Command } from 'commander';
import { print } from '../context.js';
import { CliError, EXIT } from '../errors.js';

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

/** The table `node status` prints: one row per peer, columns padded to their widest cell. */
export function formatPeerTable(peers: PeerStatus[], now = Date.now()): string {
  const header = ['PEER', 'NAME', 'AS', 'STATE', 'SINCE', 'RECEIVED', 'ADVERTISED', 'LAST ERROR'];
  const rows = peers.map((p) => [
    p.peer, p.name ?? '-', String(p.asn), p.stale ? `${p.state} (stale)` : p.state, since(p.uptimeSec, now),
    String(p.received), String(p.advertised), p.lastError ?? '-',
  ]);
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

export function register(program: Command): void {
  const node = program.command('node').description('this node: BGP peers and daemon status');
  node.command('status')
    .description('show BGP peer status from the local trellisd (GET /status)')
    .option('--api <url>', `trellisd API (default: TRELLIS_API_LISTEN or ${DEFAULT_API})`)
    .option('-o, --output <format>', 'table or json', 'table')
    .action(async (opts: { api?: string; output: string }) => {
      if (opts.output !== 'table' && opts.output !== 'json') throw new CliError(EXIT.BAD_INPUT, `-o ${opts.output}: use table or json`);
      const peers = await fetchPeers(apiBase(opts.api));
      if (opts.output === 'json') { print(JSON.stringify(peers ?? [], null, 2)); return; }
      if (peers === null) { print('BGP is not running on this node (no bgp section in /status)'); return; }
      if (peers.length === 0) { print('no BGP peers configured'); return; }
      print(formatPeerTable(peers));
    });
}
