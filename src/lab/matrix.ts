// The connectivity matrix: real TCP from every container to every other container's
// port 80, compared with what the policies say (calc's explainFlow, served by trellisd's
// /matrix). Denied flows are dropped, so a probe is a connect with a short timeout.
import { execIn } from './netns.js';
import type { MatrixDoc } from '../api/index.js';

export interface MatrixTarget { name: string; netns: string; address: string }

export interface MatrixCell { from: string; to: string; observed: boolean; declared: boolean | null }

export interface MatrixResult {
  targets: MatrixTarget[];
  cells: MatrixCell[];
  matching: number;
  total: number;
}

/** One TCP connection from a namespace to addr:port; true when the listener's "ok" came back. */
export async function probeTcp(netns: string, addr: string, port = 80, timeoutSec = 1): Promise<boolean> {
  const r = await execIn(netns, ['socat', '-T', String(timeoutSec + 1), '-', `TCP:${addr}:${port},connect-timeout=${timeoutSec}`], {
    input: '', timeoutMs: (timeoutSec + 4) * 1000,
  });
  return r.exitCode === 0 && String(r.stdout).includes('ok');
}

// One process per source namespace connects to every target at once: one node start
// per row instead of an `ip netns exec socat` per cell (the matrix of 12 containers is
// 132 cells), and a denied row costs one connect timeout, not one per round of cells.
// The connect gets timeoutSec (denied flows are dropped, so that is what a denial costs);
// once connected, the listener's answer gets two seconds more, as socat -T 2 gave it.
const PROBE_SCRIPT = `const net=require('net');const [port,ms,...as]=process.argv.slice(1);
const one=a=>new Promise(r=>{let d='';const s=net.connect({host:a,port:+port});
let t=setTimeout(()=>{s.destroy();r(false)},+ms);
s.on('connect',()=>{clearTimeout(t);t=setTimeout(()=>{s.destroy();r(false)},2000)});
s.on('data',b=>{d+=b});s.on('error',()=>{});s.on('close',()=>{clearTimeout(t);r(d.includes('ok'))})});
Promise.all(as.map(one)).then(v=>process.stdout.write(JSON.stringify(v)))`;

/** TCP connections from one namespace to each address at once; true where the listener's "ok" came back. */
export async function probeMany(netns: string, addrs: string[], port = 80, timeoutSec = 1): Promise<boolean[]> {
  if (addrs.length === 0) return [];
  const r = await execIn(netns, [process.execPath, '-e', PROBE_SCRIPT, String(port), String(timeoutSec * 1000), ...addrs], { timeoutMs: (timeoutSec + 20) * 1000 });
  try {
    const v = JSON.parse(r.stdout) as unknown;
    if (Array.isArray(v) && v.length === addrs.length) return v.map((x) => x === true);
  } catch { /* fall through */ }
  throw new Error(`matrix probe from ${netns} failed (exit ${r.exitCode}): ${r.stderr.trim() || r.stdout.trim()}`);
}

/** declared(fromAddress, toAddress) from a /matrix document (null when an address is unknown to it). */
export function declaredFrom(doc: MatrixDoc): (from: string, to: string) => boolean | null {
  const idx = new Map(doc.endpoints.map((e, i) => [e.address, i]));
  return (from, to) => {
    const i = idx.get(from);
    const j = idx.get(to);
    if (i === undefined || j === undefined) return null;
    return doc.allowed[i]?.[j] ?? null;
  };
}

// Connections in flight at once. Every one costs the listener a fork (socat ... SYSTEM:echo ok)
// and the prober a 1 s timer; on 2 busy cores the 30-host lab's 120 rows at once (14,280
// connections) starved the probers past their timeouts and 3,327 allowed cells read as denied,
// though each connected when probed alone; 4 rows at a time (476) read 14,280/14,280.
// 512 keeps the 3-host lab's 12 rows (132 cells) in one round.
export const MATRIX_CELLS_IN_FLIGHT = 512;

/** How many source rows measureMatrix probes at once for n targets. */
export function rowsInFlight(n: number, cells = MATRIX_CELLS_IN_FLIGHT): number {
  return Math.max(1, Math.min(n, Math.floor(cells / Math.max(1, n - 1))));
}

export async function measureMatrix(targets: MatrixTarget[], declared: (from: string, to: string) => boolean | null, opts: { port?: number } = {}): Promise<MatrixResult> {
  const rows: MatrixCell[][] = new Array(targets.length);
  let next = 0;
  await Promise.all(Array.from({ length: rowsInFlight(targets.length) }, async () => {
    while (next < targets.length) {
      const k = next++;
      const a = targets[k]!;
      const others = targets.filter((b) => b !== a);
      const seen = await probeMany(a.netns, others.map((b) => b.address), opts.port ?? 80);
      rows[k] = others.map((b, i) => ({ from: a.name, to: b.name, observed: seen[i]!, declared: declared(a.address, b.address) }));
    }
  }));
  const cells = rows.flat();
  const matching = cells.filter((c) => c.declared === c.observed).length;
  return { targets, cells, matching, total: cells.length };
}

const ANSI = { green: '\x1b[32m', red: '\x1b[31m', yellow: '\x1b[33;1m', reset: '\x1b[0m' };

/** The matrix as text: rows from, columns to; "ok" allowed, "--" denied, "!!" where observed and declared differ. */
export function renderMatrix(m: MatrixResult, color: boolean): string {
  const names = m.targets.map((t) => t.name);
  const w = Math.max(...names.map((n) => n.length));
  const paint = (s: string, c: keyof typeof ANSI) => (color ? `${ANSI[c]}${s}${ANSI.reset}` : s);
  const lines: string[] = [];
  lines.push(`${' '.repeat(w)}  ${names.map((_, j) => String(j + 1).padStart(3)).join('')}`);
  names.forEach((from, i) => {
    const row = names.map((to) => {
      if (from === to) return '  .';
      const c = m.cells.find((x) => x.from === from && x.to === to)!;
      if (c.declared !== c.observed) return ' ' + (color ? paint(c.observed ? 'ok' : '--', 'yellow') : '!!');
      return ' ' + paint(c.observed ? 'ok' : '--', c.observed ? 'green' : 'red');
    });
    lines.push(`${from.padEnd(w)} ${String(i + 1).padStart(2)}${row.join('')}`);
  });
  const wrong = m.cells.filter((c) => c.declared !== c.observed);
  lines.push(`legend: ok = TCP/80 connected, -- = no connection${wrong.length ? `; ${color ? 'highlighted' : '!!'} cells differ from the policies` : ''}`);
  for (const c of wrong) lines.push(`  differs: ${c.from} -> ${c.to}: observed ${c.observed ? 'allowed' : 'denied'}, policies say ${c.declared === null ? 'unknown endpoint' : c.declared ? 'allowed' : 'denied'}`);
  lines.push(`matrix: ${m.matching}/${m.total} as declared`);
  return lines.join('\n');
}
