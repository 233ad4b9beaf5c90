// Normal form and canonical text. Equivalent ways of writing a selector normalise to
// one tree and print to one string, which later names the ipset that holds its members,
// so two policies that select the same thing share one set.
//
// Rules (each preserves meaning, including "!=" and "not in" matching absent labels):
//   !!x -> x;  !(k == v) -> k != v;  !(k in S) -> k not in S (and back)
//   k in {v} -> k == v;  k in {} -> !all();  k not in {} -> all()
//   && and || flattened, operands deduplicated and sorted by their text
//   all() dropped from &&, absorbs ||; !all() absorbs &&, dropped from ||
//   in || : k == a || k in {b, c} -> k in {a, b, c};  k not in A || k not in B -> k not in A∩B
//   in && : k != a && k not in {b} -> k not in {a, b};  k in A && k in B -> k in A∩B
import { ALL, NONE, type SelectorNode } from './ast.js';

const isNone = (n: SelectorNode): boolean => n.type === 'not' && n.expr.type === 'all';

function setNode(type: 'in' | 'notin', key: string, values: Iterable<string>): SelectorNode {
  const sorted = [...new Set(values)].sort();
  if (sorted.length === 0) return type === 'in' ? NONE : ALL;
  if (sorted.length === 1) return { type: type === 'in' ? 'eq' : 'ne', key, value: sorted[0]! };
  return { type, key, values: sorted };
}

export function normalize(node: SelectorNode): SelectorNode {
  switch (node.type) {
    case 'in':
    case 'notin':
      return setNode(node.type, node.key, node.values);
    case 'not': {
      const inner = normalize(node.expr);
      switch (inner.type) {
        case 'not': return inner.expr;
        case 'eq': return { type: 'ne', key: inner.key, value: inner.value };
        case 'ne': return { type: 'eq', key: inner.key, value: inner.value };
        case 'in': return { type: 'notin', key: inner.key, values: inner.values };
        case 'notin': return { type: 'in', key: inner.key, values: inner.values };
        default: return { type: 'not', expr: inner };
      }
    }
    case 'and':
    case 'or':
      return normalizeJunction(node.type, node.exprs.map(normalize));
    default:
      return node;
  }
}

function normalizeJunction(type: 'and' | 'or', children: SelectorNode[]): SelectorNode {
  // Flatten nested nodes of the same kind.
  const flat: SelectorNode[] = [];
  for (const c of children) {
    if (c.type === type) flat.push(...c.exprs);
    else flat.push(c);
  }
  const identity = type === 'and' ? (n: SelectorNode) => n.type === 'all' : isNone;
  const absorbing = type === 'and' ? isNone : (n: SelectorNode) => n.type === 'all';
  if (flat.some(absorbing)) return type === 'and' ? NONE : ALL;

  // Merge same-key value tests: a positive set ("in") per key, a negative set ("not in") per key.
  const positive = new Map<string, Set<string>>();
  const negative = new Map<string, Set<string>>();
  const rest: SelectorNode[] = [];
  for (const c of flat) {
    if (identity(c)) continue;
    if (c.type === 'eq' || c.type === 'in') mergeInto(positive, c.key, 'value' in c ? [c.value] : c.values, type === 'or');
    else if (c.type === 'ne' || c.type === 'notin') mergeInto(negative, c.key, 'value' in c ? [c.value] : c.values, type === 'and');
    else rest.push(c);
  }
  const merged = [
    ...rest,
    ...[...positive].map(([k, v]) => setNode('in', k, v)),
    ...[...negative].map(([k, v]) => setNode('notin', k, v)),
  ];
  // Merging can produce identities/absorbers (an empty intersection); apply the rules again.
  if (merged.some(absorbing)) return type === 'and' ? NONE : ALL;
  const byText = new Map<string, SelectorNode>();
  for (const c of merged) {
    if (identity(c)) continue;
    if (c.type === type) for (const e of c.exprs) byText.set(render(e), e);
    else byText.set(render(c), c);
  }
  const operands = [...byText.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, n]) => n);
  if (operands.length === 0) return type === 'and' ? ALL : NONE;
  if (operands.length === 1) return operands[0]!;
  return { type, exprs: operands };
}

/** union=true: values accumulate (k in A || k in B); false: they intersect (k in A && k in B). */
function mergeInto(map: Map<string, Set<string>>, key: string, values: readonly string[], union: boolean): void {
  const have = map.get(key);
  if (!have) { map.set(key, new Set(values)); return; }
  if (union) { for (const v of values) have.add(v); return; }
  const keep = new Set(values);
  for (const v of [...have]) if (!keep.has(v)) have.delete(v);
}

/** A string literal in the quote that does not occur in it (Calico strings have no escapes). */
export function quote(value: string): string {
  return value.includes('"') ? `'${value}'` : `"${value}"`;
}

const PREC = { or: 1, and: 2, unary: 3 } as const;

/** Prints a tree with single spaces, double quotes, and parentheses only where needed. */
export function render(node: SelectorNode, parent = 0): string {
  switch (node.type) {
    case 'all': return 'all()';
    case 'global': return 'global()';
    case 'has': return `has(${node.key})`;
    case 'eq': return `${node.key} == ${quote(node.value)}`;
    case 'ne': return `${node.key} != ${quote(node.value)}`;
    case 'in': return `${node.key} in {${node.values.map(quote).join(', ')}}`;
    case 'notin': return `${node.key} not in {${node.values.map(quote).join(', ')}}`;
    case 'contains': return `${node.key} contains ${quote(node.value)}`;
    case 'startsWith': return `${node.key} starts with ${quote(node.value)}`;
    case 'endsWith': return `${node.key} ends with ${quote(node.value)}`;
    case 'not': {
      const e = node.expr;
      // Function-call forms read unambiguously after "!"; comparisons get parentheses.
      const bare = e.type === 'has' || e.type === 'all' || e.type === 'global' || e.type === 'not';
      return bare ? `!${render(e, PREC.unary)}` : `!(${render(e)})`;
    }
    case 'and':
    case 'or': {
      const prec = PREC[node.type];
      const text = node.exprs.map((e) => render(e, prec)).join(node.type === 'and' ? ' && ' : ' || ');
      return prec < parent ? `(${text})` : text;
    }
  }
}
