// Interoperability with a real BIRD 2 on loopback (root namespace, no kernel protocol:
// BIRD programs nothing; it only speaks BGP). IPv4 here; IPv6 and the kernel in netns.test.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import net from 'node:net';
import { createSpeaker, decodeMessage, Framer, encodeKeepalive, type Speaker, type Message } from '../../src/bgp/index.js';
import { freePort, learnedTable, sleep, waitFor } from './_helpers.js';
import { parseBirdRoutes, startBird, type Bird } from './_daemons.js';

const cleanup: (() => Promise<void>)[] = [];
test.after.each(async () => { for (const c of cleanup.splice(0).reverse()) await c(); });

interface BirdPeer { name: string; addr: string; port: number; asn: number; extra?: string }
function birdConf(o: { id: string; asn: number; port: number; routes?: string[]; peers: BirdPeer[] }): string {
  return `router id ${o.id};
log stderr { error, warning };
protocol device { }
protocol static s4 { ipv4; ${(o.routes ?? []).map((r) => `route ${r} blackhole;`).join(' ')} route 127.0.0.0/8 via "lo"; }
filter only10 { if net ~ [ 10.0.0.0/8{8,32} ] then accept; reject; }
${o.peers.map((p) => `protocol bgp ${p.name} {
  local ${o.id} port ${o.port} as ${o.asn};
  neighbor ${p.addr} port ${p.port} as ${p.asn};
  multihop; connect retry time 1; error wait time 1, 2;
  graceful restart on;
  ${p.extra ?? ''}
  ipv4 { import all; export filter only10; };
}`).join('\n')}
`;
}

async function trellis(addr: string, asn: number, port: number, gr?: Parameters<typeof createSpeaker>[0]['gracefulRestart']): Promise<Speaker> {
  const s = createSpeaker({ routerId: addr, localAsn: asn, listen: { host: addr, port }, ...(gr ? { gracefulRestart: gr } : {}) });
  cleanup.push(() => s.stop());
  await s.listening;
  return s;
}
async function bird(conf: string): Promise<Bird> {
  const b = await startBird(conf);
  cleanup.push(() => b.stop());
  return b;
}
const birdRoutes = async (b: Bird) => parseBirdRoutes(await b.birdc('show route all'));
const established = (s: Speaker, peer: string) => s.status().find((p) => p.peer === peer)?.state === 'Established';

test('eBGP with BIRD: both directions with attributes, withdrawals, peer restart, hold timer on a frozen BIRD', async () => {
  const bp = await freePort('127.0.0.91'); const tp = await freePort('127.0.0.92');
  const b = await bird(birdConf({ id: '127.0.0.91', asn: 65091, port: bp, routes: ['10.200.0.0/24', '10.200.1.0/24'], peers: [{ name: 't1', addr: '127.0.0.92', port: tp, asn: 65092 }] }));
  const s = await trellis('127.0.0.92', 65092, tp);
  const learned = learnedTable(s);
  s.configure({ peers: [{ address: '127.0.0.91', port: bp, asn: 65091, localAddress: '127.0.0.92', importPolicy: 'Accept', exportPolicy: 'LocalBlocks', holdTimeSec: 3, connectRetrySec: 1 }] });
  s.announce([{ prefix: '10.201.0.0/24', communities: ['65092:7'] }, { prefix: '10.201.1.0/24', med: 20 }]);
  await waitFor('BIRD has both Trellis prefixes', async () => { const r = await birdRoutes(b); return r.has('10.201.0.0/24') && r.has('10.201.1.0/24'); });
  const r = await birdRoutes(b);
  const a0 = r.get('10.201.0.0/24')!;
  assert.match(a0, /BGP\.as_path: 65092\n/, 'AS_PATH is our AS only');
  assert.match(a0, /BGP\.next_hop: 127\.0\.0\.92/, 'NEXT_HOP self');
  assert.match(a0, /BGP\.community: \(65092,7\)/, 'community carried');
  assert.match(a0, /BGP\.origin: IGP/);
  assert.match(r.get('10.201.1.0/24')!, /BGP\.med: 20/, 'MED of a local route sent');
  await waitFor('Trellis learned both BIRD prefixes', () => learned.size === 2);
  assert.is(learned.get('10.200.0.0/24'), '127.0.0.91');
  assert.ok(![...learned.keys()].some((p) => p.startsWith('127.')), 'BIRD export filter kept its loopback route home');

  s.withdraw(['10.201.1.0/24']);
  await waitFor('BIRD drops the withdrawn prefix', async () => !(await birdRoutes(b)).has('10.201.1.0/24'));
  await b.birdc('disable s4');
  await waitFor('Trellis drops BIRD-withdrawn prefixes', () => learned.size === 0);
  await b.birdc('enable s4');
  await waitFor('relearned', () => learned.size === 2);

  await b.birdc('restart t1');
  await waitFor('session back after BIRD restarts the protocol', () => established(s, '127.0.0.91') && learned.size === 2, 20_000);
  await waitFor('BIRD relearned our prefix', async () => (await birdRoutes(b)).has('10.201.0.0/24'));

  b.signal('SIGSTOP');
  try {
    await waitFor('hold timer expiry noticed', () => /Hold Timer Expired/.test(s.status()[0]!.lastError ?? ''), 10_000);
    await waitFor('routes of the silent peer removed', () => learned.size === 0, 2000);
  } finally {
    b.signal('SIGCONT');
  }
  await waitFor('session recovers after SIGCONT', () => established(s, '127.0.0.91') && learned.size === 2, 30_000);
});

