// How `get` prints: a table (default and -o wide), YAML documents or JSON.
import { stringify } from 'yaml';
import { NAMESPACED_KINDS, type Kind, type Resource } from '../model/index.js';

export const OUTPUT_FORMATS = ['table', 'wide', 'yaml', 'json'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

type Column = [header: string, value: (r: Resource) => string];

const list = (xs: readonly unknown[] | undefined) => (xs && xs.length ? xs.map(String).join(',') : '-');
const labelText = (l: Record<string, string> | undefined) => (l && Object.keys(l).length ? Object.entries(l).map(([k, v]) => `${k}=${v}`).join(',') : '-');
const opt = (v: unknown) => (v === undefined || v === null ? '-' : String(v));
const rules = (r: { ingress?: unknown[]; egress?: unknown[] }) => `${r.ingress?.length ?? 0}/${r.egress?.length ?? 0}`;

/** Columns after NAME (and NAMESPACE): [default, wide-only]. */
function columns(kind: Kind): [Column[], Column[]] {
  switch (kind) {
    case 'NetworkPolicy':
    case 'GlobalNetworkPolicy':
      return [
        [['ORDER', (r) => opt((r.spec as { order?: number }).order)], ['SELECTOR', (r) => opt((r.spec as { selector?: string }).selector ?? 'all()')]],
        [['TYPES', (r) => list((r.spec as { types?: string[] }).types)], ['RULES(IN/OUT)', (r) => rules(r.spec as { ingress?: unknown[]; egress?: unknown[] })]],
      ];
    case 'StagedNetworkPolicy':
    case 'StagedGlobalNetworkPolicy':
      // calicoctl's columns (NAME, TIER; wide: ORDER, SELECTOR), with what the staged policy would do first.
      return [
        [['ACTION', (r) => (r.spec as { stagedAction: string }).stagedAction], ['TIER', (r) => (r.spec as { tier?: string }).tier ?? 'default']],
        [['ORDER', (r) => opt((r.spec as { order?: number }).order)], ['SELECTOR', (r) => opt((r.spec as { selector?: string }).selector ?? 'all()')]],
      ];
    case 'Profile':
      return [[['RULES(IN/OUT)', (r) => rules(r.spec as { ingress?: unknown[]; egress?: unknown[] })]], [['LABELS', (r) => labelText(r.metadata.labels)]]];
    case 'Namespace':
      return [[['LABELS', (r) => labelText(r.metadata.labels)]], []];
    case 'WorkloadEndpoint':
      return [
        [['NODE', (r) => (r.spec as { node: string }).node], ['NETWORKS', (r) => list((r.spec as { ipNetworks: string[] }).ipNetworks)], ['INTERFACE', (r) => (r.spec as { interfaceName: string }).interfaceName]],
        [['PROFILES', (r) => list((r.spec as { profiles?: string[] }).profiles)], ['LABELS', (r) => labelText(r.metadata.labels)]],
      ];
    case 'HostEndpoint':
      return [
        [['NODE', (r) => (r.spec as { node: string }).node], ['INTERFACE', (r) => opt((r.spec as { interfaceName?: string }).interfaceName)]],
        [['IPS', (r) => list((r.spec as { expectedIPs?: string[] }).expectedIPs)], ['LABELS', (r) => labelText(r.metadata.labels)]],
      ];
    case 'IPPool':
      return [
        [['CIDR', (r) => (r.spec as { cidr: string }).cidr], ['SELECTOR', (r) => opt((r.spec as { nodeSelector?: string }).nodeSelector ?? 'all()')]],
        [['BLOCKSIZE', (r) => opt((r.spec as { blockSize?: number }).blockSize)], ['DISABLED', (r) => String((r.spec as { disabled?: boolean }).disabled ?? false)]],
      ];
    case 'Node':
      return [
        [['ASN', (r) => opt((r.spec as { bgp?: { asNumber?: unknown } }).bgp?.asNumber)], ['IPV4', (r) => opt((r.spec as { bgp?: { ipv4Address?: string } }).bgp?.ipv4Address)]],
        [['IPV6', (r) => opt((r.spec as { bgp?: { ipv6Address?: string } }).bgp?.ipv6Address)]],
      ];
    case 'BGPPeer':
      return [
        [['PEERIP', (r) => opt((r.spec as { peerIP?: string }).peerIP)], ['ASN', (r) => opt((r.spec as { asNumber?: unknown }).asNumber)], ['NODE', (r) => opt((r.spec as { node?: string }).node ?? '(global)')]],
        [['NODESELECTOR', (r) => opt((r.spec as { nodeSelector?: string }).nodeSelector)], ['PEERSELECTOR', (r) => opt((r.spec as { peerSelector?: string }).peerSelector)]],
      ];
    case 'BGPConfiguration':
      return [
        [['ASN', (r) => opt((r.spec as { asNumber?: unknown }).asNumber)], ['MESH', (r) => opt((r.spec as { nodeToNodeMeshEnabled?: boolean }).nodeToNodeMeshEnabled)]],
        [['LISTENPORT', (r) => opt((r.spec as { listenPort?: number }).listenPort)]],
      ];
    case 'BGPFilter': {
      const n = (r: Resource, f: 'exportV4' | 'exportV6' | 'importV4' | 'importV6') => (r.spec as Partial<Record<typeof f, unknown[]>>)[f]?.length ?? 0;
      return [
        [['NUMEXPORT', (r) => String(n(r, 'exportV4') + n(r, 'exportV6'))], ['NUMIMPORT', (r) => String(n(r, 'importV4') + n(r, 'importV6'))]],
        [['RULES(EXPORT V4/V6, IMPORT V4/V6)', (r) => `${n(r, 'exportV4')}/${n(r, 'exportV6')}, ${n(r, 'importV4')}/${n(r, 'importV6')}`]],
      ];
    }
    case 'GlobalNetworkSet':
    case 'NetworkSet':
      return [[['NETS', (r) => list((r.spec as { nets?: string[] }).nets)]], [['LABELS', (r) => labelText(r.metadata.labels)]]];
    case 'Tier':
      return [[['ORDER', (r) => opt((r.spec as { order?: number }).order)], ['DEFAULTACTION', (r) => (r.spec as { defaultAction: string }).defaultAction]], []];
    case 'IPReservation':
      return [[['RESERVED', (r) => list((r.spec as { reservedCIDRs?: string[] }).reservedCIDRs)]], []];
  }
}

/** `status`: a last wide column (WorkloadEndpoints: whether calc programs it, or why it refuses). */
export function renderTable(kind: Kind, resources: readonly Resource[], wide: boolean, status?: (r: Resource) => string): string {
  const [base, extra] = columns(kind);
  const cols: Column[] = [
    ...(NAMESPACED_KINDS.has(kind) ? [['NAMESPACE', (r: Resource) => (r.metadata as { namespace?: string }).namespace ?? 'default'] as Column] : []),
    ['NAME', (r) => r.metadata.name],
    ...base,
    ...(wide ? extra : []),
    ...(wide && status ? [['STATUS', status] as Column] : []),
  ];
  const rows = [cols.map((c) => c[0]), ...resources.map((r) => cols.map((c) => c[1](r)))];
  const widths = cols.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('   ')).join('\n') + '\n';
}

export function renderYaml(resources: readonly Resource[]): string {
  return resources.map((r) => stringify(r, { lineWidth: 0 })).join('---\n');
}

/** One resource as an object; several as an array. */
export function renderJson(resources: readonly Resource[], single: boolean): string {
  return JSON.stringify(single ? resources[0] : resources, null, 2) + '\n';
}
