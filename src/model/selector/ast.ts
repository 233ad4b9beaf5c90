// The selector syntax tree. Leaves test one label (or none: all(), global()); inner
// nodes combine. Trees are plain data, so canonical.ts can normalise and print them and
// evaluate.ts can compile them.
export type SelectorNode =
  | { readonly type: 'all' }
  | { readonly type: 'global' }
  | { readonly type: 'has'; readonly key: string }
  | { readonly type: 'eq' | 'ne'; readonly key: string; readonly value: string }
  | { readonly type: 'in' | 'notin'; readonly key: string; readonly values: readonly string[] }
  | { readonly type: 'contains' | 'startsWith' | 'endsWith'; readonly key: string; readonly value: string }
  | { readonly type: 'not'; readonly expr: SelectorNode }
  | { readonly type: 'and' | 'or'; readonly exprs: readonly SelectorNode[] };

export type LeafWithKey = Extract<SelectorNode, { key: string }>;

export const ALL: SelectorNode = { type: 'all' };
/** Matches nothing: how an empty `in {}` set, or an And of contradictions, normalises. */
export const NONE: SelectorNode = { type: 'not', expr: ALL };

/** Every label key the selector reads, sorted (calc uses it to index endpoints by key). */
export function labelKeysOf(node: SelectorNode): string[] {
  const keys = new Set<string>();
  const walk = (n: SelectorNode): void => {
    if ('key' in n) keys.add(n.key);
    else if (n.type === 'not') walk(n.expr);
    else if (n.type === 'and' || n.type === 'or') n.exprs.forEach(walk);
  };
  walk(node);
  return [...keys].sort();
}

/** The same tree with every label key passed through fn. */
export function mapKeys(node: SelectorNode, fn: (key: string) => string): SelectorNode {
  if ('key' in node) return { ...node, key: fn(node.key) };
  if (node.type === 'not') return { type: 'not', expr: mapKeys(node.expr, fn) };
  if (node.type === 'and' || node.type === 'or') return { type: node.type, exprs: node.exprs.map((e) => mapKeys(e, fn)) };
  return node;
}
