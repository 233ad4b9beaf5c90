// The plugin's input: CNI_* environment variables and the network configuration on
// stdin, checked into one plan. Every refusal names the field or variable at fault.
import { hostname } from 'node:os';
import { z } from 'zod';
import { LOG_LEVELS } from '../log/index.js';
import { isValidIp, labels as labelsSchema, resourceName } from '../model/index.js';
import { CNI_ERR, CniError, SUPPORTED_VERSIONS, isSupported, type CniVersion } from './spec.js';

export type CniCommand = 'ADD' | 'DEL' | 'CHECK' | 'VERSION' | 'GC' | 'STATUS';

export interface CniEnv {
  command: CniCommand;
  containerID: string;
  netns: string;
  ifname: string;
  args: Map<string, string>;
}

const IFNAME_RE = /^[^\s/:]{1,15}$/;
const CONTAINER_ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

export function parseEnv(env: NodeJS.ProcessEnv): CniEnv {
  const command = env.CNI_COMMAND;
  if (command !== 'ADD' && command !== 'DEL' && command !== 'CHECK' && command !== 'VERSION' && command !== 'GC' && command !== 'STATUS') {
    throw new CniError(CNI_ERR.INVALID_ENV, `CNI_COMMAND must be ADD, DEL, CHECK, GC, STATUS or VERSION (got ${JSON.stringify(command ?? '')})`);
  }
  const args = new Map<string, string>();
  for (const part of (env.CNI_ARGS ?? '').split(';')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    if (eq <= 0) throw new CniError(CNI_ERR.INVALID_ENV, `CNI_ARGS: "${part}" is not KEY=VALUE`);
    args.set(part.slice(0, eq), part.slice(eq + 1));
  }
  const out: CniEnv = { command, containerID: env.CNI_CONTAINERID ?? '', netns: env.CNI_NETNS ?? '', ifname: env.CNI_IFNAME ?? '', args };
  // VERSION, GC and STATUS concern the network, not one container.
  if (command === 'VERSION' || command === 'GC' || command === 'STATUS') return out;
  if (!CONTAINER_ID_RE.test(out.containerID) || out.containerID.length > 200) {
    throw new CniError(CNI_ERR.INVALID_ENV, `CNI_CONTAINERID must be letters, digits, "_", "." and "-" (got ${JSON.stringify(out.containerID)})`);
  }
  if (!IFNAME_RE.test(out.ifname)) {
    throw new CniError(CNI_ERR.INVALID_ENV, `CNI_IFNAME must be an interface name of 1-15 characters (got ${JSON.stringify(out.ifname)})`);
  }
  if (command !== 'DEL' && !out.netns) throw new CniError(CNI_ERR.INVALID_ENV, `CNI_NETNS is required for ${command}`);
  return out;
}

const portMapping = z.object({
  hostPort: z.number().int().min(1).max(65535),
  containerPort: z.number().int().min(1).max(65535),
  protocol: z.string().optional(),
  hostIP: z.string().optional(),
}).passthrough();
export type PortMapping = z.infer<typeof portMapping>;

export const netConfSchema = z.object({
  cniVersion: z.string({ required_error: 'is required' }),
  name: z.string({ required_error: 'is required' }).min(1),
  type: z.string({ required_error: 'is required' }),
  etcdEndpoints: z.union([z.array(z.string()), z.string()]).optional(),
  etcdPrefix: z.string().regex(/^\/([^\s]*\/)?$/, 'must start and end with "/", e.g. /trellis/v1/').optional(),
  etcdCaFile: z.string().optional(),
  etcdCertFile: z.string().optional(),
  etcdKeyFile: z.string().optional(),
  nodeName: z.string().min(1).optional(),
  ipam: z.object({
    type: z.literal('trellis', { errorMap: () => ({ message: 'only "trellis" (the built-in block IPAM) is supported' }) }).optional(),
    pools: z.array(z.string()).optional(),
    // Calico's spelling: booleans, or the strings "true"/"false".
    assign_ipv4: z.union([z.boolean(), z.enum(['true', 'false'])]).optional(),
    assign_ipv6: z.union([z.boolean(), z.enum(['true', 'false'])]).optional(),
  }).passthrough().optional(),
  namespace: resourceName.optional(),
  labels: labelsSchema.optional(),
  profiles: z.array(resourceName).optional(),
  logLevel: z.enum(LOG_LEVELS).optional(),
  logFile: z.string().optional(),
  /** trellisd's CNI socket (default /run/trellis/cni.sock; "" never hands calls over). */
  agentSocket: z.string().refine((s) => s === '' || s.startsWith('/'), 'must be an absolute path, or "" for none').optional(),
  mtu: z.number().int().min(576).max(65535).optional(),
  runtimeConfig: z.object({
    portMappings: z.array(portMapping).optional(),
    ips: z.array(z.string()).optional(),
  }).passthrough().optional(),
  args: z.object({
    cni: z.object({
      ips: z.array(z.string()).optional(),
      labels: z.array(z.object({ key: z.string(), value: z.string() }).passthrough()).optional(),
    }).passthrough().optional(),
  }).passthrough().optional(),
  prevResult: z.unknown().optional(),
  /** GC (CNI 1.1): the attachments the runtime still knows; everything else of this network on this node goes. */
  'cni.dev/valid-attachments': z.array(z.object({ containerID: z.string(), ifname: z.string() }).passthrough()).optional(),
}).passthrough();
export type NetConf = z.infer<typeof netConfSchema>;

