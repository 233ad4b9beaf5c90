// The flap loop of #11 item 1 with FRR 8.4's bgpd as the router (flap.test.ts does the same
// with BIRD). Four disturbances, each against its own FRR and its own Trellis speaker in a
// namespace of its own, all at once so that the minute of stability is paid once:
//  - `clear bgp` on FRR;
//  - hold-timer expiry (bgpd frozen past the 9 s hold time);
//  - bgpd restarted (SIGTERM by pid, started again from the same config) with graceful
//    restart, without `preserve-fw-state`: FRR's new OPEN carries F=0, so RFC 4724 4.2 has
//    the helper drop the stale routes and learn them again;
//  - the same with `preserve-fw-state` (F=1): the route stays through the restart, no
//    withdraw is ever reported.
// Each must give exactly one reconnection, then a session that stays up for a minute on both
// sides (sampled every second: never seen down, never re-established), its route learned.
// Trellis keeps the field's default connect retry (10 s: a 5 s idle hold), so a loop would
// have shown many times over within the minute.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createNetns, testNetnsPrefix, type Netns } from '../../src/lab/index.js';
import type { RouteChange } from '../../src/bgp/index.js';
import { sleep, waitFor } from './_helpers.js';
import { frrConfig, startFrr, type Frr } from './_frr.js';
import { startSpeakerHost, type SpeakerHost } from './_host.js';

const FRR4 = '10.98.0.1';
const TRL4 = '10.98.0.2';
const TRL_PORT = 1179;
const ROUTE = '10.198.0.0/24';
const STABLE_MS = 60_000;

type Kind = 'clear' | 'hold' | 'restart-f0' | 'restart-f1';

interface Case {
  kind: Kind;
  ns: Netns;
  frr: Frr | null;
  h: SpeakerHost;
  /** FRR's connectionsEstablished before the disturbance (a restarted bgpd counts from zero). */
  before: number;
  /** Event index of the speaker at the disturbance: withdraws after it are counted. */
  from: number;
  /** Samples through the disturbance and the minute after it. */
  alwaysLearned: boolean;
  downSamples: string[];
  backAt: number;
  error: Error | null;
}

const config = (kind: Kind) => frrConfig({
  asn: 65198, routerId: FRR4, networks: [ROUTE],
  globals: kind === 'restart-f0' ? ['bgp graceful-restart'] : kind === 'restart-f1' ? ['bgp graceful-restart', 'bgp graceful-restart preserve-fw-state'] : [],
  neighbors: [{ address: TRL4, asn: 65199, port: TRL_PORT, updateSource: FRR4 }],
});

const cases = new Map<Kind, Case>();
let done: Promise<void> = Promise.resolve();

const neighbor = (c: Case) => c.frr!.neighbor(TRL4);
const trellis = async (c: Case) => (await c.h.call<{ state: string; uptimeSec: number; stale?: boolean }[]>('status'))[0];
const learned = async (c: Case) => (await c.h.call<{ prefix: string }[]>('learned')).map((r) => r.prefix);
const withdrawsSince = (c: Case) => c.h.events.slice(c.from)
  .flatMap((e) => (e.event === 'routes' ? (e.changes as RouteChange[]) : []))
  .filter((x) => x.prefix === ROUTE && x.withdrawn);

async function setup(kind: Kind, tag: string): Promise<Case> {
  const ns = await createNetns(`${testNetnsPrefix()}flapf${tag}`);
  const h = startSpeakerHost({ routerId: TRL4, localAsn: 65199, listen: { host: '::', port: TRL_PORT } }, ns.name);
  const c: Case = { kind, ns, frr: null, h, before: 0, from: 0, alwaysLearned: true, downSamples: [], backAt: 0, error: null };
  cases.set(kind, c);
  for (const a of [`${FRR4}/32`, `${TRL4}/32`]) await ns.run(['ip', 'addr', 'add', a, 'dev', 'lo']);
  c.frr = await startFrr(config(kind), ns.name);
  await waitFor(`${kind}: Trellis listening`, () => h.events.find((e) => e.event === 'listening'), 10_000);
  await h.call('configure', { peers: [{ address: FRR4, asn: 65198, localAddress: TRL4, importPolicy: 'Accept', exportPolicy: 'LocalBlocks', holdTimeSec: 9 }] });
  await waitFor(`${kind}: FRR Established`, async () => (await neighbor(c))?.bgpState === 'Established', 30_000, 200);
  await waitFor(`${kind}: FRR's route learned`, async () => (await learned(c)).includes(ROUTE), 15_000, 200);
  return c;
}

