// Long-lived lab processes (etcd, BIRD, trellisd, listeners): spawned detached inside a
// namespace with output to a log file, so that they outlive `lab up`; recorded by pid.
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { inNetns } from './netns.js';
import { processStat, type ProcessRecord, type RecordBook } from './records.js';

export function spawnInNetns(book: RecordBook, role: string, netns: string, argv: string[], logFile: string, env?: NodeJS.ProcessEnv): number {
  return spawnDetached(book, role, netns, argv, logFile, env);
}

/**
 * As spawnInNetns; netns null runs in this process's namespace (the lab's loopback forwards).
 * `entersItself`: argv enters netns on its own (dockerd's nsenter), netns is only recorded.
 */
export function spawnDetached(
  book: RecordBook, role: string, netns: string | null, argv: string[], logFile: string, env?: NodeJS.ProcessEnv, entersItself = false,
): number {
  mkdirSync(dirname(logFile), { recursive: true });
  const fd = openSync(logFile, 'a');
  try {
    const full = netns === null || entersItself ? argv : inNetns(netns, argv);
    const child = spawn(full[0]!, full.slice(1), { detached: true, stdio: ['ignore', fd, fd], env: env ? { ...process.env, ...env } : process.env });
    if (!child.pid) throw new Error(`could not start ${role}: ${argv.join(' ')}`);
    child.unref();
    book.process({ pid: child.pid, role, netns: netns ?? '', argv });
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/** Running, and the same process as recorded; a zombie has stopped (only its reaping is
 *  left, which init may do late), so it counts as gone. */
export function isAlive(rec: Pick<ProcessRecord, 'pid' | 'startTime'>): boolean {
  const st = processStat(rec.pid);
  return st !== null && st.state !== 'Z' && st.state !== 'X' && (rec.startTime === null || st.startTime === rec.startTime);
}

/**
 * Stops a recorded process (and its process group, unless `group` is false): SIGTERM, then
 * SIGKILL after timeoutMs. dockerd is stopped alone: it stops its containers and containerd itself.
 */
export async function stopProcess(rec: Pick<ProcessRecord, 'pid' | 'startTime'>, signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 5000, group = true): Promise<void> {
  if (!isAlive(rec)) return;
  const kill = (sig: NodeJS.Signals) => {
    // Detached children lead their own group: `ip netns exec` execs the program in place.
    if (group) { try { process.kill(-rec.pid, sig); return; } catch { /* no group */ } }
    try { process.kill(rec.pid, sig); } catch { /* gone */ }
  };
  kill(signal);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(rec)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  kill('SIGKILL');
  for (let i = 0; i < 40 && isAlive(rec); i++) await new Promise((r) => setTimeout(r, 50));
}
