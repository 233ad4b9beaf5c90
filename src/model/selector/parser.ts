// Recursive-descent parser for the Calico selector grammar (libcalico-go/lib/selector/
// parser), over the tokens of lexer.ts:
//   selector := <empty> | or
//   or       := and ("||" and)*
//   and      := unary ("&&" unary)*
//   unary    := "!"* primary                      (any number of "!", as in Calico)
//   primary  := "(" or ")" | has(key) | all() | global()
//             | key ("==" | "!=" | contains | starts with | ends with) string
//             | key (in | not in) "{" [string ("," string)* [","]] "}"
// A set may end with a comma ({"a", "b",}), as Calico's parser allows. Errors name the
// 1-based column and what was expected there.
import type { SelectorNode } from './ast.js';
import { SelectorError } from './error.js';
import { describeToken, tokenize, type Token } from './lexer.js';

/** Deep enough for anything a person writes; shallow enough that recursion cannot
 *  overflow. (Calico has no such bound; only parentheses count towards it.) */
const MAX_DEPTH = 100;

const VALUE_OPS = { '==': 'eq', '!=': 'ne', contains: 'contains', startswith: 'startsWith', endswith: 'endsWith' } as const;

export function parseAst(src: string): SelectorNode {
  const tokens = tokenize(src);
  let pos = 0;
  let depth = 0;

  const peek = (): Token => tokens[Math.min(pos, tokens.length - 1)]!;
  const next = (): Token => tokens[Math.min(pos++, tokens.length - 1)]!;
  const fail = (expected: string, t: Token, hint = ''): never => {
    throw new SelectorError(`expected ${expected} at column ${t.column}, found ${describeToken(t)}${hint}`, t.column, src);
  };

  const quoted = (): string => {
    const t = next();
    if (t.type === 'string') return t.text;
    return fail('a quoted string', t, t.type === 'label' ? ` (quote values: ${t.text} → "${t.text}")` : '');
  };

  const set = (): string[] => {
    const open = next();
    if (open.type !== '{') fail('"{"', open, ' (a set is written {"a", "b"})');
    const values: string[] = [];
    while (peek().type === 'string') {
      values.push(next().text);
      if (peek().type !== ',') break;
      next();
    }
    const close = next();
    if (close.type !== '}') fail(values.length === 0 ? 'a quoted string or "}"' : '"," or "}"', close);
    return values;
  };

  const primary = (): SelectorNode => {
    const t = next();
    switch (t.type) {
      case '(': {
        if (++depth > MAX_DEPTH) throw new SelectorError(`selector nests deeper than ${MAX_DEPTH} levels at column ${t.column}`, t.column, src);
        const inner = or();
        depth--;
        const close = next();
        if (close.type !== ')') fail('")"', close, ` (to close the "(" at column ${t.column})`);
        return inner;
      }
      case 'has': return { type: 'has', key: t.text };
      case 'all': return { type: 'all' };
      case 'global': return { type: 'global' };
      case 'label': {
        const op = next();
        if (op.type === 'in' || op.type === 'notin') return { type: op.type, key: t.text, values: set() };
        if (op.type in VALUE_OPS) return { type: VALUE_OPS[op.type as keyof typeof VALUE_OPS], key: t.text, value: quoted() };
        return fail(`an operator (==, !=, in, not in, contains, starts with, ends with) after "${t.text}"`, op);
      }
      default:
        return fail('a label key, has(), all(), global(), "!" or "("', t, t.type === 'string' ? ' (label keys are not quoted)' : '');
    }
  };

  const unary = (): SelectorNode => {
    let negated = false;
    while (peek().type === '!') { next(); negated = !negated; }
    const p = primary();
    return negated ? { type: 'not', expr: p } : p;
  };

  const and = (): SelectorNode => {
    const exprs = [unary()];
    while (peek().type === '&&') { next(); exprs.push(unary()); }
    return exprs.length === 1 ? exprs[0]! : { type: 'and', exprs };
  };

  function or(): SelectorNode {
    const exprs = [and()];
    while (peek().type === '||') { next(); exprs.push(and()); }
    return exprs.length === 1 ? exprs[0]! : { type: 'or', exprs };
  }

  if (peek().type === 'eof') return { type: 'all' };
  const root = or();
  const end = peek();
  if (end.type !== 'eof') {
    fail('"&&", "||" or end of input', end, end.type === ')' ? ' (no "(" to close)' : '');
  }
  return root;
}
