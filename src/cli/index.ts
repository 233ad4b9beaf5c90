// The trellisctl face: the commander program and its exit-code contract.
export { buildProgram, runCli } from './program.js';
export { CliError, EXIT, notBuilt, describeError } from './errors.js';
export type { ExitCode } from './errors.js';
