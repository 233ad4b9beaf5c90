// The resource kinds Trellis stores and acts on, as zod schemas with Calico v3 field
// names, so that existing Calico YAML applies unchanged. Types are inferred from the
// schemas: one definition, no drift between what is validated and what is used.
import { z } from 'zod';
import { cidrFamily, isValidCidrOrIp, isValidIp } from './cidr.js';
import { selectorIssue } from './selector/index.js';
import { LABEL_VALUE_RE, labelKeyProblem } from './labels.js';

export const API_VERSION = 'trellis.dev/v1';
export const CALICO_API_VERSION = 'projectcalico.org/v3';
export const API_VERSIONS = [API_VERSION, CALICO_API_VERSION] as const;

// ---- scalar fields -------------------------------------------------------------

const NAME_RE = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
export const resourceName = z.string()
  .min(1, 'must not be empty')
  .max(253, 'must be at most 253 characters')
  .regex(NAME_RE, 'must be lower-case letters, digits, "-" and ".", starting and ending with a letter or digit');

export { labelKeyProblem };

export const labels = z.record(z.string(), z.string()).superRefine((obj, ctx) => {
  for (const [k, v] of Object.entries(obj)) {
    const p = labelKeyProblem(k);
    if (p) ctx.addIssue({ code: z.ZodIssueCode.custom, path: [k], message: p });
    if (!LABEL_VALUE_RE.test(v)) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: [k], message: `label value "${v}" must be at most 63 characters of letters, digits, "-", "_" and ".", starting and ending with a letter or digit` });
    }
  }
});
export type Labels = Record<string, string>;

/** A selector expression in the Calico grammar; validated by parsing it. */
export const selector = z.string().superRefine((s, ctx) => {
  const problem = selectorIssue(s);
  if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem });
});

export const cidr = z.string().refine(isValidCidrOrIp, (s) => ({ message: `"${s}" is not a valid IPv4 or IPv6 CIDR (e.g. 10.0.0.0/8, fd00::/64)` }));
export const ipAddress = z.string().refine(isValidIp, (s) => ({ message: `"${s}" is not a valid IPv4 or IPv6 address` }));

export const PROTOCOL_NAMES = ['TCP', 'UDP', 'ICMP', 'ICMPv6', 'SCTP', 'UDPLite'] as const;
/** A protocol by Calico name or by number 1-255. */
export const protocol = z.union([
  z.enum(PROTOCOL_NAMES, { errorMap: () => ({ message: `must be one of ${PROTOCOL_NAMES.join(', ')} or a number 1-255` }) }),
  z.number().int().min(1, 'protocol number must be 1-255').max(255, 'protocol number must be 1-255'),
]);
export type Protocol = z.infer<typeof protocol>;

const PORT_RANGE_RE = /^(\d+):(\d+)$/;
const PORT_NAME_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** A port: a number, a "lo:hi" range, or the name of a named port on the endpoint. */
export const port = z.union([z.number(), z.string()]).superRefine((p, ctx) => {
  const bad = (message: string) => ctx.addIssue({ code: z.ZodIssueCode.custom, message });
  if (typeof p === 'number') {
    if (!Number.isInteger(p) || p < 0 || p > 65535) bad(`port ${p} is out of range 0-65535`);
    return;
  }
  const range = PORT_RANGE_RE.exec(p);
  if (range) {
    const lo = Number(range[1]);
    const hi = Number(range[2]);
    if (lo > 65535 || hi > 65535) bad(`port range "${p}" is out of range 0-65535`);
    else if (lo > hi) bad(`port range "${p}" has its low end above its high end`);
    return;
  }
  if (/^\d+$/.test(p)) {
    if (Number(p) > 65535) bad(`port ${p} is out of range 0-65535`);
    return;
  }
  if (p.length > 15 || !PORT_NAME_RE.test(p)) bad(`"${p}" is not a port number, a "lo:hi" range or a named port (lower-case, at most 15 characters)`);
});
export type Port = z.infer<typeof port>;

const icmpFields = z.object({
  type: z.number().int().min(0, 'must be 0-254 (ICMP type)').max(254, 'must be 0-254 (ICMP type)'),
  code: z.number().int().min(0, 'must be 0-255 (ICMP code)').max(255, 'must be 0-255 (ICMP code)').optional(),
}).strict();

// ---- policy --------------------------------------------------------------------

export const entityRule = z.object({
  nets: z.array(cidr).optional(),
  notNets: z.array(cidr).optional(),
  selector: selector.optional(),
  notSelector: selector.optional(),
  namespaceSelector: selector.optional(),
  ports: z.array(port).optional(),
  notPorts: z.array(port).optional(),
}).strict();
export type EntityRule = z.infer<typeof entityRule>;

