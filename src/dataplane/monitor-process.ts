// A kernel monitor as a child process (`ip monitor`, `nft monitor`, `bridge monitor`): its
// lines handed over one at a time, started again after a pause when it exits (doubled while
// it keeps dying young, up to a minute). One that cannot start leaves the periodic resync as
// the only check of its part.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Logger } from '../log/index.js';

/** A monitor that exits is started again after this, doubled while it keeps dying young (up to a minute). */
const RESTART_MS = 1000;
const RESTART_MAX_MS = 60_000;

export interface MonitorProcesses {
  /** Starts `argv` (under `ip netns exec` with a namespace); resolves once it has had time to subscribe. */
  run(name: string, argv: string[], onLine: (line: string) => void, onErrorText?: (text: string) => void): Promise<void>;
  stop(): Promise<void>;
}

export function createMonitorProcesses(netns: string | undefined, log: Logger): MonitorProcesses {
  let stopped = false;
  const children = new Set<ChildProcess>();
  const restartAfter = new Map<string, number>();
  const run: MonitorProcesses['run'] = (name, argv, onLine, onErrorText) => new Promise((resolve) => {
    if (stopped) { resolve(); return; }
    const began = Date.now();
    const full = netns ? ['ip', 'netns', 'exec', netns, ...argv] : argv;
    const child = spawn(full[0]!, full.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let err = '';
    child.stderr.on('data', (b: Buffer) => {
      const text = b.toString();
      err = (err + text).slice(-500);
      onErrorText?.(text);
    });
    createInterface({ input: child.stdout }).on('line', onLine);
    // A monitor subscribes before it prints anything; a short pause stands in for that moment.
    const ready = setTimeout(resolve, 100);
    child.on('error', (e) => {
      log.warn({ monitor: name, err: e.message }, 'kernel monitor cannot start; drift of this part waits for the resync');
    });
    child.on('close', (code, signal) => {
      children.delete(child);
      clearTimeout(ready);
      resolve();
      if (stopped) return;
      const young = Date.now() - began < 5000;
      const wait = young ? Math.min(RESTART_MAX_MS, (restartAfter.get(name) ?? RESTART_MS / 2) * 2) : RESTART_MS;
      restartAfter.set(name, wait);
      log.warn({ monitor: name, code, signal, stderr: err.trim(), retryInMs: wait }, 'kernel monitor exited; starting it again');
      setTimeout(() => { void run(name, argv, onLine, onErrorText); }, wait).unref();
    });
  });
  return {
    run,
    async stop() {
      stopped = true;
      const exits = [...children].map((c) => new Promise<void>((r) => {
        if (c.exitCode !== null || c.signalCode !== null) { r(); return; }
        c.once('close', () => r());
        c.kill('SIGTERM');
      }));
      await Promise.all(exits);
    },
  };
}
