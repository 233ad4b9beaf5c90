// The resource kinds Trellis stores and acts on, as zod schemas with Calico v3 field
// names, so that existing Calico YAML applies unchanged. Types are inferred from the
// schemas: one definition, no drift between what is validated and what is used.
import { z } from 'zod';
import { cidrContains, cidrFamily, isValidCidrOrIp, isValidIp } from './cidr.js';
import { selectorIssue } from './selector/index.js';
import { annotationsProblems, endpointNetworkProblem, hostBitsProblem, PORT_NAME_RE as ENDPOINT_PORT_NAME_RE, poolCidrProblems } from './checks.js';
import { LABEL_VALUE_RE, labelKeyProblem } from './labels.js';
import { PROTOCOL_NAMES, PROTOCOLS } from './protocols.js';

export const API_VERSION = 'trellis.dev/v1';
export const CALICO_API_VERSION = 'projectcalico.org/v3';
export const API_VERSIONS = [API_VERSION, CALICO_API_VERSION] as const;

// ---- scalar fields -------------------------------------------------------------

/** A resource (and so a Node) name: what etcd keys and Calico accept. */
export const RESOURCE_NAME_RE = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
export const resourceName = z.string()
  .min(1, 'must not be empty')
  .max(253, 'must be at most 253 characters')
  .regex(RESOURCE_NAME_RE, 'must be lower-case letters, digits, "-" and ".", starting and ending with a letter or digit');

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

/** Annotation keys follow the label key syntax (in any case); all keys and values
 *  together are at most 256 KiB, as in Calico. */
export const annotations = z.record(z.string(), z.string()).superRefine((obj, ctx) => {
  for (const p of annotationsProblems(obj)) ctx.addIssue({ code: z.ZodIssueCode.custom, path: p.key === undefined ? [] : [p.key], message: p.message });
});

/** A selector expression in the Calico grammar; validated by parsing it. */
export const selector = z.string().superRefine((s, ctx) => {
  const problem = selectorIssue(s);
  if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem });
});

export const cidr = z.string().refine(isValidCidrOrIp, (s) => ({ message: `"${s}" is not a valid IPv4 or IPv6 CIDR (e.g. 10.0.0.0/8, fd00::/64)` }));
export const ipAddress = z.string().refine(isValidIp, (s) => ({ message: `"${s}" is not a valid IPv4 or IPv6 address` }));

export type Protocol = typeof PROTOCOL_NAMES[number] | number;
/** A protocol by Calico name (spelt as Calico spells it: "TCP", not "tcp") or by number
 *  1-255, which may be written as a string ("6"), as Calico reads it. */
export const protocol = z.union([z.number(), z.string()]).transform((p, ctx): Protocol => {
  if (typeof p === 'string' && (PROTOCOL_NAMES as readonly string[]).includes(p)) return p as Protocol;
  const n = typeof p === 'number' ? p : /^\d+$/.test(p) ? Number(p) : undefined;
  if (n === undefined) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `${JSON.stringify(p)} is not a protocol: use one of ${PROTOCOL_NAMES.join(', ')} (as spelt here) or a number 1-255` });
    return z.NEVER;
  }
  if (!Number.isInteger(n) || n < 1 || n > 255) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `protocol number ${JSON.stringify(p)} is out of range 1-255` });
    return z.NEVER;
  }
  return n;
});

const PORT_RANGE_RE = /^(\d+):(\d+)$/;
/** What Calico takes as the name of a named port in a rule. */
const RULE_PORT_NAME_RE = /^[a-zA-Z0-9_.-]{1,128}$/;
const inPortRange = (n: number): boolean => Number.isInteger(n) && n >= 1 && n <= 65535;
/** A port: a number 1-65535, a "lo:hi" range, or the name of a named port on the endpoint. */
export const port = z.union([z.number(), z.string()]).superRefine((p, ctx) => {
  const bad = (message: string) => ctx.addIssue({ code: z.ZodIssueCode.custom, message });
  if (typeof p === 'number' || /^\d+$/.test(p)) {
    if (!inPortRange(Number(p))) bad(`port ${p} is out of range 1-65535`);
    return;
  }
  const range = PORT_RANGE_RE.exec(p);
  if (range) {
    const lo = Number(range[1]);
    const hi = Number(range[2]);
    if (!inPortRange(lo) || !inPortRange(hi)) bad(`port range "${p}" is out of range 1-65535`);
    else if (lo > hi) bad(`port range "${p}" has its low end above its high end`);
    return;
  }
  if (!RULE_PORT_NAME_RE.test(p)) bad(`"${p}" is not a port number, a "lo:hi" range or a port name (1-128 letters, digits, "_", "." and "-")`);
});
export type Port = z.infer<typeof port>;

