// The watcher's pure decisions, without etcd: what a watch response delivers and where it
// leaves the position, which invalid keys a snapshot fixes, what follows a stream's end, the
// backoff, and the probe's one-failure rule. watch.test.ts runs them against a real etcd.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createLogger } from '../../src/log/index.js';
import {
  AFTER_STREAM, FIRST_BACKOFF_MS, classifyResponse, fixedBySnapshot, guarded, nextBackoff, startProbe, type WatchResponseLike,
} from '../../src/store/watch-parts.js';
import { namespace, policy } from './_fixtures.js';

const P = '/trellis/v1/';
const put = (key: string, value: string, rev: number) => ({ type: 'Put' as const, kv: { key: Buffer.from(key), value: Buffer.from(value), mod_revision: String(rev) } });
const del = (key: string, rev: number) => ({ type: 'Delete' as const, kv: { key: Buffer.from(key), value: Buffer.alloc(0), mod_revision: String(rev) } });
const res = (events: WatchResponseLike['events'], header = 0, extra: Partial<WatchResponseLike> = {}): WatchResponseLike => ({ events, header: { revision: String(header) }, ...extra });
const all = () => true;

test('events at or below the position are dropped; the position becomes the highest event revision', () => {
  const r = classifyResponse(P, res([
    put(`${P}namespace/old`, JSON.stringify(namespace('old')), 5),
    put(`${P}namespace/a`, JSON.stringify(namespace('a')), 7),
    del(`${P}namespace/b`, 8),
  ], 99), 5n, all);
  assert.equal(r.outcomes.map((o) => o.type === 'event' ? `${o.event.type} ${o.event.key.name}@${o.event.revision}` : `${o.type} ${o.etcdKey}`), [
    `valid ${P}namespace/a`, 'put a@7', `valid ${P}namespace/b`, 'delete b@8',
  ], 'revision 5 (the snapshot) is not delivered again');
  assert.is(r.position, 8n, 'a response with events does not jump to its header revision (99)');
});

test('a progress notification moves the position to its header; a created or cancelled response does not', () => {
  assert.is(classifyResponse(P, res([], 40), 10n, all).position, 40n, 'progress notification');
  assert.is(classifyResponse(P, res([], 40, { created: true }), 10n, all).position, 10n, 'created');
  assert.is(classifyResponse(P, res([], 40, { canceled: true }), 10n, all).position, 10n, 'cancelled');
  assert.is(classifyResponse(P, res([], 4), 10n, all).position, 10n, 'never backwards');
});

test('invalid values are reported, not delivered; unwatched kinds and IPAM keys are skipped', () => {
  const onlyPolicies = (k: { kind: string }) => k.kind === 'NetworkPolicy';
  const r = classifyResponse(P, res([
    put(`${P}networkpolicy/t/web`, 'nope{', 2),
    put(`${P}namespace/x`, 'nope{', 3),
    put(`${P}ipam/v2/block/10.65.0.0-26`, 'x', 4),
    put(`${P}networkpolicy/t/db`, JSON.stringify(policy('t', 'db')), 5),
    del(`${P}namespace/y`, 6),
  ]), 0n, onlyPolicies);
  assert.equal(r.outcomes.map((o) => o.type === 'event' ? `event ${o.event.key.name}` : `${o.type} ${o.etcdKey}`), [
    `invalid ${P}networkpolicy/t/web`, `valid ${P}networkpolicy/t/db`, 'event db', `valid ${P}namespace/y`,
  ], 'a deleted key of an unwatched kind is still no longer invalid');
  assert.is(r.position, 6n, 'skipped events still advance the position');
});

test('a snapshot fixes the invalid keys it read and found valid or gone, only under its prefixes', () => {
  const before = [`${P}namespace/a`, `${P}namespace/b`, `${P}networkpolicy/t/x`];
  const now = new Map([[`${P}namespace/b`, 'still bad']]);
  assert.equal(fixedBySnapshot(before, now, [`${P}namespace/`]), [`${P}namespace/a`], 'b is still invalid; the policy key was not read');
});

test('after a stream: closed stops, compacted and rewound resync, lost resumes; the backoff doubles to its cap', () => {
  assert.equal(AFTER_STREAM, { closed: 'stop', compacted: 'resync', rewound: 'resync', lost: 'resume' });
  const steps = [FIRST_BACKOFF_MS];
  for (let i = 0; i < 6; i++) steps.push(nextBackoff(steps.at(-1)!, 2000));
  assert.equal(steps, [100, 200, 400, 800, 1600, 2000, 2000]);
});

test('a throwing handler is logged and does not escape', () => {
  let ran = false;
  guarded(createLogger({ name: 'test', level: 'silent' }), 'onEvent', () => { ran = true; throw new Error('handler bug'); });
  assert.ok(ran, 'the handler ran');
});

test('the probe reports one failure when etcd does not answer, and nothing once stopped', async () => {
  const failures: string[] = [];
  const stop = startProbe(() => new Promise(() => undefined), 20, 30, (e) => failures.push(e.message));
  await new Promise((r) => setTimeout(r, 200));
  stop();
  const seen = failures.length;
  assert.ok(seen >= 1, 'a silent etcd is noticed');
  assert.ok(!failures.some((m) => m !== 'no answer within 30 ms'), `the failure says why: ${failures.join('; ')}`);
  await new Promise((r) => setTimeout(r, 100));
  assert.is(failures.length, seen, 'no failure after stop');
  let asked = 0;
  const stopOk = startProbe(async () => { asked++; }, 20, 1000, (e) => failures.push(e.message));
  await new Promise((r) => setTimeout(r, 150));
  stopOk();
  assert.ok(asked >= 2, 'an answering etcd is asked again');
  assert.is(failures.length, seen, 'an answering etcd is never a failure');
});

test.run();
