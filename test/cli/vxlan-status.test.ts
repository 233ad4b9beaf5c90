// `trellisctl node status`'s VXLAN section: /status's vxlan (as the agent builds it from calc's state) as text.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { computeVxlanState } from '../../src/calc/index.js';
import { vxlanStatus } from '../../src/agent/vxlan-status.js';
import { formatVxlan } from '../../src/cli/commands/node.js';
import { BLOCKS, SETTINGS, cluster } from '../helpers/vxlan-cluster.js';

test('CrossSubnet: this host\'s VTEP first, the remote one, each route with its mode (exact text)', () => {
  const doc = vxlanStatus(computeVxlanState({ nodeName: 'h1', resources: cluster('CrossSubnet'), blocks: BLOCKS, settings: SETTINGS }));
  assert.fixture(formatVxlan(doc), [
    'VXLAN: vni 4096, port 4789',
    'VTEP NODE  ADDRESS     TUNNEL ADDRESS  MAC',
    'h1 (this)  172.31.1.2  10.60.0.0       66:00:00:00:00:01',
    'h3         172.31.2.2  10.60.2.0       66:00:00:00:00:03',
    'ROUTE          NODE  VIA         MODE',
    '10.60.0.9/32   h3    10.60.2.0   vxlan',
    '10.60.1.0/26   h2    172.31.1.3  native',
    '10.60.2.0/26   h3    10.60.2.0   vxlan',
    '10.60.2.64/26  h3    10.60.2.0   vxlan',
  ].join('\n'));
});

test('no VXLAN pool: nothing to show', () => {
  assert.is(formatVxlan(vxlanStatus(computeVxlanState({ nodeName: 'h1', resources: cluster('Never'), blocks: BLOCKS, settings: SETTINGS }))), '');
  assert.is(formatVxlan(undefined), '');
});

test.run();
