// Structured JSON logs (pino) on stderr: stdout belongs to command output
// (trellisctl tables, CNI results), so nothing logs there.
import { pino, destination, type Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export function createLogger(opts: { name: string; level?: LogLevel }): Logger {
  return pino({ name: opts.name, level: opts.level ?? 'info', base: { name: opts.name } }, destination({ fd: 2, sync: true }));
}

/** A logger that drops everything (for library use and tests that do not read logs). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
