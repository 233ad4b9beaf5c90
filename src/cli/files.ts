// -f FILE|DIR|-: every YAML/JSON file named, folders read one level deep in name order,
// parsed together so that one bad file refuses the whole set before anything is written.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseResourceTexts, type Resource, type ResourceText } from '../model/index.js';
import { CliError, EXIT } from './errors.js';

const RESOURCE_FILE = /\.(ya?ml|json)$/i;

function readPath(path: string): ResourceText[] {
  if (path === '-') return [{ text: readFileSync(0, 'utf8'), fileName: '<stdin>' }];
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    throw new CliError(EXIT.BAD_INPUT, `cannot read ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (err as Error).message}`);
  }
  if (st.isDirectory()) {
    const names = readdirSync(path).filter((n) => RESOURCE_FILE.test(n)).sort();
    if (names.length === 0) throw new CliError(EXIT.BAD_INPUT, `${path}: no .yaml, .yml or .json files in this folder`);
    return names.flatMap((n) => readPath(join(path, n)));
  }
  try {
    return [{ text: readFileSync(path, 'utf8'), fileName: path }];
  } catch (err) {
    throw new CliError(EXIT.BAD_INPUT, `cannot read ${path}: ${(err as Error).message}`);
  }
}

/** Reads and validates every resource in the given paths; throws before returning any if one is bad. */
export function readResources(paths: readonly string[]): Resource[] {
  if (paths.length === 0) throw new CliError(EXIT.BAD_INPUT, 'no input: give -f FILE, -f DIR or -f - (stdin)');
  const texts = paths.flatMap(readPath);
  const resources = parseResourceTexts(texts);
  if (resources.length === 0) throw new CliError(EXIT.BAD_INPUT, `no resources in ${paths.join(', ')}`);
  return resources;
}
