// Lint rules that keep the house in order: strict TypeScript, and subsystems that
// talk to each other only through their index.ts face, in one direction.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// A file in src/<a>/ may import another subsystem only as '../<b>/index.js'.
const faceOnly = {
  regex: '^\\.\\./[^/]+/(?!index\\.js$).+',
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
);
