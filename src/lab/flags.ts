// The lab's command-line flags: each sub-command names the flags it knows, and anything
// else is refused with that list (a typo such as `--host 2` for `--hosts 2` must not
// silently build the default lab).
import { TrellisError } from '../model/index.js';

export class UsageError extends TrellisError<'USAGE'> {
  constructor(message: string) { super('USAGE', message); }
}

export interface ParsedFlags { values: Record<string, string>; bools: Set<string>; positional: string[] }

export function parseFlags(cmd: string, args: string[], known: Record<string, 'value' | 'bool'>, maxPositional: number): ParsedFlags {
  const out: ParsedFlags = { values: {}, bools: new Set(), positional: [] };
  const list = Object.keys(known).join(', ') || 'none';
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a.startsWith('-')) {
      const [name, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
      const kind = known[name];
      if (!kind) throw new UsageError(`${cmd}: unknown flag ${name} (${cmd} knows: ${list})`);
      if (kind === 'bool') { out.bools.add(name); continue; }
      const v = inline ?? args[++i];
      if (v === undefined || (inline === undefined && v.startsWith('--'))) throw new UsageError(`${cmd}: ${name} needs a value`);
      out.values[name] = v;
    } else {
      if (out.positional.length >= maxPositional) throw new UsageError(`${cmd}: unexpected argument "${a}"`);
      out.positional.push(a);
    }
  }
  return out;
}
