// Canonical forms: equivalent selectors share one string (it names ipsets), the
// canonical string parses back to itself, and normalising never changes what matches.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { andSelectors, canonicalCidr, cidrContains, isValidCidrOrIp, mapLabelKeys, parseCidr, parseSelector, SelectorError } from '../../src/model/index.js';
import ipaddr from 'ipaddr.js';
import type { SelectorNode } from '../../src/model/selector/ast.js';
import { parseAst } from '../../src/model/selector/parser.js';

// [source, its canonical form]
const canonical: Array<[string, string]> = [
  ['', 'all()'],
  ['  all( ) ', 'all()'],
  ["app=='web'", 'app == "web"'],
  [`q == 'say "hi"'`, `q == 'say "hi"'`],
  ['app   !=   "web"', 'app != "web"'],
  ['app in {"z","a", "m", "a"}', 'app in {"a", "m", "z"}'],
  ['app in {"a"}', 'app == "a"'],
  ['app not in {"a", "a"}', 'app != "a"'],
  ['app in {}', '!all()'],
  ['app not in {}', 'all()'],
  ['has( app )', 'has(app)'],
  ['! has(app)', '!has(app)'],
  ['!!has(app)', 'has(app)'],
  ['!!!has(app)', '!has(app)'],
  ['!(app == "web")', 'app != "web"'],
  ['!(app != "web")', 'app == "web"'],
  ['!(app in {"a","b"})', 'app not in {"a", "b"}'],
  ['!(app not in {"a","b"})', 'app in {"a", "b"}'],
  ['!app contains "x"', '!(app contains "x")'],
  ["v starts with 'a'", 'v starts with "a"'],
  ['v ends with "a"', 'v ends with "a"'],
  ['b == "1" && a == "1"', 'a == "1" && b == "1"'],
  ['b == "1" || a == "1"', 'a == "1" || b == "1"'],
  ['a == "1" && (b == "1" && (c == "1"))', 'a == "1" && b == "1" && c == "1"'],
  ['has(a) && has(a)', 'has(a)'],
  ['has(a) || has(b) || has(a)', 'has(a) || has(b)'],
  ['a == "1" || a == "2"', 'a in {"1", "2"}'],
  ['a == "1" || a in {"3", "2"}', 'a in {"1", "2", "3"}'],
  ['a != "1" && a != "2"', 'a not in {"1", "2"}'],
  ['a in {"1","2"} && a in {"2","3"}', 'a == "2"'],
  ['a in {"1"} && a in {"2"}', '!all()'],
  ['a not in {"1","2"} || a not in {"2","3"}', 'a != "2"'],
  ['a != "1" || a != "2"', 'all()'],
  ['all() && app == "x"', 'app == "x"'],
  ['all() || app == "x"', 'all()'],
  ['!all() || app == "x"', 'app == "x"'],
  ['!all() && app == "x"', '!all()'],
  ['(a == "1" || b == "2") && c == "3"', '(a == "1" || b == "2") && c == "3"'],
  ['a == "1" || b == "2" && c == "3"', 'a == "1" || b == "2" && c == "3"'],
  ['!(a == "1" && b == "2")', '!(a == "1" && b == "2")'],
  ['global() && tier == "x"', 'global() && tier == "x"'],
  ['!global()', '!global()'],
  ['example.com/tier=="gold"', 'example.com/tier == "gold"'],
];

test('canonical forms: spacing, quoting, sets, flattening, ordering, negation', () => {
  for (const [src, want] of canonical) {
    assert.is(parseSelector(src).canonical, want, `canonical of ${JSON.stringify(src)}`);
  }
});

test('the canonical form is a fixed point: it parses back to itself', () => {
  for (const [src] of canonical) {
    const c = parseSelector(src).canonical;
    assert.is(parseSelector(c).canonical, c, `re-parsing ${JSON.stringify(c)}`);
  }
});

// Groups of differently written but equivalent selectors.
const equivalent: string[][] = [
  ['app == "web" && tier == "x"', "tier=='x'&&app=='web'", '(tier == "x") && (app == "web")', '!!(app == "web") && tier == "x"', 'all() && tier == "x" && app == "web" && app == "web"'],
  ['a == "1" || b == "2" || c == "3"', 'c == "3" || (b == "2" || a == "1")', '(a == "1" || b == "2") || c == "3"'],
  ['app in {"a", "b"}', 'app in {"b", "a", "b"}', 'app == "b" || app == "a"', '!(app not in {"a","b"})'],
  ['app not in {"a", "b"}', '!(app in {"a","b"})', 'app != "a" && app != "b"', '!(app == "a" || app == "b")'],
  ['', 'all()', 'a not in {}', 'all() || has(x)'],
];

test('equivalent selectors share one canonical string', () => {
  for (const group of equivalent) {
    const forms = group.map((s) => parseSelector(s).canonical);
    for (let i = 1; i < forms.length; i++) {
      assert.is(forms[i], forms[0], `${JSON.stringify(group[i])} and ${JSON.stringify(group[0])} are equivalent`);
    }
  }
});

