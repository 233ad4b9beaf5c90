// Small resource builders for calc tests. Every resource goes through the model's schema,
// so tests only ever feed calc what the store would accept.
import { schemas, type Resource } from '../../src/model/index.js';

const API = 'projectcalico.org/v3';
type Labels = Record<string, string>;

export function namespace(name: string, labels: Labels = {}): Resource {
  return schemas.Namespace.parse({ apiVersion: API, kind: 'Namespace', metadata: { name, labels } });
}

export interface WepOpts {
  node?: string; ip: string | string[]; labels?: Labels; profiles?: string[];
  ports?: Array<{ name: string; protocol: string | number; port: number; hostPort?: number; hostIP?: string }>;
  iface?: string; mac?: string; orchestrator?: string;
}
export function wep(ns: string, name: string, o: WepOpts): Resource {
  const spec: Record<string, unknown> = {
    node: o.node ?? 'node1',
    interfaceName: o.iface ?? `cali${name}`.slice(0, 15),
    ipNetworks: Array.isArray(o.ip) ? o.ip : [o.ip],
  };
  if (o.profiles) spec.profiles = o.profiles;
  if (o.ports) spec.ports = o.ports;
  if (o.mac) spec.mac = o.mac;
  if (o.orchestrator) spec.orchestrator = o.orchestrator;
  return schemas.WorkloadEndpoint.parse({ apiVersion: API, kind: 'WorkloadEndpoint', metadata: { name, namespace: ns, labels: o.labels ?? {} }, spec });
}
export function hep(name: string, o: { node?: string; ips: string[]; labels?: Labels; ports?: WepOpts['ports']; iface?: string; profiles?: string[] }): Resource {
  return schemas.HostEndpoint.parse({
    apiVersion: API, kind: 'HostEndpoint', metadata: { name, labels: o.labels ?? {} },
    spec: { node: o.node ?? 'node1', expectedIPs: o.ips, ...(o.ports ? { ports: o.ports } : {}), ...(o.iface ? { interfaceName: o.iface } : {}), ...(o.profiles ? { profiles: o.profiles } : {}) },
  });
}
export function netset(ns: string, name: string, nets: string[], labels: Labels = {}): Resource {
  return schemas.NetworkSet.parse({ apiVersion: API, kind: 'NetworkSet', metadata: { name, namespace: ns, labels }, spec: { nets } });
}
export function gnetset(name: string, nets: string[], labels: Labels = {}): Resource {
  return schemas.GlobalNetworkSet.parse({ apiVersion: API, kind: 'GlobalNetworkSet', metadata: { name, labels }, spec: { nets } });
}
export function tier(name: string, spec: { order?: number; defaultAction?: 'Deny' | 'Pass' }): Resource {
  return schemas.Tier.parse({ apiVersion: API, kind: 'Tier', metadata: { name }, spec });
}
export function np(ns: string, name: string, spec: unknown): Resource {
  return schemas.NetworkPolicy.parse({ apiVersion: API, kind: 'NetworkPolicy', metadata: { name, namespace: ns }, spec });
}
export function gnp(name: string, spec: unknown): Resource {
  return schemas.GlobalNetworkPolicy.parse({ apiVersion: API, kind: 'GlobalNetworkPolicy', metadata: { name }, spec });
}
export function snp(ns: string, name: string, spec: unknown): Resource {
  return schemas.StagedNetworkPolicy.parse({ apiVersion: API, kind: 'StagedNetworkPolicy', metadata: { name, namespace: ns }, spec });
}
export function sgnp(name: string, spec: unknown): Resource {
  return schemas.StagedGlobalNetworkPolicy.parse({ apiVersion: API, kind: 'StagedGlobalNetworkPolicy', metadata: { name }, spec });
}
export function profile(name: string, spec: unknown): Resource {
  return schemas.Profile.parse({ apiVersion: API, kind: 'Profile', metadata: { name }, spec });
}
export function pool(name: string, cidr: string, o: { natOutgoing?: boolean; disabled?: boolean } = {}): Resource {
  return schemas.IPPool.parse({ apiVersion: API, kind: 'IPPool', metadata: { name }, spec: { cidr, ...o } });
}

/** The two-tenant lab of the team brief, built in code (the policies/ files are tested separately). */
export function tenants(): Resource[] {
  const t = (x: 'a' | 'b', n: number) => [
    namespace(`tenant-${x}`, { tenant: x }),
    profile(`tenant-${x}`, {
      egress: [{ action: 'Allow' }],
      ingress: [{ action: 'Allow', source: { namespaceSelector: `tenant == "${x}"` } }],
    }),
    wep(`tenant-${x}`, 'web', { node: 'node1', ip: `10.0.${n}.2/32`, labels: { app: 'web' }, profiles: [`tenant-${x}`], ports: [{ name: 'http', protocol: 'TCP', port: 80 }] }),
    wep(`tenant-${x}`, 'client', { node: 'node2', ip: `10.0.${n}.3/32`, labels: { app: 'client' }, profiles: [`tenant-${x}`] }),
  ];
  return [
    ...t('a', 1), ...t('b', 2),
    np('tenant-a', 'web-from-tenant-b', {
      selector: 'app == "web"', types: ['Ingress'],
      ingress: [
        { action: 'Allow', protocol: 'TCP', source: { namespaceSelector: 'tenant == "b"' }, destination: { ports: [80] } },
        { action: 'Pass' },
      ],
    }),
    gnp('deny-ssh', { order: 10, selector: 'all()', types: ['Ingress'], ingress: [
      { action: 'Deny', protocol: 'TCP', destination: { ports: [22] } },
      { action: 'Pass' },
    ] }),
  ];
}
