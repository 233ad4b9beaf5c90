// The kernel's change notifications, as `ip -o monitor route` and `nft monitor` print them
// (lines captured from iproute2 6.1 and nftables 1.0.6), read into drift: which mean someone
// else changed what Trellis programmed, and which are Trellis's own writes or none of its business.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  createNftParser, fdbDrift, neighDrift, nftDrift, parseFdbEvent, parseNeighEvent, parseRouteEvent, routeDrift, touchesIptables, vxlanRouteDrift,
  type VxlanWanted,
} from '../../src/dataplane/kernel-events.js';

const ours = new Map([['10.65.0.5/32', 'trla1'], ['fd00::5/128', 'trla1']]);

test('route lines parse into destination, device, protocol, deletion', () => {
  assert.equal(parseRouteEvent('Deleted 10.65.0.5 dev trla1 proto 78 scope link '), { deleted: true, dst: '10.65.0.5/32', dev: 'trla1', proto: '78', table: null });
  assert.equal(parseRouteEvent('fd00::5 dev trla1 proto 78 metric 1024 pref medium'), { deleted: false, dst: 'fd00::5/128', dev: 'trla1', proto: '78', table: null });
  assert.equal(parseRouteEvent('default via 192.168.77.2 dev up0 '), { deleted: false, dst: '0.0.0.0/0', dev: 'up0', proto: null, table: null });
  assert.is(parseRouteEvent('local 127.0.0.1 dev lo table local proto kernel scope host src 127.0.0.1'), null, 'local routes are not ours to watch');
  assert.is(parseRouteEvent('1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536'), null, 'a link line is not a route');
  assert.is(parseRouteEvent(''), null);
});

test('a deleted or replaced route of ours is drift; other routes and our own kind of writes are not', () => {
  const ev = (l: string) => routeDrift(parseRouteEvent(l)!, ours);
  assert.equal(ev('Deleted 10.65.0.5 dev trla1 proto 78 scope link'), { part: 'routes', what: 'route 10.65.0.5/32 dev trla1 deleted' });
  assert.equal(ev('10.65.0.5 dev trla1 proto static scope link'), { part: 'routes', what: 'route 10.65.0.5/32 replaced by one dev trla1 proto static' });
  assert.equal(ev('10.65.0.5 dev eth9 proto 78 scope link'), { part: 'routes', what: 'route 10.65.0.5/32 replaced by one dev eth9 proto 78' });
  assert.is(ev('10.65.0.5 dev trla1 proto 78 scope link'), null, 'our own write of the wanted route');
  assert.is(ev('Deleted 10.65.0.9 dev trla3 proto 78 scope link'), null, 'a route no endpoint wants (our own delete)');
  assert.is(ev('Deleted 10.65.0.5 dev trla1 proto static scope link'), null, "someone else's route to the same place");
  assert.is(ev('Deleted 10.65.0.5 dev trla1 table 7 proto 78 scope link'), null, 'another table');
  assert.ok(ev('Deleted fd00::5 dev trla1 proto 78 metric 1024 pref medium'), 'IPv6 too');
});

const NFT = `add table ip filter
create chain ip filter trl-x
# new generation 2 by process 13824 (iptables)
delete rule ip filter FORWARD handle 3
# new generation 5 by process 13828 (iptables)
add rule inet firewalld filter_INPUT ct state established accept
# new generation 6 by process 200 (firewalld)
add rule ip filter trl-y counter packets 0 bytes 0 accept
# new generation 7 by process 4242 (iptables-restor)
delete table ip6 nat
# new generation 8`;

test('nft monitor output splits into transactions naming the process', () => {
  const feed = createNftParser();
  const txs = NFT.split('\n').map(feed).filter((t) => t !== null);
  assert.equal(txs.map((t) => [t.pid, t.comm, t.changes.length]), [[13824, 'iptables', 2], [13828, 'iptables', 1], [200, 'firewalld', 1], [4242, 'iptables-restor', 1], [null, '?', 1]]);
});

test("an iptables table changed by a process of someone else's is drift; ours, and other tables, are not", () => {
  const feed = createNftParser();
  const txs = NFT.split('\n').map(feed).filter((t) => t !== null);
  const mine = (pid: number) => pid === 4242;
  assert.equal(txs.map((t) => nftDrift(t, mine)), [
    { part: 'policy', what: 'add table ip filter; create chain ip filter trl-x by process 13824 (iptables)' },
    { part: 'policy', what: 'delete rule ip filter FORWARD handle 3 by process 13828 (iptables)' },
    null,
    null,
    { part: 'policy', what: 'delete table ip6 nat by an unknown process' },
  ]);
  assert.ok(touchesIptables('flush chain ip security FORWARD'));
  assert.not.ok(touchesIptables('add table inet trellis-other'), 'an inet table is not iptables-nft');
  assert.not.ok(touchesIptables('add table ip docker-nat'), "a native nft table of another tool's");
});

test('a long transaction is named by its first changes and a count', () => {
  const feed = createNftParser();
  for (let i = 0; i < 5; i++) feed(`delete rule ip filter trl-a handle ${i}`);
  const d = nftDrift(feed('# new generation 9 by process 7 (iptables)')!, () => false);
  assert.is(d?.what, 'delete rule ip filter trl-a handle 0; delete rule ip filter trl-a handle 1; delete rule ip filter trl-a handle 2; and 2 more by process 7 (iptables)');
});