/** Decodes stdin; a bad document is code 6, a bad field code 7 (version: code 1). */
export function parseNetConf(stdin: string): NetConf {
  let json: unknown;
  try { json = JSON.parse(stdin); } catch (e) {
    throw new CniError(CNI_ERR.DECODE_FAILURE, `network configuration on stdin is not JSON: ${(e as Error).message}`);
  }
  const r = netConfSchema.safeParse(json);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new CniError(CNI_ERR.INVALID_NETWORK_CONFIG, `network configuration field "${i.path.join('.') || '(root)'}": ${i.message}`);
  }
  if (!isSupported(r.data.cniVersion)) {
    throw new CniError(CNI_ERR.INCOMPATIBLE_VERSION, `cniVersion "${r.data.cniVersion}" is not supported (supported: ${SUPPORTED_VERSIONS.join(', ')})`);
  }
  return r.data;
}

export interface StoreSettings {
  endpoints: string[];
  prefix: string;
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
}

export interface Plan {
  version: CniVersion;
  network: string;
  store: StoreSettings;
  nodeName: string;
  namespace: string;
  workload: string;
  labels: Record<string, string>;
  profiles: string[];
  pools: string[] | undefined;
  /** Which families get an address (IPv4 by default; IPv6 with ipam.assign_ipv6). */
  families: Array<4 | 6>;
  requestedIPv4: string | undefined;
  portMappings: PortMapping[];
  mtu: number | undefined;
}

function bad(field: string, message: string): never {
  throw new CniError(CNI_ERR.INVALID_NETWORK_CONFIG, `network configuration field "${field}": ${message}`);
}

/** The settings every command needs, from the configuration and the environment. */
export function storeSettings(conf: NetConf, env: NodeJS.ProcessEnv): StoreSettings {
  const raw = conf.etcdEndpoints ?? env.TRELLIS_ETCD_ENDPOINTS ?? '';
  const endpoints = (Array.isArray(raw) ? raw : raw.split(',')).map((s) => s.trim()).filter(Boolean);
  if (endpoints.length === 0) bad('etcdEndpoints', 'no etcd endpoints (set it, or TRELLIS_ETCD_ENDPOINTS)');
  for (const e of endpoints) if (!/^https?:\/\/[^/\s]+\/?$/.test(e)) bad('etcdEndpoints', `"${e}" must look like http://host:port`);
  const caFile = conf.etcdCaFile ?? env.TRELLIS_ETCD_CA_FILE;
  const certFile = conf.etcdCertFile ?? env.TRELLIS_ETCD_CERT_FILE;
  const keyFile = conf.etcdKeyFile ?? env.TRELLIS_ETCD_KEY_FILE;
  const tls = caFile || certFile || keyFile ? { ...(caFile ? { caFile } : {}), ...(certFile ? { certFile } : {}), ...(keyFile ? { keyFile } : {}) } : undefined;
  return { endpoints, prefix: conf.etcdPrefix ?? env.TRELLIS_STORE_PREFIX ?? '/trellis/v1/', ...(tls ? { tls } : {}) };
}

export function nodeNameOf(conf: NetConf, env: NodeJS.ProcessEnv): string {
  return conf.nodeName ?? env.TRELLIS_NODE_NAME ?? hostname();
}

/**
 * The namespace: the network's own `namespace` wins (an administrator's network cannot be
 * left by naming a container), then K8S_POD_NAMESPACE, then podman's container name
 * "<namespace>.<name>" (podman passes the name as K8S_POD_NAME), then "default".
 */