// Calico lets both be left out ({} matches every type, which the protocol already says, so
// it reads as no icmp clause at all); a code needs its type.
const icmpFields = z.object({
  type: z.number().int().min(0, 'must be 0-254 (ICMP type)').max(254, 'must be 0-254 (ICMP type)').optional(),
  code: z.number().int().min(0, 'must be 0-255 (ICMP code)').max(255, 'must be 0-255 (ICMP code)').optional(),
}).strict().transform((f, ctx): { type: number; code?: number } | undefined => {
  if (f.type === undefined) {
    if (f.code !== undefined) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['code'], message: 'an ICMP code needs its type: set type too' });
      return z.NEVER;
    }
    return undefined;
  }
  return f.code === undefined ? { type: f.type } : { type: f.type, code: f.code };
});

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
  metadata: z.object({ annotations: z.lazy(() => annotations).optional() }).strict().optional(),
}).strict().superRefine((r, ctx) => ruleCrossChecks(r, ctx));
export type Rule = z.infer<typeof rule>;

// Cross-field checks as Calico validates rules (the family checks on nets, which Calico
// also makes, are in semantics.ts: they refuse user input, never a stored policy).
// calc still fails closed on anything that slips through.
const PORT_PROTOCOLS = new Set<unknown>(PROTOCOLS.filter((p) => p.calicoPorts).flatMap((p) => [p.name, p.number]));
function ruleCrossChecks(r: {
  protocol?: Protocol; notProtocol?: Protocol; icmp?: unknown; notICMP?: unknown; ipVersion?: 4 | 6;
  source?: EntityRule; destination?: EntityRule;
}, ctx: z.RefinementCtx): void {
  const issue = (path: Array<string | number>, message: string) => ctx.addIssue({ code: z.ZodIssueCode.custom, path, message });
  for (const side of ['source', 'destination'] as const) {
    const e = r[side];
    for (const f of ['ports', 'notPorts'] as const) {
      const ports = e?.[f] ?? [];
      if (ports.length === 0) continue;
      // Calico: a named port alone may leave the protocol out; a number or range may not.
      if (r.protocol === undefined) {
        if (ports.some((p) => typeof p === 'number' || /^\d/.test(p))) issue([side, f], `${f} with a number or range need protocol TCP, UDP or SCTP`);
      } else if (!PORT_PROTOCOLS.has(r.protocol)) {
        issue([side, f], `${f} need protocol TCP, UDP or SCTP, not ${String(r.protocol)}`);
      }
    }
  }
  const isIcmp4 = (p: Protocol | undefined) => p === 'ICMP' || p === 1;
  const isIcmp6 = (p: Protocol | undefined) => p === 'ICMPv6' || p === 58;
  const icmpV4 = isIcmp4(r.protocol);
  const icmpV6 = isIcmp6(r.protocol);
  for (const f of ['icmp', 'notICMP'] as const) {
    if (r[f] !== undefined && !icmpV4 && !icmpV6) issue([f], `${f} needs protocol ICMP or ICMPv6`);
  }
  for (const f of ['protocol', 'notProtocol'] as const) {
    if (r.ipVersion === 6 && isIcmp4(r[f])) issue(['ipVersion'], `${f} ICMP is IPv4: use ICMPv6 with ipVersion 6`);
    if (r.ipVersion === 4 && isIcmp6(r[f])) issue(['ipVersion'], `${f} ICMPv6 is IPv6: use ICMP with ipVersion 4`);
  }
  // The family checks that stored values get too (a rule that could never match); the
  // rest of Calico's (one family across all four nets fields) refuses user input only.
  const only: Partial<Record<'source' | 'destination', 4 | 6>> = {};
  for (const side of ['source', 'destination'] as const) {
    for (const f of ['nets', 'notNets'] as const) {
      (r[side]?.[f] ?? []).forEach((n, i) => {
        if (!isValidCidrOrIp(n) || r.ipVersion === undefined) return;
        const fam = cidrFamily(n);
        if (fam !== r.ipVersion) issue([side, f, i], `"${n}" is IPv${fam} but the rule has ipVersion ${r.ipVersion}`);
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

/** The tier a policy belongs to (default: "default"); the Tier's own checks name it. */
const tier = z.string().min(1, 'must not be empty');

const policySpecFields = {
  tier: tier.optional(),
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

/** Calico's staged policies: what a policy would be (Set; Learn and Ignore are the
 *  recommendation engine's states of one) or that it would be gone (Delete). Never
 *  enforced: only `trellisctl policy preview` and explain --staged read them (staged.ts). */
export const STAGED_ACTIONS = ['Set', 'Delete', 'Learn', 'Ignore'] as const;
export type StagedAction = typeof STAGED_ACTIONS[number];
const stagedAction = z.enum(STAGED_ACTIONS, { errorMap: (_i, c) => ({ message: `${JSON.stringify(c.data)} is not one of ${STAGED_ACTIONS.join(', ')}` }) }).default('Set');
export const stagedNetworkPolicySpec = networkPolicySpec.extend({ stagedAction });
export const stagedGlobalNetworkPolicySpec = globalNetworkPolicySpec.extend({ stagedAction });

export const profileSpec = z.object({
  ingress: z.array(rule).optional(),
  egress: z.array(rule).optional(),
  labelsToApply: labels.optional(),
}).strict();

// ---- endpoints -----------------------------------------------------------------

const endpointPortFields = {
  name: z.string().refine((n) => n === '' || ENDPOINT_PORT_NAME_RE.test(n), (n) => ({ message: `"${n}" is not a port name: at most 15 lower-case letters, digits and "-", with a letter, no "-" at either end or twice in a row` })).optional(),
  protocol: protocol,
  port: z.number().int().min(1).max(65535),
};
const portProtocolCheck = (p: { protocol: Protocol }, ctx: z.RefinementCtx): void => {
  if (!PORT_PROTOCOLS.has(p.protocol)) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['protocol'], message: `${JSON.stringify(p.protocol)} has no ports: an endpoint port is TCP, UDP or SCTP` });
};
/** A host endpoint's port: named, as in Calico. The name is '' only on a workload
 *  endpoint port that has a hostPort instead. */
export const hostEndpointPort = z.object({ ...endpointPortFields }).strict().superRefine((p, ctx) => {
  portProtocolCheck(p, ctx);
  if (!p.name) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['name'], message: 'is required' });
}).transform((p) => ({ ...p, name: p.name ?? '' }));
export const endpointPort = z.object({
  ...endpointPortFields,
  /** Docker's -p: traffic to this host port (on hostIP, or any host address) is DNATed here. */
  hostPort: z.number().int().min(1).max(65535).optional(),
  hostIP: ipAddress.optional(),
}).strict().superRefine((p, ctx) => {
  portProtocolCheck(p, ctx);
  if (!p.name && p.hostPort === undefined) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['name'], message: 'is required when there is no hostPort' });
}).transform((p) => ({ ...p, name: p.name ?? '' }));
export type EndpointPort = z.infer<typeof endpointPort>;

