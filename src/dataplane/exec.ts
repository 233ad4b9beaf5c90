// The one place the dataplane runs kernel tools. With a namespace set, every command is
// prefixed with `ip netns exec <ns>`, so a dataplane bound to a test namespace can never
// reach the root namespace by accident. The commands are started by the command helper
// (spawner.ts), which keeps process starts off trellisd's event loop.
import { writeFileSync } from 'node:fs';
import { DataplaneError } from './errors.js';
import { sharedSpawner } from './spawner.js';
import type { SysctlWant } from './sysctls.js';

export interface ExecOutput { stdout: string; stderr: string; exitCode: number }

export interface RunOptions {
  /**
   * The tool does nothing until stdin tells it what (iptables-restore, ipset restore,
   * ip -batch) and reads the kernel only then: an instance may be started ahead of need and
   * fed when the time comes.
   */
  warm?: boolean;
}

export interface Exec {
  readonly netns: string | undefined;
  /** Runs argv (stdin = input); throws DataplaneError EXEC_FAILED on a non-zero exit. */
  run(argv: string[], input?: string, opts?: RunOptions): Promise<string>;
  /** Runs argv and returns the result whatever the exit code. */
  tryRun(argv: string[], input?: string, opts?: RunOptions): Promise<ExecOutput>;
  /**
   * Sets sysctls: in the dataplane's own namespace by writing /proc/sys (no process to
   * start on the way to a new endpoint), inside another namespace through sysctl(8) under
   * `ip netns exec` (this process's /proc/sys is not that namespace's). With ignoreMissing,
   * keys of interfaces that do not exist are skipped (sysctl -e).
   */
  writeSysctls(wants: readonly SysctlWant[], ignoreMissing: boolean): Promise<ExecOutput>;
  /** How many commands ran (reads and writes). */
  readonly count: number;
}

/** Called after every command, for debug logging of what ran and how long it took. */
export type CommandHook = (argv: string[], ms: number, exitCode: number) => void;

export function createExec(netns?: string, onCommand?: CommandHook): Exec {
  let count = 0;
  const full = (argv: string[]): string[] => (netns ? ['ip', 'netns', 'exec', netns, ...argv] : argv);
  const tryRun = async (argv: string[], input?: string, opts?: RunOptions): Promise<ExecOutput> => {
    count++;
    const started = Date.now();
    // A helper that died takes its commands along: they failed, like a command that could not start.
    const r = await sharedSpawner().run(full(argv), input ?? '', 120_000, opts?.warm ?? false)
      .catch((err: Error): ExecOutput => ({ stdout: '', stderr: err.message, exitCode: -1 }));
    onCommand?.(argv.slice(0, 4), Date.now() - started, r.exitCode);
    return r;
  };
  const writeSysctls = async (wants: readonly SysctlWant[], ignoreMissing: boolean): Promise<ExecOutput> => {
    if (netns) return tryRun(['sysctl', '-q', ...(ignoreMissing ? ['-e'] : []), '-w', ...wants.map((w) => `${w.key}=${w.value}`)]);
    count++;
    const started = Date.now();
    const errors: string[] = [];
    for (const w of wants) {
      try {
        writeFileSync(w.path, w.value);
      } catch (err) {
        if (ignoreMissing && (err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        errors.push(`${w.key}: ${(err as Error).message}`);
      }
    }
    onCommand?.(['write', '/proc/sys', `(${wants.length})`], Date.now() - started, errors.length ? 1 : 0);
    return { stdout: '', stderr: errors.join('\n'), exitCode: errors.length ? 1 : 0 };
  };
  return {
    netns,
    get count() { return count; },
    tryRun,
    writeSysctls,
    async run(argv, input, opts) {
      const r = await tryRun(argv, input, opts);
      if (r.exitCode !== 0) {
        const where = netns ? ` (netns ${netns})` : '';
        throw new DataplaneError('EXEC_FAILED', `${argv.join(' ')}${where} exited ${r.exitCode}: ${(r.stderr || r.stdout).trim().slice(0, 2000)}`);
      }
      return r.stdout;
    },
  };
}
