// Interoperability with FRR 8.4's bgpd as the top-of-rack peer, both inside a namespace of
// ours (10.97.0.x and fd00:97::x on its lo): IPv4 and IPv6 sessions with routes both ways,
// and TCP-MD5 (RFC 2385) in each direction: up with the right key, never up with a wrong key
// or with the key on one side only. FRR listens on 179; Trellis on 1179, so both can listen.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createNetns, testNetnsPrefix, type Netns } from '../../src/lab/index.js';
import type { PeerStatus, RouteChange } from '../../src/bgp/index.js';
import { sleep, waitFor } from './_helpers.js';
import { frrConfig, startFrr, type Frr } from './_frr.js';
import { startSpeakerHost, type SpeakerHost } from './_host.js';

const FRR4 = '10.97.0.1';
const TRL4 = '10.97.0.2';
const FRR6 = 'fd00:97::1';
const TRL6 = 'fd00:97::2';
const TRL_PORT = 1179;
const FRR_AS = 65097;
const TRL_AS = 65098;

let ns: Netns | null = null;
const cleanup: (() => Promise<void>)[] = [];
test.before(async () => {
  ns = await createNetns(`${testNetnsPrefix()}bgpf`);
  for (const a of [`${FRR4}/32`, `${TRL4}/32`]) await ns.run(['ip', 'addr', 'add', a, 'dev', 'lo']);
  for (const a of [`${FRR6}/128`, `${TRL6}/128`]) await ns.run(['ip', '-6', 'addr', 'add', a, 'dev', 'lo', 'nodad']);
});
test.after.each(async () => { for (const c of cleanup.splice(0).reverse()) await c(); });
test.after(async () => { await ns?.destroy(); });

async function frr(config: string): Promise<Frr> {
  const f = await startFrr(config, ns!.name);
  cleanup.push(() => f.stop());
  return f;
}

/** A Trellis speaker in the namespace, listening (a failed listen would make the refusal tests pass for nothing). */
async function trellis(): Promise<SpeakerHost> {
  const h = startSpeakerHost({ routerId: TRL4, localAsn: TRL_AS, listen: { host: '::', port: TRL_PORT } }, ns!.name);
  cleanup.push(async () => { h.kill(); await h.exited; });
  const ev = await waitFor('Trellis speaker listening or failing to', () => h.events.find((e) => e.event === 'listening' || e.event === 'error'), 10_000);
  assert.is(ev!.event, 'listening', `Trellis listens on [::]:${TRL_PORT}: ${JSON.stringify(ev)}`);
  return h;
}

interface Peer { address: string; password?: string; passive?: boolean }
async function configure(h: SpeakerHost, peers: Peer[]): Promise<string[]> {
  return h.call<string[]>('configure', {
    localAddresses: { ipv4: TRL4, ipv6: TRL6 },
    peers: peers.map((p) => ({
      address: p.address, asn: FRR_AS, localAddress: p.address.includes(':') ? TRL6 : TRL4, families: [p.address.includes(':') ? 6 : 4],
      importPolicy: 'Accept', exportPolicy: 'LocalBlocks', connectRetrySec: 1, holdTimeSec: 9, keepaliveSec: 3,
      ...(p.password ? { password: p.password } : {}), ...(p.passive ? { passive: true } : {}),
    })),
  });
}

function learned(h: SpeakerHost): Map<string, string> {
  const t = new Map<string, string>();
  for (const e of h.events) if (e.event === 'routes') for (const c of e.changes as RouteChange[]) if (c.withdrawn) t.delete(c.prefix); else t.set(c.prefix, c.nextHop);
  return t;
}

const stateOf = async (h: SpeakerHost, peer: string) => (await h.call<PeerStatus[]>('status')).find((s) => s.peer === peer);

async function established(h: SpeakerHost, f: Frr, peer: string, trellisSide: string, what: string): Promise<void> {
  await waitFor(`${what}: Trellis session with ${peer} Established`, async () => (await stateOf(h, peer))?.state === 'Established', 20_000);
  await waitFor(`${what}: FRR neighbor ${trellisSide} Established`, async () => (await f.neighbor(trellisSide))?.bgpState === 'Established', 10_000);
}

/** Watches for a while that FRR and Trellis never reach Established (each side retries every second meanwhile). */
async function neverEstablished(h: SpeakerHost, f: Frr, peer: string, trellisSide: string, what: string): Promise<void> {
  for (let i = 0; i < 16; i++) {
    const t = await stateOf(h, peer);
    assert.ok(t, `${what}: Trellis lists peer ${peer}`);
    assert.not.equal(t!.state, 'Established', `${what}: Trellis must not reach Established with ${peer}`);
    const n = await f.neighbor(trellisSide);
    assert.not.equal(n?.bgpState, 'Established', `${what}: FRR must not reach Established with ${trellisSide}`);
    assert.is(n?.connectionsEstablished ?? 0, 0, `${what}: FRR counted no established connection`);
    await sleep(500);
  }
}

