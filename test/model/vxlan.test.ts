// IPPool vxlanMode and the Node's VTEP fields: what is accepted and what is refused, with the message a user sees.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseResourceText, ResourceFileError } from '../../src/model/index.js';

const pool = (extra: string, cidr = '10.60.0.0/16') => `apiVersion: projectcalico.org/v3
kind: IPPool
metadata: {name: p}
spec:
  cidr: ${cidr}
${extra}`;

function refusal(text: string): string {
  try {
    parseResourceText(text, 'x.yaml');
  } catch (err) {
    if (err instanceof ResourceFileError) return err.message;
    throw err;
  }
  return '';
}

test('vxlanMode Never, Always and CrossSubnet are accepted as given', () => {
  for (const mode of ['Never', 'Always', 'CrossSubnet']) {
    const [r] = parseResourceText(pool(`  vxlanMode: ${mode}`), 'x.yaml');
    assert.is((r as { spec: { vxlanMode?: string } }).spec.vxlanMode, mode, `vxlanMode ${mode} kept`);
  }
});

test('an unknown vxlanMode is refused naming the modes', () => {
  const msg = refusal(pool('  vxlanMode: Sometimes'));
  assert.match(msg, /spec\.vxlanMode: .*Never, Always, CrossSubnet/, msg);
});

test('ipipMode other than Never is refused saying why and what to use', () => {
  const msg = refusal(pool('  ipipMode: Always'));
  assert.match(msg, /no IP-in-IP \(the kernel has no ipip module\); use vxlanMode/, msg);
});

test('VXLAN on an IPv6 pool is refused', () => {
  const msg = refusal(pool('  vxlanMode: Always', 'fd00:60::/48'));
  assert.match(msg, /spec\.vxlanMode: Trellis encapsulates IPv4 pools only/, msg);
});

test('Node VTEP fields: accepted when well formed, refused otherwise', () => {
  const node = (addr: string, mac: string) => `apiVersion: projectcalico.org/v3
kind: Node
metadata: {name: h1}
spec:
  ipv4VXLANTunnelAddr: ${addr}
  vxlanTunnelMACAddr: "${mac}"
`;
  const [r] = parseResourceText(node('10.60.0.1', '66:0a:1b:2c:3d:4e'), 'x.yaml');
  assert.equal((r as { spec: unknown }).spec, { ipv4VXLANTunnelAddr: '10.60.0.1', vxlanTunnelMACAddr: '66:0a:1b:2c:3d:4e' });
  assert.match(refusal(node('10.60.0.1', '66:0a:1b')), /vxlanTunnelMACAddr: "66:0a:1b" must be a MAC address/);
  assert.match(refusal(node('fd00::1', '66:0a:1b:2c:3d:4e')), /ipv4VXLANTunnelAddr: "fd00::1" is not an IPv4 address/);
});

test.run();
