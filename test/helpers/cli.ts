// How tests start trellisctl: the built bin (dist/cli/main.js) when the build is at least
// as new as every source it compiles (`npm test` builds first), which is the shipped
// artefact and saves compiling the whole CLI on the fly in every call (≈ 0.5 s of CPU
// each); the TypeScript source through tsx otherwise, so that a test run by hand after an
// edit never exercises stale code.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');

/** The newest modification time of any file under the given paths. */
function newest(paths: string[]): number {
  let t = 0;
  for (const p of paths) {
    if (!existsSync(p)) continue;
    const st = statSync(p);
    if (st.isDirectory()) t = Math.max(t, newest(readdirSync(p).map((e) => join(p, e))));
    else t = Math.max(t, st.mtimeMs);
  }
  return t;
}

let cached: string[] | null = null;

/** argv after `node` that runs trellisctl (append the CLI's own arguments). */
export function cliEntry(): string[] {
  if (cached) return cached;
  const built = join(ROOT, 'dist', 'cli', 'main.js');
  // dist/.built is stamped when a build finishes (package.json "build").
  const stamp = join(ROOT, 'dist', '.built');
  const fresh = existsSync(built) && existsSync(stamp)
    && statSync(stamp).mtimeMs >= newest([join(ROOT, 'src'), join(ROOT, 'tsconfig.json'), join(ROOT, 'tsconfig.build.json')]);
  cached = fresh ? [built] : ['--import', 'tsx', join(ROOT, 'src', 'cli', 'main.ts')];
  return cached;
}

export interface CliRun { code: number | null; stdout: string; stderr: string }

/** Runs trellisctl from the repository's root with these variables over the test's own, feeding `input` on stdin. */
export function runCli(args: string[], env: Record<string, string> = {}, input = ''): Promise<CliRun> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [...cliEntry(), ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => { stdout += b.toString(); });
    child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
    child.stdin.end(input);
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}
