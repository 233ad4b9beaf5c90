// The flap loop of #11 item 1, with FRR 8.4's bgpd as the router (flap.test.ts does the same
// with BIRD): after `clear bgp` on FRR, and after a hold-timer expiry (bgpd frozen past the
// hold time), the session comes back exactly once and then stays up longer than two idle
// holds (5 s each) would allow a loop to show. Trellis keeps the field's default connect
// retry (10 s: a 5 s idle hold). Both in a namespace of ours, on its lo.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createNetns, testNetnsPrefix, type Netns } from '../../src/lab/index.js';
import { sleep, waitFor } from './_helpers.js';
import { frrConfig, startFrr, type Frr } from './_frr.js';
import { startSpeakerHost, type SpeakerHost } from './_host.js';

const FRR4 = '10.98.0.1';
const TRL4 = '10.98.0.2';
const TRL_PORT = 1179;

let ns: Netns | null = null;
let frr: Frr | null = null;
let h: SpeakerHost | null = null;
test.before(async () => {
  ns = await createNetns(`${testNetnsPrefix()}flapf`);
  for (const a of [`${FRR4}/32`, `${TRL4}/32`]) await ns.run(['ip', 'addr', 'add', a, 'dev', 'lo']);
  frr = await startFrr(frrConfig({
    asn: 65198, routerId: FRR4, networks: ['10.198.0.0/24'],
    neighbors: [{ address: TRL4, asn: 65199, port: TRL_PORT, updateSource: FRR4 }],
  }), ns.name);
  h = startSpeakerHost({ routerId: TRL4, localAsn: 65199, listen: { host: '::', port: TRL_PORT } }, ns.name);
  await waitFor('Trellis listening', () => h!.events.find((e) => e.event === 'listening'), 10_000);
  await h.call('configure', { peers: [{ address: FRR4, asn: 65198, localAddress: TRL4, importPolicy: 'Accept', exportPolicy: 'LocalBlocks', holdTimeSec: 9 }] });
  await waitFor('FRR Established', async () => (await frr!.neighbor(TRL4))?.bgpState === 'Established', 30_000, 200);
});
test.after(async () => {
  h?.kill();
  await h?.exited;
  frr?.signal('SIGCONT');
  await frr?.stop();
  await ns?.destroy();
});

const established = async () => (await frr!.neighbor(TRL4))?.connectionsEstablished ?? 0;
const learned = async () => (await h!.call<{ prefix: string }[]>('learned')).map((r) => r.prefix);

async function expectOneReconnection(before: number, what: string): Promise<void> {
  await waitFor(`${what}: session back`, async () => (await frr!.neighbor(TRL4))?.bgpState === 'Established' && (await established()) > before, 40_000, 200);
  await sleep(13_000);
  const n = await frr!.neighbor(TRL4);
  assert.is(n?.bgpState, 'Established', `${what}: FRR still Established after 13 s (last reset: ${n?.lastResetDueTo})`);
  assert.is((n?.connectionsEstablished ?? 0) - before, 1, `${what}: exactly one reconnection seen by FRR (last reset: ${n?.lastResetDueTo})`);
  assert.ok((await learned()).includes('10.198.0.0/24'), `${what}: FRR's route is learned again`);
}

test('clear bgp on FRR: one reconnection, then stable', async () => {
  const before = await established();
  await frr!.vtysh(`clear bgp ${TRL4}`);
  await expectOneReconnection(before, 'clear bgp');
});

test('hold timer expiry (bgpd frozen past the 9 s hold time): one reconnection, then stable', async () => {
  const before = await established();
  frr!.signal('SIGSTOP');
  try {
    await waitFor('Trellis saw the hold timer expire', async () => (await h!.call<{ state: string }[]>('status'))[0]?.state !== 'Established', 20_000, 200);
  } finally {
    frr!.signal('SIGCONT');
  }
  await expectOneReconnection(before, 'hold timer expiry');
});

test.run();
