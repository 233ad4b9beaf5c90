// computeVxlanState (pure) and its rendering as batch text: exact text for a small
// cluster, Always vs CrossSubnet per peer, borrowed /32s, hosts without a VTEP, mode changes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseResourceText } from '../../src/model/index.js';
import { computeVxlanState } from '../../src/calc/index.js';
import { BLOCKS, SETTINGS, cluster, nodeDoc as node, poolDoc } from '../helpers/vxlan-cluster.js';
import { renderVxlan } from '../../src/dataplane/index.js';

test('Always: every remote block and borrowed /32 over the device, one neighbour and FDB entry per remote VTEP (exact text)', () => {
  const st = computeVxlanState({ nodeName: 'h1', resources: cluster('Always'), blocks: BLOCKS, settings: SETTINGS });
  assert.equal(st.problems, [], 'no problems');
  const text = renderVxlan(st, 9000);
  assert.fixture(text.ip.join('\n'), [
    'link add name vxlan.trl address 66:00:00:00:00:01 mtu 8950 type vxlan id 4096 local 172.31.1.2 dstport 4789 nolearning',
    'link set vxlan.trl addrgenmode none up',
    'addr replace 10.60.0.0/32 dev vxlan.trl',
    'neigh replace 10.60.1.0 lladdr 66:00:00:00:00:02 dev vxlan.trl nud permanent',
    'neigh replace 10.60.2.0 lladdr 66:00:00:00:00:03 dev vxlan.trl nud permanent',
    'route replace 10.60.0.9/32 via 10.60.2.0 dev vxlan.trl onlink proto 80',
    'route replace 10.60.1.0/26 via 10.60.1.0 dev vxlan.trl onlink proto 80',
    'route replace 10.60.2.0/26 via 10.60.2.0 dev vxlan.trl onlink proto 80',
    'route replace 10.60.2.64/26 via 10.60.2.0 dev vxlan.trl onlink proto 80',
  ].join('\n'));
  assert.fixture(text.bridge.join('\n'), [
    'fdb replace 66:00:00:00:00:02 dev vxlan.trl dst 172.31.1.3 self permanent',
    'fdb replace 66:00:00:00:00:03 dev vxlan.trl dst 172.31.2.2 self permanent',
  ].join('\n'));
});

test('CrossSubnet: the host on the same subnet is routed natively, the other one encapsulated', () => {
  const st = computeVxlanState({ nodeName: 'h1', resources: cluster('CrossSubnet'), blocks: BLOCKS, settings: { ...SETTINGS, mtu: 1400, vni: 77, port: 8472 } });
  const text = renderVxlan(st);
  assert.fixture(text.ip.join('\n'), [
    'link add name vxlan.trl address 66:00:00:00:00:01 mtu 1400 type vxlan id 77 local 172.31.1.2 dstport 8472 nolearning',
    'link set vxlan.trl addrgenmode none up',
    'addr replace 10.60.0.0/32 dev vxlan.trl',
    'neigh replace 10.60.2.0 lladdr 66:00:00:00:00:03 dev vxlan.trl nud permanent',
    'route replace 10.60.0.9/32 via 10.60.2.0 dev vxlan.trl onlink proto 80',
    'route replace 10.60.1.0/26 via 172.31.1.3 proto 80',
    'route replace 10.60.2.0/26 via 10.60.2.0 dev vxlan.trl onlink proto 80',
    'route replace 10.60.2.64/26 via 10.60.2.0 dev vxlan.trl onlink proto 80',
  ].join('\n'));
  assert.equal(st.vteps.map((v) => v.node), ['h3'], 'only h3 needs a neighbour and an FDB entry');
});

test('Never: no device and no routes (BGP\'s business)', () => {
  const st = computeVxlanState({ nodeName: 'h1', resources: cluster('Never'), blocks: BLOCKS, settings: SETTINGS });
  assert.equal(st, { device: null, vteps: [], routes: [], problems: [] });
});

test('a remote host without a VTEP yet is left out and named; this host without one gets no device', () => {
  const res = parseResourceText([
    poolDoc('p', '10.60.0.0/16', 'Always'),
    node('h1', '172.31.1.2/24', ['10.60.0.0', '66:00:00:00:00:01']),
    node('h2', '172.31.1.3/24'),
  ].join('---\n'), 'c.yaml');
  const st = computeVxlanState({ nodeName: 'h1', resources: res, blocks: BLOCKS.slice(0, 3), settings: SETTINGS });
  assert.equal(st.routes, [], 'no route to h2 (no VTEP) or h3 (no Node)');
  assert.equal(st.problems, ['10.60.1.0/26: host h2 has no VTEP yet', '10.60.2.0/26: host h3 has no Node with spec.bgp.ipv4Address']);
  const h2 = computeVxlanState({ nodeName: 'h2', resources: res, blocks: BLOCKS, settings: SETTINGS });
  assert.is(h2.device, null, 'h2 has no device');
  assert.match(h2.problems[0]!, /h2: no VTEP yet/);
});

test('a host that leaves (its Node and blocks gone) takes its routes, neighbour and FDB entry with it', () => {
  const res = cluster('Always').filter((r) => r.metadata.name !== 'h3');
  const st = computeVxlanState({ nodeName: 'h1', resources: res, blocks: BLOCKS.filter((b) => b.node !== 'h3'), settings: SETTINGS });
  assert.equal(st.routes.map((r) => r.dst), ['10.60.1.0/26']);
  assert.equal(st.vteps.map((v) => v.node), ['h2']);
});

test('blocks of a Never pool beside a VXLAN pool are not routed; the longest pool decides', () => {
  const res = cluster('Always', [poolDoc('plain', '10.60.2.0/24', 'Never')]);
  const st = computeVxlanState({ nodeName: 'h1', resources: res, blocks: BLOCKS, settings: SETTINGS });
  assert.equal(st.routes.map((r) => r.dst), ['10.60.0.9/32', '10.60.1.0/26'], 'h3\'s blocks in the Never pool are left to BGP');
});

test.run();
