// #11 item 1 with FRR 8.4's bgpd restarted (SIGTERM by pid, then started again from the same
// config), graceful restart on both sides: the session comes back exactly once and then stays
// up longer than two of Trellis's idle holds (5 s each) would allow a loop to show. Without
// `preserve-fw-state` FRR's new OPEN carries F=0, so RFC 4724 4.2 has the helper drop the
// stale routes and learn them again; with it (F=1) the routes stay through the restart:
// no withdraw is ever reported. Both in a namespace of ours, on its lo.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createNetns, testNetnsPrefix, type Netns } from '../../src/lab/index.js';
import type { RouteChange } from '../../src/bgp/index.js';
import { sleep, waitFor } from './_helpers.js';
import { frrConfig, startFrr, type Frr } from './_frr.js';
import { startSpeakerHost, type SpeakerHost } from './_host.js';

const FRR4 = '10.97.0.1';
const TRL4 = '10.97.0.2';
const TRL_PORT = 1179;
const ROUTE = '10.197.0.0/24';

let ns: Netns | null = null;
let frr: Frr | null = null;
let h: SpeakerHost | null = null;

const config = (preserve: boolean) => frrConfig({
  asn: 65197, routerId: FRR4, networks: [ROUTE],
  globals: ['bgp graceful-restart', ...(preserve ? ['bgp graceful-restart preserve-fw-state'] : [])],
  neighbors: [{ address: TRL4, asn: 65196, port: TRL_PORT, updateSource: FRR4 }],
});

test.before(async () => {
  ns = await createNetns(`${testNetnsPrefix()}flapfr`);
  for (const a of [`${FRR4}/32`, `${TRL4}/32`]) await ns.run(['ip', 'addr', 'add', a, 'dev', 'lo']);
  h = startSpeakerHost({ routerId: TRL4, localAsn: 65196, listen: { host: '::', port: TRL_PORT } }, ns.name);
  await waitFor('Trellis listening', () => h!.events.find((e) => e.event === 'listening'), 10_000);
  await h.call('configure', { peers: [{ address: FRR4, asn: 65197, localAddress: TRL4, importPolicy: 'Accept', exportPolicy: 'LocalBlocks', holdTimeSec: 9 }] });
});
test.after(async () => {
  h?.kill();
  await h?.exited;
  await frr?.stop();
  await ns?.destroy();
});

const learned = async () => (await h!.call<{ prefix: string }[]>('learned')).map((r) => r.prefix);
const trellis = async () => (await h!.call<{ state: string; uptimeSec: number; stale?: boolean }[]>('status'))[0];
/** Every withdraw of ROUTE the speaker has reported since event index `from`. */
const withdrawsSince = (from: number) => h!.events.slice(from)
  .flatMap((e) => (e.event === 'routes' ? (e.changes as RouteChange[]) : []))
  .filter((c) => c.prefix === ROUTE && c.withdrawn);

/** Starts FRR with the config, waits for the session and the route; then restarts bgpd. */
async function restartBgpd(preserve: boolean, what: string): Promise<{ from: number; alwaysLearned: boolean }> {
  // A case that failed may have left its bgpd running.
  await frr?.stop();
  frr = null;
  frr = await startFrr(config(preserve), ns!.name);
  await waitFor(`${what}: first session Established`, async () => (await frr!.neighbor(TRL4))?.bgpState === 'Established', 30_000, 200);
  await waitFor(`${what}: FRR's route learned`, async () => (await learned()).includes(ROUTE), 15_000, 200);
  const from = h!.events.length;
  let alwaysLearned = true;
  let polling = true;
  // Reads the learned routes all through the restart: a route lost even briefly shows here
  // as well as in the speaker's withdraw events.
  const poll = (async () => {
    while (polling) {
      if (!(await learned()).includes(ROUTE)) alwaysLearned = false;
      await sleep(100);
    }
  })();
  try {
    await frr.stop();
    frr = null;
    await waitFor(`${what}: Trellis saw bgpd go`, async () => (await trellis())?.state !== 'Established', 15_000, 100);
    frr = await startFrr(config(preserve), ns!.name);
    await expectOneReconnection(what);
  } finally {
    polling = false;
    await poll;
  }
  return { from, alwaysLearned };
}

async function expectOneReconnection(what: string): Promise<void> {
  // A freshly started bgpd counts from zero: after the wait it must have exactly one.
  await waitFor(`${what}: session back`, async () => (await frr!.neighbor(TRL4))?.bgpState === 'Established', 40_000, 200);
  await sleep(13_000);
  const n = await frr!.neighbor(TRL4);
  const t = await trellis();
  assert.is(n?.bgpState, 'Established', `${what}: FRR still Established after 13 s (last reset: ${n?.lastResetDueTo})`);
  assert.is(n?.connectionsEstablished ?? 0, 1, `${what}: exactly one reconnection seen by the restarted FRR (dropped ${n?.connectionsDropped}, last reset: ${n?.lastResetDueTo})`);
  assert.is(t?.state, 'Established', `${what}: Trellis still Established`);
  assert.ok((t?.uptimeSec ?? 0) >= 12, `${what}: Trellis's session up the whole 13 s (up ${t?.uptimeSec} s): no flap on its side`);
  assert.ok((await learned()).includes(ROUTE), `${what}: FRR's route is learned again`);
  assert.is(t?.stale ?? false, false, `${what}: no route left stale once FRR sent End-of-RIB`);
}

test('bgpd restarted without preserve-fw-state: one reconnection, then stable; the route comes back', async () => {
  await restartBgpd(false, 'restart, F=0');
  await frr!.stop();
  frr = null;
  await waitFor('Trellis saw the session end before the next case', async () => (await trellis())?.state !== 'Established', 15_000, 100);
});

test('bgpd restarted with preserve-fw-state: one reconnection, then stable, the route never withdrawn', async () => {
  const { from, alwaysLearned } = await restartBgpd(true, 'restart, F=1');
  assert.is(withdrawsSince(from).length, 0, `restart, F=1: no withdraw of ${ROUTE} reported by the speaker`);
  assert.ok(alwaysLearned, `restart, F=1: ${ROUTE} in the learned routes at every read through the restart`);
});

test.run();