const INTERFACE_RE = /^[a-zA-Z0-9_.-]{1,15}$/;
const interfaceName = z.string().refine((s) => INTERFACE_RE.test(s), (s) => ({ message: `"${s}" is not an interface name: 1-15 letters, digits, "_", "." and "-"` }));
const CONTAINER_ID_RE = /^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?$/;

export const workloadEndpointSpec = z.object({
  orchestrator: z.string().optional(),
  workload: z.string().optional(),
  node: z.string().min(1),
  containerID: z.string().refine((s) => CONTAINER_ID_RE.test(s), (s) => ({ message: `"${s}" is not a container ID: letters, digits and "-", starting and ending with a letter or digit` })).optional(),
  pod: z.string().optional(),
  endpoint: z.string().optional(),
  interfaceName,
  mac: z.string().regex(/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/, 'must be a MAC address like 02:00:00:00:00:01').optional(),
  ipNetworks: z.array(cidr.superRefine((n, ctx) => {
    const p = endpointNetworkProblem(n);
    if (p) ctx.addIssue({ code: z.ZodIssueCode.custom, message: p });
  })).min(1, 'needs at least one address'),
  ipNATs: z.array(z.object({ internalIP: ipAddress, externalIP: ipAddress }).strict()).optional(),
  profiles: z.array(resourceName).optional(),
  ports: z.array(endpointPort).optional(),
}).strict().superRefine((s, ctx) => {
  // Applied to stored values too: an endpoint that claims addresses it was not given is
  // a policy address for them (issue 12).
  (s.ipNATs ?? []).forEach((nat, i) => {
    if (!isValidIp(nat.internalIP) || !isValidIp(nat.externalIP)) return;
    const fi = cidrFamily(nat.internalIP);
    const fe = cidrFamily(nat.externalIP);
    if (fi !== fe) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['ipNATs', i, 'externalIP'], message: `"${nat.externalIP}" is IPv${fe} but internalIP "${nat.internalIP}" is IPv${fi}: a NAT maps within one family` });
    }
    if (!s.ipNetworks.some((n) => isValidCidrOrIp(n) && cidrContains(n, nat.internalIP))) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['ipNATs', i, 'internalIP'], message: `"${nat.internalIP}" is not one of the endpoint's ipNetworks` });
    }
  });
});

