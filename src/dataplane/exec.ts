// The one place the dataplane runs kernel tools. With a namespace set, every command is
// prefixed with `ip netns exec <ns>`, so a dataplane bound to a test namespace can never
// reach the root namespace by accident.
import { execa } from 'execa';
import { DataplaneError } from './errors.js';

export interface ExecOutput { stdout: string; stderr: string; exitCode: number }

export interface Exec {
  readonly netns: string | undefined;
  /** Runs argv (stdin = input); throws DataplaneError EXEC_FAILED on a non-zero exit. */
  run(argv: string[], input?: string): Promise<string>;
  /** Runs argv and returns the result whatever the exit code. */
  tryRun(argv: string[], input?: string): Promise<ExecOutput>;
  /** How many commands ran (reads and writes). */
  readonly count: number;
}

/** Called after every command, for debug logging of what ran and how long it took. */
export type CommandHook = (argv: string[], ms: number, exitCode: number) => void;

export function createExec(netns?: string, onCommand?: CommandHook): Exec {
  let count = 0;
  const full = (argv: string[]): string[] => (netns ? ['ip', 'netns', 'exec', netns, ...argv] : argv);
  const tryRun = async (argv: string[], input?: string): Promise<ExecOutput> => {
    count++;
    const [cmd, ...args] = full(argv);
    const started = Date.now();
    const r = await execa(cmd!, args, { input: input ?? '', reject: false, timeout: 120_000, maxBuffer: 512 * 1024 * 1024 });
    onCommand?.(argv.slice(0, 4), Date.now() - started, r.exitCode ?? -1);
    return { stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? ''), exitCode: r.exitCode ?? -1 };
  };
  return {
    netns,
    get count() { return count; },
    tryRun,
    async run(argv, input) {
      const r = await tryRun(argv, input);
      if (r.exitCode !== 0) {
        const where = netns ? ` (netns ${netns})` : '';
        throw new DataplaneError('EXEC_FAILED', `${argv.join(' ')}${where} exited ${r.exitCode}: ${(r.stderr || r.stdout).trim().slice(0, 2000)}`);
      }
      return r.stdout;
    },
  };
}
