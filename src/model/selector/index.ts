// Selector language face: the Calico selector grammar, parsed once per distinct source
// string, normalised to a canonical form and compiled to closures.
//
//   parseSelector(expr) -> Selector { source, canonical, ast, matches(labels, ctx?) }
//                          or throws SelectorError { code: 'SELECTOR_SYNTAX', column, expression }
//   selectorIssue(expr) -> null when valid, else a message naming the column
//   andSelectors(...s), mapLabelKeys(s, fn) -> derived Selectors (calc combines a policy's
//                          selector with a namespaceSelector rewritten onto endpoint labels)
//
// Context: matches(labels, { global: true }) evaluates for an entity outside any namespace
// (a host endpoint, a global network set); only then does global() match. Calico uses
// `namespaceSelector: global()` in rules to pick exactly those entities.
import { ALL, labelKeysOf, mapKeys, type SelectorNode } from './ast.js';
import { normalize, render } from './canonical.js';
import { SelectorError } from './error.js';
import { compile, type MatchContext } from './evaluate.js';
import { parseAst } from './parser.js';
import { isSelectorLabelKey, MAX_LABEL_LENGTH, tokenize } from './lexer.js';

export { SelectorError } from './error.js';
export { isSelectorLabelKey } from './lexer.js';
export type { SelectorNode } from './ast.js';
export type { LabelMap, MatchContext } from './evaluate.js';

export interface Selector {
  readonly source: string;
  /** Canonical string form: equivalent selectors share it (used to name ipsets). */
  readonly canonical: string;
  /** The normalised tree the canonical form prints (read-only; for calc's indexing). */
  readonly ast: SelectorNode;
  /** Label keys the selector reads, sorted. */
  readonly labelKeys: readonly string[];
  matches(labels: Readonly<Record<string, string>>, ctx?: MatchContext): boolean;
}

function build(source: string, tree: SelectorNode): Selector {
  const ast = normalize(tree);
  const f = compile(ast);
  return Object.freeze({
    source,
    canonical: render(ast),
    ast,
    labelKeys: Object.freeze(labelKeysOf(ast)),
    matches: f,
  });
}

// Policies repeat a few selectors many times; a bounded cache keeps each parsed once
// without letting a stream of distinct strings (from etcd, say) grow memory forever.
const CACHE_LIMIT = 10_000;
/** Longer sources are parsed every time: the cache is bounded in bytes as well as entries. */
const CACHE_MAX_SOURCE = 4096;
const cache = new Map<string, Selector | SelectorError>();

/** For metrics and tests: how full the parse cache is. */
export function selectorCacheStats(): { size: number; limit: number } {
  return { size: cache.size, limit: CACHE_LIMIT };
}

function cached(expr: string): Selector | SelectorError {
  const hit = cache.get(expr);
  if (hit !== undefined) {
    // Refresh recency: Map iteration order is insertion order, so the first key is the oldest.
    cache.delete(expr);
    cache.set(expr, hit);
    return hit;
  }
  let result: Selector | SelectorError;
  try {
    result = build(expr, parseAst(expr));
  } catch (e) {
    if (!(e instanceof SelectorError)) throw e;
    result = e;
  }
  if (expr.length > CACHE_MAX_SOURCE) return result;
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value!);
  cache.set(expr, result);
  return result;
}

/** Parses a Calico selector; the empty string (or only spaces) selects everything, like all(). */
export function parseSelector(expr: string): Selector {
  const r = cached(expr);
  if (r instanceof SelectorError) throw new SelectorError(r.message, r.column, r.expression);
  return r;
}

/** Null when expr parses, else "invalid selector: <what was expected> at column N ...". */
export function selectorIssue(expr: string): string | null {
  const r = cached(expr);
  return r instanceof SelectorError ? `invalid selector: ${r.message}` : null;
}

/** True when expr is global() and nothing else (blanks aside): the only form Calico lets
 *  a rule's namespaceSelector use global() in. */
export function isOnlyGlobal(expr: string): boolean {
  try {
    const t = tokenize(expr);
    return t.length === 2 && t[0]!.type === 'global';
  } catch (e) {
    if (e instanceof SelectorError) return false;
    throw e;
  }
}

/** The conjunction of selectors (all() when none given). */
export function andSelectors(...selectors: Selector[]): Selector {
  const tree: SelectorNode = selectors.length === 0 ? ALL : { type: 'and', exprs: selectors.map((s) => s.ast) };
  const ast = normalize(tree);
  return build(render(ast), ast);
}

/** The same selector over renamed label keys: mapLabelKeys(parseSelector('tier == "x"'),
 *  (k) => `pcns.${k}`) tests "pcns.tier". Throws SelectorError if fn returns an invalid key. */
export function mapLabelKeys(selector: Selector, fn: (key: string) => string): Selector {
  const ast = normalize(mapKeys(selector.ast, (k) => {
    const mapped = fn(k);
    if (!isSelectorLabelKey(mapped)) {
      throw new SelectorError(`mapLabelKeys: label key ${JSON.stringify(mapped)} must be 1-${MAX_LABEL_LENGTH} of A-Z a-z 0-9 _ . / -`, 1, selector.source);
    }
    return mapped;
  }));
  return build(render(ast), ast);
}

/** Selects everything; what an absent selector means. */
export const ALL_SELECTOR: Selector = build('all()', ALL);