// What the VXLAN sync last asked for: h3's VTEP (MAC 66:..:03 at 172.31.2.2, tunnel address 10.60.2.0) and its block.
const vx: VxlanWanted = {
  device: 'vxlan.trl',
  routes: new Set(['10.60.2.0/26', '10.60.0.9/32']),
  fdb: new Map([['66:00:00:00:00:03', '172.31.2.2']]),
  neigh: new Map([['10.60.2.0', '66:00:00:00:00:03']]),
};

test('bridge monitor fdb and ip -4 monitor neigh lines parse', () => {
  assert.equal(parseFdbEvent('Deleted 66:00:00:00:00:03 dev vxlan.trl dst 172.31.2.2 self permanent'), { deleted: true, mac: '66:00:00:00:00:03', dev: 'vxlan.trl', dst: '172.31.2.2' });
  assert.equal(parseFdbEvent('33:33:00:00:00:01 dev docker0 self permanent'), { deleted: false, mac: '33:33:00:00:00:01', dev: 'docker0', dst: null });
  assert.is(parseFdbEvent('Error: Unknown device type.'), null);
  assert.equal(parseNeighEvent('10.60.2.0 dev vxlan.trl lladdr 66:00:00:00:00:03 PERMANENT '), { deleted: false, dst: '10.60.2.0', dev: 'vxlan.trl', lladdr: '66:00:00:00:00:03', permanent: true, state: 'PERMANENT' });
  assert.equal(parseNeighEvent('Deleted 10.60.2.0 dev vxlan.trl FAILED '), { deleted: true, dst: '10.60.2.0', dev: 'vxlan.trl', lladdr: null, permanent: false, state: 'FAILED' });
  assert.is(parseNeighEvent('fe80::1 dev eth0 lladdr 02:00:00:00:00:01 REACHABLE'), null, 'IPv4 only');
});

test('VXLAN: an FDB entry, neighbour or proto 80 route of ours deleted or changed is drift; our own writes and others\' entries are not', () => {
  const f = (l: string) => fdbDrift(parseFdbEvent(l)!, vx);
  assert.equal(f('Deleted 66:00:00:00:00:03 dev vxlan.trl dst 172.31.2.2 self permanent'), { part: 'vxlan', what: 'fdb 66:00:00:00:00:03 dst 172.31.2.2 on vxlan.trl deleted' });
  assert.equal(f('66:00:00:00:00:03 dev vxlan.trl dst 172.31.9.9 self permanent'), { part: 'vxlan', what: 'fdb 66:00:00:00:00:03 on vxlan.trl now dst 172.31.9.9 (wanted 172.31.2.2)' });
  assert.is(f('66:00:00:00:00:03 dev vxlan.trl dst 172.31.2.2 self permanent'), null, 'our own write of the wanted entry');
  assert.is(f('Deleted 66:00:00:00:00:03 dev vxlan.trl dst 172.31.1.7 self permanent'), null, 'the old address our replace moved away from');
  assert.is(f('Deleted 66:00:00:00:00:02 dev vxlan.trl dst 172.31.1.3 self permanent'), null, 'a MAC no longer wanted (our own delete)');
  assert.is(f('Deleted 66:00:00:00:00:03 dev vxlan.other dst 172.31.2.2 self permanent'), null, 'another device');
  const n = (l: string) => neighDrift(parseNeighEvent(l)!, vx);
  assert.equal(n('Deleted 10.60.2.0 dev vxlan.trl FAILED'), { part: 'vxlan', what: 'neighbour 10.60.2.0 on vxlan.trl deleted' });
  assert.equal(n('10.60.2.0 dev vxlan.trl FAILED'), { part: 'vxlan', what: 'neighbour 10.60.2.0 on vxlan.trl now without lladdr FAILED (wanted 66:00:00:00:00:03 PERMANENT)' });
  assert.equal(n('10.60.2.0 dev vxlan.trl lladdr 66:00:00:00:00:09 PERMANENT'), { part: 'vxlan', what: 'neighbour 10.60.2.0 on vxlan.trl now 66:00:00:00:00:09 PERMANENT (wanted 66:00:00:00:00:03 PERMANENT)' });
  assert.is(n('10.60.2.0 dev vxlan.trl lladdr 66:00:00:00:00:03 PERMANENT'), null, 'our own write');
  assert.is(n('Deleted 10.60.1.0 dev vxlan.trl lladdr 66:00:00:00:00:02 PERMANENT'), null, 'a neighbour no longer wanted');
  const r = (l: string) => vxlanRouteDrift(parseRouteEvent(l)!, vx);
  assert.equal(r('Deleted 10.60.2.0/26 via 10.60.2.0 dev vxlan.trl proto 80 onlink'), { part: 'vxlan', what: 'vxlan route 10.60.2.0/26 dev vxlan.trl deleted' });
  assert.equal(r('10.60.0.9 via 172.31.1.1 dev eth0 proto static'), { part: 'vxlan', what: 'vxlan route 10.60.0.9/32 replaced by one dev eth0 proto static' });
  assert.is(r('10.60.2.0/26 via 10.60.2.0 dev vxlan.trl proto 80 onlink'), null, 'our own write');
  assert.is(r('Deleted 10.60.1.0/26 via 10.60.1.0 dev vxlan.trl proto 80 onlink'), null, 'a route no longer wanted');
  assert.is(r('Deleted 10.60.2.0/26 via 172.31.1.8 dev eth0 proto 79'), null, 'the BGP route VXLAN replaced');
});

test.run();
