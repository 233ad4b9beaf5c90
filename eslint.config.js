// Lint rules that keep the house in order: strict TypeScript, and subsystems that
// talk to each other only through their index.ts face, in one direction.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

// A file in src/<a>/ may import another subsystem only as '../<b>/index.js' (from a
// folder inside a subsystem, src/<a>/<part>/: '../../<b>/index.js').
const faceOnly = {
  regex: '^(\\.\\./)+(?!\\.\\.)[^/]+/(?!index\\.js$).+',
  message: 'Import another subsystem only through its face: ../<subsystem>/index.js',
};

// Which subsystems each one may NOT import: dependencies point one way.
const forbidden = {
  log: ['model', 'store', 'ipam', 'calc', 'dataplane', 'bgp', 'agent', 'cli', 'cni', 'workload', 'docker', 'api', 'lab', 'config'],
  model: ['log', 'store', 'ipam', 'calc', 'dataplane', 'bgp', 'agent', 'cli', 'cni', 'workload', 'docker', 'api', 'lab', 'config'],
  calc: ['store', 'ipam', 'dataplane', 'bgp', 'agent', 'cli', 'cni', 'workload', 'docker', 'api', 'lab'],
  bgp: ['store', 'ipam', 'calc', 'agent', 'cli', 'cni', 'workload', 'docker', 'api', 'lab'],
  store: ['ipam', 'calc', 'dataplane', 'bgp', 'agent', 'cli', 'cni', 'workload', 'docker', 'api', 'lab'],
  ipam: ['calc', 'dataplane', 'bgp', 'agent', 'cli', 'cni', 'workload', 'docker', 'api', 'lab'],
  dataplane: ['store', 'ipam', 'bgp', 'agent', 'cli', 'cni', 'workload', 'docker', 'api', 'lab'],
  // The attach path every runtime face shares: cni and docker sit above it.
  workload: ['calc', 'dataplane', 'bgp', 'agent', 'cli', 'cni', 'docker', 'api', 'lab', 'config'],
  cni: ['docker', 'agent', 'cli', 'api', 'lab'],
  docker: ['cni', 'agent', 'cli', 'api', 'lab'],
};

const layering = Object.entries(forbidden).map(([sub, bans]) => ({
  files: [`src/${sub}/**/*.ts`],
  rules: {
    'no-restricted-imports': ['error', {
      patterns: [
        faceOnly,
        ...bans.map((b) => ({ group: [`../${b}/*`, `../../${b}/*`], message: `${sub} must not depend on ${b}` })),
      ],
    }],
  },
}));

// import-x/no-cycle follows value imports only, yet a circle made of `import type` still
// ties two modules into one (neither can be understood, moved or split alone), and both
// circles this rule was made for had a type-only side. So this one reads every relative
// import under src/, types included, once per lint run, and refuses an import whose
// target leads back to the importer.
const SRC = resolve(import.meta.dirname, 'src');
const SPEC = /(?:^|[\s;])(?:import|export)\s(?:[^'";]*?\sfrom\s*)?['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g;
let graphCache = null;
function importGraph() {
  if (graphCache) return graphCache;
  const graph = new Map();
  const files = readdirSync(SRC, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts')).map((f) => join(SRC, f));
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    const out = new Set();
    for (const m of text.matchAll(SPEC)) out.add(resolve(dirname(file), (m[1] ?? m[2]).replace(/\.js$/, '.ts')));
    graph.set(file, out);
  }
  graphCache = graph;
  return graph;
}
/** The shortest import path from `from` back to `to`, or null. */
function pathBack(graph, from, to) {
  const prev = new Map([[from, null]]);
  const queue = [from];
  while (queue.length) {
    const f = queue.shift();
    if (f === to) {
      const path = [];
      for (let x = f; x !== null; x = prev.get(x)) path.unshift(x);
      return path;
    }
    for (const n of graph.get(f) ?? []) if (!prev.has(n)) { prev.set(n, f); queue.push(n); }
  }
  return null;
}
const noImportCircle = {
  meta: { type: 'problem', schema: [], messages: { circle: 'import circle (types included): {{path}}' } },
  create(context) {
    const file = context.physicalFilename;
    const check = (node, spec) => {
      if (typeof spec !== 'string' || !spec.startsWith('.')) return;
      const target = resolve(dirname(file), spec.replace(/\.js$/, '.ts'));
      const back = pathBack(importGraph(), target, file);
      if (back) context.report({ node, messageId: 'circle', data: { path: [file, ...back].map((f) => relative(SRC, f)).join(' -> ') } });
    };
    return {
      ImportDeclaration: (n) => check(n, n.source.value),
      ExportNamedDeclaration: (n) => n.source && check(n, n.source.value),
      ExportAllDeclaration: (n) => check(n, n.source.value),
      ImportExpression: (n) => n.source.type === 'Literal' && check(n, n.source.value),
    };
  },
};

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.lab/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  {
    files: ['src/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [faceOnly] }] },
  },
  ...layering,
  // No import circles, inside a subsystem or across: a circle makes load order matter and
  // hides which module is the lower one. Only src/ (tests and benches are leaves). The rule
  // follows value imports; an `import type` vanishes at run time and is not followed.
  {
    files: ['src/**/*.ts'],
    plugins: { 'import-x': importX, trellis: { rules: { 'no-import-circle': noImportCircle } } },
    settings: {
      'import-x/extensions': ['.ts', '.js'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: 'tsconfig.json' })],
    },
    rules: {
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      'trellis/no-import-circle': 'error',
    },
  },
);
