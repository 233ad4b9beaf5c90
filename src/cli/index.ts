// The trellisctl face: the commander program and its exit-code contract.
// The program is loaded on first use: what the lab needs of this face (the context file)
// should not cost it every command group, the model and calc (≈ 0.3 s of CPU per start).
export async function runCli(argv: string[]): Promise<number> {
  return (await import('./program.js')).runCli(argv);
}
export { CliError, EXIT, notBuilt, describeError } from './errors.js';
export type { ExitCode } from './errors.js';
export { CONTEXT_FILE, formatContext, loadContext, parseContext } from './lab-context.js';
export type { ClusterContext, NodeContext } from './lab-context.js';
