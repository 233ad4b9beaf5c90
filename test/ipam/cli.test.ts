// trellisctl ipam show|check|release against a real etcd, through the CLI process.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { allocate, releaseByHandle } from '../../src/ipam/index.js';
import { poolDeletedNote } from '../../src/cli/commands/ipam.js';
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

test('deleting an IPPool says which of its blocks stay advertised, and why; ipam show explains pool (none)', async () => {
  const s = await freshStore();
  await s.create(pool('p2', '10.60.0.0/24'));
  const busy = await allocate(s, { node: 'n1', handle: 'busy.eth0', attrs: { endpoint: 'default/busy' } });
  await allocate(s, { node: 'n2', handle: 'brief.eth0', attrs: { endpoint: 'default/brief' } });
  await releaseByHandle(s, 'brief.eth0');
  const del = await cli(s.prefix, ['delete', 'ippool', 'p2']);
  assert.is(del.code, 0, del.stderr);
  assert.match(del.stdout, /^IPPool p2 deleted$/m);
  assert.ok(busy.address.startsWith('10.60.0.'), `n1's address from its first block: ${busy.address}`);
  assert.is(del.stderr.trim(), 'trellisctl: note: IPPool p2 deleted; nothing new is allocated from its blocks, but 10.60.0.0/26 (1 address, node n1) stays advertised ' +
    'while it holds addresses (remove those containers to free it); 10.60.0.64/26 is empty and stays advertised until released, 5 min after it emptied, ' +
    'at its node\'s next resync. "trellisctl ipam show" lists them under pool (none).', 'the note after deleting the pool');
  const show = await cli(s.prefix, ['ipam', 'show']);
  assert.match(show.stdout, /10\.60\.0\.64\/26\s+\(none\)\s+n2\s+0/, `the empty block under pool (none): ${show.stdout}`);
  assert.match(show.stdout, /Blocks of pool \(none\) belong to no IPPool .* an empty one is released 5 min after it emptied, at that node's next resync\./, 'ipam show explains them');
  const none = await cli(s.prefix, ['delete', 'ippool', 'p2']);
  assert.is(none.code, 1, 'deleting it again is refused');
  assert.not.match(none.stderr, /note:/, 'and gets no note');
});

test('poolDeletedNote: a pool without blocks, several busy blocks', () => {
  assert.is(poolDeletedNote('p', []), 'IPPool p had no blocks: nothing of it is left.');
  const b = (cidr: string, used: number, affinity: string) => ({ cidr, affinity, used, free: 64 - used, borrowed: 0, emptySince: null });
  assert.is(poolDeletedNote('p', [b('10.0.0.0/26', 2, 'h1'), b('10.0.0.64/26', 1, 'h2')]),
    'IPPool p deleted; nothing new is allocated from its blocks, but 10.0.0.0/26 (2 addresses, node h1), 10.0.0.64/26 (1 address, node h2) stay advertised ' +
    'while they hold addresses (remove those containers to free them). "trellisctl ipam show" lists them under pool (none).');
});

test.after(teardown);
test.run();
