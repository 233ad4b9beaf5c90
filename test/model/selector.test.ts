// The selector language: every grammar form, precedence, quoting, absent-label
// semantics, the global() context, and parse errors with their columns.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseSelector, selectorCacheStats, selectorIssue, SelectorError } from '../../src/model/index.js';

type Labels = Record<string, string>;
const web: Labels = { app: 'web', tier: 'frontend', 'example.com/tier': 'gold', version: 'v1.2.3' };
const db: Labels = { app: 'db', tier: 'backend' };
const none: Labels = {};

// [selector, labels, expected]
const matching: Array<[string, Labels, boolean]> = [
  // all() and the empty selector
  ['', web, true], ['', none, true], ['   ', none, true], ['all()', web, true], ['all()', none, true],
  ['all( )', none, true],
  // ==
  ['app == "web"', web, true], ['app == "web"', db, false], ['app == "web"', none, false],
  ["app == 'web'", web, true], ['app=="web"', web, true], ['  app   ==   "web"  ', web, true],
  ['app == ""', none, false], ['app == "WEB"', web, false],
  // != matches when the label is absent
  ['app != "web"', web, false], ['app != "web"', db, true], ['app != "web"', none, true],
  // in / not in (not in matches when absent)
  ['app in {"web", "db"}', web, true], ['app in {"web", "db"}', db, true], ['app in {"x", "y"}', web, false],
  ['app in {"web"}', none, false], ["app in {'web','api'}", web, true], ['app in {}', web, false],
  ['app not in {"web"}', web, false], ['app not in {"web"}', db, true], ['app not in {"web"}', none, true],
  ['app not in {}', none, true],
  // has / !has
  ['has(app)', web, true], ['has(app)', none, false], ['!has(app)', none, true], ['!has(app)', web, false],
  ['has( app )', web, true], ['has(example.com/tier)', web, true], ['has(example.com/other)', web, false],
  // contains / starts with / ends with (absent label: false)
  ['version contains ".2."', web, true], ['version contains "x"', web, false], ['version contains ""', none, false],
  ['version starts with "v1"', web, true], ['version starts with "1"', web, false],
  ['version ends with ".3"', web, true], ['version ends with "v1"', web, false],
  ['app starts with "w"', none, false], ["app ends with 'b'", web, true],
  // prefixed keys
  ['example.com/tier == "gold"', web, true], ['example.com/tier != "gold"', db, true],
  // !
  ['!app == "web"', web, false], ['!(app == "web")', db, true], ['!!(app == "web")', web, true],
  ['!all()', web, false], ['!app contains "e"', web, false],
  // && and ||
  ['app == "web" && tier == "frontend"', web, true], ['app == "web" && tier == "backend"', web, false],
  ['app == "x" || tier == "frontend"', web, true], ['app == "x" || tier == "y"', web, false],
  ['has(app) && has(tier) && has(version)', web, true], ['has(app) && has(tier) && has(version)', db, false],
  // precedence: ! binds tighter than &&, which binds tighter than ||
  ['app == "db" || app == "web" && tier == "backend"', web, false],
  ['app == "db" || app == "web" && tier == "backend"', db, true],
  ['(app == "db" || app == "web") && tier == "backend"', web, false],
  ['(app == "db" || app == "web") && tier == "frontend"', web, true],
  ['!has(app) || tier == "frontend"', web, true], ['!(has(app) || tier == "x")', web, false],
  ['!has(x) && app == "web"', web, true], ['!(has(x) && app == "web")', web, true],
  // quoting: a double-quoted string may hold single quotes and vice versa
  [`q == "it's"`, { q: "it's" }, true], [`q == 'say "hi"'`, { q: 'say "hi"' }, true],
  // keywords are only keywords in place: a label may be called "in", "has" or "all"
  ['in == "x"', { in: 'x' }, true], ['has == "y"', { has: 'y' }, true], ['has(has)', { has: '' }, true],
  ['not not in {"a"}', { not: 'b' }, true],
  // global() only in the global context
  ['global()', web, false], ['!global()', web, true],
  // Calico's spellings: operator words may run together or be spaced out; tabs separate
  // like spaces; a set may end with a comma; operators may touch their operands.
  ['app notin {"web"}', db, true], ['app notin {"web"}', web, false], ['app notin{}', none, true],
  ['version startswith "v1"', web, true], ['version starts   with "v1"', web, true],
  ['version ends\twith ".3"', web, true], ['version endswith ".3"', web, true],
  ['app not   in {"web"}', db, true], ['app in {"web",}', web, true], ["app in {'x', 'web', }", web, true],
  ['\tapp\t==\t"web"\t', web, true], ['app in{"web"}', web, true], ['version contains".2."', web, true],
  ['(app=="web")&&(tier!="x")', web, true], ['!(app=="db")', web, true],
  // label keys: any of A-Z a-z 0-9 _ . / - (Calico does not apply the Kubernetes key syntax here)
  ['-app == "x"', { '-app': 'x' }, true], ['a/b/c == "x"', { 'a/b/c': 'x' }, true],
  ['Example.com/x == "1"', { 'Example.com/x': '1' }, true], ['app_ == "2"', { app_: '2' }, true],
  ['has(..)', { '..': '' }, true], ['1 == "1"', { 1: '1' }, true], [`has(${'k'.repeat(512)})`, { ['k'.repeat(512)]: 'v' }, true],
  // words that are keywords elsewhere are label keys when not followed by "(" or after a key
  ['all == "z"', { all: 'z' }, true], ['global == "g"', { global: 'g' }, true], ['not in {"a"}', { not: 'a' }, true],
  ['contains contains "o"', { contains: 'foo' }, true], ['in in {"i"}', { in: 'i' }, true],
  // any number of "!" (Calico folds them)
  [`${'!'.repeat(150)}has(app)`, web, true], [`${'!'.repeat(151)}has(app)`, web, false],
  // inherited object properties are not labels
  ['has(constructor)', none, false], ['has(toString)', none, false], ['constructor != "x"', none, true],
];