export const hostEndpointSpec = z.object({
  node: z.string().min(1),
  /** "*": every interface of the host (Calico's all-interfaces host endpoint). */
  interfaceName: z.union([z.literal('*'), interfaceName]).optional(),
  expectedIPs: z.array(ipAddress).optional(),
  profiles: z.array(resourceName).optional(),
  ports: z.array(hostEndpointPort).optional(),
}).strict();

// ---- IPAM and nodes ------------------------------------------------------------

export const VXLAN_MODES = ['Never', 'Always', 'CrossSubnet'] as const;
export type VxlanMode = typeof VXLAN_MODES[number];

export const ipPoolSpec = z.object({
  cidr: cidr.superRefine((c, ctx) => {
    for (const message of poolCidrProblems(c)) ctx.addIssue({ code: z.ZodIssueCode.custom, message });
  }),
  /** 0 means the default, as in Calico. */
  blockSize: z.number().int().min(0).max(128).transform((b) => (b === 0 ? undefined : b)).optional(),
  natOutgoing: z.boolean().optional(),
  disabled: z.boolean().optional(),
  nodeSelector: selector.optional(),
  // The kernels Trellis runs on ship no ipip module, so IP-in-IP cannot be offered; VXLAN covers the same need.
  ipipMode: z.enum(['Never'], { errorMap: () => ({ message: 'must be "Never": Trellis has no IP-in-IP (the kernel has no ipip module); use vxlanMode: Always or CrossSubnet to encapsulate' }) }).optional(),
  /** Never: routed natively (BGP); Always: over VXLAN to every other host; CrossSubnet: over VXLAN only to hosts on another subnet. */
  vxlanMode: z.enum(VXLAN_MODES, { errorMap: () => ({ message: `must be one of ${VXLAN_MODES.join(', ')}` }) }).optional(),
}).strict();


const asNumber = z.union([
  z.number().int().min(1).max(4294967295),
  z.string().regex(/^(\d+|\d+\.\d+)$/, 'must be an AS number (e.g. 64512 or asdot 1.10)'),
]);