function namespaceOf(conf: NetConf, env: CniEnv): { namespace: string; workload: string } {
  const podName = env.args.get('K8S_POD_NAME');
  const dot = podName?.indexOf('.') ?? -1;
  const fromName = podName && dot > 0 && !env.args.has('K8S_POD_NAMESPACE') ? podName.slice(0, dot) : undefined;
  const workload = podName ? (fromName ? podName.slice(dot + 1) : podName) : env.containerID.slice(0, 12);
  if (conf.namespace) return { namespace: conf.namespace, workload };
  const ns = env.args.get('K8S_POD_NAMESPACE') ?? fromName?.toLowerCase() ?? 'default';
  const check = resourceName.safeParse(ns);
  if (!check.success) {
    throw new CniError(CNI_ERR.INVALID_ENV, `namespace "${ns}" from CNI_ARGS is not a valid name: ${check.error.issues[0]?.message ?? ''}`);
  }
  return { namespace: ns, workload };
}

function requestedIPv4(conf: NetConf, env: CniEnv): string | undefined {
  const sources: Array<[string, string[]]> = [
    ['runtimeConfig.ips', conf.runtimeConfig?.ips ?? []],
    ['args.cni.ips', conf.args?.cni?.ips ?? []],
    ['CNI_ARGS IP', env.args.get('IP')?.split(',').filter(Boolean) ?? []],
  ];
  const found: string[] = [];
  for (const [where, ips] of sources) {
    for (const raw of ips) {
      const ip = raw.split('/')[0]!;
      if (!isValidIp(ip)) bad(where, `"${raw}" is not an IP address`);
      if (ip.includes(':')) bad(where, `"${raw}": trellis-cni assigns IPv4 only`);
      if (!found.includes(ip)) found.push(ip);
    }
  }
  if (found.length > 1) bad('runtimeConfig.ips', `one IPv4 address per interface, got ${found.join(', ')}`);
  return found[0];
}

function labelsOf(conf: NetConf, env: CniEnv): Record<string, string> {
  const out: Record<string, string> = { ...(conf.labels ?? {}) };
  for (const l of conf.args?.cni?.labels ?? []) out[l.key] = l.value;
  const fromArgs = env.args.get('TRELLIS_LABELS');
  if (fromArgs) {
    for (const kv of fromArgs.split(',')) {
      const eq = kv.indexOf('=');
      if (eq <= 0) throw new CniError(CNI_ERR.INVALID_ENV, `CNI_ARGS TRELLIS_LABELS: "${kv}" is not key=value`);
      out[kv.slice(0, eq)] = kv.slice(eq + 1);
    }
  }
  const check = labelsSchema.safeParse(out);
  if (!check.success) {
    const i = check.error.issues[0]!;
    bad(`labels.${i.path.join('.')}`, i.message);
  }
  return out;
}

function familiesOf(conf: NetConf): Array<4 | 6> {
  const on = (v: boolean | string | undefined, dflt: boolean) => (v === undefined ? dflt : v === true || v === 'true');
  const out: Array<4 | 6> = [];
  if (on(conf.ipam?.assign_ipv4, true)) out.push(4);
  if (on(conf.ipam?.assign_ipv6, false)) out.push(6);
  if (out.length === 0) bad('ipam.assign_ipv4', 'with assign_ipv6 off too, the container would get no address');
  return out;
}

export function planAdd(conf: NetConf, env: CniEnv, processEnv: NodeJS.ProcessEnv): Plan {
  const { namespace, workload } = namespaceOf(conf, env);
  const portMappings = conf.runtimeConfig?.portMappings ?? [];
  for (const [i, p] of portMappings.entries()) {
    const proto = (p.protocol ?? 'tcp').toLowerCase();
    if (!['tcp', 'udp', 'sctp'].includes(proto)) bad(`runtimeConfig.portMappings.${i}.protocol`, `"${p.protocol}" is not tcp, udp or sctp`);
    if (p.hostIP && !isValidIp(p.hostIP)) bad(`runtimeConfig.portMappings.${i}.hostIP`, `"${p.hostIP}" is not an IP address`);
  }
  return {
    version: conf.cniVersion as CniVersion,
    network: conf.name,
    store: storeSettings(conf, processEnv),
    nodeName: nodeNameOf(conf, processEnv),
    namespace,
    workload,
    labels: labelsOf(conf, env),
    profiles: conf.profiles ?? [namespace],
    pools: conf.ipam?.pools,
    families: familiesOf(conf),
    requestedIPv4: requestedIPv4(conf, env),
    portMappings,
    mtu: conf.mtu,
  };
}