/** The disturbance; resolves once the session is back (Established on FRR, counted anew). */
async function disturb(c: Case): Promise<void> {
  c.before = (await neighbor(c))?.connectionsEstablished ?? 0;
  c.from = c.h.events.length;
  if (c.kind === 'clear') {
    await c.frr!.vtysh(`clear bgp ${TRL4}`);
  } else if (c.kind === 'hold') {
    c.frr!.signal('SIGSTOP');
    try {
      await waitFor('hold: Trellis saw the hold timer expire', async () => (await trellis(c))?.state !== 'Established', 20_000, 200);
    } finally {
      c.frr!.signal('SIGCONT');
    }
  } else {
    await c.frr!.stop();
    c.frr = null;
    c.before = 0;
    await waitFor(`${c.kind}: Trellis saw bgpd go`, async () => (await trellis(c))?.state !== 'Established', 15_000, 100);
    c.frr = await startFrr(config(c.kind), c.ns.name);
  }
  await waitFor(`${c.kind}: session back`, async () => {
    const n = await neighbor(c);
    return n?.bgpState === 'Established' && (n.connectionsEstablished ?? 0) > c.before;
  }, 40_000, 200);
  c.backAt = Date.now();
}

/** Every second until `until`: both sides Established, FRR's count unchanged, the route there. */
async function watch(c: Case, until: () => boolean): Promise<void> {
  while (!until()) {
    const [n, t, l] = await Promise.all([neighbor(c).catch(() => null), trellis(c), learned(c)]);
    const at = `${Math.round((Date.now() - c.backAt) / 1000)} s`;
    if (!l.includes(ROUTE)) c.alwaysLearned = false;
    if (n?.bgpState !== 'Established' || (n.connectionsEstablished ?? 0) !== c.before + 1) {
      c.downSamples.push(`${at}: FRR ${n?.bgpState} x${n?.connectionsEstablished} (last reset: ${n?.lastResetDueTo})`);
    }
    if (t?.state !== 'Established') c.downSamples.push(`${at}: Trellis ${t?.state}`);
    await sleep(1_000);
  }
}

test.before(async () => {
  const kinds: [Kind, string][] = [['clear', 'c'], ['hold', 'h'], ['restart-f0', 'r0'], ['restart-f1', 'r1']];
  await Promise.all(kinds.map(([k, tag]) => setup(k, tag)));
  done = (async () => {
    await Promise.all([...cases.values()].map(async (c) => {
      // Reads the learned routes all through the disturbance: a route lost even briefly shows
      // here as well as in the speaker's withdraw events.
      let disturbed = false;
      const poll = (async () => {
        while (!disturbed) {
          if (!(await learned(c)).includes(ROUTE)) c.alwaysLearned = false;
          await sleep(100);
        }
      })();
      try { await disturb(c); } catch (e) { c.error = e as Error; } finally { disturbed = true; await poll; }
    }));
    const ok = [...cases.values()].filter((c) => !c.error);
    const end = Math.max(...ok.map((c) => c.backAt)) + STABLE_MS;
    await Promise.all(ok.map((c) => watch(c, () => Date.now() >= end).catch((e: Error) => { c.error = e; })));
  })();
});

test.after(async () => {
  await done.catch(() => undefined);
  for (const c of cases.values()) {
    c.h.kill();
    await c.h.exited;
    c.frr?.signal('SIGCONT');
    await c.frr?.stop();
    await c.ns.destroy();
  }
});

async function expectStableMinute(kind: Kind, what: string): Promise<Case> {
  await done;
  const c = cases.get(kind)!;
  if (c.error) throw new Error(`${what}: ${c.error.message}`);
  const n = await neighbor(c);
  const t = await trellis(c);
  const upFor = Math.round((Date.now() - c.backAt) / 1000);
  assert.equal(c.downSamples, [], `${what}: both sides Established at every sample through the ${upFor} s since the session came back`);
  assert.is(n?.bgpState, 'Established', `${what}: FRR still Established after ${upFor} s (last reset: ${n?.lastResetDueTo})`);
  assert.is((n?.connectionsEstablished ?? 0) - c.before, 1, `${what}: exactly one reconnection seen by FRR (dropped ${n?.connectionsDropped}, last reset: ${n?.lastResetDueTo})`);
  assert.is(t?.state, 'Established', `${what}: Trellis still Established`);
  assert.ok((t?.uptimeSec ?? 0) >= STABLE_MS / 1000 - 1, `${what}: Trellis's session up the whole minute (up ${t?.uptimeSec} s): no flap on its side`);
  assert.ok((await learned(c)).includes(ROUTE), `${what}: FRR's route is learned again`);
  assert.is(t?.stale ?? false, false, `${what}: no route left stale once FRR sent End-of-RIB`);
  return c;
}

test('clear bgp on FRR: one reconnection, then stable for a minute', async () => {
  await expectStableMinute('clear', 'clear bgp');
});

test('hold timer expiry (bgpd frozen past the 9 s hold time): one reconnection, then stable for a minute', async () => {
  await expectStableMinute('hold', 'hold timer expiry');
});

test('bgpd restarted without preserve-fw-state: one reconnection, then stable for a minute; the route comes back', async () => {
  await expectStableMinute('restart-f0', 'restart, F=0');
});

test('bgpd restarted with preserve-fw-state: one reconnection, then stable for a minute, the route never withdrawn', async () => {
  const c = await expectStableMinute('restart-f1', 'restart, F=1');
  assert.is(withdrawsSince(c).length, 0, `restart, F=1: no withdraw of ${ROUTE} reported by the speaker`);
  assert.ok(c.alwaysLearned, `restart, F=1: ${ROUTE} in the learned routes at every read through the restart and the minute after`);
});

test.run();