const familyCidr = (family: 4 | 6, other: string) => cidr.superRefine((c, ctx) => {
  if (isValidCidrOrIp(c) && cidrFamily(c) !== family) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `"${c}" is IPv${cidrFamily(c)}: this field takes an IPv${family} address (put it in ${other})` });
});
const ipv4Address = ipAddress.superRefine((a, ctx) => {
  if (isValidIp(a) && cidrFamily(a) !== 4) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `"${a}" is not an IPv4 address` });
});

const macAddress = z.string().regex(/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/, 'must be a MAC address like 66:0a:1b:2c:3d:4e');

export const nodeSpec = z.object({
  /** This host's VTEP address, from a VXLAN pool (written by the host's trellisd). */
  ipv4VXLANTunnelAddr: ipv4Address.optional(),
  /** This host's VTEP MAC (written by the host's trellisd). */
  vxlanTunnelMACAddr: macAddress.optional(),
  bgp: z.object({
    ipv4Address: familyCidr(4, 'ipv6Address').optional(),
    ipv6Address: familyCidr(6, 'ipv4Address').optional(),
    asNumber: asNumber.optional(),
    routeReflectorClusterID: ipv4Address.optional(),
  }).strict().superRefine((b, ctx) => {
    if (Object.values(b).every((v) => v === undefined)) ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'is empty: give ipv4Address, ipv6Address or asNumber, or leave bgp out' });
  }).optional(),
}).strict();

/** RFC 8212: eBGP sessions import and export nothing unless a policy says so. */
export const EBGP_IMPORT = ['Reject', 'Accept'] as const;
export const EBGP_EXPORT = ['Reject', 'LocalBlocks', 'All'] as const;

export const LOG_SEVERITIES = ['Trace', 'Debug', 'Info', 'Warning', 'Error', 'Fatal'] as const;
export type LogSeverity = typeof LOG_SEVERITIES[number];

/** Null when v is a BGP community value: standard "aa:nn" (16-bit each) or large
 *  "aa:nn:mm" (32-bit each). */
export function communityProblem(v: string): string | null {
  const parts = /^(\d+):(\d+)(?::(\d+))?$/.exec(v);
  if (!parts) return `${JSON.stringify(v)} is not a community: a standard one is aa:nn, a large one aa:nn:mm`;
  const large = parts[3] !== undefined;
  const max = large ? 4294967295 : 65535;
  if (parts.slice(1).some((x) => x !== undefined && Number(x) > max)) {
    return large ? `${JSON.stringify(v)} is out of range: each part of a large community is 0-4294967295` : `${JSON.stringify(v)} is out of range: each part of a standard community is 0-65535`;
  }
  return null;
}

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
  /** BGPFilter names, applied in this order (first matching rule wins). */
  filters: z.array(resourceName).optional(),
}).strict();

// ---- BGP filters ---------------------------------------------------------------

const communityValue = z.string().superRefine((v, ctx) => {
  const p = communityProblem(v);
  if (p) ctx.addIssue({ code: z.ZodIssueCode.custom, message: p });
});
const BGP_IFACE_RE = /^[a-zA-Z0-9_.*-]{1,15}$/;
export const BGP_FILTER_OPERATORS = ['Equal', 'NotEqual', 'In', 'NotIn'] as const;

function bgpFilterRule(family: 4 | 6) {
  const len = z.number().int().min(0).max(family === 4 ? 32 : 128);
  return z.object({
    cidr: z.string().superRefine((c, ctx) => {
      if (!isValidCidrOrIp(c) || cidrFamily(c) !== family) { ctx.addIssue({ code: z.ZodIssueCode.custom, message: `"${c}" is not an IPv${family} CIDR` }); return; }
      const p = hostBitsProblem(c);
      if (p) ctx.addIssue({ code: z.ZodIssueCode.custom, message: p });
    }).optional(),
    prefixLength: z.object({ min: len.optional(), max: len.optional() }).strict().optional(),
    source: z.literal('RemotePeers').optional(),
    interface: z.string().refine((s) => BGP_IFACE_RE.test(s), (s) => ({ message: `"${s}" is not an interface name or pattern: 1-15 letters, digits, "_", ".", "-" and "*"` })).optional(),
    matchOperator: z.enum(BGP_FILTER_OPERATORS).optional(),
    peerType: z.enum(['eBGP', 'iBGP']).optional(),
    communities: z.object({ values: z.array(communityValue).length(1, 'must hold exactly one community') }).strict().optional(),
    asPathPrefix: z.array(asNumber).optional(),
    action: z.enum(['Accept', 'Reject']),
  }).strict().superRefine((r, ctx) => {
    if ((r.cidr !== undefined && r.cidr !== '') !== (r.matchOperator !== undefined)) ctx.addIssue({ code: z.ZodIssueCode.custom, path: [r.cidr ? 'matchOperator' : 'cidr'], message: 'cidr and matchOperator go together: set both or neither' });
    if (r.prefixLength !== undefined && !r.cidr) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['prefixLength'], message: 'needs cidr' });
  });
}

