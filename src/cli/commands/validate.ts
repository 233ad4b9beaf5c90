// `trellisctl validate -f`: the same all-or-nothing checks as apply, without etcd.
import { Command, Option } from 'commander';
import { describeKey, resourceKey } from '../core.js';
import { print } from '../context.js';
import { readResources } from '../files.js';

export function register(program: Command): void {
  program.command('validate')
    .description('check resource files without touching etcd (exit 0 valid, 2 invalid)')
    .addOption(new Option('-f, --filename <path>', 'file, folder or - for stdin; repeatable').argParser((v: string, prev: string[]) => [...prev, v]).default([]))
    .option('-q, --quiet', 'print nothing when valid')
    .action((opts: { filename: string[]; quiet?: boolean }) => {
      const resources = readResources(opts.filename);
      if (opts.quiet) return;
      for (const r of resources) print(`${describeKey(resourceKey(r))}: valid`);
      print(`${resources.length} resource${resources.length === 1 ? '' : 's'} valid`);
    });
}
