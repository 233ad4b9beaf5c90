// The README's lab, trellisctl and explain commands, run as printed against a fresh lab:
// every line of a ```sh readme-test block, in order, from the repository's root, must exit 0
// (so a README command that a change breaks fails the suite); "offline" blocks need no lab
// and run beside the lab's commands. `npm link` links into a temporary npm prefix on this
// test's PATH, so the suite never puts a trellisctl on the machine's. The lab runs under this file's namespace prefix and in a
// temporary directory, so it never meets a user's lab.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { testNetnsPrefix } from '../../src/lab/index.js';
import { REPO_ROOT } from '../../src/lab/cluster.js';
import { readmeCommands } from './_readme.js';

const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
const all = readmeCommands(readme);
const commands = all.filter((c) => !c.offline).map((c) => c.cmd);
const offline = all.filter((c) => c.offline).map((c) => c.cmd);

test('the README holds the lab walk-through: up first, down last, trellisctl and explain between', () => {
  assert.ok(commands.length >= 12, `expected the README's readme-test blocks to hold at least 12 lab commands, found ${commands.length}`);
  assert.ok(offline.length >= 3, `expected at least 3 offline README commands, found ${offline.length}`);
  assert.is(commands[0], 'npm run lab', 'the first README command builds the lab');
  assert.is(commands[1], 'npm link', 'the second puts trellisctl on PATH');
  assert.is(commands.at(-1), 'npm run lab -- down', 'the last README command takes the lab down');
  for (const must of ['npx trellisctl node status --node h2', 'trellisctl get wep -A', 'npm run lab -- add my-web', 'npm run lab -- exec tor birdc', 'trellisctl policy explain']) {
    assert.ok(commands.some((c) => c.startsWith(must)), `the README runs "${must}..."`);
  }
});

// What some commands must print, beyond exiting 0 (keyed by the command's start).
const EXPECT: Array<[string, RegExp]> = [
  ['npm run lab -- status', /matrix: (\d+)\/\1 as declared/],
  ['trellisctl node status --node h2', /Established/],
  ['trellisctl policy explain --from tenant-a/h1-a-client', /^ALLOWED: tenant-a\/h1-cni-h1-a-client-eth0/m],
  ['npm run lab -- exec h1-b-client socat', /^ok$/m],
  ['npm run lab -- exec tor birdc show route', /via 10\.10\.2\.2/],
  ['trellisctl get wep -A', /h2-cni-h2-a-web-eth0/],
];

test('every README command runs against a fresh lab as printed', async () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'trellis-readme-'));
  // A user's shell would not carry the suite's TRELLIS_* settings.
  const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TRELLIS_') || k === 'TRELLIS_NETNS_PREFIX'));
  Object.assign(env, {
    TRELLIS_LAB_DIR: stateDir, TRELLIS_LAB_PREFIX: `${testNetnsPrefix()}rd-`, TRELLIS_CONTEXT: join(stateDir, 'context.json'), NO_COLOR: '1',
    npm_config_prefix: join(stateDir, 'npm'), PATH: `${join(stateDir, 'npm', 'bin')}:${process.env.PATH ?? ''}`,
  });
  const started = Date.now();
  const run = async (cmd: string) => {
    const t0 = Date.now();
    const r = await execa('bash', ['-c', cmd], { cwd: REPO_ROOT, env, extendEnv: false, reject: false, input: '', timeout: 240_000, all: true });
    const out = String(r.all ?? '');
    assert.is(r.exitCode, 0, `README command "${cmd}" exited ${r.exitCode} after ${Date.now() - t0} ms:\n${out.slice(-3000)}`);
    for (const [start, re] of EXPECT) {
      if (cmd.replace(/^npx /, '').startsWith(start)) assert.match(out, re, `README command "${cmd}" printed no ${re}:\n${out.slice(-3000)}`);
    }
    if (process.env.README_TIMING) console.error(`[${Date.now() - t0} ms] ${cmd}`);
  };
  try {
    const [up, link, ...rest] = commands;
    await run(up!);
    await run(link!);
    const side = Promise.all(offline.map(run));
    side.catch(() => undefined);
    for (const cmd of rest) await run(cmd);
    await side;
  } finally {
    await execa('node', [join(REPO_ROOT, 'dist', 'lab', 'main.js'), 'down'], { cwd: REPO_ROOT, env, extendEnv: false, reject: false });
    rmSync(stateDir, { recursive: true, force: true });
  }
  if (process.env.README_TIMING) console.error(`README walk-through: ${Date.now() - started} ms`);
});

test.run();
