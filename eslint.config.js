// Lint rules that keep the house in order: strict TypeScript, and subsystems that
// talk to each other only through their index.ts face, in one direction.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';

// A file in src/<a>/ may import another subsystem only as '../<b>/index.js'.
const faceOnly = {
  regex: '^\\.\\./[^/]+/(?!index\\.js$).+',
  message: 'Import another subsystem only through its face: ../<subsystem>/index.js',
};

// Which subsystems each one may NOT import: dependencies point one way.
const forbidden = {
  log: ['model', 'store', 'ipam', 'calc', 'dataplane', 'bgp', 'agent', 'cli', 'cni', 'api', 'lab', 'config'],
  model: ['log', 'store', 'ipam', 'calc', 'dataplane', 'bgp', 'agent', 'cli', 'cni', 'api', 'lab', 'config'],
  calc: ['store', 'ipam', 'dataplane', 'bgp', 'agent', 'cli', 'cni', 'api', 'lab'],
  bgp: ['store', 'ipam', 'calc', 'agent', 'cli', 'cni', 'api', 'lab'],
  store: ['ipam', 'calc', 'dataplane', 'bgp', 'agent', 'cli', 'cni', 'api', 'lab'],
  ipam: ['calc', 'dataplane', 'bgp', 'agent', 'cli', 'cni', 'api', 'lab'],
  dataplane: ['store', 'ipam', 'bgp', 'agent', 'cli', 'cni', 'api', 'lab'],
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
    plugins: { 'import-x': importX },
    settings: {
      'import-x/extensions': ['.ts', '.js'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: 'tsconfig.json' })],
    },
    rules: { 'import-x/no-cycle': ['error', { ignoreExternal: true }] },
  },
);
