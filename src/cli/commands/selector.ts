// `trellisctl selector test '<expr>' --labels '<json>'`: prints true or false.
import type { Command } from 'commander';
import { parseSelector } from '../core.js';
import { print } from '../context.js';
import { CliError, EXIT } from '../errors.js';

function parseLabels(text: string): Record<string, string> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new CliError(EXIT.BAD_INPUT, `--labels is not JSON: ${(err as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new CliError(EXIT.BAD_INPUT, '--labels must be a JSON object like {"app":"web"}');
  for (const [k, val] of Object.entries(v)) {
    if (typeof val !== 'string') throw new CliError(EXIT.BAD_INPUT, `--labels: the value of "${k}" must be a string`);
  }
  return v as Record<string, string>;
}

export function register(program: Command): void {
  const sel = program.command('selector').description('selector expressions');
  sel.command('test')
    .description('evaluate a selector against a label set: prints true or false')
    .argument('<expression>', 'selector, e.g. \'app == "web" && has(tenant)\'')
    .option('--labels <json>', 'labels as a JSON object', '{}')
    .option('--global', 'evaluate for an entity outside any namespace (global() matches)')
    .action((expr: string, opts: { labels: string; global?: boolean }) => {
      const labels = parseLabels(opts.labels);
      let selector;
      try {
        selector = parseSelector(expr);
      } catch (err) {
        throw new CliError(EXIT.BAD_INPUT, `invalid selector: ${(err as Error).message}`);
      }
      print(String(selector.matches(labels, opts.global ? { global: true } : undefined)));
    });
}
