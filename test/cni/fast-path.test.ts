// The plugin's fast path (handing the call to trellisd) must cost no more than Node's own
// start: main.ts and what it imports statically may load only Node built-ins. The model
// face alone (zod, yaml, ipaddr.js) added ~110 ms before main to every CNI call.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { callAgent } from '../../src/cni/client.js';
import { CNI_ERR } from '../../src/cni/codes.js';

const SRC = resolve(import.meta.dirname, '../../src');
// Static imports and re-exports only: dynamic import() is how the in-process fallback loads the rest.
const STATIC = /^\s*(?:import|export)\s(?!type\s)(?:[^'";]*?\sfrom\s*)?['"]([^'"]+)['"]/gm;

function staticGraph(entry: string): { files: string[]; packages: string[] } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    for (const m of readFileSync(file, 'utf8').matchAll(STATIC)) {
      const spec = m[1]!;
      if (spec.startsWith('.')) visit(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
      else packages.add(spec);
    }
  };
  visit(join(SRC, entry));
  return { files: [...files].map((f) => relative(SRC, f)).sort(), packages: [...packages].sort() };
}

test('trellis-cni main.ts loads only Node built-ins and cni files before it knows whether trellisd answers', () => {
  const g = staticGraph('cni/main.ts');
  assert.equal(g.packages.filter((p) => !p.startsWith('node:')), [], `packages loaded on the fast path: ${g.packages.join(', ')}`);
  assert.equal(g.files.filter((f) => !f.startsWith('cni/')), [], `other subsystems loaded on the fast path: ${g.files.join(', ')}`);
});

test('a trellisd that accepts and answers garbage: the fast path writes the spec\'s error object, TRY_AGAIN_LATER', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'trellis-cni-fast-'));
  const path = join(dir, 'cni.sock');
  const server = createServer((s) => { s.end('not json\n'); });
  await new Promise<void>((r) => server.listen(path, r));
  try {
    const reply = await callAgent(path, { CNI_COMMAND: 'ADD' }, JSON.stringify({ cniVersion: '0.4.0' }), 5000);
    assert.ok(reply, 'a listening trellisd should not fall back to in-process');
    assert.is(reply.code, 1, 'exit code for an error object');
    const body = JSON.parse(reply.stdout) as { cniVersion: string; code: number; msg: string };
    assert.is(body.cniVersion, '0.4.0', 'the error object should be written in the caller\'s version');
    assert.is(body.code, CNI_ERR.TRY_AGAIN_LATER, `code: ${reply.stdout}`);
    assert.match(body.msg, path, 'the message should name the socket');
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
