// Compiles a tree to nested closures once, so matching a label set runs straight code
// with no tree walking or operator dispatch per call.
import type { SelectorNode } from './ast.js';

export type LabelMap = Readonly<Record<string, string>>;

/** Evaluation context. global: the entity is not in a namespace (host endpoints, global
 *  network sets); only then does global() match. */
export interface MatchContext { readonly global?: boolean }

export type Matcher = (labels: LabelMap, ctx: MatchContext | undefined) => boolean;

// A label is present only when it is an own string value: "constructor" or "__proto__"
// on a plain object are inherited non-strings and must not count as labels.
const get = (labels: LabelMap, key: string): string | undefined => {
  const v = labels[key];
  return typeof v === 'string' ? v : undefined;
};

const SMALL_SET = 8;

export function compile(node: SelectorNode): Matcher {
  switch (node.type) {
    case 'all': return () => true;
    case 'global': return (_l, ctx) => ctx?.global === true;
    case 'has': { const k = node.key; return (l) => get(l, k) !== undefined; }
    case 'eq': { const k = node.key; const v = node.value; return (l) => get(l, k) === v; }
    case 'ne': { const k = node.key; const v = node.value; return (l) => get(l, k) !== v; }
    case 'in':
    case 'notin': {
      const k = node.key;
      const negate = node.type === 'notin';
      if (node.values.length <= SMALL_SET) {
        const vs = [...node.values];
        return negate
          ? (l) => { const v = get(l, k); return v === undefined || !vs.includes(v); }
          : (l) => { const v = get(l, k); return v !== undefined && vs.includes(v); };
      }
      const set = new Set(node.values);
      return negate
        ? (l) => { const v = get(l, k); return v === undefined || !set.has(v); }
        : (l) => { const v = get(l, k); return v !== undefined && set.has(v); };
    }
    case 'contains': { const k = node.key; const s = node.value; return (l) => get(l, k)?.includes(s) === true; }
    case 'startsWith': { const k = node.key; const s = node.value; return (l) => get(l, k)?.startsWith(s) === true; }
    case 'endsWith': { const k = node.key; const s = node.value; return (l) => get(l, k)?.endsWith(s) === true; }
    case 'not': { const f = compile(node.expr); return (l, c) => !f(l, c); }
    case 'and': {
      const fs = node.exprs.map(compile);
      if (fs.length === 2) { const [a, b] = fs as [Matcher, Matcher]; return (l, c) => a(l, c) && b(l, c); }
      return (l, c) => { for (const f of fs) if (!f(l, c)) return false; return true; };
    }
    case 'or': {
      const fs = node.exprs.map(compile);
      if (fs.length === 2) { const [a, b] = fs as [Matcher, Matcher]; return (l, c) => a(l, c) || b(l, c); }
      return (l, c) => { for (const f of fs) if (f(l, c)) return true; return false; };
    }
  }
}
