// Selector tokens with the 1-based column each starts at, so that parse errors can
// point at the character a user has to fix.
//
// The token rules are Calico's (libcalico-go/lib/selector/tokenizer), so that Trellis
// accepts exactly the selectors Calico accepts:
//   - only spaces and tabs separate tokens (a newline is an error, as in Calico);
//   - the operator words (in, not in, contains, starts with, ends with) are operators
//     only straight after a label key, and must end at a word boundary; "notin",
//     "startswith" and "ends  with" are the same operators;
//   - has(, all( and global( are keywords only when written with the "(" attached;
//     anywhere else has, all and global are ordinary label keys;
//   - a label key is 1-512 of A-Z a-z 0-9 _ . / - in any order (Calico does not apply
//     the Kubernetes label key syntax to selectors).
import { SelectorError } from './error.js';

export type TokenType =
  | 'label' | 'string' | '(' | ')' | '{' | '}' | ',' | '!' | '==' | '!=' | '&&' | '||'
  | 'in' | 'notin' | 'contains' | 'startswith' | 'endswith' | 'has' | 'all' | 'global' | 'eof';

export interface Token { type: TokenType; text: string; column: number }

export const MAX_LABEL_LENGTH = 512;

const isIdentChar = (c: string | undefined): boolean => c !== undefined && /^[A-Za-z0-9_./-]$/.test(c);
const isBlank = (c: string | undefined): boolean => c === ' ' || c === '\t';

/** True when key could be written as a label key in a selector. */
export function isSelectorLabelKey(key: string): boolean {
  return key.length >= 1 && key.length <= MAX_LABEL_LENGTH && /^[A-Za-z0-9_./-]+$/.test(key);
}

const OPERATOR_WORDS: ReadonlyArray<readonly [Extract<TokenType, 'in' | 'notin' | 'contains' | 'startswith' | 'endswith'>, readonly string[]]> = [
  ['contains', ['contains']],
  ['startswith', ['starts', 'with']],
  ['endswith', ['ends', 'with']],
  ['notin', ['not', 'in']],
  ['in', ['in']],
];

export function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const fail = (message: string, column: number): never => { throw new SelectorError(message, column, src); };
  const skipBlanks = (): void => { while (isBlank(src[i])) i++; };
  const identifierAt = (start: number): string => {
    let j = start;
    while (isIdentChar(src[j])) j++;
    const ident = src.slice(start, j);
    if (ident.length > MAX_LABEL_LENGTH) fail(`label key at column ${start + 1} is ${ident.length} characters long; at most ${MAX_LABEL_LENGTH} are allowed`, start + 1);
    return ident;
  };
  /** The operator word(s) at i ending at a word boundary, with blanks allowed between words. */
  const operatorAt = (): { type: Token['type']; end: number } | undefined => {
    for (const [type, words] of OPERATOR_WORDS) {
      let j = i;
      let ok = true;
      for (const w of words) {
        if (!src.startsWith(w, j)) { ok = false; break; }
        j += w.length;
        if (w !== words[words.length - 1]) while (isBlank(src[j])) j++;
      }
      if (ok && !isIdentChar(src[j])) return { type, end: j };
    }
    return undefined;
  };

  for (;;) {
    skipBlanks();
    const column = i + 1;
    if (i >= src.length) break;
    const c = src[i]!;
    const push = (type: TokenType, text: string, next: number): void => { tokens.push({ type, text, column }); i = next; };
    const last = tokens[tokens.length - 1];
    switch (c) {
      case '(': case ')': case '{': case '}': case ',':
        push(c, c, i + 1);
        continue;
      case '"': case "'": {
        // Calico strings have no escapes: a value runs to the next quote of the same kind.
        const end = src.indexOf(c, i + 1);
        if (end < 0) fail(`unterminated string starting at column ${column}: add the closing ${c}`, column);
        push('string', src.slice(i + 1, end), end + 1);
        continue;
      }
      case '=':
        if (src[i + 1] !== '=') fail(`unexpected character "=" at column ${column} (use "==" to compare)`, column);
        push('==', '==', i + 2);
        continue;
      case '!':
        if (src[i + 1] === '=') push('!=', '!=', i + 2);
        else push('!', '!', i + 1);
        continue;
      case '&': case '|':
        if (src[i + 1] !== c) fail(`unexpected character "${c}" at column ${column} (use "${c}${c}")`, column);
        push(c === '&' ? '&&' : '||', `${c}${c}`, i + 2);
        continue;
      default:
        break;
    }
    if (last?.type === 'label') {
      const op = operatorAt();
      if (!op) {
        fail(`expected an operator (==, !=, in, not in, contains, starts with, ends with) after "${last.text}" at column ${column}, found ${describeChars(src, i)}`, column);
      } else {
        push(op.type, src.slice(i, op.end), op.end);
      }
      continue;
    }
    const fn = (['has', 'all', 'global'] as const).find((k) => src.startsWith(`${k}(`, i));
    if (fn) {
      i += fn.length + 1;
      skipBlanks();
      let key = '';
      if (fn === 'has') {
        const at = i + 1;
        key = identifierAt(i);
        if (key === '') fail(`expected a label key at column ${at}, found ${describeChars(src, i)}${src[i] === '"' || src[i] === "'" ? ' (label keys are not quoted)' : ''}`, at);
        i += key.length;
        skipBlanks();
      }
      if (src[i] !== ')') {
        const hint = fn === 'has' ? `to close "has(" at column ${column}` : `${fn}() takes no arguments`;
        fail(`expected ")" at column ${i + 1}, found ${describeChars(src, i)} (${hint})`, i + 1);
      }
      tokens.push({ type: fn, text: key, column });
      i++;
      continue;
    }
    const ident = identifierAt(i);
    if (ident === '') {
      const hint = c === '\n' || c === '\r' ? ' (a selector is one line: only spaces and tabs may separate its parts)' : '';
      fail(`unexpected character ${JSON.stringify(c)} at column ${column}${hint}`, column);
    }
    push('label', ident, i + ident.length);
  }
  tokens.push({ type: 'eof', text: '', column: src.length + 1 });
  return tokens;
}

function describeChars(src: string, i: number): string {
  if (i >= src.length) return 'end of input';
  const c = src[i]!;
  if (isIdentChar(c)) {
    let j = i;
    while (isIdentChar(src[j])) j++;
    return `"${src.slice(i, j)}"`;
  }
  return JSON.stringify(c);
}

export function describeToken(t: Token): string {
  switch (t.type) {
    case 'eof': return 'end of input';
    case 'string': return `the string ${JSON.stringify(t.text)}`;
    case 'has': return `"has(${t.text})"`;
    case 'all': case 'global': return `"${t.type}()"`;
    default: return `"${t.text}"`;
  }
}
