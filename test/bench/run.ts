// npm run bench -- NAME [--param value ...]: runs test/bench/NAME.ts and prints its
// result as JSON on stdout. Each bench exports `run(params)`; scale is set by parameters.
import { readdirSync } from 'node:fs';
import { resolve } from 'node:path';

export type BenchParams = Record<string, string>;
export interface BenchModule { run(params: BenchParams): Promise<Record<string, unknown>> }

function parseArgs(argv: string[]): { names: string[]; params: BenchParams } {
  const names: string[] = [];
  const params: BenchParams = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.startsWith('--')) {
      const [k, v] = a.slice(2).split('=', 2);
      if (v !== undefined) params[k!] = v;
      else params[k!] = argv[i + 1] && !argv[i + 1]!.startsWith('--') ? argv[++i]! : 'true';
    } else names.push(a);
  }
  return { names, params };
}

const dir = import.meta.dirname;
const available = readdirSync(dir).filter((f) => f.endsWith('.ts') && f !== 'run.ts' && !f.startsWith('_')).map((f) => f.slice(0, -3)).sort();
const { names, params } = parseArgs(process.argv.slice(2));
if (names.length === 0) {
  console.error(`usage: npm run bench -- NAME [--param value ...]\navailable: ${available.join(', ')}`);
  process.exit(2);
}
const results: Record<string, unknown> = {};
for (const name of names) {
  if (!available.includes(name)) {
    console.error(`unknown bench "${name}"; available: ${available.join(', ')}`);
    process.exit(2);
  }
  const mod = (await import(resolve(dir, `${name}.ts`))) as BenchModule;
  const started = new Date().toISOString();
  results[name] = { started, params, ...(await mod.run(params)) };
}
process.stdout.write(JSON.stringify(names.length === 1 ? results[names[0]!] : results, null, 2) + '\n');
process.exit(0);
