// The label index may only narrow which endpoints a set's selector is tested against:
// for random selectors and label sets, every matching endpoint must be a candidate, and
// removed endpoints must be gone.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createLabelIndex } from '../../src/calc/label-index.js';
import { parseSelector } from '../../src/model/index.js';

const SELECTORS = [
  'app == "web"', 'app in {"web", "db"}', 'app == "web" && tier == "1"', 'tier in {"1", "2"} && app != "db"',
  'app == "web" || tier == "1"', 'has(app)', '!has(tier)', 'all()', 'app == "nope"', 'app == "web" && app == "db"',
  '(app == "db" && tier in {"2"}) && has(zone)', 'app not in {"web"}', 'zone starts with "e"',
];

function rng(seed: number): () => number {
  let s = seed;
  return () => { s = (s * 1103515245 + 12345) & 0x7fffffff; return s / 0x7fffffff; };
}

test('candidates always include every endpoint the selector matches', () => {
  const rand = rng(7);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const index = createLabelIndex();
  const labels = new Map<string, Record<string, string>>();
  for (let round = 0; round < 2000; round++) {
    const key = `e${Math.floor(rand() * 60)}`;
    const old = labels.get(key);
    if (old) index.remove(key, old);
    if (rand() < 0.2) { labels.delete(key); continue; }
    const l: Record<string, string> = {};
    if (rand() < 0.8) l.app = pick(['web', 'db', 'cli']);
    if (rand() < 0.5) l.tier = pick(['1', '2', '3']);
    if (rand() < 0.3) l.zone = pick(['east', 'west']);
    labels.set(key, l);
    index.add(key, l);
    if (round % 50 !== 0) continue;
    for (const expr of SELECTORS) {
      const sel = parseSelector(expr);
      const groups = index.candidates(sel.ast);
      const cands = groups ? new Set(groups.flatMap((g) => [...g])) : null;
      for (const [k, l2] of labels) {
        if (sel.matches(l2) && cands) assert.ok(cands.has(k), `round ${round}: ${k} ${JSON.stringify(l2)} matches ${expr} but is no candidate`);
      }
      if (cands) for (const k of cands) assert.ok(labels.has(k), `round ${round}: removed endpoint ${k} is still a candidate for ${expr}`);
    }
  }
});

test('equalities narrow; selectors without one scan everything', () => {
  const index = createLabelIndex();
  index.add('a', { app: 'web', tier: '1' });
  index.add('b', { app: 'web', tier: '2' });
  index.add('c', { app: 'db', tier: '1' });
  const keys = (expr: string) => { const g = index.candidates(parseSelector(expr).ast); return g ? g.flatMap((s) => [...s]).sort() : null; };
  assert.equal(keys('app == "db"'), ['c'], 'eq');
  assert.equal(keys('app in {"db", "web"}'), ['a', 'b', 'c'], 'in');
  assert.equal(keys('app == "web" && tier == "2"'), ['b'], 'and picks the smaller group');
  assert.equal(keys('app == "x"'), [], 'no endpoint with that value');
  assert.is(keys('has(app)'), null, 'has() scans');
  assert.is(keys('app == "web" || tier == "1"'), null, 'or scans');
});

test.run();
