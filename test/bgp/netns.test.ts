// BGP across a veth between two namespaces on the standard port: BIRD in one, a Trellis
// speaker (child process under ip netns exec) in the other, IPv4 and IPv6 sessions, and
// learned routes installed into the Trellis namespace's kernel as proto 79.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createNetns, connectNetns, testNetnsPrefix, type Netns } from '../../src/lab/index.js';
import { startSpeakerHost, type SpeakerHost } from './_host.js';
import { parseBirdRoutes, startBird, type Bird } from './_daemons.js';
import { waitFor } from './_helpers.js';

let nsT: Netns | null = null;
let nsB: Netns | null = null;
let host: SpeakerHost | null = null;
let bird: Bird | null = null;

test.after(async () => {
  host?.kill();
  await bird?.stop();
  await nsT?.destroy();
  await nsB?.destroy();
});

const BIRD_CONF = `router id 10.99.0.1;
log stderr { error, warning };
protocol device { }
protocol static s4 { ipv4; route 10.200.0.0/24 blackhole; route 10.200.1.0/24 blackhole; }
protocol static s6 { ipv6; route fd00:200::/64 blackhole; }
protocol bgp t4 {
  local 10.99.0.1 as 65001; neighbor 10.99.0.2 as 65002;
  connect retry time 1; error wait time 1, 2;
  ipv4 { import all; export where source = RTS_STATIC; };
}
protocol bgp t6 {
  local fd00:99::1 as 65001; neighbor fd00:99::2 as 65002;
  connect retry time 1; error wait time 1, 2;
  ipv6 { import all; export where source = RTS_STATIC; };
}
`;

test('IPv4 and IPv6 with BIRD on port 179 across namespaces; learned routes reach the kernel as proto 79', async () => {
  nsT = await createNetns(`${testNetnsPrefix()}bgpt`);
  nsB = await createNetns(`${testNetnsPrefix()}bgpb`);
  await connectNetns({ ns: nsT.name, ifname: 'eth0', address: '10.99.0.2/24' }, { ns: nsB.name, ifname: 'eth0', address: '10.99.0.1/24' });
  await nsT.run(['ip', '-6', 'addr', 'add', 'fd00:99::2/64', 'dev', 'eth0', 'nodad']);
  await nsB.run(['ip', '-6', 'addr', 'add', 'fd00:99::1/64', 'dev', 'eth0', 'nodad']);
  bird = await startBird(BIRD_CONF, nsB.name);
  host = startSpeakerHost({ routerId: '10.99.0.2', localAsn: 65002, listen: { host: '::', port: 179 }, install: true }, nsT.name);
  await waitFor('speaker listening on 179 in its namespace', () => host!.events.some((e) => e.event === 'listening'));
  const common = { asn: 65001, importPolicy: 'Accept', exportPolicy: 'LocalBlocks', connectRetrySec: 1 };
  await host.call('configure', { peers: [{ address: '10.99.0.1', ...common }, { address: 'fd00:99::1', ...common }] });
  await host.call('announce', [{ prefix: '10.201.0.0/24' }, { prefix: 'fd00:201::/64', communities: ['65002:6'] }]);

  const kernel = async (fam: '-4' | '-6') => (await nsT!.run(['ip', fam, 'route', 'show', 'proto', '79'])).trim();
  await waitFor('IPv4 routes from BIRD in the kernel', async () => (await kernel('-4')).includes('10.200.1.0/24'), 20_000);
  assert.match(await kernel('-4'), /10\.200\.0\.0\/24 via 10\.99\.0\.1 dev eth0/);
  await waitFor('IPv6 route from BIRD in the kernel', async () => (await kernel('-6')).includes('fd00:200::/64'), 20_000);
  assert.match(await kernel('-6'), /fd00:200::\/64 via fd00:99::1 dev eth0/);

  await waitFor('BIRD has the IPv6 prefix from Trellis', async () => parseBirdRoutes(await bird!.birdc('show route all')).has('fd00:201::/64'));
  const r = parseBirdRoutes(await bird.birdc('show route all'));
  assert.match(r.get('fd00:201::/64')!, /BGP\.next_hop: fd00:99::2/, 'IPv6 NEXT_HOP self in MP_REACH_NLRI');
  assert.match(r.get('fd00:201::/64')!, /BGP\.community: \(65002,6\)/);
  assert.match(r.get('10.201.0.0/24')!, /BGP\.as_path: 65002/);

  const status = await host.call<{ peer: string; state: string }[]>('status');
  assert.equal(status.map((s) => [s.peer, s.state]), [['10.99.0.1', 'Established'], ['fd00:99::1', 'Established']]);

  await bird.birdc('disable s4');
  await waitFor('withdrawn routes leave the kernel', async () => (await kernel('-4')) === '', 20_000);
  assert.match(await kernel('-6'), /fd00:200::/, 'IPv6 untouched');
  await host.call('withdraw', ['fd00:201::/64']);
  await waitFor('BIRD drops the withdrawn IPv6 prefix', async () => !parseBirdRoutes(await bird!.birdc('show route all')).has('fd00:201::/64'));
});

test.run();
