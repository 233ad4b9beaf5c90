// The trellisctl program: global flags, every command group, and the mapping of
// errors to exit codes. Each command group lives in commands/<group>.ts and exports
// register(program); add a new group by importing it here.
import { Command, CommanderError } from 'commander';
import { register as registerResources } from './commands/resources.js';
import { register as registerValidate } from './commands/validate.js';
import { register as registerSelector } from './commands/selector.js';
import { register as registerPolicy } from './commands/policy.js';
import { register as registerNode } from './commands/node.js';
import { register as registerIpam } from './commands/ipam.js';
import { VERSION } from '../model/index.js';
import { EXIT, describeError } from './errors.js';

const GROUPS: Array<(program: Command) => void> = [
  registerResources, registerValidate, registerSelector, registerPolicy, registerNode, registerIpam,
];

export function buildProgram(): Command {
  const program = new Command('trellisctl')
    .description('Trellis: manage network policy, endpoints, IP pools and BGP resources stored in etcd')
    .version(VERSION)
    .option('--etcd-endpoints <urls>', 'comma-separated etcd client URLs (env TRELLIS_ETCD_ENDPOINTS)')
    .option('--config <file>', 'client settings file (YAML; same keys as trellisd.yaml)')
    .showHelpAfterError('(run with --help for usage)');
  for (const register of GROUPS) register(program);
  // Settings copied to every command, including ones a group built with new Command():
  // commander errors become exceptions so that they map to exit code 2, not 1.
  const walk = (cmd: Command) => {
    cmd.exitOverride();
    for (const sub of cmd.commands) walk(sub);
  };
  walk(program);
  return program;
}

/** Runs trellisctl with the given argv (process.argv layout); resolves to the exit code. */
export async function runCli(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return EXIT.OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are "errors" to commander; they already printed.
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return EXIT.OK;
      return EXIT.BAD_INPUT;
    }
    const { exitCode, message } = describeError(err);
    process.stderr.write(`trellisctl: ${message}\n`);
    return exitCode;
  }
}