export const RULE_ACTIONS = ['Allow', 'Deny', 'Log', 'Pass'] as const;
export const ruleAction = z.enum(RULE_ACTIONS, {
  errorMap: (_issue, ctx) => ({ message: `${JSON.stringify(ctx.data)} is not one of ${RULE_ACTIONS.join(', ')}` }),
});

export const rule = z.object({
  action: ruleAction,
  protocol: protocol.optional(),
  notProtocol: protocol.optional(),
  icmp: icmpFields.optional(),
  notICMP: icmpFields.optional(),
  ipVersion: z.union([z.literal(4), z.literal(6)], { errorMap: () => ({ message: 'must be 4 or 6' }) }).optional(),
  source: entityRule.optional(),
  destination: entityRule.optional(),
  metadata: z.object({ annotations: z.record(z.string(), z.string()).optional() }).strict().optional(),
}).strict().superRefine((r, ctx) => ruleCrossChecks(r, ctx));
export type Rule = z.infer<typeof rule>;

// Cross-field checks as Calico validates rules (added by calc: a rule that passes them
// compiles faithfully; calc still fails closed on anything that slips through).
const PORT_PROTOCOLS = new Set<unknown>(['TCP', 'UDP', 'SCTP', 'UDPLite', 6, 17, 132, 136]);
function ruleCrossChecks(r: {
  protocol?: Protocol; icmp?: unknown; notICMP?: unknown; ipVersion?: 4 | 6;
  source?: EntityRule; destination?: EntityRule;
}, ctx: z.RefinementCtx): void {
  const issue = (path: Array<string | number>, message: string) => ctx.addIssue({ code: z.ZodIssueCode.custom, path, message });
  for (const side of ['source', 'destination'] as const) {
    const e = r[side];
    for (const f of ['ports', 'notPorts'] as const) {
      if ((e?.[f]?.length ?? 0) > 0 && !PORT_PROTOCOLS.has(r.protocol)) issue([side, f], `${f} need protocol TCP, UDP, SCTP or UDPLite`);
    }
  }
  const icmpV4 = r.protocol === 'ICMP' || r.protocol === 1;
  const icmpV6 = r.protocol === 'ICMPv6' || r.protocol === 58;
  for (const f of ['icmp', 'notICMP'] as const) {
    if (r[f] !== undefined && !icmpV4 && !icmpV6) issue([f], `${f} needs protocol ICMP or ICMPv6`);
  }
  if (r.ipVersion === 6 && icmpV4) issue(['ipVersion'], 'protocol ICMP is IPv4: use ICMPv6 with ipVersion 6');
  if (r.ipVersion === 4 && icmpV6) issue(['ipVersion'], 'protocol ICMPv6 is IPv6: use ICMP with ipVersion 4');
  const version = r.ipVersion ?? (icmpV4 ? 4 : icmpV6 ? 6 : undefined);
  const only: Partial<Record<'source' | 'destination', 4 | 6>> = {};
  for (const side of ['source', 'destination'] as const) {
    for (const f of ['nets', 'notNets'] as const) {
      (r[side]?.[f] ?? []).forEach((n, i) => {
        if (!isValidCidrOrIp(n) || version === undefined) return;
        const fam = cidrFamily(n);
        if (fam !== version) issue([side, f, i], `"${n}" is an IPv${fam} CIDR but the rule is IPv${version} only${r.ipVersion === undefined ? ` (protocol ${String(r.protocol)})` : ''}`);
      });
    }
    const fams = new Set((r[side]?.nets ?? []).filter(isValidCidrOrIp).map(cidrFamily));
    if (fams.size === 1) only[side] = [...fams][0];
  }
  if (only.source !== undefined && only.destination !== undefined && only.source !== only.destination) {
    issue(['destination', 'nets'], `source nets are IPv${only.source} and destination nets IPv${only.destination}: the rule could never match`);
  }
}

export const POLICY_TYPES = ['Ingress', 'Egress'] as const;
const policyTypes = z.array(z.enum(POLICY_TYPES, { errorMap: (_i, ctx) => ({ message: `${JSON.stringify(ctx.data)} is not one of Ingress, Egress` }) }));

const policySpecFields = {
  order: z.number().finite().optional(),
  selector: selector.optional(),
  types: policyTypes.optional(),
  ingress: z.array(rule).optional(),
  egress: z.array(rule).optional(),
};

export const networkPolicySpec = z.object(policySpecFields).strict();
export const globalNetworkPolicySpec = z.object({
  ...policySpecFields,
  namespaceSelector: selector.optional(),
  doNotTrack: z.boolean().optional(),
  preDNAT: z.boolean().optional(),
  applyOnForward: z.boolean().optional(),
}).strict();