test('every grammar form matches as Calico specifies', () => {
  for (const [expr, labels, want] of matching) {
    const got = parseSelector(expr).matches(labels);
    assert.is(got, want, `${JSON.stringify(expr)} on ${JSON.stringify(labels)}: expected ${want}, got ${got}`);
  }
});

test('global() matches only with the global context; other selectors ignore it', () => {
  const g = parseSelector('global()');
  assert.is(g.matches({}, { global: true }), true, 'global() with {global: true}');
  assert.is(g.matches({}, { global: false }), false, 'global() with {global: false}');
  assert.is(g.matches({}), false, 'global() without context');
  const mixed = parseSelector('global() || tier == "x"');
  assert.is(mixed.matches({ tier: 'x' }), true, 'namespaced entity matching the label');
  assert.is(mixed.matches({}, { global: true }), true, 'global entity');
  assert.is(mixed.matches({}), false, 'namespaced entity without the label');
  assert.is(parseSelector('app == "web"').matches({ app: 'web' }, { global: true }), true, 'context does not change label tests');
});

test('source is kept as written; selectors are parsed once and shared', () => {
  const a = parseSelector(' app == "web" ');
  assert.is(a.source, ' app == "web" ');
  assert.is(a, parseSelector(' app == "web" '), 'the same source string returns the cached Selector');
  assert.equal([...parseSelector('b == "1" && has(a) && c in {"x"}').labelKeys], ['a', 'b', 'c']);
});

