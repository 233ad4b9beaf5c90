// Exit codes and the error type commands throw: the CLI's contract with scripts.
//   0 done; 1 refused by the store (conflict, not found, already exists) or store
//   unreachable; 2 bad input (flags, files, selectors, configuration).
import { TrellisError } from '../model/index.js';
import { StoreError, type StoreErrorCode } from '../store/index.js';

export const EXIT = { OK: 0, REFUSED: 1, BAD_INPUT: 2 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** Thrown by a command to end with a message on stderr and the given exit code. */
export class CliError extends TrellisError<'CLI'> {
  constructor(readonly exitCode: ExitCode, message: string) {
    super('CLI', message);
  }
}

/** Ends a placeholder command that another engineer has not built yet. */
export function notBuilt(command: string): never {
  throw new CliError(EXIT.BAD_INPUT, `${command}: not built yet`);
}

/** The store said no (or could not be asked): the input may be fine, so not exit 2. */
const STORE_REFUSALS: ReadonlySet<StoreErrorCode> = new Set(['CONFLICT', 'NOT_FOUND', 'ALREADY_EXISTS', 'UNAVAILABLE']);

/** The exit code and one-line message for an error that ended a command. Everything but a
 *  store refusal is bad input: files, flags, selectors, configuration (ResourceFileError,
 *  SelectorError, ConfigError, IpamError's INVALID_REQUEST, ...), and a StoreError INVALID. */
export function describeError(err: unknown): { exitCode: ExitCode; message: string } {
  if (err instanceof CliError) return { exitCode: err.exitCode, message: err.message };
  if (err instanceof StoreError) return { exitCode: STORE_REFUSALS.has(err.code) ? EXIT.REFUSED : EXIT.BAD_INPUT, message: err.message };
  if (err instanceof Error) return { exitCode: EXIT.BAD_INPUT, message: err.message };
  return { exitCode: EXIT.BAD_INPUT, message: String(err) };
}
