// Selector evaluation speed: `npm run bench -- selectors --policies 1000 --labelsets 10000`.
// Each policy contributes three selectors (its own, a rule's source selector, a rule's
// namespaceSelector rewritten onto endpoint labels), a realistic mix of every operator.
// Every selector is evaluated against every label set; reported: evaluations/s (median
// of --runs runs) for the compiled closures and, for comparison, for a plain tree-walking
// interpreter over the same normalised trees; and parse+compile time.
import { andSelectors, mapLabelKeys, parseSelector, type Selector, type SelectorNode } from '../../src/model/index.js';
import { normalize } from '../../src/model/selector/canonical.js';
import { compile } from '../../src/model/selector/evaluate.js';
import { parseAst } from '../../src/model/selector/parser.js';
import { median, rssMiB } from './_stats.js';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s = (s * 1664525 + 1013904223) >>> 0; return s / 2 ** 32; };
}

const APPS = Array.from({ length: 60 }, (_, i) => `app-${i}`);
const TIERS = ['frontend', 'backend', 'db', 'cache'];
const ENVS = ['prod', 'staging', 'dev'];
const TEAMS = Array.from({ length: 12 }, (_, i) => `team-${i}`);

function policySelectors(r: () => number, i: number): string[] {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const own = [
    () => `app == "${pick(APPS)}"`,
    () => `app == "${pick(APPS)}" && tier == "${pick(TIERS)}"`,
    () => `tier in {"${pick(TIERS)}", "${pick(TIERS)}"} && env != "prod"`,
    () => `has(role) && !has(quarantine)`,
    () => `example.com/team starts with "team-${i % 10}"`,
    () => `(app == "${pick(APPS)}" || app == "${pick(APPS)}") && env in {"staging", "dev"}`,
    () => `version ends with ".${i % 7}" && app contains "-${i % 10}"`,
    () => 'all()',
  ];
  const src = [
    () => `app == "${pick(APPS)}"`,
    () => `role == "client" && tier not in {"db"}`,
    () => `!has(quarantine)`,
    () => `app in {"${pick(APPS)}", "${pick(APPS)}", "${pick(APPS)}"}`,
  ];
  const ns = [() => `tenant == "t${i % 20}"`, () => 'all()', () => `env == "${pick(ENVS)}"`];
  return [pick(own)(), pick(src)(), pick(ns)()];
}

function labelSets(n: number, r: () => number): Record<string, string>[] {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  return Array.from({ length: n }, (_, i) => {
    const l: Record<string, string> = { app: pick(APPS), tier: pick(TIERS), env: pick(ENVS), version: `v1.${i % 13}.${i % 7}`, 'pcns.tenant': `t${i % 20}`, 'pcns.env': pick(ENVS) };
    if (r() < 0.5) l['example.com/team'] = pick(TEAMS);
    if (r() < 0.3) l.role = r() < 0.5 ? 'client' : 'server';
    if (r() < 0.05) l.quarantine = 'true';
    return l;
  });
}

// The baseline the compiled closures are measured against: walking the tree per match,
// written as tightly as the closures (plain loops, the same label lookup).
const label = (l: Readonly<Record<string, string>>, k: string): string | undefined => { const v = l[k]; return typeof v === 'string' ? v : undefined; };
function interpret(n: SelectorNode, l: Readonly<Record<string, string>>): boolean {
  switch (n.type) {
    case 'all': return true;
    case 'global': return false;
    case 'has': return label(l, n.key) !== undefined;
    case 'eq': return label(l, n.key) === n.value;
    case 'ne': return label(l, n.key) !== n.value;
    case 'in': { const v = label(l, n.key); return v !== undefined && n.values.includes(v); }
    case 'notin': { const v = label(l, n.key); return v === undefined || !n.values.includes(v); }
    case 'contains': return label(l, n.key)?.includes(n.value) === true;
    case 'startsWith': return label(l, n.key)?.startsWith(n.value) === true;
    case 'endsWith': return label(l, n.key)?.endsWith(n.value) === true;
    case 'not': return !interpret(n.expr, l);
    case 'and': for (const e of n.exprs) if (!interpret(e, l)) return false; return true;
    case 'or': for (const e of n.exprs) if (interpret(e, l)) return true; return false;
  }
}