// [selector, expected column, the exact message]
const L = 'expected a label key, has(), all(), global(), "!" or "("';
const OP = 'expected an operator (==, !=, in, not in, contains, starts with, ends with) after';
const invalid: Array<[string, number, string]> = [
  ['app ==', 7, 'expected a quoted string at column 7, found end of input'],
  ['app == web', 8, 'expected a quoted string at column 8, found "web" (quote values: web → "web")'],
  ['app = "web"', 5, 'unexpected character "=" at column 5 (use "==" to compare)'],
  ['app === "web"', 7, 'unexpected character "=" at column 7 (use "==" to compare)'],
  ['== "web"', 1, `${L} at column 1, found "=="`],
  ['"app" == "web"', 1, `${L} at column 1, found the string "app" (label keys are not quoted)`],
  ['app == "web" &&', 16, `${L} at column 16, found end of input`],
  ['app == "web" && && x == "1"', 17, `${L} at column 17, found "&&"`],
  ['app == "web" || ', 17, `${L} at column 17, found end of input`],
  ['&& app == "web"', 1, `${L} at column 1, found "&&"`],
  ['app == "web" & tier == "x"', 14, 'unexpected character "&" at column 14 (use "&&")'],
  ['app == "web" | tier == "x"', 14, 'unexpected character "|" at column 14 (use "||")'],
  ['app == "web" tier == "x"', 14, 'expected "&&", "||" or end of input at column 14, found "tier"'],
  ['(app == "web"', 14, 'expected ")" at column 14, found end of input (to close the "(" at column 1)'],
  ['app == "web")', 13, 'expected "&&", "||" or end of input at column 13, found ")" (no "(" to close)'],
  ['()', 2, `${L} at column 2, found ")"`],
  ['app == "web', 8, 'unterminated string starting at column 8: add the closing "'],
  ["app == 'web", 8, "unterminated string starting at column 8: add the closing '"],
  ['app in "web"', 8, 'expected "{" at column 8, found the string "web" (a set is written {"a", "b"})'],
  ['app in {"a" "b"}', 13, 'expected "," or "}" at column 13, found the string "b"'],
  ['app in {a}', 9, 'expected a quoted string or "}" at column 9, found "a"'],
  ['app in {,}', 9, 'expected a quoted string or "}" at column 9, found ","'],
  ['app in {"a",,}', 13, 'expected "," or "}" at column 13, found ","'],
  ['app in {"a"', 12, 'expected "," or "}" at column 12, found end of input'],
  // Operator words are operators only right after a key, and only whole.
  ['app not {"a"}', 5, `${OP} "app" at column 5, found "not"`],
  ['app not', 5, `${OP} "app" at column 5, found "not"`],
  ['app starts "w"', 5, `${OP} "app" at column 5, found "starts"`],
  ['app ends "b"', 5, `${OP} "app" at column 5, found "ends"`],
  ['app containsx "a"', 5, `${OP} "app" at column 5, found "containsx"`],
  ['app nott in {"a"}', 5, `${OP} "app" at column 5, found "nott"`],
  ['app contains', 13, 'expected a quoted string at column 13, found end of input'],
  ['app', 4, `${OP} "app" at column 4, found end of input`],
  ['app like "w"', 5, `${OP} "app" at column 5, found "like"`],
  ['app tier == "x"', 5, `${OP} "app" at column 5, found "tier"`],
  // has( all( global( are keywords only with the "(" attached.
  ['has (app)', 5, `${OP} "has" at column 5, found "("`],
  ['has(app', 8, 'expected ")" at column 8, found end of input (to close "has(" at column 1)'],
  ['has()', 5, 'expected a label key at column 5, found ")"'],
  ['has("app")', 5, 'expected a label key at column 5, found "\\"" (label keys are not quoted)'],
  ['has(a b)', 7, 'expected ")" at column 7, found "b" (to close "has(" at column 1)'],
  ['all(x)', 5, 'expected ")" at column 5, found "x" (all() takes no arguments)'],
  ['global(1)', 8, 'expected ")" at column 8, found "1" (global() takes no arguments)'],
  ['!', 2, `${L} at column 2, found end of input`],
  ['app == "x" && !', 16, `${L} at column 16, found end of input`],
  ['app == "x" has(a)', 12, 'expected "&&", "||" or end of input at column 12, found "has(a)"'],
  // Only spaces and tabs separate tokens, as in Calico: not newlines.
  ['app == "web"\n', 13, 'unexpected character "\\n" at column 13 (a selector is one line: only spaces and tabs may separate its parts)'],
  ['app\n== "web"', 4, `${OP} "app" at column 4, found "\\n"`],
  ['app == "web" # comment', 14, 'unexpected character "#" at column 14'],
  ['app == "x" && tier ~= "y"', 20, `${OP} "tier" at column 20, found "~"`],
  ['app in {"a"} }', 14, 'expected "&&", "||" or end of input at column 14, found "}"'],
  ['(((app == "x")', 15, 'expected ")" at column 15, found end of input (to close the "(" at column 2)'],
  ['app == "x",', 11, 'expected "&&", "||" or end of input at column 11, found ","'],
  [`${'a'.repeat(513)} == "x"`, 1, 'label key at column 1 is 513 characters long; at most 512 are allowed'],
  [`has(${'a'.repeat(513)})`, 5, 'label key at column 5 is 513 characters long; at most 512 are allowed'],
  [`${'('.repeat(200)}a == "1"${')'.repeat(200)}`, 101, 'selector nests deeper than 100 levels at column 101'],
];

test(`${invalid.length} invalid selectors are refused with the column to fix`, () => {
  assert.ok(invalid.length >= 30, 'at least 30 invalid selectors');
  for (const [expr, column, message] of invalid) {
    let err: unknown;
    try { parseSelector(expr); } catch (e) { err = e; }
    assert.instance(err, SelectorError, `${JSON.stringify(expr)} must throw SelectorError`);
    const se = err as SelectorError;
    assert.is(se.code, 'SELECTOR_SYNTAX');
    assert.is(se.column, column, `${JSON.stringify(expr)}: column (${se.message})`);
    assert.is(se.expression, expr);
    assert.is(se.message, message, `${JSON.stringify(expr)}: message`);
    assert.is(selectorIssue(expr), `invalid selector: ${se.message}`, `selectorIssue(${JSON.stringify(expr)})`);
  }
});

test('an invalid selector throws every time, not only the first (cached errors)', () => {
  for (let i = 0; i < 3; i++) assert.throws(() => parseSelector('app =='), (e: unknown) => e instanceof SelectorError && e.column === 7);
});

test('selectorIssue is null for every valid form', () => {
  for (const [expr] of matching) assert.is(selectorIssue(expr), null, JSON.stringify(expr));
});

test('the parse cache stays bounded under a stream of distinct selectors', () => {
  const { limit } = selectorCacheStats();
  const first = parseSelector('cache-probe == "0"');
  for (let i = 1; i <= limit + 50; i++) parseSelector(`cache-probe == "${i}"`);
  assert.ok(selectorCacheStats().size <= limit, `cache holds at most ${limit} entries, holds ${selectorCacheStats().size}`);
  const again = parseSelector('cache-probe == "0"');
  assert.is.not(again, first, 'the oldest entry was evicted (parsed anew)');
  assert.is(again.canonical, first.canonical);
  const long = `a in {${Array.from({ length: 600 }, (_, i) => `"v${i}"`).join(', ')}}`;
  assert.ok(long.length > 4096);
  assert.is(parseSelector(long).matches({ a: 'v599' }), true, 'long selectors parse and match');
});

test.run();
