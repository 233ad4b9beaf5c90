// `trellisctl policy explain` against a real etcd: the resources applied to the store
// give the same answer as the same files evaluated offline with -f.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseResourceTexts } from '../../src/model/index.js';
import { openStore } from '../../src/store/index.js';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { cliEntry } from '../helpers/cli.js';

const root = resolve(import.meta.dirname, '../..');
const files = [
  ...readdirSync(join(root, 'policies')).filter((n) => /\.ya?ml$/.test(n)).sort().map((n) => join(root, 'policies', n)),
  join(import.meta.dirname, 'fixtures/lab-endpoints.yaml'),
];

let etcd: TestEtcd | undefined;

test.after(async () => { await etcd?.stop(); });

function cli(args: string[], env: Record<string, string> = {}): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [...cliEntry(), 'policy', 'explain', ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('explain from etcd equals explain from the same files', async () => {
  etcd = await startTestEtcd();
  const store = openStore({ endpoints: etcd.endpoints });
  try {
    for (const r of parseResourceTexts(files.map((f) => ({ text: readFileSync(f, 'utf8'), fileName: f })))) await store.apply(r);
  } finally {
    await store.close();
  }
  for (const [from, to, port] of [['tenant-a/client', 'tenant-a/web', '80/TCP'], ['tenant-a/client', 'tenant-b/web', '80/TCP'], ['tenant-b/client', 'tenant-a/web', '22/TCP']]) {
    const live = cli(['--from', from!, '--to', to!, '--port', port!, '-o', 'json'], { TRELLIS_ETCD_ENDPOINTS: etcd.endpoints.join(',') });
    const offline = cli(['--from', from!, '--to', to!, '--port', port!, '-o', 'json', ...files.flatMap((f) => ['-f', f])]);
    assert.is(live.code, 0, `${from} -> ${to} ${port} from etcd: exit 0 (stderr: ${live.stderr})`);
    assert.equal(JSON.parse(live.stdout), JSON.parse(offline.stdout), `${from} -> ${to} ${port}: same answer from etcd and from files`);
  }
});

test.run();
