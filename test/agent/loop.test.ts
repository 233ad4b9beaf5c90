// The apply loop: bursts coalesce, applies never overlap, changes during an apply get an
// apply of their own, failures are retried with exponential backoff. And the resync cron.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { backoffMs, createApplyLoop, resyncCron } from '../../src/agent/index.js';

test('a burst of triggers becomes one apply', async () => {
  const calls: string[][] = [];
  const loop = createApplyLoop({ apply: async (r) => { calls.push(r.sort()); }, coalesceMs: 5 });
  for (let i = 0; i < 50; i++) loop.trigger(i % 2 ? 'change' : 'sync');
  await loop.idle();
  assert.equal(calls, [['change', 'sync']]);
  await loop.stop();
});

test('a change during an apply gets a second apply, never an overlapping one', async () => {
  let running = 0;
  let maxRunning = 0;
  let n = 0;
  const loop = createApplyLoop({
    apply: async () => {
      running++; maxRunning = Math.max(maxRunning, running); n++;
      if (n === 1) loop.trigger('during');
      await new Promise((r) => setTimeout(r, 20));
      running--;
    },
    coalesceMs: 1,
  });
  loop.trigger('first');
  await new Promise((r) => setTimeout(r, 5));
  await loop.idle();
  assert.is(n, 2, 'two applies');
  assert.is(maxRunning, 1, 'never two at once');
  await loop.stop();
});

test('failures retry with exponential backoff and keep their reasons', async () => {
  const seen: Array<{ reasons: string[]; at: number }> = [];
  const waits: number[] = [];
  const t0 = Date.now();
  const loop = createApplyLoop({
    apply: async (r) => {
      seen.push({ reasons: [...r], at: Date.now() - t0 });
      if (seen.length < 4) throw new Error(`kernel busy ${seen.length}`);
    },
    coalesceMs: 1, initialBackoffMs: 10, maxBackoffMs: 1000,
    onFailure: (_e, _n, wait) => waits.push(wait),
  });
  loop.trigger('policy');
  await loop.idle();
  assert.is(seen.length, 4, 'three failures, then success');
  assert.equal(waits, [10, 20, 40]);
  assert.ok(seen.every((s) => s.reasons.includes('policy')), 'the failed change is still delivered on retry');
  assert.is(loop.consecutiveFailures, 0);
  await loop.stop();
});

test('backoff doubles up to the maximum', () => {
  assert.equal([1, 2, 3, 4, 10].map((n) => backoffMs(n, 100, 1000)), [100, 200, 400, 800, 1000]);
});

test('resync intervals map onto node-cron expressions', () => {
  assert.is(resyncCron(1), '* * * * * *');
  assert.is(resyncCron(15), '*/15 * * * * *');
  assert.is(resyncCron(60), '0 * * * * *');
  assert.is(resyncCron(300), '0 */5 * * * *');
  assert.is(resyncCron(3600), '0 0 * * * *');
  assert.is(resyncCron(7), '*/6 * * * * *');
  assert.throws(() => resyncCron(0), /positive/);
});

test.run();
