// The flap loop of issue 11: after a reset on the peer's side (BIRD restarting its protocol,
// or our hold timer expiring on a frozen BIRD), exactly one reconnection, then the session
// stays up: no idle-hold timer of the ended session starts a second connection, and an
// OPEN on a second connection is settled by collision rules, not taken as a peer restart.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { createSpeaker, type Speaker } from '../../src/bgp/index.js';
import { freePort, sleep, waitFor } from './_helpers.js';
import { startBird, type Bird } from './_daemons.js';

const cleanup: (() => Promise<void>)[] = [];
test.after.each(async () => { for (const c of cleanup.splice(0).reverse()) await c(); });

/** A speaker whose log lines are counted: how often its session came up and went down. */
async function countedSpeaker(addr: string, asn: number, port: number): Promise<{ s: Speaker; ups: () => number; downs: () => number; log: string[] }> {
  const log: string[] = [];
  const sink = new Writable({ write(chunk: Buffer, _e, cb) { log.push(chunk.toString()); cb(); } });
  const s = createSpeaker({ routerId: addr, localAsn: asn, listen: { host: addr, port }, logger: pino({ level: 'info' }, sink) });
  cleanup.push(() => s.stop());
  await s.listening;
  const count = (msg: string) => log.filter((l) => l.includes(`"msg":"${msg}"`)).length;
  return { s, ups: () => count('bgp: session established'), downs: () => count('bgp: session down'), log };
}

function birdConf(id: string, asn: number, port: number, peer: { addr: string; port: number; asn: number }, extra = ''): string {
  return `router id ${id};
log stderr { error, warning };
protocol device { }
protocol static s4 { ipv4; route 10.210.0.0/24 blackhole; }
protocol bgp t1 {
  local ${id} port ${port} as ${asn};
  neighbor ${peer.addr} port ${peer.port} as ${peer.asn};
  multihop; connect retry time 1; error wait time 1, 2;
  graceful restart on;
  ${extra}
  ipv4 { import all; export all; };
}
`;
}

const up = (s: Speaker) => s.status()[0]?.state === 'Established';
/** BIRD's own view: Established, and since when (its clock text). */
async function birdSince(b: Bird): Promise<string | null> {
  const m = /\sup\s+(\S+)\s+Established/.exec(await b.birdc('show protocols t1'));
  return m ? m[1]! : null;
}

async function setup(ids: [string, string], asns: [number, number], holdTimeSec?: number) {
  const bp = await freePort(ids[0]); const tp = await freePort(ids[1]);
  const b = await startBird(birdConf(ids[0], asns[0], bp, { addr: ids[1], port: tp, asn: asns[1] }));
  cleanup.push(() => b.stop());
  const t = await countedSpeaker(ids[1], asns[1], tp);
  // Default connect retry (10 s): the idle hold after a session ends is 5 s, as in the field.
  t.s.configure({ peers: [{ address: ids[0], port: bp, asn: asns[0], localAddress: ids[1], importPolicy: 'Accept', exportPolicy: 'LocalBlocks', ...(holdTimeSec ? { holdTimeSec } : {}) }] });
  await waitFor('first session Established', () => up(t.s), 20_000);
  await waitFor('BIRD Established', async () => (await birdSince(b)) !== null, 10_000);
  return { b, t };
}

async function expectStable(b: Bird, t: Awaited<ReturnType<typeof countedSpeaker>>, upsBefore: number, what: string) {
  await waitFor(`${what}: session back`, () => up(t.s), 20_000);
  // BIRD may stamp its state twice within a millisecond or so as the new session settles
  // (graceful-restart bookkeeping); take its view once two reads a second apart agree.
  let since = await birdSince(b);
  for (let i = 0; i < 10; i++) {
    await sleep(1_000);
    const again = await birdSince(b);
    if (again === since && since !== null) break;
    since = again;
  }
  // Longer than two idle holds (5 s each) plus BIRD's retry: a loop would have flapped by now.
  await sleep(12_000);
  assert.is(t.ups() - upsBefore, 1, `${what}: exactly one reconnection (log: ${t.log.filter((l) => /established|down|collision/.test(l)).slice(-6).join('')})`);
  assert.ok(up(t.s), `${what}: still Established`);
  // BIRD was seen to re-stamp even later, by a millisecond; a flap moves it by at least its
  // 1 s error wait (and would show in our count of reconnections above).
  const after = await birdSince(b);
  assert.ok(after !== null && since !== null && Math.abs(clockMs(after) - clockMs(since)) < 1000, `${what}: BIRD saw no further flap (since ${since} -> ${after})`);
}

/** BIRD's "HH:MM:SS.mmm" as ms of the day. */
function clockMs(t: string): number {
  const [h = 0, m = 0, sec = 0] = t.split(':').map(Number);
  return ((h * 60 + m) * 60 + sec) * 1000;
}

test('birdc restart: one reconnection, then stable (no idle-hold timer of the old session reconnects)', async () => {
  const { b, t } = await setup(['127.0.0.111', '127.0.0.112'], [65111, 65112]);
  const ups = t.ups();
  await b.birdc('restart t1');
  await waitFor('session went down', () => t.downs() >= 1, 10_000);
  await expectStable(b, t, ups, 'after birdc restart');
});

test('birdc disable + enable: one reconnection, then stable', async () => {
  const { b, t } = await setup(['127.0.0.113', '127.0.0.114'], [65113, 65114]);
  const ups = t.ups();
  await b.birdc('disable t1');
  await waitFor('session went down', () => t.downs() >= 1, 10_000);
  await sleep(500);
  await b.birdc('enable t1');
  await expectStable(b, t, ups, 'after disable/enable');
});

test('hold timer expiry on a frozen BIRD: one reconnection after it thaws, then stable', async () => {
  const { b, t } = await setup(['127.0.0.115', '127.0.0.116'], [65115, 65116], 3);
  const ups = t.ups();
  b.signal('SIGSTOP');
  try {
    await waitFor('hold timer expired', () => /Hold Timer Expired/.test(t.s.status()[0]!.lastError ?? ''), 10_000);
  } finally {
    b.signal('SIGCONT');
  }
  await expectStable(b, t, ups, 'after hold timer expiry');
});

test.run();
