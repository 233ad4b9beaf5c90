// A three-host VXLAN cluster as resources: h1 and h2 on 172.31.1.0/24, h3 on 172.31.2.0/24,
// one pool 10.60.0.0/16 with the mode given; blocks as IPAM would hold them.
import { parseResourceText, type Resource } from '../../src/model/index.js';
import type { HostBlock, VxlanSettings } from '../../src/calc/index.js';

export const SETTINGS: VxlanSettings = { vni: 4096, port: 4789, mtu: 0 };

export function nodeDoc(name: string, cidr: string, vtep?: [string, string]): string {
  return `apiVersion: projectcalico.org/v3
kind: Node
metadata: {name: ${name}}
spec:
  bgp: {ipv4Address: ${cidr}}
${vtep ? `  ipv4VXLANTunnelAddr: ${vtep[0]}\n  vxlanTunnelMACAddr: "${vtep[1]}"\n` : ''}`;
}

export function poolDoc(name: string, cidr: string, mode: string): string {
  return `apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: ${name}}\nspec: {cidr: ${cidr}, vxlanMode: ${mode}}\n`;
}

export function cluster(mode: string, extra: string[] = []): Resource[] {
  const docs = [
    poolDoc('p', '10.60.0.0/16', mode),
    nodeDoc('h1', '172.31.1.2/24', ['10.60.0.0', '66:00:00:00:00:01']),
    nodeDoc('h2', '172.31.1.3/24', ['10.60.1.0', '66:00:00:00:00:02']),
    nodeDoc('h3', '172.31.2.2/24', ['10.60.2.0', '66:00:00:00:00:03']),
    ...extra,
  ];
  return parseResourceText(docs.join('---\n'), 'cluster.yaml');
}

export const BLOCKS: HostBlock[] = [
  { cidr: '10.60.0.0/26', node: 'h1' },
  { cidr: '10.60.1.0/26', node: 'h2' },
  { cidr: '10.60.2.0/26', node: 'h3' },
  { cidr: '10.60.2.64/26', node: 'h3' },
  { cidr: '10.60.0.9/32', node: 'h3' }, // h3 borrowed an address from h1's block
];