// An independent, naive interpreter over the tree as parsed (before normalisation):
// the compiled, normalised selector must agree with it everywhere.
function reference(n: SelectorNode, l: Record<string, string>, global: boolean): boolean {
  const has = (k: string) => Object.hasOwn(l, k);
  switch (n.type) {
    case 'all': return true;
    case 'global': return global;
    case 'has': return has(n.key);
    case 'eq': return has(n.key) && l[n.key] === n.value;
    case 'ne': return !has(n.key) || l[n.key] !== n.value;
    case 'in': return has(n.key) && n.values.includes(l[n.key]!);
    case 'notin': return !has(n.key) || !n.values.includes(l[n.key]!);
    case 'contains': return has(n.key) && l[n.key]!.includes(n.value);
    case 'startsWith': return has(n.key) && l[n.key]!.startsWith(n.value);
    case 'endsWith': return has(n.key) && l[n.key]!.endsWith(n.value);
    case 'not': return !reference(n.expr, l, global);
    case 'and': return n.exprs.every((e) => reference(e, l, global));
    case 'or': return n.exprs.some((e) => reference(e, l, global));
  }
}

// Deterministic pseudo-random generator so a failure reproduces.
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s = (s * 1664525 + 1013904223) >>> 0; return s / 2 ** 32; };
}

function randomSelector(r: () => number, depth: number): string {
  const keys = ['a', 'b', 'c'];
  const vals = ['1', '2', '3'];
  const k = keys[Math.floor(r() * keys.length)]!;
  const v = () => `"${vals[Math.floor(r() * vals.length)]}"`;
  const set = () => `{${Array.from({ length: Math.floor(r() * 3) }, v).join(', ')}}`;
  const choice = Math.floor(r() * (depth > 0 ? 14 : 10));
  switch (choice) {
    case 0: return `${k} == ${v()}`;
    case 1: return `${k} != ${v()}`;
    case 2: return `${k} in ${set()}`;
    case 3: return `${k} not in ${set()}`;
    case 4: return `has(${k})`;
    case 5: return `${k} contains "1"`;
    case 6: return `${k} starts with "2"`;
    case 7: return r() < 0.5 ? 'all()' : 'global()';
    case 8: return `${k} ends with "3"`;
    case 9: return `!has(${k})`;
    case 10: return `!(${randomSelector(r, depth - 1)})`;
    case 11: return `(${randomSelector(r, depth - 1)})`;
    case 12: return `${randomSelector(r, depth - 1)} && ${randomSelector(r, depth - 1)}`;
    default: return `${randomSelector(r, depth - 1)} || ${randomSelector(r, depth - 1)}`;
  }
}

test('normalising and compiling never change what a selector matches (2,000 random selectors)', () => {
  const r = rng(42);
  // Every label set over keys a, b, c with values absent/1/2/3: 64 sets.
  const labelSets: Record<string, string>[] = [];
  for (let i = 0; i < 64; i++) {
    const l: Record<string, string> = {};
    ['a', 'b', 'c'].forEach((k, j) => { const x = Math.floor(i / 4 ** j) % 4; if (x > 0) l[k] = String(x); });
    labelSets.push(l);
  }
  for (let n = 0; n < 2000; n++) {
    const src = randomSelector(r, 3);
    const raw = parseAst(src);
    const sel = parseSelector(src);
    const again = parseSelector(sel.canonical);
    assert.is(again.canonical, sel.canonical, `canonical of ${src} is a fixed point`);
    for (const l of labelSets) {
      for (const global of [false, true]) {
        const want = reference(raw, l, global);
        assert.is(sel.matches(l, { global }), want, `${src} on ${JSON.stringify(l)} global=${global}`);
        assert.is(again.matches(l, { global }), want, `canonical ${sel.canonical} on ${JSON.stringify(l)} global=${global}`);
      }
    }
  }
});

test('andSelectors conjoins, normalises and names the result by its canonical form', () => {
  const s = andSelectors(parseSelector('app == "web"'), parseSelector('tier in {"b", "a"}'), parseSelector('all()'));
  assert.is(s.canonical, 'app == "web" && tier in {"a", "b"}');
  assert.is(s.source, s.canonical);
  assert.is(s.matches({ app: 'web', tier: 'a' }), true);
  assert.is(s.matches({ app: 'web', tier: 'c' }), false);
  assert.is(andSelectors().canonical, 'all()', 'no operands: all()');
  assert.is(andSelectors(parseSelector('a == "1"'), parseSelector('a == "2"')).canonical, '!all()', 'contradiction');
  assert.is(andSelectors(parseSelector('b == "1"'), parseSelector('a == "1"')).canonical, parseSelector('a == "1" && b == "1"').canonical);
});

