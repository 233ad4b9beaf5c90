// trellisctl ipam show|check|release against a real etcd, through the CLI process.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { allocate } from '../../src/ipam/index.js';
import { API_VERSION } from '../../src/model/index.js';
import { etcdUp, freshStore, pool, teardown } from './_fixture.js';
import { cliEntry, ROOT } from '../helpers/cli.js';


async function cli(prefix: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const e = await etcdUp();
  return new Promise((done) => {
    execFile(process.execPath, [...cliEntry(), '--etcd-endpoints', e.endpoints[0]!, ...args], {
      cwd: ROOT, env: { ...process.env, TRELLIS_STORE_PREFIX: prefix, TRELLIS_CONFIG: undefined },
    }, (err, stdout, stderr) => done({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
}

test('ipam show, check and release', async () => {
  const s = await freshStore();
  await s.create(pool('p1', '10.50.0.0/24'));
  const a = await allocate(s, { node: 'n1', handle: 'kept.eth0', attrs: { endpoint: 'default/kept' } });
  const b = await allocate(s, { node: 'n2', handle: 'gone.eth0', attrs: { endpoint: 'default/gone' } });
  await s.create({
    apiVersion: API_VERSION, kind: 'WorkloadEndpoint', metadata: { name: 'kept', namespace: 'default' },
    spec: { node: 'n1', interfaceName: 'trl0', ipNetworks: [`${a.address}/32`] },
  });

  const show = await cli(s.prefix, ['ipam', 'show']);
  assert.is(show.code, 0, show.stderr);
  assert.match(show.stdout, /p1\s+10\.50\.0\.0\/24\s+\/26\s+false\s+2\s+2\s+254/, `pool line: ${show.stdout}`);
  assert.match(show.stdout, /10\.50\.0\.0\/26\s+p1\s+n1\s+1\s+63/, 'n1\'s block with its affinity');
  assert.match(show.stdout, /10\.50\.0\.64\/26\s+p1\s+n2\s+1\s+63/, 'n2\'s block with its affinity');
  const json = JSON.parse((await cli(s.prefix, ['ipam', 'show', '-o', 'json'])).stdout) as { pools: Array<{ used: number }> };
  assert.is(json.pools[0]!.used, 2);

  const check = await cli(s.prefix, ['ipam', 'check', '--min-age', '0']);
  assert.is(check.code, 1, 'a leak makes check exit 1');
  assert.match(check.stdout, 'gone.eth0');
  assert.match(check.stdout, b.address);
  assert.not.match(check.stdout, 'kept.eth0');

  const rel = await cli(s.prefix, ['ipam', 'release', '--handle', 'gone.eth0']);
  assert.is(rel.code, 0, rel.stderr);
  assert.match(rel.stdout, b.address);
  assert.is((await cli(s.prefix, ['ipam', 'check', '--min-age', '0'])).code, 0, 'no leak after release');
  const again = await cli(s.prefix, ['ipam', 'release', '--handle', 'gone.eth0']);
  assert.is(again.code, 1, 'releasing twice is refused');
  const byAddr = await cli(s.prefix, ['ipam', 'release', '--address', a.address]);
  assert.is(byAddr.code, 0, byAddr.stderr);
  assert.match(byAddr.stdout, 'kept.eth0');
  const bad = await cli(s.prefix, ['ipam', 'release']);
  assert.is(bad.code, 2, 'neither flag is bad input');
});

test.after(teardown);
test.run();
