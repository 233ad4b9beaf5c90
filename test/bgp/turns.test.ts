// runInTurns (src/bgp/turns.ts): the re-import and re-export after a configuration change
// spread a table over turns of the event loop, and stop when a newer change supersedes them.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runInTurns } from '../../src/bgp/turns.js';

const turn = () => new Promise<void>((r) => setImmediate(r));

test('perTurn items a turn, afterTurn after each share, done at the end', async () => {
  const log: string[] = [];
  let finished = false;
  runInTurns([1, 2, 3, 4, 5], 2, { current: () => true, each: (n) => log.push(String(n)), afterTurn: () => log.push('|'), done: () => { finished = true; } });
  assert.equal(log, ['1', '2', '|'], 'only the first share runs at once');
  for (let i = 0; i < 3; i++) await turn();
  assert.equal(log, ['1', '2', '|', '3', '4', '|', '5', '|'], 'the rest a share a turn');
  assert.ok(finished, 'done called');
});

test('work no longer current stops before its next share, and is never done', async () => {
  const seen: number[] = [];
  let wanted = true;
  let finished = false;
  runInTurns([1, 2, 3, 4], 1, { current: () => wanted, each: (n) => seen.push(n), done: () => { finished = true; } });
  wanted = false;
  for (let i = 0; i < 4; i++) await turn();
  assert.equal(seen, [1]);
  assert.not.ok(finished);
});

test('an empty list is done at once', () => {
  let finished = false;
  runInTurns([], 10, { current: () => true, each: () => { throw new Error('no items'); }, done: () => { finished = true; } });
  assert.ok(finished);
});

test.run();