/** Calico's BGPFilter: per direction and family, rules tried in order; the first that matches decides. */
export const bgpFilterSpec = z.object({
  exportV4: z.array(bgpFilterRule(4)).optional(),
  importV4: z.array(bgpFilterRule(4)).optional(),
  exportV6: z.array(bgpFilterRule(6)).optional(),
  importV6: z.array(bgpFilterRule(6)).optional(),
}).strict();

export const bgpConfigurationSpec = z.object({
  asNumber: asNumber.optional(),
  nodeToNodeMeshEnabled: z.boolean().optional(),
  listenPort: z.number().int().min(1).max(65535).optional(),
  logSeverityScreen: z.string().transform((l, ctx): LogSeverity | undefined => {
    // Calico reads the level in any case ("info", "INFO"); it is kept in Calico's spelling.
    if (l === '') return undefined;
    const level = LOG_SEVERITIES.find((s) => s.toLowerCase() === l.toLowerCase());
    if (level) return level;
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `${JSON.stringify(l)} is not one of ${LOG_SEVERITIES.join(', ')} (in any case)` });
    return z.NEVER;
  }).optional(),
  communities: z.array(z.object({
    name: resourceName,
    value: z.string().superRefine((v, ctx) => {
      const p = communityProblem(v);
      if (p) ctx.addIssue({ code: z.ZodIssueCode.custom, message: p });
    }),
  }).strict()).optional(),
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
  annotations: z.lazy(() => annotations).optional(),
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

// ---- network sets --------------------------------------------------------------

const RESERVED_SET_LABEL = 'projectcalico.org/namespace';
/** Calico sets a NetworkSet's namespace label itself: a user's would be a lie. */
const setMetadata = <M extends z.ZodTypeAny>(m: M) => m.superRefine((md: { labels?: Record<string, string> }, ctx) => {
  if (md.labels && Object.hasOwn(md.labels, RESERVED_SET_LABEL)) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['labels', RESERVED_SET_LABEL], message: `label key "${RESERVED_SET_LABEL}" is reserved: Calico sets it from the namespace` });
  }
});
const networkSetSpec = z.object({ nets: z.array(cidr).optional() }).strict();

// ---- tiers ---------------------------------------------------------------------

const TIER_ACTIONS = ['Deny', 'Pass'] as const;
/** Calico's Tier: tiers are evaluated in `order` (absent: last), each ending in its defaultAction. */
export const tierSpec = z.object({
  order: z.number().finite().optional(),
  defaultAction: z.enum(TIER_ACTIONS, { errorMap: (_i, c) => ({ message: `${JSON.stringify(c.data)} is not one of Deny, Pass` }) }).default('Deny'),
}).strict();

/** Addresses IPAM never hands out (Calico's IPReservation). */
const ipReservationSpec = z.object({ reservedCIDRs: z.array(cidr).optional() }).strict();

