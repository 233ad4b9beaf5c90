// Interoperability with a real GoBGP (gobgpd). GoBGP refuses loopback next hops, so both
// run inside a namespace of ours with 10.98.0.x addresses on its lo: eBGP with IPv4 and
// IPv6 over one session (MP-BGP), iBGP attributes, withdrawals both ways, a GoBGP restart.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createNetns, testNetnsPrefix, type Netns } from '../../src/lab/index.js';
import type { RouteChange } from '../../src/bgp/index.js';
import net from 'node:net';
import { decodeMessage, emptyCapabilities, encodeKeepalive, encodeOpen, Framer, type Message } from '../../src/bgp/index.js';
import { freePort, waitFor } from './_helpers.js';
import { startGobgp, type GoBgp } from './_daemons.js';
import { startSpeakerHost, type SpeakerHost } from './_host.js';

let ns: Netns | null = null;
const cleanup: (() => Promise<void>)[] = [];
test.before(async () => {
  ns = await createNetns(`${testNetnsPrefix()}bgpg`);
  for (const a of ['10.98.0.1/32', '10.98.0.2/32', '10.98.0.3/32', '10.98.0.4/32']) await ns.run(['ip', 'addr', 'add', a, 'dev', 'lo']);
});
test.after.each(async () => { for (const c of cleanup.splice(0).reverse()) await c(); });
test.after(async () => { await ns?.destroy(); });

function toml(o: { id: string; asn: number; peer: string; peerAsn: number }): string {
  return `[global.config]
  as = ${o.asn}
  router-id = "${o.id}"
  port = 179
  local-address-list = ["${o.id}"]

[[neighbors]]
  [neighbors.config]
    neighbor-address = "${o.peer}"
    peer-as = ${o.peerAsn}
  [neighbors.transport.config]
    local-address = "${o.id}"
  [neighbors.timers.config]
    connect-retry = 1
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv6-unicast"
`;
}

function learned(h: SpeakerHost): Map<string, string> {
  const t = new Map<string, string>();
  for (const e of h.events) if (e.event === 'routes') for (const c of e.changes as RouteChange[]) if (c.withdrawn) t.delete(c.prefix); else t.set(c.prefix, c.nextHop);
  return t;
}

async function setup(asnG: number, asnT: number, gid: string, tid: string, api: number) {
  const conf = toml({ id: gid, asn: asnG, peer: tid, peerAsn: asnT });
  let g: GoBgp = await startGobgp(conf, api, ns!.name);
  cleanup.push(() => g.stop());
  const h = startSpeakerHost({ routerId: tid, localAsn: asnT, listen: { host: tid, port: 179 } }, ns!.name);
  cleanup.push(async () => { h.kill(); await h.exited; });
  await h.call('configure', {
    localAddresses: { ipv6: 'fd00:98::2' },
    peers: [{ address: gid, asn: asnG, localAddress: tid, families: [4, 6], importPolicy: 'Accept', exportPolicy: 'LocalBlocks', connectRetrySec: 1 }],
  });
  const restart = async () => { await g.stop(); g = await startGobgp(conf, api, ns!.name); };
  return { g: () => g, h, restart };
}

const rib = async (g: GoBgp, fam: 'ipv4' | 'ipv6') => JSON.parse((await g.gobgp(['global', 'rib', '-a', fam, '-j'])) || '{}') as Record<string, unknown[]>;

test('eBGP with GoBGP: IPv4 and IPv6 both ways with attributes, withdrawals, GoBGP restart', async () => {
  const { g, h, restart } = await setup(65111, 65112, '10.98.0.1', '10.98.0.2', 50051);
  await h.call('announce', [{ prefix: '10.211.0.0/24', communities: ['65112:9'] }, { prefix: 'fd00:211::/64' }]);
  await g().gobgp(['global', 'rib', '-a', 'ipv4', 'add', '10.210.0.0/24']);
  await g().gobgp(['global', 'rib', '-a', 'ipv6', 'add', 'fd00:210::/64', 'nexthop', 'fd00:98::1']);
  await waitFor('GoBGP has our IPv4 prefix', async () => '10.211.0.0/24' in (await rib(g(), 'ipv4')));
  const p4 = JSON.stringify((await rib(g(), 'ipv4'))['10.211.0.0/24']);
  assert.match(p4, /"asns":\[65112\]/, 'AS_PATH is our AS');
  assert.match(p4, /"nexthop":"10\.98\.0\.2"/, 'NEXT_HOP self');
  assert.ok(p4.includes(`"communities":[${65112 * 65536 + 9}]`), `community 65112:9 in ${p4}`);
  await waitFor('GoBGP has our IPv6 prefix', async () => 'fd00:211::/64' in (await rib(g(), 'ipv6')));
  assert.match(JSON.stringify((await rib(g(), 'ipv6'))['fd00:211::/64']), /"nexthop":"fd00:98::2"/, 'IPv6 next hop from localAddresses');
  await waitFor('Trellis learned both GoBGP prefixes', () => { const l = learned(h); return l.has('10.210.0.0/24') && l.has('fd00:210::/64'); });
  assert.is(learned(h).get('10.210.0.0/24'), '10.98.0.1');

  await g().gobgp(['global', 'rib', '-a', 'ipv4', 'del', '10.210.0.0/24']);
  await waitFor('GoBGP withdrawal reaches Trellis', () => !learned(h).has('10.210.0.0/24'));
  await h.call('withdraw', ['fd00:211::/64']);
  await waitFor('Trellis withdrawal reaches GoBGP', async () => !('fd00:211::/64' in (await rib(g(), 'ipv6'))));

  await restart();
  await waitFor('GoBGP relearns our prefix after its restart', async () => '10.211.0.0/24' in (await rib(g(), 'ipv4')), 30_000);
  const st = await h.call<{ state: string }[]>('status');
  assert.is(st[0]!.state, 'Established');
});

