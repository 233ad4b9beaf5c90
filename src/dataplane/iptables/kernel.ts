// Reading Trellis's part of an iptables table back from `iptables-save -t <table>` and
// planning the smallest write: a chain is rewritten only when its hash comment (first
// rule) or its rule count differs from the rendered one; built-in chains keep exactly one
// Trellis jump, at position 1; every other rule is left alone.
import { HASH_COMMENT_PREFIX, type TableSpec, type TableWrite } from './render.js';
import { byCodePoint, isTrellisChain } from './names.js';

export interface KernelChain { name: string; hash: string | null; ruleCount: number }

export interface KernelTable {
  chains: KernelChain[];
  /** Rules of each built-in chain, as saved ("-A FORWARD ..."), in order. */
  builtins: Record<string, string[]>;
}

const HASH_RE = new RegExp(`--comment "?${HASH_COMMENT_PREFIX}([0-9a-f]+)"?`);

export function parseIptablesSave(text: string): KernelTable {
  const chains = new Map<string, KernelChain>();
  const builtins: Record<string, string[]> = {};
  for (const line of text.split('\n')) {
    if (line.startsWith(':')) {
      const [name, policy] = line.slice(1).split(' ');
      if (!name) continue;
      if (policy !== '-') builtins[name] = [];
      else if (isTrellisChain(name)) chains.set(name, { name, hash: null, ruleCount: 0 });
    } else if (line.startsWith('-A ')) {
      const name = line.slice(3).split(' ', 1)[0]!;
      const c = chains.get(name);
      if (c) {
        if (c.ruleCount === 0) c.hash = HASH_RE.exec(line)?.[1] ?? null;
        c.ruleCount++;
      } else if (builtins[name]) {
        builtins[name].push(line);
      }
    }
  }
  return { chains: [...chains.values()].sort((a, b) => byCodePoint(a.name, b.name)), builtins };
}

/** Splits a whole `iptables-save` (all tables) into its tables. */
export function parseIptablesSaveAll(text: string): Map<string, KernelTable> {
  const out = new Map<string, KernelTable>();
  let name: string | null = null;
  let lines: string[] = [];
  const flush = () => { if (name) out.set(name, parseIptablesSave(lines.join('\n'))); };
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) {
      flush();
      name = line.slice(1).trim();
      lines = [];
    } else if (name) {
      lines.push(line);
    }
  }
  flush();
  return out;
}

/** A rule that sends packets into a Trellis chain. */
function jumpsToTrellis(rule: string): boolean {
  return / -[jg] trl-/.test(rule);
}

export function planTable(spec: TableSpec, kernel: KernelTable): TableWrite {
  const have = new Map(kernel.chains.map((c) => [c.name, c]));
  const want = new Set(spec.chains.map((c) => c.name));
  const write = spec.chains.filter((c) => {
    const k = have.get(c.name);
    return !k || k.hash !== c.hash || k.ruleCount !== c.rules.length;
  });
  const remove = kernel.chains.filter((c) => !want.has(c.name)).map((c) => c.name);
  const deleteHookRules: string[] = [];
  const insertHooks: TableWrite['insertHooks'] = [];
  for (const h of spec.hooks) {
    const rules = kernel.builtins[h.hook] ?? [];
    const ours = rules.filter(jumpsToTrellis);
    const good = `-A ${h.hook} -j ${h.chain}`;
    if (ours.length === 1 && rules[0] === good) continue;
    deleteHookRules.push(...ours);
    insertHooks.push(h);
  }
  // Jumps from built-in chains to chains we are about to delete must go too.
  for (const [hook, rules] of Object.entries(kernel.builtins)) {
    if (spec.hooks.some((h) => h.hook === hook)) continue;
    deleteHookRules.push(...rules.filter((r) => jumpsToTrellis(r) && remove.some((n) => r.endsWith(` ${n}`))));
  }
  return { write, remove, deleteHookRules, insertHooks };
}

export function tableWriteEmpty(w: TableWrite): boolean {
  return w.write.length === 0 && w.remove.length === 0 && w.deleteHookRules.length === 0 && w.insertHooks.length === 0;
}
