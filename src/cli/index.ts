// The trellisctl face: the commander program and its exit-code contract.
export { buildProgram, runCli } from './program.js';
export { CliError, EXIT, notBuilt, describeError } from './errors.js';
export type { ExitCode } from './errors.js';
export { CONTEXT_FILE, formatContext, loadContext, parseContext } from './lab-context.js';
export type { ClusterContext, NodeContext } from './lab-context.js';
