// Writing a batch of route operations to the kernel: two ways behind one contract (and one
// shared test suite, test/dataplane/route-writer.test.ts). `netlink` hands the encoded
// requests to native/rtnetlink, many per system call off the event loop; `ip` feeds lines to
// `ip -force -batch`, one request and one wait per route, and is used where the helper is
// not built. Both try every operation in order: one unreachable next hop never keeps the
// other routes out.
import type { Logger } from '../log/index.js';
import type { Exec } from './exec.js';
import { encodeRouteOpsInto, routeOpLineAt, routeOpLines, routeOpsSize, type RouteOps } from './route-ops.js';
import { loadRtnetlink } from './rtnetlink.js';
import { nextTurn } from './turn.js';

export interface RouteWriteResult {
  /** One line per operation that failed (or per failure of the write itself), naming the route. */
  errors: string[];
  /** False when an operation failed or it is unknown whether all were tried: read the table back. */
  ok: boolean;
}

export interface RouteWriter {
  readonly name: 'netlink' | 'ip';
  write(ops: RouteOps, proto: number): Promise<RouteWriteResult>;
}

export function ipBatchRouteWriter(exec: Exec): RouteWriter {
  return {
    name: 'ip',
    async write(ops, proto) {
      if (!ops.length) return { errors: [], ok: true };
      const lines = routeOpLines(ops, proto);
      const r = await exec.tryRun(['ip', '-force', '-batch', '-'], `${lines.join('\n')}\n`);
      return { errors: r.exitCode === 0 ? [] : ipBatchErrors(r.stderr, lines), ok: r.exitCode === 0 };
    },
  };
}

/**
 * ip -batch prints the kernel's words, then `Command failed -:N` for line N: one error per
 * failed line, naming its route as the netlink writer does.
 */
export function ipBatchErrors(stderr: string, lines: readonly string[]): string[] {
  const out: string[] = [];
  let said: string[] = [];
  for (const l of stderr.split('\n')) {
    const t = l.trim();
    if (!t) continue;
    const failed = /^Command failed -:(\d+)$/.exec(t);
    if (!failed) { said.push(t.replace(/^(Error|RTNETLINK answers): /, '')); continue; }
    const line = lines[Number(failed[1]) - 1];
    out.push(`${line ?? `line ${failed[1]}`}: ${said.join('; ') || 'failed'}`);
    said = [];
  }
  out.push(...said);
  return out;
}

/** Requests encoded between two turns of the event loop (about 1.5 ms of work). */
const PART = 2048;

/** The netlink writer, or why it cannot be had here. `netns`: a name under /run/netns (unset: this process's namespace). */
export function netlinkRouteWriter(netns?: string): RouteWriter | { error: string } {
  const l = loadRtnetlink();
  if (!('native' in l)) return l;
  const { native } = l;
  const nsPath = netns ? `/run/netns/${netns}` : null;
  return {
    name: 'netlink',
    async write(ops, proto) {
      if (!ops.length) return { errors: [], ok: true };
      const errors: string[] = [];
      // Encoded in parts with the event loop let run between them (100 000 requests are
      // ~70 ms of work) into one buffer, then handed over at once: one exchange, no round
      // trip through a busy event loop per part while the kernel waits.
      const msgs = Buffer.alloc(routeOpsSize(ops));
      let at = 0;
      for (let from = 0; from < ops.length; from += PART) {
        if (from > 0) await nextTurn();
        try {
          at = encodeRouteOpsInto(msgs, at, ops, from, Math.min(from + PART, ops.length), proto, 1);
        } catch (e) {
          // Nothing is sent: the encoder refuses only what ip would refuse too, and the
          // caller reads the table back after a failed write.
          return { errors: [`route batch not written: ${(e as Error).message}`], ok: false };
        }
      }
      const r = await native.exchange(msgs, nsPath);
      for (const f of r.failures) {
        const i = f.seq - 1;
        errors.push(`${i >= 0 && i < ops.length ? routeOpLineAt(ops, i, proto) : `request ${f.seq}`}: ${f.message} (${f.code})${f.detail ? `: ${f.detail}` : ''}`);
      }
      if (r.fatal) errors.push(`rtnetlink: ${r.fatal}; ${r.sent} of ${ops.length} route requests answered${nsPath ? ` (netns ${netns})` : ''}`);
      return { errors, ok: errors.length === 0 };
    },
  };
}

/** The netlink writer where the helper is built, else `ip -batch` (said once in the log). */
export function createRouteWriter(exec: Exec, log: Logger): RouteWriter {
  const w = netlinkRouteWriter(exec.netns);
  if ('write' in w) return w;
  log.warn({ reason: w.error }, 'learned routes are written with ip -batch (slower for large tables)');
  return ipBatchRouteWriter(exec);
}