test('iBGP with BIRD: LOCAL_PREF sent, next hop self for local routes; BIRD routes learned', async () => {
  const bp = await freePort('127.0.0.93'); const tp = await freePort('127.0.0.94');
  const b = await bird(birdConf({ id: '127.0.0.93', asn: 64512, port: bp, routes: ['10.202.0.0/24'], peers: [{ name: 't1', addr: '127.0.0.94', port: tp, asn: 64512, extra: 'direct;' }].map((p) => ({ ...p, extra: '' })) }));
  const s = await trellis('127.0.0.94', 64512, tp);
  const learned = learnedTable(s);
  s.configure({ peers: [{ address: '127.0.0.93', port: bp, asn: 64512, localAddress: '127.0.0.94', connectRetrySec: 1 }] });
  s.announce([{ prefix: '10.203.0.0/24' }]);
  await waitFor('BIRD learned the iBGP route', async () => (await birdRoutes(b)).has('10.203.0.0/24'));
  const a = (await birdRoutes(b)).get('10.203.0.0/24')!;
  assert.match(a, /BGP\.local_pref: 100/, 'LOCAL_PREF on iBGP');
  assert.match(a, /BGP\.as_path: \n|BGP\.as_path:\s*$/m, 'empty AS_PATH on iBGP');
  assert.match(a, /BGP\.next_hop: 127\.0\.0\.94/);
  await waitFor('Trellis learned BIRD route', () => learned.get('10.202.0.0/24') === '127.0.0.93');
});

test('BIRD as route reflector for three Trellis clients', async () => {
  const bp = await freePort('127.0.0.95');
  const ids = ['127.0.0.96', '127.0.0.97', '127.0.0.98'];
  const ports = await Promise.all(ids.map((a) => freePort(a)));
  const b = await bird(birdConf({ id: '127.0.0.95', asn: 64512, port: bp, peers: ids.map((a, i) => ({ name: `c${i}`, addr: a, port: ports[i]!, asn: 64512, extra: 'rr client; rr cluster id 1.1.1.1;' })) }));
  const clients = await Promise.all(ids.map((a, i) => trellis(a, 64512, ports[i]!)));
  const tables = clients.map(learnedTable);
  clients.forEach((c, i) => c.configure({ peers: [{ address: '127.0.0.95', port: bp, asn: 64512, localAddress: ids[i]!, connectRetrySec: 1 }] }));
  clients[0]!.announce([{ prefix: '10.204.0.0/24' }]);
  clients[1]!.announce([{ prefix: '10.204.1.0/24' }]);
  await waitFor('client 3 learns both reflected routes', () => tables[2]!.size === 2);
  assert.is(tables[2]!.get('10.204.0.0/24'), '127.0.0.96', 'next hop of the originating client');
  assert.is(tables[2]!.get('10.204.1.0/24'), '127.0.0.97');
  assert.is(tables[0]!.get('10.204.1.0/24'), '127.0.0.97', 'client 1 learns client 2');
  assert.not.ok(tables[0]!.has('10.204.0.0/24'), 'ORIGINATOR_ID check: own route not relearned');
  void b;
});

