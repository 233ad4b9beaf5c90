// Runs the whole suite (or the paths given): every test/**/*.test.ts in its own
// process, so that one file's crash, daemon or namespace cannot leak into the next.
// uvu prints its own totals per file; this sums them into the closing line CI reads:
// "N passed, N failed".
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { cleanupNetnsWithPrefix, testNetnsPrefix } from '../src/lab/index.js';

const root = resolve(import.meta.dirname, '..');
const fileTimeoutMs = Number(process.env.TRELLIS_TEST_FILE_TIMEOUT_MS ?? 300_000);
const jobs = Math.max(1, Number(process.env.TRELLIS_TEST_JOBS ?? 1));

function findTests(path: string): string[] {
  const st = statSync(path);
  if (st.isFile()) return path.endsWith('.test.ts') ? [path] : [];
  return readdirSync(path)
    .sort()
    .flatMap((entry) => (entry === 'bench' || entry === 'fixtures' ? [] : findTests(join(path, entry))));
}

interface FileResult { file: string; passed: number; failed: number; skipped: number; ms: number; crashed: string | null }

function runFile(file: string, index: number): Promise<FileResult> {
  const started = Date.now();
  // Each file gets a namespace prefix of its own; the runner removes whatever is left with it.
  const prefix = `${testNetnsPrefix()}${index.toString(36)}-`;
  return new Promise((done) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file], {
      cwd: root,
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0', TRELLIS_NETNS_PREFIX: prefix },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let out = '';
    const rel = relative(root, file);
    const emit = (chunk: Buffer) => {
      out += chunk.toString();
      if (jobs === 1) process.stdout.write(chunk);
    };
    child.stdout.on('data', emit);
    child.stderr.on('data', emit);
    const timer = setTimeout(() => {
      out += `\n${rel}: timed out after ${fileTimeoutMs} ms\n`;
      try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* already gone */ }
    }, fileTimeoutMs);
    child.on('close', async (code, signal) => {
      clearTimeout(timer);
      await cleanupNetnsWithPrefix(prefix);
      if (jobs > 1) process.stdout.write(`\n── ${rel}\n${out}`);
      const num = (label: string) => Number(new RegExp(`${label}:\\s+(\\d+)`).exec(out)?.[1] ?? NaN);
      const total = num('Total');
      const passed = num('Passed');
      const skipped = num('Skipped') || 0;
      let crashed: string | null = null;
      if (Number.isNaN(total) || Number.isNaN(passed)) crashed = `no uvu summary (exit ${code ?? signal})`;
      else if (code !== 0 && total === passed + skipped) crashed = `exit ${code ?? signal} after all tests passed`;
      const failed = crashed ? Math.max(1, (total || 0) - (passed || 0) - skipped) : total - passed - skipped;
      done({ file: rel, passed: Number.isNaN(passed) ? 0 : passed, failed, skipped, ms: Date.now() - started, crashed });
    });
  });
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const files = (args.length ? args : ['test']).flatMap((p) => findTests(resolve(root, p)));
  const results: FileResult[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(jobs, files.length) }, async () => {
    while (next < files.length) {
      const i = next++;
      results.push(await runFile(files[i]!, i));
    }
  }));
  results.sort((a, b) => a.file.localeCompare(b.file));
  console.log('\n── per file ──');
  for (const r of results) {
    const status = r.failed ? 'FAIL' : 'ok  ';
    console.log(`${status} ${r.file}  ${r.passed} passed, ${r.failed} failed${r.skipped ? `, ${r.skipped} skipped` : ''}  ${(r.ms / 1000).toFixed(1)}s${r.crashed ? `  (${r.crashed})` : ''}`);
  }
  const passed = results.reduce((n, r) => n + r.passed, 0);
  const failed = results.reduce((n, r) => n + r.failed, 0);
  const skipped = results.reduce((n, r) => n + r.skipped, 0);
  console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
  process.exit(failed > 0 || files.length === 0 ? 1 : 0);
}

await main();