export const schemas = {
  NetworkPolicy: kind('NetworkPolicy', namespacedMetadata, networkPolicySpec),
  GlobalNetworkPolicy: kind('GlobalNetworkPolicy', clusterMetadata, globalNetworkPolicySpec),
  StagedNetworkPolicy: kind('StagedNetworkPolicy', namespacedMetadata, stagedNetworkPolicySpec),
  StagedGlobalNetworkPolicy: kind('StagedGlobalNetworkPolicy', clusterMetadata, stagedGlobalNetworkPolicySpec),
  Profile: kind('Profile', clusterMetadata, profileSpec),
  Namespace: kind('Namespace', clusterMetadata, z.object({}).strict().optional().default({})),
  WorkloadEndpoint: kind('WorkloadEndpoint', namespacedMetadata, workloadEndpointSpec),
  HostEndpoint: kind('HostEndpoint', clusterMetadata, hostEndpointSpec),
  IPPool: kind('IPPool', clusterMetadata, ipPoolSpec),
  Node: kind('Node', clusterMetadata, nodeSpec.optional().default({})),
  BGPPeer: kind('BGPPeer', clusterMetadata, bgpPeerSpec),
  BGPConfiguration: kind('BGPConfiguration', clusterMetadata, bgpConfigurationSpec),
  BGPFilter: kind('BGPFilter', clusterMetadata, bgpFilterSpec),
  GlobalNetworkSet: kind('GlobalNetworkSet', setMetadata(clusterMetadata), networkSetSpec),
  NetworkSet: kind('NetworkSet', setMetadata(namespacedMetadata), networkSetSpec),
  IPReservation: kind('IPReservation', clusterMetadata, ipReservationSpec),
  Tier: kind('Tier', clusterMetadata, tierSpec),
} as const;

export type Kind = keyof typeof schemas;
export const KINDS = Object.keys(schemas) as Kind[];
/** Kinds whose resources live in a namespace (default namespace: "default"). */
export const NAMESPACED_KINDS: ReadonlySet<Kind> = new Set(['NetworkPolicy', 'StagedNetworkPolicy', 'WorkloadEndpoint', 'NetworkSet']);

export type NetworkPolicy = z.infer<typeof schemas.NetworkPolicy>;
export type GlobalNetworkPolicy = z.infer<typeof schemas.GlobalNetworkPolicy>;
export type StagedNetworkPolicy = z.infer<typeof schemas.StagedNetworkPolicy>;
export type StagedGlobalNetworkPolicy = z.infer<typeof schemas.StagedGlobalNetworkPolicy>;
export type Profile = z.infer<typeof schemas.Profile>;
export type Namespace = z.infer<typeof schemas.Namespace>;
export type WorkloadEndpoint = z.infer<typeof schemas.WorkloadEndpoint>;
export type HostEndpoint = z.infer<typeof schemas.HostEndpoint>;
export type IPPool = z.infer<typeof schemas.IPPool>;
export type Node = z.infer<typeof schemas.Node>;
export type BGPPeer = z.infer<typeof schemas.BGPPeer>;
export type BGPConfiguration = z.infer<typeof schemas.BGPConfiguration>;
export type BGPFilter = z.infer<typeof schemas.BGPFilter>;
export type BGPFilterRule = NonNullable<BGPFilter['spec']['importV4']>[number] | NonNullable<BGPFilter['spec']['importV6']>[number];
export type GlobalNetworkSet = z.infer<typeof schemas.GlobalNetworkSet>;
export type NetworkSet = z.infer<typeof schemas.NetworkSet>;
export type IPReservation = z.infer<typeof schemas.IPReservation>;
export type Tier = z.infer<typeof schemas.Tier>;

export interface ResourceByKind {
  NetworkPolicy: NetworkPolicy;
  GlobalNetworkPolicy: GlobalNetworkPolicy;
  StagedNetworkPolicy: StagedNetworkPolicy;
  StagedGlobalNetworkPolicy: StagedGlobalNetworkPolicy;
  Profile: Profile;
  Namespace: Namespace;
  WorkloadEndpoint: WorkloadEndpoint;
  HostEndpoint: HostEndpoint;
  IPPool: IPPool;
  Node: Node;
  BGPPeer: BGPPeer;
  BGPConfiguration: BGPConfiguration;
  BGPFilter: BGPFilter;
  GlobalNetworkSet: GlobalNetworkSet;
  NetworkSet: NetworkSet;
  IPReservation: IPReservation;
  Tier: Tier;
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