// Two loops rather than one taking a callback, so neither pays for the other's call site.
function timeCompiled(selectors: readonly Selector[], sets: readonly Record<string, string>[]): { perSec: number; matched: number } {
  let matched = 0;
  const t0 = process.hrtime.bigint();
  for (const s of selectors) for (const l of sets) if (s.matches(l)) matched++;
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  return { perSec: (selectors.length * sets.length) / secs, matched };
}

function timeTreeWalk(selectors: readonly Selector[], sets: readonly Record<string, string>[]): { perSec: number; matched: number } {
  let matched = 0;
  const t0 = process.hrtime.bigint();
  for (const s of selectors) for (const l of sets) if (interpret(s.ast, l)) matched++;
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  return { perSec: (selectors.length * sets.length) / secs, matched };
}

export async function run(params: Record<string, string>): Promise<Record<string, unknown>> {
  const policies = Number(params.policies ?? 1000);
  const nLabelSets = Number(params.labelsets ?? 10000);
  const runs = Number(params.runs ?? 5);
  const r = rng(7);
  const sources = Array.from({ length: policies }, (_, i) => policySelectors(r, i));
  const sets = labelSets(nLabelSets, r);

  // Parse + normalise + compile, without the cache (internals called directly), per selector.
  const flat = sources.flat();
  const parseSamples: number[] = [];
  for (let k = 0; k < runs; k++) {
    const t0 = process.hrtime.bigint();
    for (const s of flat) compile(normalize(parseAst(s)));
    parseSamples.push(Number(process.hrtime.bigint() - t0) / 1e3 / flat.length);
  }
  // Through the face: first sight of each distinct string, then cache hits.
  const t1 = process.hrtime.bigint();
  const parsed = sources.map(([own, src, ns]) => [parseSelector(own!), parseSelector(src!), mapLabelKeys(parseSelector(ns!), (key) => `pcns.${key}`)]);
  const firstParseMs = Number(process.hrtime.bigint() - t1) / 1e6;
  const lookups = 100;
  const t2 = process.hrtime.bigint();
  for (let k = 0; k < lookups; k++) for (const s of flat) parseSelector(s);
  const cachedUs = Number(process.hrtime.bigint() - t2) / 1e3 / flat.length / lookups;
  // Rule peers: the rule's selector and its rewritten namespaceSelector together.
  const selectors: Selector[] = parsed.flatMap(([own, src, ns]) => [own!, andSelectors(src!, ns!)]);
  const distinctCanonical = new Set(selectors.map((s) => s.canonical)).size;

  const compiled: number[] = [];
  const walked: number[] = [];
  let matched = 0;
  for (let k = 0; k < runs; k++) {
    const c = timeCompiled(selectors, sets);
    const w = timeTreeWalk(selectors, sets);
    if (c.matched !== w.matched) throw new Error(`compiled and interpreted disagree: ${c.matched} vs ${w.matched} matches`);
    compiled.push(c.perSec);
    walked.push(w.perSec);
    matched = c.matched;
  }
  const m = median(compiled);
  const mw = median(walked);
  return {
    policies,
    labelSets: nLabelSets,
    selectorsEvaluated: selectors.length,
    distinctCanonical,
    evaluationsPerRun: selectors.length * nLabelSets,
    matchesPerRun: matched,
    runs,
    evaluationsPerSecMedian: Math.round(m),
    evaluationsPerSecRuns: compiled.map(Math.round),
    treeWalkEvaluationsPerSecMedian: Math.round(mw),
    compiledVsTreeWalk: Math.round((m / mw) * 100) / 100,
    parseCompileUsPerSelectorMedian: Math.round(median(parseSamples) * 100) / 100,
    firstParseMsAllSelectors: Math.round(firstParseMs * 10) / 10,
    cachedLookupUsPerSelector: Math.round(cachedUs * 1000) / 1000,
    rssMiB: rssMiB(),
  };
}
