// Selector tokens with the 1-based column each starts at, so that parse errors can
// point at the character a user has to fix.
import { SelectorError } from './error.js';

export type TokenType =
  | 'word' | 'string' | '(' | ')' | '{' | '}' | ',' | '!' | '==' | '!=' | '&&' | '||' | 'eof';

export interface Token { type: TokenType; text: string; column: number }

// Calico's identifier characters; whether a word is a valid label key is the parser's call.
const WORD_CHAR = /[A-Za-z0-9_./-]/;
const SYMBOLS = ['==', '!=', '&&', '||', '(', ')', '{', '}', ',', '!'] as const;

export function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') { i++; continue; }
    const column = i + 1;
    if (c === '"' || c === "'") {
      // Calico strings have no escapes: a value runs to the next quote of the same kind.
      const end = src.indexOf(c, i + 1);
      if (end < 0) throw new SelectorError(`unterminated string starting at column ${column}: add the closing ${c}`, column, src);
      tokens.push({ type: 'string', text: src.slice(i + 1, end), column });
      i = end + 1;
      continue;
    }
    if (WORD_CHAR.test(c)) {
      let j = i + 1;
      while (j < src.length && WORD_CHAR.test(src[j]!)) j++;
      tokens.push({ type: 'word', text: src.slice(i, j), column });
      i = j;
      continue;
    }
    const sym = SYMBOLS.find((s) => src.startsWith(s, i));
    if (sym) {
      tokens.push({ type: sym, text: sym, column });
      i += sym.length;
      continue;
    }
    let hint = '';
    if (c === '=') hint = ' (use "==" to compare)';
    else if (c === '&') hint = ' (use "&&")';
    else if (c === '|') hint = ' (use "||")';
    throw new SelectorError(`unexpected character ${JSON.stringify(c)} at column ${column}${hint}`, column, src);
  }
  tokens.push({ type: 'eof', text: '', column: src.length + 1 });
  return tokens;
}

export function describeToken(t: Token): string {
  if (t.type === 'eof') return 'end of input';
  if (t.type === 'string') return `the string ${JSON.stringify(t.text)}`;
  return `"${t.text}"`;
}