test('mapLabelKeys rewrites namespace labels onto endpoint labels', () => {
  const ns = parseSelector('tier == "x" || !has(team) || global()');
  const mapped = mapLabelKeys(ns, (k) => `pcns.${k}`);
  assert.is(mapped.canonical, '!has(pcns.team) || global() || pcns.tier == "x"');
  assert.is(mapped.matches({ 'pcns.tier': 'x', 'pcns.team': 't' }), true);
  assert.is(mapped.matches({ tier: 'x', 'pcns.team': 't' }), false, 'the original key no longer counts');
  assert.is(mapped.matches({ 'pcns.team': 't' }, { global: true }), true, 'global() survives the rewrite');
  const both = andSelectors(parseSelector('app == "web"'), mapped);
  assert.is(both.matches({ app: 'web', 'pcns.tier': 'x', 'pcns.team': 't' }), true);
  assert.is(both.matches({ app: 'db', 'pcns.tier': 'x' }), false);
  // Keys may collapse into one: sets then merge.
  assert.is(mapLabelKeys(parseSelector('a == "1" || b == "2"'), () => 'k').canonical, 'k in {"1", "2"}');
  assert.throws(() => mapLabelKeys(ns, (k) => `${k} x`), (e: unknown) => e instanceof SelectorError && /^mapLabelKeys: label key "(team|tier) x" must be 1-512 of A-Z a-z 0-9 _ \. \/ -$/.test(e.message));
});

test('CIDRs: each family parsed as itself (IPv4, IPv6, IPv4-mapped), host bits cleared, bad ones refused', () => {
  assert.equal(parseCidr('10.1.2.3/24'), { family: 4, address: '10.1.2.3', prefixLength: 24 });
  assert.equal(parseCidr('fd00::1/64'), { family: 6, address: 'fd00::1', prefixLength: 64 });
  assert.equal(parseCidr('::ffff:10.0.0.1/128'), { family: 6, address: '::ffff:a00:1', prefixLength: 128 });
  assert.equal(parseCidr('10.0.0.5'), { family: 4, address: '10.0.0.5', prefixLength: 32 });
  assert.is(canonicalCidr('10.1.2.3/24'), '10.1.2.0/24');
  assert.is(canonicalCidr('fd00::1:2/112'), 'fd00::1:0/112');
  assert.ok(cidrContains('10.0.0.0/8', '10.9.9.9'), '10.9.9.9 should be inside 10.0.0.0/8');
  assert.not.ok(cidrContains('fd00::/8', '10.9.9.9'), 'an IPv4 address is never inside an IPv6 pool');
  for (const bad of ['10.0.0.0/33', 'fd00::/129', '10.0.0/8', '10.0.0.0/', 'x/8', '10.0.0.0/8/8']) {
    assert.not.ok(isValidCidrOrIp(bad), `"${bad}" should be refused`);
  }
});

test('IPv4 CIDRs read with plain arithmetic agree with ipaddr.js (5,000 random addresses, lengths and odd spellings)', () => {
  let seed = 7;
  const rnd = (n: number) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
  const odd = ['010.0.0.1', '1.2.3', '1.2.3.4.5', '256.1.1.1', '1.2.3.4/33', '1.2.3.4/', '0x1.2.3.4', ' 1.2.3.4', '1.2.3.4/01', '1.2.3.4/032', '::ffff:1.2.3.4',
    // Learned prefixes as the dataplane canonicalizes them (it had a fast path of its own before).
    '10.0.0.0/24', '0.0.0.0/0', '1.2.3.4/0', '255.255.255.255/32', '192.168.7.129/25', '172.16.5.4/12', '100.64.0.255/31', 'fd00::/64', 'fd00::1/64',
    '2001:db8::/32', '256.0.0.0/8', '10.0.0.0/33', '01.2.3.4/8', '10.0.0.0/08', '10.0.0/24', 'x/24'];
  const inputs = [...odd];
  for (let i = 0; i < 5000; i++) {
    const a = [rnd(256), rnd(256), rnd(256), rnd(256)].join('.');
    inputs.push(rnd(4) === 0 ? a : `${a}/${rnd(33)}`);
  }
  const reference = (s: string) => {
    if (!isValidCidrOrIp(s)) return 'invalid';
    const [addr, len] = s.includes('/') ? ipaddr.parseCIDR(s) : [ipaddr.parse(s), s.includes(':') ? 128 : 32];
    const net = addr.kind() === 'ipv4' ? ipaddr.IPv4.networkAddressFromCIDR(`${addr.toString()}/${len}`) : ipaddr.IPv6.networkAddressFromCIDR(`${addr.toString()}/${len}`);
    return `${addr.toString()}/${len} ${net.toString()}/${len}`;
  };
  const ours = (s: string) => {
    let c;
    try { c = parseCidr(s); } catch { return 'invalid'; }
    return `${c.address}/${c.prefixLength} ${canonicalCidr(s)}`;
  };
  const wrong = inputs.filter((s) => ours(s) !== reference(s)).map((s) => `${s}: ${ours(s)} vs ${reference(s)}`);
  assert.equal(wrong.slice(0, 5), [], `${wrong.length} inputs read differently`);
  for (let i = 0; i < 2000; i++) {
    const net = `${rnd(256)}.${rnd(256)}.${rnd(256)}.0/${rnd(33)}`;
    const addr = [rnd(256), rnd(256), rnd(256), rnd(256)].join('.');
    const want = ipaddr.parse(addr).match(ipaddr.parseCIDR(net) as [ipaddr.IPv4, number]);
    assert.is(cidrContains(net, addr), want, `${net} contains ${addr}`);
  }
});

test.run();