export const profileSpec = z.object({
  ingress: z.array(rule).optional(),
  egress: z.array(rule).optional(),
  labelsToApply: labels.optional(),
}).strict();

// ---- endpoints -----------------------------------------------------------------

export const endpointPort = z.object({
  name: z.string().regex(PORT_NAME_RE, 'must be lower-case letters, digits and "-"').max(15),
  protocol: protocol,
  port: z.number().int().min(1).max(65535),
  /** Docker's -p: traffic to this host port (on hostIP, or any host address) is DNATed here. */
  hostPort: z.number().int().min(1).max(65535).optional(),
  hostIP: ipAddress.optional(),
}).strict();
export type EndpointPort = z.infer<typeof endpointPort>;

export const workloadEndpointSpec = z.object({
  orchestrator: z.string().optional(),
  workload: z.string().optional(),
  node: z.string().min(1),
  containerID: z.string().optional(),
  pod: z.string().optional(),
  endpoint: z.string().optional(),
  interfaceName: z.string().min(1).max(15, 'must be at most 15 characters (a Linux interface name)'),
  mac: z.string().regex(/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/, 'must be a MAC address like 02:00:00:00:00:01').optional(),
  ipNetworks: z.array(cidr).min(1, 'needs at least one address'),
  ipNATs: z.array(z.object({ internalIP: ipAddress, externalIP: ipAddress }).strict()).optional(),
  profiles: z.array(resourceName).optional(),
  ports: z.array(endpointPort).optional(),
}).strict();

export const hostEndpointSpec = z.object({
  node: z.string().min(1),
  interfaceName: z.string().max(15).optional(),
  expectedIPs: z.array(ipAddress).optional(),
  profiles: z.array(resourceName).optional(),
  ports: z.array(endpointPort).optional(),
}).strict();

// ---- IPAM and nodes ------------------------------------------------------------

export const ipPoolSpec = z.object({
  cidr: cidr,
  blockSize: z.number().int().min(20).max(128).optional(),
  natOutgoing: z.boolean().optional(),
  disabled: z.boolean().optional(),
  nodeSelector: selector.optional(),
  ipipMode: z.enum(['Never'], { errorMap: () => ({ message: 'must be "Never": Trellis routes without encapsulation' }) }).optional(),
  vxlanMode: z.enum(['Never'], { errorMap: () => ({ message: 'must be "Never": Trellis routes without encapsulation' }) }).optional(),
}).strict();

const asNumber = z.union([
  z.number().int().min(1).max(4294967295),
  z.string().regex(/^(\d+|\d+\.\d+)$/, 'must be an AS number (e.g. 64512 or asdot 1.10)'),
]);

export const nodeSpec = z.object({
  bgp: z.object({
    ipv4Address: cidr.optional(),
    ipv6Address: cidr.optional(),
    asNumber: asNumber.optional(),
    routeReflectorClusterID: ipAddress.optional(),
  }).strict().optional(),
}).strict();

/** RFC 8212: eBGP sessions import and export nothing unless a policy says so. */
export const EBGP_IMPORT = ['Reject', 'Accept'] as const;
export const EBGP_EXPORT = ['Reject', 'LocalBlocks', 'All'] as const;

const duration = z.string().regex(/^\d+(ms|s|m|h)$/, 'must be a duration like 120s or 2m');

export const bgpPeerSpec = z.object({
  node: z.string().optional(),
  peerIP: z.string().optional(),
  asNumber: asNumber.optional(),
  nodeSelector: selector.optional(),
  peerSelector: selector.optional(),
  password: z.union([
    z.string(),
    z.object({ secretKeyRef: z.object({ name: z.string(), key: z.string() }).strict() }).strict(),
  ]).optional(),
  keepOriginalNextHop: z.boolean().optional(),
  sourceAddress: z.enum(['UseNodeIP', 'None']).optional(),
  maxRestartTime: duration.optional(),
  keepaliveTime: duration.optional(),
  holdTime: duration.optional(),
  importPolicy: z.enum(EBGP_IMPORT).optional(),
  exportPolicy: z.enum(EBGP_EXPORT).optional(),
}).strict();

export const bgpConfigurationSpec = z.object({
  asNumber: asNumber.optional(),
  nodeToNodeMeshEnabled: z.boolean().optional(),
  listenPort: z.number().int().min(1).max(65535).optional(),
  logSeverityScreen: z.enum(['Debug', 'Info', 'Warning', 'Error', 'Fatal']).optional(),
  communities: z.array(z.object({ name: z.string(), value: z.string().regex(/^\d+:\d+(:\d+)?$/, 'must be a community like 64512:100 (or large 1:2:3)') }).strict()).optional(),
  prefixAdvertisements: z.array(z.object({ cidr: cidr, communities: z.array(z.string()) }).strict()).optional(),
  nodeMeshMaxRestartTime: duration.optional(),
  /** What eBGP peers without an importPolicy/exportPolicy of their own get (RFC 8212 default: Reject). */
  ebgpImportPolicy: z.enum(EBGP_IMPORT).optional(),
  ebgpExportPolicy: z.enum(EBGP_EXPORT).optional(),
}).strict();

