// Recursive-descent parser for the Calico selector grammar:
//   selector := <empty> | or
//   or       := and ("||" and)*
//   and      := unary ("&&" unary)*
//   unary    := "!" unary | primary
//   primary  := "(" or ")" | "has(" key ")" | "all()" | "global()"
//             | key ("==" | "!=" | "contains" | "starts with" | "ends with") string
//             | key ("in" | "not in") "{" [string ("," string)*] "}"
// Errors name the 1-based column and what was expected there.
import { labelKeyProblem } from '../labels.js';
import type { SelectorNode } from './ast.js';
import { SelectorError } from './error.js';
import { describeToken, tokenize, type Token } from './lexer.js';

/** Deep enough for anything a person writes; shallow enough that recursion cannot overflow. */
const MAX_DEPTH = 100;

export function parseAst(src: string): SelectorNode {
  const tokens = tokenize(src);
  let pos = 0;
  let depth = 0;

  const peek = (offset = 0): Token => tokens[Math.min(pos + offset, tokens.length - 1)]!;
  const next = (): Token => tokens[Math.min(pos++, tokens.length - 1)]!;
  const fail = (expected: string, t: Token, hint = ''): never => {
    throw new SelectorError(`expected ${expected} at column ${t.column}, found ${describeToken(t)}${hint}`, t.column, src);
  };
  const isWord = (t: Token, text: string): boolean => t.type === 'word' && t.text === text;

  const labelKey = (): string => {
    const t = next();
    if (t.type !== 'word') return fail('a label key', t, t.type === 'string' ? ' (label keys are not quoted)' : '');
    const problem = labelKeyProblem(t.text);
    if (problem) {
      const detail = problem.slice(problem.indexOf(': ') + 2);
      throw new SelectorError(`"${t.text}" at column ${t.column} is not a valid label key: ${detail}`, t.column, src);
    }
    return t.text;
  };

  const quoted = (): string => {
    const t = next();
    if (t.type === 'string') return t.text;
    return fail('a quoted string', t, t.type === 'word' ? ` (quote values: ${t.text} → "${t.text}")` : '');
  };

  const expect = (type: Token['type'], hint = ''): Token => {
    const t = next();
    if (t.type !== type) fail(`"${type}"`, t, hint);
    return t;
  };

  const set = (): string[] => {
    expect('{');
    const values: string[] = [];
    if (peek().type === '}') { next(); return values; }
    for (;;) {
      values.push(quoted());
      const t = next();
      if (t.type === '}') return values;
      if (t.type !== ',') fail('"," or "}"', t);
    }
  };

  const primary = (): SelectorNode => {
    const t = peek();
    if (t.type === '(') {
      next();
      const inner = enter(t.column, or);
      expect(')', ` (to close the "(" at column ${t.column})`);
      return inner;
    }
    if (t.type === 'word' && peek(1).type === '(' && (t.text === 'has' || t.text === 'all' || t.text === 'global')) {
      next();
      next();
      if (t.text === 'has') {
        const key = labelKey();
        expect(')', ` (to close "has(" at column ${t.column})`);
        return { type: 'has', key };
      }
      expect(')', ` (${t.text}() takes no arguments)`);
      return { type: t.text === 'all' ? 'all' : 'global' };
    }
    const key = labelKey();
    const op = next();
    if (op.type === '==' || op.type === '!=') return { type: op.type === '==' ? 'eq' : 'ne', key, value: quoted() };
    if (isWord(op, 'in')) return { type: 'in', key, values: set() };
    if (isWord(op, 'not')) {
      const inTok = next();
      if (!isWord(inTok, 'in')) fail('"in" after "not"', inTok);
      return { type: 'notin', key, values: set() };
    }
    if (isWord(op, 'contains')) return { type: 'contains', key, value: quoted() };
    if (isWord(op, 'starts') || isWord(op, 'ends')) {
      const withTok = next();
      if (!isWord(withTok, 'with')) fail(`"with" after "${op.text}"`, withTok);
      return { type: op.text === 'starts' ? 'startsWith' : 'endsWith', key, value: quoted() };
    }
    return fail(`an operator (==, !=, in, not in, contains, starts with, ends with) after "${key}"`, op);
  };

  const enter = (column: number, f: () => SelectorNode): SelectorNode => {
    if (++depth > MAX_DEPTH) {
      throw new SelectorError(`selector nests deeper than ${MAX_DEPTH} levels at column ${column}`, column, src);
    }
    try { return f(); } finally { depth--; }
  };

  const unary = (): SelectorNode => {
    const t = peek();
    if (t.type === '!') {
      next();
      return enter(t.column, () => ({ type: 'not', expr: unary() }));
    }
    return primary();
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
