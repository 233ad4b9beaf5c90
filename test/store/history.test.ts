// The last valid version of an invalid key, from etcd's history: the walk over earlier
// revisions, with an in-memory history in place of etcd (the agent's last-good test runs it
// against a real etcd across a trellisd restart).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { lastValidInHistory, MAX_STEPS, type HistoryKv } from '../../src/store/history.js';
import type { Stored } from '../../src/store/types.js';
import type { Resource } from '../../src/model/index.js';

/** One key's values by mod revision ("bad" values do not decode); created at `created`. */
function history(values: Array<[number, string]>, created: number) {
  const kvs = values.map(([rev, v]): HistoryKv => ({
    key: Buffer.from('/k'), value: Buffer.from(v), mod_revision: String(rev), create_revision: String(created),
  }));
  const asked: bigint[] = [];
  const readAt = async (rev: bigint) => {
    asked.push(rev);
    const at = kvs.filter((k) => BigInt(k.mod_revision) <= rev && BigInt(k.mod_revision) >= created).pop();
    return at ?? null;
  };
  const decode = (kv: HistoryKv): Stored | null => kv.value.toString() === 'bad'
    ? null
    : { resource: { kind: kv.value.toString() } as unknown as Resource, revision: kv.mod_revision };
  return { current: kvs[kvs.length - 1]!, readAt, decode, asked };
}

test('the newest earlier value that decodes is found, skipping invalid ones', async () => {
  const h = history([[3, 'v1'], [7, 'v2'], [9, 'bad'], [12, 'bad']], 3);
  const out = await lastValidInHistory(h.current, h.readAt, h.decode);
  assert.equal(out, { found: { resource: { kind: 'v2' } as unknown as Resource, revision: '7' } }, 'v2 at revision 7 is the last valid version');
  assert.equal(h.asked, [11n, 8n], 'asked for the revision just before each value, newest first');
});

test('a key created invalid has nothing to hold, and etcd is not asked', async () => {
  const h = history([[5, 'bad']], 5);
  assert.equal(await lastValidInHistory(h.current, h.readAt, h.decode), { found: null, why: 'created-invalid' });
  assert.equal(h.asked, [], 'no read for a first value');
});

test('a key deleted and created again does not reach back into its earlier life', async () => {
  // v1 existed at 2, was deleted at 4, and the key was created again, invalid, at 6 and 8.
  const h = history([[6, 'bad'], [8, 'bad']], 6);
  assert.equal(await lastValidInHistory(h.current, h.readAt, h.decode), { found: null, why: 'created-invalid' });
});

test('a compacted history ends the walk without a version; another error is thrown', async () => {
  const current: HistoryKv = { key: Buffer.from('/k'), value: Buffer.from('bad'), mod_revision: '9', create_revision: '2' };
  const compacted = async () => { throw new Error('etcdserver: mvcc: required revision has been compacted'); };
  assert.equal(await lastValidInHistory(current, compacted, () => null), { found: null, why: 'compacted' });
  const down = async () => { throw new Error('14 UNAVAILABLE: connection refused'); };
  try {
    await lastValidInHistory(current, down, () => null);
    assert.unreachable('an unreachable etcd must fail the snapshot, not end the walk as if nothing were valid');
  } catch (err) {
    assert.match((err as Error).message, /UNAVAILABLE/);
  }
});

test('the walk is bounded: MAX_STEPS invalid values in a row give up', async () => {
  const values: Array<[number, string]> = [[1, 'v0']];
  for (let i = 0; i <= MAX_STEPS; i++) values.push([10 + i, 'bad']);
  const h = history(values, 1);
  assert.equal(await lastValidInHistory(h.current, h.readAt, h.decode), { found: null, why: 'all-invalid' });
  assert.is(h.asked.length, MAX_STEPS, `at most ${MAX_STEPS} reads`);
});

test.run();
