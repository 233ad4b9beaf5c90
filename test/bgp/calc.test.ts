// desiredBgp: model resources -> the speaker configuration for one node.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { desiredBgp, communitiesFor } from '../../src/calc/index.js';
import type { SpeakerConfig } from '../../src/bgp/index.js';
import { schemas, type Resource } from '../../src/model/index.js';

const api = 'projectcalico.org/v3';
const node = (name: string, bgp: Record<string, unknown>, labels?: Record<string, string>): Resource =>
  schemas.Node.parse({ apiVersion: api, kind: 'Node', metadata: { name, ...(labels ? { labels } : {}) }, spec: { bgp } });
const peer = (name: string, spec: Record<string, unknown>): Resource => schemas.BGPPeer.parse({ apiVersion: api, kind: 'BGPPeer', metadata: { name }, spec });
const config = (spec: Record<string, unknown>): Resource => schemas.BGPConfiguration.parse({ apiVersion: api, kind: 'BGPConfiguration', metadata: { name: 'default' }, spec });

const nodes = [
  node('n1', { ipv4Address: '10.0.0.1/24', ipv6Address: 'fd00::1/64' }, { rack: 'a' }),
  node('n2', { ipv4Address: '10.0.0.2/24' }, { rack: 'a' }),
  node('n3', { ipv4Address: '10.0.0.3/24', asNumber: 65003 }, { rack: 'b', rr: 'true' }),
];

test('defaults: AS 64512, port 179, full mesh over IPv4 between nodes with addresses; the result is a SpeakerConfig', () => {
  const d = desiredBgp({ nodeName: 'n1', resources: nodes });
  const asConfig: SpeakerConfig = d;
  assert.ok(asConfig.peers.length > 0);
  assert.is(d.enabled, true);
  assert.is(d.localAsn, 64512);
  assert.is(d.listenPort, 179);
  assert.is(d.routerId, '10.0.0.1');
  assert.equal(d.localAddresses, { ipv4: '10.0.0.1', ipv6: 'fd00::1' });
  assert.equal(d.peers.map((p) => [p.address, p.asn, p.localAddress, p.port]), [
    ['10.0.0.2', 64512, '10.0.0.1', undefined],
    ['10.0.0.3', 65003, '10.0.0.1', undefined],
  ]);
  const n3 = d.peers.find((p) => p.address === '10.0.0.3')!;
  assert.equal([n3.importPolicy, n3.exportPolicy], ['Accept', 'LocalBlocks'], 'node-to-node eBGP exchanges local blocks');
});

test('mesh off, global and per-node BGPPeers, RFC 8212 defaults and BGPConfiguration policies, peerIP with port', () => {
  const rs = [...nodes, config({ nodeToNodeMeshEnabled: false, asNumber: 64600, listenPort: 1790 }),
    peer('tor', { peerIP: '192.0.2.1', asNumber: 65100 }),
    peer('tor2', { node: 'n1', peerIP: '192.0.2.2:1179', asNumber: 65100, importPolicy: 'Accept', holdTime: '30s' }),
    peer('other-node', { node: 'n2', peerIP: '192.0.2.3', asNumber: 65100 })];
  const d = desiredBgp({ nodeName: 'n1', resources: rs });
  assert.is(d.localAsn, 64600);
  assert.is(d.listenPort, 1790);
  assert.equal(d.peers.map((p) => p.address), ['192.0.2.1', '192.0.2.2'], 'no mesh; n2-only peer not here');
  const [tor, tor2] = d.peers;
  assert.equal([tor!.importPolicy, tor!.exportPolicy], ['Reject', 'Reject'], 'RFC 8212 default');
  assert.equal([tor2!.importPolicy, tor2!.exportPolicy, tor2!.port, tor2!.holdTimeSec], ['Accept', 'Reject', 1179, 30]);
  const d2 = desiredBgp({ nodeName: 'n1', resources: [...rs.filter((r) => r.kind !== 'BGPConfiguration'), config({ nodeToNodeMeshEnabled: false, ebgpImportPolicy: 'Accept', ebgpExportPolicy: 'LocalBlocks' })] });
  assert.equal(d2.peers.find((p) => p.address === '192.0.2.1')!.importPolicy, 'Accept', 'BGPConfiguration ebgpImportPolicy applies');
  const d3 = desiredBgp({ nodeName: 'n1', resources: [...nodes, config({ ebgpExportPolicy: 'All' }), peer('tor', { peerIP: '192.0.2.1', asNumber: 65100 })] });
  assert.equal(d3.peers.find((p) => p.address === '192.0.2.1')!.exportPolicy, 'All', 'BGPConfiguration ebgpExportPolicy applies');
});