test('FRR: IPv4 and IPv6 eBGP sessions, routes both ways with next hops', async () => {
  const f = await frr(frrConfig({
    asn: FRR_AS, routerId: FRR4,
    neighbors: [{ address: TRL4, asn: TRL_AS, port: TRL_PORT, updateSource: FRR4 }, { address: TRL6, asn: TRL_AS, port: TRL_PORT, updateSource: FRR6 }],
    networks: ['10.197.0.0/24', 'fd00:197::/64'],
  }));
  const h = await trellis();
  assert.equal(await configure(h, [{ address: FRR4 }, { address: FRR6 }]), [], 'no peer refused');
  await h.call('announce', [{ prefix: '10.198.0.0/24' }, { prefix: 'fd00:198::/64' }]);
  await established(h, f, FRR4, TRL4, 'IPv4');
  await established(h, f, FRR6, TRL6, 'IPv6');
  await waitFor('Trellis learned FRR\'s IPv4 and IPv6 networks', () => learned(h).has('10.197.0.0/24') && learned(h).has('fd00:197::/64'));
  assert.is(learned(h).get('10.197.0.0/24'), FRR4, 'IPv4 next hop is FRR\'s address');
  assert.is(learned(h).get('fd00:197::/64'), FRR6, 'IPv6 next hop is FRR\'s global address');
  await waitFor('FRR has our IPv4 prefix', async () => (await f.prefixes(4)).includes('10.198.0.0/24'));
  await waitFor('FRR has our IPv6 prefix', async () => (await f.prefixes(6)).includes('fd00:198::/64'));
  const r6 = await f.vtysh('show bgp ipv6 unicast fd00:198::/64');
  assert.ok(r6.includes(TRL6), `FRR's route to fd00:198::/64 goes via ${TRL6}: ${r6}`);
  // Withdraw one of each: FRR drops them.
  await h.call('withdraw', ['10.198.0.0/24', 'fd00:198::/64']);
  await waitFor('FRR dropped our withdrawn prefixes', async () => !(await f.prefixes(4)).includes('10.198.0.0/24') && !(await f.prefixes(6)).includes('fd00:198::/64'));
});

for (const dir of ['FRR connects, Trellis listens', 'Trellis connects, FRR listens'] as const) {
  const trellisPassive = dir.startsWith('FRR connects');
  const frrNeighbor = (password?: string) => frrConfig({
    asn: FRR_AS, routerId: FRR4, networks: ['10.197.0.0/24'],
    neighbors: [{ address: TRL4, asn: TRL_AS, port: TRL_PORT, updateSource: FRR4, passive: !trellisPassive, ...(password ? { password } : {}) }],
  });

  test(`FRR TCP-MD5 (${dir}): the right key brings the session up and routes flow`, async () => {
    const f = await frr(frrNeighbor('s3cret-Md5!key'));
    const h = await trellis();
    assert.equal(await configure(h, [{ address: FRR4, password: 's3cret-Md5!key', passive: trellisPassive }]), [], 'peer with a password is not refused');
    await established(h, f, FRR4, TRL4, `MD5 ${dir}`);
    await waitFor('Trellis learned FRR\'s network over the signed session', () => learned(h).has('10.197.0.0/24'));
  });

  test(`FRR TCP-MD5 (${dir}): a wrong key never brings the session up`, async () => {
    const f = await frr(frrNeighbor('right-key'));
    const h = await trellis();
    await configure(h, [{ address: FRR4, password: 'wrong-key', passive: trellisPassive }]);
    await neverEstablished(h, f, FRR4, TRL4, `wrong key, ${dir}`);
  });

  test(`FRR TCP-MD5 (${dir}): no session when only one side has a key`, async () => {
    const f = await frr(frrNeighbor('only-frr'));
    const h = await trellis();
    await configure(h, [{ address: FRR4, passive: trellisPassive }]);
    await neverEstablished(h, f, FRR4, TRL4, `key on FRR only, ${dir}`);
    // And the other way round: Trellis requires a key FRR does not send.
    await f.stop(); // stopping twice (again in cleanup) is harmless
    // Keyed first: an FRR without a key started before would meet the old, keyless Trellis.
    await configure(h, [{ address: FRR4, password: 'only-trellis', passive: trellisPassive }]);
    const g = await frr(frrNeighbor());
    await neverEstablished(h, g, FRR4, TRL4, `key on Trellis only, ${dir}`);
  });
}

test.run();