test('Trellis as route reflector for two BIRD clients', async () => {
  const rp = await freePort('127.0.0.99');
  const rr = await trellis('127.0.0.99', 64512, rp);
  const cl = ['127.0.0.100', '127.0.0.101'];
  const ports = await Promise.all(cl.map((a) => freePort(a)));
  const birds: Bird[] = [];
  for (const [i, a] of cl.entries()) birds.push(await bird(birdConf({ id: a, asn: 64512, port: ports[i]!, routes: [`10.205.${i}.0/24`], peers: [{ name: 'reflector', addr: '127.0.0.99', port: rp, asn: 64512 }] })));
  rr.configure({ clusterId: '9.9.9.9', peers: cl.map((a, i) => ({ address: a, port: ports[i]!, asn: 64512, localAddress: '127.0.0.99', routeReflectorClient: true, connectRetrySec: 1 })) });
  await waitFor('BIRD client 2 has client 1 route via reflector', async () => (await birdRoutes(birds[1]!)).has('10.205.0.0/24'));
  const a = (await birdRoutes(birds[1]!)).get('10.205.0.0/24')!;
  assert.match(a, /BGP\.originator_id: 127\.0\.0\.100/, 'ORIGINATOR_ID set to the originating client');
  assert.match(a, /BGP\.cluster_list: 9\.9\.9\.9/, 'CLUSTER_LIST has our cluster id');
  assert.match(a, /BGP\.next_hop: 127\.0\.0\.100/, 'next hop unchanged when reflecting');
});

test('Trellis graceful restart: BIRD keeps our routes while we restart, then refreshes them', async () => {
  const bp = await freePort('127.0.0.102'); const tp = await freePort('127.0.0.103');
  const b = await bird(birdConf({ id: '127.0.0.102', asn: 65102, port: bp, peers: [{ name: 't1', addr: '127.0.0.103', port: tp, asn: 65103 }] }));
  const cfg = { peers: [{ address: '127.0.0.102', port: bp, asn: 65102, localAddress: '127.0.0.103', exportPolicy: 'LocalBlocks' as const, connectRetrySec: 1 }] };
  const s1 = createSpeaker({ routerId: '127.0.0.103', localAsn: 65103, listen: { host: '127.0.0.103', port: tp } });
  await s1.listening;
  s1.configure(cfg);
  s1.announce([{ prefix: '10.206.0.0/24' }]);
  await waitFor('BIRD learned', async () => (await birdRoutes(b)).has('10.206.0.0/24'));
  await s1.stop({ graceful: true });
  await sleep(1000);
  const during = (await birdRoutes(b)).get('10.206.0.0/24');
  assert.ok(during, 'BIRD still has the route while Trellis restarts');
  const s2 = await trellis('127.0.0.103', 65103, tp, { restarting: true, eorTimeoutSec: 10 });
  s2.configure(cfg);
  s2.announce([{ prefix: '10.206.0.0/24' }]);
  await waitFor('session re-established', () => established(s2, '127.0.0.102'), 20_000);
  await sleep(500);
  assert.ok((await birdRoutes(b)).has('10.206.0.0/24'), 'route present after restart');
});

test('cross-check: the OPEN and KEEPALIVE BIRD really sends decode with our codec', async () => {
  const rp = await freePort('127.0.0.104');
  const got: Message[] = [];
  const raw: Buffer[] = [];
  const srv = net.createServer((sock) => {
    const f = new Framer();
    sock.on('data', (d: Buffer) => { for (const m of f.push(d)) { raw.push(Buffer.from(m)); got.push(decodeMessage(m, { fourOctetAs: true })); } });
    sock.on('error', () => {});
  });
  await new Promise<void>((r) => srv.listen(rp, '127.0.0.104', () => r()));
  cleanup.push(async () => { srv.close(); });
  const bp = await freePort('127.0.0.105');
  await bird(birdConf({ id: '127.0.0.105', asn: 4200000001, port: bp, peers: [{ name: 'x', addr: '127.0.0.104', port: rp, asn: 65104 }] }));
  await waitFor('OPEN from BIRD', () => got.some((m) => m.type === 'open'));
  const open = got.find((m) => m.type === 'open')!;
  assert.ok(open.type === 'open');
  if (open.type !== 'open') return;
  assert.is(open.myAs, 23456, 'AS_TRANS in My AS for a 4-octet AS');
  assert.is(open.capabilities.fourOctetAs, 4200000001, '4-octet AS capability');
  assert.is(open.bgpId, '127.0.0.105');
  assert.ok(open.capabilities.multiprotocol.some((m) => m.afi === 1 && m.safi === 1), 'MP IPv4 unicast');
  assert.ok(open.capabilities.routeRefresh, 'route refresh capability');
  assert.ok(open.capabilities.gracefulRestart, 'graceful restart capability');
  void encodeKeepalive;
});

test.run();
