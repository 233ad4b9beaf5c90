// A context: where a cluster's etcd and each node's trellisd API are, as a file that
// `npm run lab` writes (.lab/context.json) so that trellisctl reaches the lab with no
// flags. It only fills what nothing else set: --etcd-endpoints, TRELLIS_ETCD_ENDPOINTS,
// --config and TRELLIS_CONFIG all win over it, so scripts and tests are never redirected.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { CliError, EXIT } from './errors.js';

export interface NodeContext { /** Base URL of the node's trellisd API, reachable from where the CLI runs. */ api: string }

export interface ClusterContext {
  /** Who wrote it, shown in messages ("npm run lab"). */
  source: string;
  etcdEndpoints: string[];
  nodes: Record<string, NodeContext>;
}

/** Relative to a directory the CLI runs in or under (found the way git finds .git). */
export const CONTEXT_FILE = join('.lab', 'context.json');

/** TRELLIS_CONTEXT names a file; set to "" or "none" it turns contexts off. */
export function findContextFile(cwd: string, env: NodeJS.ProcessEnv): string | null {
  const explicit = env.TRELLIS_CONTEXT;
  if (explicit !== undefined) return explicit === '' || explicit === 'none' ? null : resolve(cwd, explicit);
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    const f = join(dir, CONTEXT_FILE);
    if (existsSync(f)) return f;
    if (dirname(dir) === dir) return null;
  }
}

/** Checks a parsed context; throws a CliError naming the file and the field. */
export function parseContext(text: string, file: string): ClusterContext {
  const bad = (what: string) => new CliError(EXIT.BAD_INPUT, `${file}: ${what} (remove the file, or set TRELLIS_CONTEXT=none to ignore it)`);
  let raw: unknown;
  try { raw = JSON.parse(text); } catch (e) { throw bad(`not JSON: ${(e as Error).message}`); }
  if (typeof raw !== 'object' || raw === null) throw bad('not an object');
  const o = raw as Record<string, unknown>;
  const eps = o.etcdEndpoints;
  if (!Array.isArray(eps) || eps.length === 0 || !eps.every((e) => typeof e === 'string' && /^https?:\/\//.test(e))) throw bad('etcdEndpoints: expected a list of http(s) URLs');
  const nodes: Record<string, NodeContext> = {};
  const n = o.nodes ?? {};
  if (typeof n !== 'object' || n === null || Array.isArray(n)) throw bad('nodes: expected an object of NODE: {api: URL}');
  for (const [name, v] of Object.entries(n as Record<string, unknown>)) {
    const api = (v as { api?: unknown } | null)?.api;
    if (typeof api !== 'string' || !/^https?:\/\//.test(api)) throw bad(`nodes.${name}.api: expected an http(s) URL`);
    nodes[name] = { api };
  }
  return { source: typeof o.source === 'string' ? o.source : file, etcdEndpoints: eps as string[], nodes };
}

export function formatContext(ctx: ClusterContext): string {
  return JSON.stringify(ctx, null, 2) + '\n';
}

/** The context in effect, or null when none is found (or one is not wanted). */
export function loadContext(cwd: string = process.cwd(), env: NodeJS.ProcessEnv = process.env): { file: string; context: ClusterContext } | null {
  const file = findContextFile(cwd, env);
  if (file === null) return null;
  if (!existsSync(file)) {
    if (env.TRELLIS_CONTEXT !== undefined) throw new CliError(EXIT.BAD_INPUT, `TRELLIS_CONTEXT=${env.TRELLIS_CONTEXT}: no such file`);
    return null;
  }
  return { file, context: parseContext(readFileSync(file, 'utf8'), file) };
}