// ---- envelopes -----------------------------------------------------------------

const metadataFields = {
  name: resourceName,
  labels: labels.optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  resourceVersion: z.string().optional(),
  uid: z.string().optional(),
  creationTimestamp: z.string().optional(),
};
const clusterMetadata = z.object(metadataFields).strict();
const namespacedMetadata = z.object({ ...metadataFields, namespace: resourceName.optional() }).strict();

const apiVersion = z.enum(API_VERSIONS, { errorMap: (_i, ctx) => ({ message: `${JSON.stringify(ctx.data)} is not one of ${API_VERSIONS.join(', ')}` }) });

function kind<K extends string, M extends z.ZodTypeAny, S extends z.ZodTypeAny>(name: K, metadata: M, spec: S) {
  return z.object({ apiVersion, kind: z.literal(name), metadata, spec }).strict();
}

export const schemas = {
  NetworkPolicy: kind('NetworkPolicy', namespacedMetadata, networkPolicySpec),
  GlobalNetworkPolicy: kind('GlobalNetworkPolicy', clusterMetadata, globalNetworkPolicySpec),
  Profile: kind('Profile', clusterMetadata, profileSpec),
  Namespace: kind('Namespace', clusterMetadata, z.object({}).strict().optional().default({})),
  WorkloadEndpoint: kind('WorkloadEndpoint', namespacedMetadata, workloadEndpointSpec),
  HostEndpoint: kind('HostEndpoint', clusterMetadata, hostEndpointSpec),
  IPPool: kind('IPPool', clusterMetadata, ipPoolSpec),
  Node: kind('Node', clusterMetadata, nodeSpec.optional().default({})),
  BGPPeer: kind('BGPPeer', clusterMetadata, bgpPeerSpec),
  BGPConfiguration: kind('BGPConfiguration', clusterMetadata, bgpConfigurationSpec),
} as const;

export type Kind = keyof typeof schemas;
export const KINDS = Object.keys(schemas) as Kind[];
/** Kinds whose resources live in a namespace (default namespace: "default"). */
export const NAMESPACED_KINDS: ReadonlySet<Kind> = new Set(['NetworkPolicy', 'WorkloadEndpoint']);

export type NetworkPolicy = z.infer<typeof schemas.NetworkPolicy>;
export type GlobalNetworkPolicy = z.infer<typeof schemas.GlobalNetworkPolicy>;
export type Profile = z.infer<typeof schemas.Profile>;
export type Namespace = z.infer<typeof schemas.Namespace>;
export type WorkloadEndpoint = z.infer<typeof schemas.WorkloadEndpoint>;
export type HostEndpoint = z.infer<typeof schemas.HostEndpoint>;
export type IPPool = z.infer<typeof schemas.IPPool>;
export type Node = z.infer<typeof schemas.Node>;
export type BGPPeer = z.infer<typeof schemas.BGPPeer>;
export type BGPConfiguration = z.infer<typeof schemas.BGPConfiguration>;

export interface ResourceByKind {
  NetworkPolicy: NetworkPolicy;
  GlobalNetworkPolicy: GlobalNetworkPolicy;
  Profile: Profile;
  Namespace: Namespace;
  WorkloadEndpoint: WorkloadEndpoint;
  HostEndpoint: HostEndpoint;
  IPPool: IPPool;
  Node: Node;
  BGPPeer: BGPPeer;
  BGPConfiguration: BGPConfiguration;
}
export type Resource = ResourceByKind[Kind];
export type PolicyRule = Rule;

/** Identifies one resource: kind, namespace (namespaced kinds only) and name. */
export interface ResourceKey { kind: Kind; namespace?: string; name: string }

export function resourceKey(r: Resource): ResourceKey {
  return NAMESPACED_KINDS.has(r.kind)
    ? { kind: r.kind, namespace: (r.metadata as { namespace?: string }).namespace ?? 'default', name: r.metadata.name }
    : { kind: r.kind, name: r.metadata.name };
}

/** "NetworkPolicy tenant-a/web", "IPPool default-v4": how errors and logs name a resource. */
export function describeKey(k: ResourceKey): string {
  return k.namespace !== undefined ? `${k.kind} ${k.namespace}/${k.name}` : `${k.kind} ${k.name}`;
}
