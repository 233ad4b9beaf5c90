// Exit codes and the error type commands throw: the CLI's contract with scripts.
//   0 done; 1 refused by the store (conflict, not found, already exists) or store
//   unreachable; 2 bad input (flags, files, selectors, configuration).
export const EXIT = { OK: 0, REFUSED: 1, BAD_INPUT: 2 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** Thrown by a command to end with a message on stderr and the given exit code. */
export class CliError extends Error {
  constructor(readonly exitCode: ExitCode, message: string) {
    super(message);
    this.name = 'CliError';
  }
}

/** Ends a placeholder command that another engineer has not built yet. */
export function notBuilt(command: string): never {
  throw new CliError(EXIT.BAD_INPUT, `${command}: not built yet`);
}

const STORE_REFUSALS = new Set(['CONFLICT', 'NOT_FOUND', 'ALREADY_EXISTS', 'UNAVAILABLE']);
const BAD_INPUT_NAMES = new Set(['ConfigError', 'ResourceFileError', 'SelectorError', 'CidrError']);

/** The exit code and one-line message for an error that ended a command. */
export function describeError(err: unknown): { exitCode: ExitCode; message: string } {
  if (err instanceof CliError) return { exitCode: err.exitCode, message: err.message };
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    if (err.name === 'StoreError' && typeof code === 'string') {
      return { exitCode: STORE_REFUSALS.has(code) ? EXIT.REFUSED : EXIT.BAD_INPUT, message: err.message };
    }
    if (BAD_INPUT_NAMES.has(err.name)) return { exitCode: EXIT.BAD_INPUT, message: err.message };
    return { exitCode: EXIT.BAD_INPUT, message: err.message };
  }
  return { exitCode: EXIT.BAD_INPUT, message: String(err) };
}