test('peerSelector peers are other Nodes, reciprocally; a reflector marks non-cluster nodes as clients', () => {
  const rs = [
    node('n1', { ipv4Address: '10.0.0.1/24' }, { rack: 'a' }),
    node('n2', { ipv4Address: '10.0.0.2/24' }, { rack: 'a' }),
    node('rr1', { ipv4Address: '10.0.0.9/24', routeReflectorClusterID: '224.0.0.1' }, { rr: 'true' }),
    config({ nodeToNodeMeshEnabled: false }),
    peer('to-rr', { nodeSelector: "rack == 'a'", peerSelector: "rr == 'true'" }),
  ];
  const client = desiredBgp({ nodeName: 'n1', resources: rs });
  assert.equal(client.peers.map((p) => [p.address, p.routeReflectorClient ?? false]), [['10.0.0.9', false]]);
  const rr = desiredBgp({ nodeName: 'rr1', resources: rs });
  assert.is(rr.clusterId, '224.0.0.1');
  assert.equal(rr.peers.map((p) => [p.address, p.routeReflectorClient ?? false]), [['10.0.0.1', true], ['10.0.0.2', true]], 'reciprocal, as clients');
});

test('a node without BGP addresses runs no speaker; passwords pass through (the speaker refuses them)', () => {
  const d = desiredBgp({ nodeName: 'nx', resources: nodes });
  assert.is(d.enabled, false);
  assert.match(d.problems.join('\n'), /no Node resource named "nx"/);
  const p = desiredBgp({ nodeName: 'n1', resources: [...nodes, peer('sec', { peerIP: '192.0.2.9', asNumber: 64512, password: 'pw' })] });
  assert.is(p.peers.find((x) => x.address === '192.0.2.9')!.password, 'pw');
});

test('BGPPeer filters: BGPFilters in the peer\'s order, as the speaker takes them; a name with no BGPFilter is left out and said', () => {
  const filter = (name: string, spec: Record<string, unknown>): Resource => schemas.BGPFilter.parse({ apiVersion: api, kind: 'BGPFilter', metadata: { name }, spec });
  const rs = [...nodes, config({ nodeToNodeMeshEnabled: true }),
    filter('no-default', { importV4: [{ cidr: '0.0.0.0/0', matchOperator: 'Equal', action: 'Reject' }], exportV6: [{ source: 'RemotePeers', action: 'Reject' }] }),
    filter('tagged', { importV4: [{ communities: { values: ['65100:666'] }, asPathPrefix: [65100, '1.10'], peerType: 'eBGP', action: 'Reject' }, { cidr: '10.0.0.0/8', matchOperator: 'In', prefixLength: { min: 24 }, action: 'Accept' }] }),
    peer('tor', { peerIP: '192.0.2.1', asNumber: 65100, filters: ['tagged', 'missing', 'no-default'] }),
    peer('rr', { peerSelector: 'has(rr)', filters: ['no-default'] })];
  const d = desiredBgp({ nodeName: 'n1', resources: rs });
  const tor = d.peers.find((p) => p.address === '192.0.2.1')!;
  assert.equal(tor.filters, [
    { name: 'tagged', importV4: [
      { action: 'Reject', peerType: 'eBGP', community: '65100:666', asPathPrefix: [65100, 65546] },
      { action: 'Accept', cidr: '10.0.0.0/8', matchOperator: 'In', prefixLength: { min: 24 } },
    ] },
    { name: 'no-default', importV4: [{ action: 'Reject', cidr: '0.0.0.0/0', matchOperator: 'Equal' }], exportV6: [{ action: 'Reject', source: 'RemotePeers' }] },
  ], 'filters in the BGPPeer\'s order, the missing one left out');
  assert.equal(d.problems, ['BGPPeer tor: filter "missing" names no BGPFilter: it is left out until one exists']);
  assert.equal(d.peers.find((p) => p.address === '10.0.0.3')!.filters?.map((f) => f.name), ['no-default'], 'a peerSelector peering carries its BGPPeer\'s filters');
  assert.is(d.peers.find((p) => p.address === '10.0.0.2')!.filters, undefined, 'mesh peers have no filters (as in Calico)');
  const asConfig: SpeakerConfig = d;
  assert.ok(asConfig.peers.length === 3, 'still a SpeakerConfig');
});

test('communities by name and value for prefixes inside prefixAdvertisements', () => {
  const d = desiredBgp({ nodeName: 'n1', resources: [...nodes, config({
    communities: [{ name: 'gold', value: '64512:100' }],
    prefixAdvertisements: [{ cidr: '192.168.0.0/16', communities: ['gold', '64512:7'] }, { cidr: '192.168.5.0/24', communities: ['nope'] }],
  })] });
  assert.equal(communitiesFor('192.168.5.0/26', d), ['64512:100', '64512:7']);
  assert.equal(communitiesFor('10.1.0.0/26', d), []);
  assert.match(d.problems.join('\n'), /community "nope"/);
});

test.run();