test('iBGP with GoBGP: LOCAL_PREF and empty AS_PATH', async () => {
  const { g, h } = await setup(64512, 64512, '10.98.0.3', '10.98.0.4', 50052);
  await h.call('announce', [{ prefix: '10.213.0.0/24' }]);
  await waitFor('GoBGP has the iBGP route', async () => '10.213.0.0/24' in (await rib(g(), 'ipv4')));
  const p = JSON.stringify((await rib(g(), 'ipv4'))['10.213.0.0/24']);
  assert.match(p, /\{"type":5,"value":100\}/, 'LOCAL_PREF 100');
  assert.not.match(p, /"asns":\[64512/, 'own AS not prepended on iBGP');
});

test('cross-check: the OPEN and UPDATE GoBGP really sends decode with our codec', async () => {
  const got: Message[] = [];
  const srvPort = await freePort('127.0.0.116');
  const srv = net.createServer((sock) => {
    const f = new Framer();
    sock.on('error', () => {});
    sock.write(encodeOpen({ version: 4, myAs: 65116, holdTime: 90, bgpId: '127.0.0.116', capabilities: { ...emptyCapabilities(), multiprotocol: [{ afi: 1, safi: 1 }], fourOctetAs: 65116 } }));
    sock.write(encodeKeepalive());
    sock.on('data', (d: Buffer) => { for (const m of f.push(d)) got.push(decodeMessage(m, { fourOctetAs: true })); });
  });
  await new Promise<void>((r) => srv.listen(srvPort, '127.0.0.116', () => r()));
  cleanup.push(async () => { srv.close(); });
  const gp = await freePort('127.0.0.115');
  const conf = toml({ id: '127.0.0.115', asn: 4200000115, peer: '127.0.0.116', peerAsn: 65116 })
    .replace('port = 179', `port = ${gp}`).replace('[neighbors.transport.config]', `[neighbors.transport.config]\n    remote-port = ${srvPort}`);
  const g = await startGobgp(conf, await freePort());
  cleanup.push(() => g.stop());
  await g.gobgp(['global', 'rib', '-a', 'ipv4', 'add', '10.215.0.0/24', 'community', '65115:1']);
  await waitFor('an UPDATE with the GoBGP route', () => got.some((m) => m.type === 'update' && m.nlri.includes('10.215.0.0/24')), 20_000);
  const open = got.find((m) => m.type === 'open');
  assert.ok(open && open.type === 'open');
  if (open?.type !== 'open') return;
  assert.is(open.myAs, 23456, 'AS_TRANS for a 4-octet AS');
  assert.is(open.capabilities.fourOctetAs, 4200000115);
  assert.is(open.bgpId, '127.0.0.115');
  assert.ok(open.capabilities.multiprotocol.some((m) => m.afi === 2 && m.safi === 1), 'MP IPv6 unicast offered');
  assert.ok(open.capabilities.routeRefresh);
  const u = got.find((m) => m.type === 'update' && m.nlri.includes('10.215.0.0/24'));
  assert.ok(u && u.type === 'update');
  if (u?.type !== 'update') return;
  assert.is(u.treatAsWithdraw, null, 'no RFC 7606 complaint about a real UPDATE');
  assert.equal(u.attrs!.asPath, [{ type: 2, asns: [4200000115] }]);
  assert.equal(u.attrs!.communities, [65115 * 65536 + 1]);
  assert.is(u.attrs!.nextHop, '127.0.0.115');
});

test.run();
