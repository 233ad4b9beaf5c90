// trellisd settings: one table row per field with its schema, env var and default, so
// the loader, the docs and the errors all agree. Env var: TRELLIS_ + the field name in
// upper snake case (etcdCaFile -> TRELLIS_ETCD_CA_FILE).
import { hostname } from 'node:os';
import { z } from 'zod';
import { LOG_LEVELS, type LogLevel } from '../log/index.js';
import { RESOURCE_NAME_RE } from '../model/index.js';

const ENDPOINT_RE = /^https?:\/\/[^/\s]+\/?$/;
const LISTEN_RE = /^(\[[0-9a-fA-F:.]+\]|[^:\s[\]]+):(\d{1,5})$/;

const path = z.string().min(1, 'must not be empty').refine((s) => s.startsWith('/'), 'must be an absolute path');
const port = z.number({ invalid_type_error: 'must be a port number' }).int('must be a whole number').min(1, 'must be 1-65535').max(65535, 'must be 1-65535');

export interface DaemonConfig {
  nodeName: string;
  /** Empty: run the embedded single-member etcd. */
  etcdEndpoints: string[];
  etcdCaFile?: string;
  etcdCertFile?: string;
  etcdKeyFile?: string;
  etcdUsername?: string;
  etcdPassword?: string;
  embeddedEtcdDir: string;
  embeddedEtcdClientPort: number;
  embeddedEtcdPeerPort: number;
  apiListen: string;
  apiTokenFile?: string;
  logLevel: LogLevel;
  resyncIntervalSeconds: number;
  storePrefix: string;
  /** Unix socket on which trellisd runs trellis-cni's calls; "" turns it off. */
  cniSocket: string;
  /** Traffic to the host no host endpoint policy can close (Calico's FailsafeInboundHostPorts). */
  failsafeInboundHostPorts: FailsafePortSetting[];
  /** Traffic from the host no host endpoint policy can close (FailsafeOutboundHostPorts). */
  failsafeOutboundHostPorts: FailsafePortSetting[];
  /** A local workload's traffic to the host after its egress policy (Calico's DefaultEndpointToHostAction). */
  defaultEndpointToHostAction: 'Drop' | 'Return' | 'Accept';
  /** Where BGPPeer password.secretKeyRef keys are read: DIR/NAME/KEY. */
  bgpSecretsDir: string;
  /** Unix socket on which trellisd serves Docker's NetworkDriver and IpamDriver; "" (the default) turns it off. */
  dockerSocket: string;
  /** Docker's API socket, read for container names and labels; "" leaves endpoints with only the network's labels. */
  dockerApiSocket: string;
  /** VXLAN network identifier of the VXLAN device (Calico's FelixConfiguration vxlanVNI). */
  vxlanVni: number;
  /** UDP port of the VXLAN device (vxlanPort). */
  vxlanPort: number;
  /** MTU of the VXLAN device; 0: the underlying interface's MTU less 50 (Calico's vxlanMTU). */
  vxlanMtu: number;
  /** Run the BGP speaker; false: no BGP at all (as calico-node's CALICO_NETWORKING_BACKEND=vxlan); pools with a vxlanMode route between hosts. */
  bgpEnabled: boolean;
}

/** One failsafe: protocol, port and optionally the remote network (source inbound, destination outbound). */
export interface FailsafePortSetting { protocol: 'tcp' | 'udp'; port: number; net?: string }

const CIDR_RE = /^(\d{1,3}(\.\d{1,3}){3}\/\d{1,2}|[0-9a-fA-F:]+\/\d{1,3})$/;
/**
 * "protocol:port" or "protocol:port:net" (tcp:22, udp:53:10.0.0.0/8, tcp:179:fd00::/8); also
 * Calico's object form {protocol, port, net} in the file.
 */
const failsafePort = z.union([
  z.string().transform((s, ctx) => {
    const m = /^(tcp|udp):(\d{1,5})(?::(.+))?$/i.exec(s.trim());
    if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535 || (m[3] !== undefined && !CIDR_RE.test(m[3]))) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `"${s}" is not protocol:port[:net] (tcp or udp, a port 1-65535, a CIDR such as 10.0.0.0/8)` });
      return z.NEVER;
    }
    const out: FailsafePortSetting = { protocol: m[1]!.toLowerCase() as 'tcp' | 'udp', port: Number(m[2]) };
    if (m[3] !== undefined) out.net = m[3];
    return out;
  }),
  z.object({ protocol: z.enum(['tcp', 'udp', 'TCP', 'UDP']).transform((p) => p.toLowerCase() as 'tcp' | 'udp'), port, net: z.string().regex(CIDR_RE, 'must be a CIDR such as 10.0.0.0/8').optional() }).strict()
    .transform((o) => { const out: FailsafePortSetting = { protocol: o.protocol, port: o.port }; if (o.net !== undefined) out.net = o.net; return out; }),
]);

export type FieldName = keyof DaemonConfig;

export interface FieldSpec {
  schema: z.ZodTypeAny;
  /** Turns the env var's text into the value the schema checks. */
  fromEnv(text: string): unknown;
  default?: () => unknown;
  doc: string;
}

const text = (s: string) => s;
const num = (s: string): unknown => (/^-?\d+(\.\d+)?$/.test(s.trim()) ? Number(s) : s);
const list = (s: string) => s.split(',').map((x) => x.trim()).filter((x) => x !== '');
const bool = (s: string): unknown => (s.trim() === 'true' ? true : s.trim() === 'false' ? false : s);

export const FIELDS: { [K in FieldName]: FieldSpec } = {
  nodeName: {
    schema: z.string().regex(RESOURCE_NAME_RE, 'must be lower-case letters, digits, "-" and ".", as a Node resource name').max(253),
    fromEnv: text, default: () => hostname().toLowerCase(), doc: 'this host\'s Node name',
  },
  etcdEndpoints: {
    schema: z.array(z.string().regex(ENDPOINT_RE, 'each endpoint must look like http://host:port or https://host:port')),
    fromEnv: list, default: () => [], doc: 'etcd client URLs (env: comma-separated); empty runs an embedded etcd',
  },
  etcdCaFile: { schema: path, fromEnv: text, doc: 'CA bundle that signed the etcd server certificates' },
  etcdCertFile: { schema: path, fromEnv: text, doc: 'client certificate for etcd (with etcdKeyFile)' },
  etcdKeyFile: { schema: path, fromEnv: text, doc: 'client key for etcd (with etcdCertFile)' },
  etcdUsername: { schema: z.string().min(1, 'must not be empty'), fromEnv: text, doc: 'etcd user (with etcdPassword)' },
  etcdPassword: { schema: z.string(), fromEnv: text, doc: 'etcd password' },
  embeddedEtcdDir: { schema: path, fromEnv: text, default: () => '/var/lib/trellis/etcd', doc: 'data directory of the embedded etcd' },
  embeddedEtcdClientPort: { schema: port, fromEnv: num, default: () => 2379, doc: 'loopback client port of the embedded etcd' },
  embeddedEtcdPeerPort: { schema: port, fromEnv: num, default: () => 2380, doc: 'loopback peer port of the embedded etcd' },
  apiListen: {
    schema: z.string().refine((s) => { const m = LISTEN_RE.exec(s); return !!m && Number(m[2]) >= 1 && Number(m[2]) <= 65535; }, 'must be host:port, e.g. 127.0.0.1:9099 or [::1]:9099'),
    fromEnv: text, default: () => '127.0.0.1:9099', doc: 'address of the HTTP API',
  },
  apiTokenFile: { schema: path, fromEnv: text, doc: 'file holding the bearer token the API requires for changes' },
  logLevel: {
    schema: z.enum(LOG_LEVELS, { errorMap: () => ({ message: `must be one of ${LOG_LEVELS.join(', ')}` }) }),
    fromEnv: text, default: () => 'info', doc: 'log level',
  },
  resyncIntervalSeconds: {
    schema: z.number({ invalid_type_error: 'must be a number of seconds' }).int('must be a whole number of seconds').min(0, 'must be 0 (off) or more').max(86400, 'must be at most 86400'),
    fromEnv: num, default: () => 60, doc: 'how often the dataplane is re-read and repaired (0: never)',
  },
  storePrefix: {
    schema: z.string().regex(/^\/([^\s]*\/)?$/, 'must start and end with "/", e.g. /trellis/v1/'),
    fromEnv: text, default: () => '/trellis/v1/', doc: 'etcd key prefix of every Trellis key',
  },
  cniSocket: {
    schema: z.string().refine((s) => s === '' || s.startsWith('/'), 'must be an absolute path, or "" to turn it off'),
    // trellis-cni looks here unless its network configuration names another agentSocket.
    fromEnv: text, default: () => '/run/trellis/cni.sock', doc: 'unix socket on which trellisd runs trellis-cni\'s calls with its warm etcd connection ("" off)',
  },
  failsafeInboundHostPorts: {
    schema: z.array(failsafePort),
    fromEnv: list,
  default: () => ['tcp:22', 'udp:68', 'tcp:179', 'tcp:2379', 'tcp:2380'],
    doc: 'failsafe ports into the host, protocol:port[:source net] (env: comma-separated); the API port is added when it listens off loopback',
  },
  failsafeOutboundHostPorts: {
    schema: z.array(failsafePort),
    fromEnv: list,
  default: () => ['udp:53', 'udp:67', 'tcp:179', 'tcp:2379', 'tcp:2380'],
    doc: 'failsafe ports out of the host, protocol:port[:destination net] (env: comma-separated)',
  },
  defaultEndpointToHostAction: {
    schema: z.enum(['Drop', 'Return', 'Accept'], { errorMap: () => ({ message: 'must be Drop, Return or Accept' }) }),
    fromEnv: text, default: () => 'Drop',
    doc: 'what a local workload\'s traffic to the host meets after its egress policy: Drop, Return (to the host\'s own INPUT rules) or Accept',
  },
  bgpSecretsDir: {
    schema: path, fromEnv: text, default: () => '/etc/trellis/secrets',
    doc: 'directory of BGPPeer TCP-MD5 keys: a secretKeyRef {name, key} is read from DIR/name/key (a mounted Secret\'s layout)',
  },
  dockerSocket: {
    schema: z.string().refine((s) => s === '' || (s.startsWith('/') && s.endsWith('.sock')), 'must be an absolute path ending in .sock (Docker finds /run/docker/plugins/NAME.sock), or "" to turn it off'),
    // Off unless asked for: a host without Docker has no use for it.
    fromEnv: text, default: () => '', doc: 'unix socket on which trellisd serves Docker\'s remote network and IPAM driver, e.g. /run/docker/plugins/trellis.sock ("" off)',
  },
  dockerApiSocket: {
    schema: z.string().refine((s) => s === '' || s.startsWith('/'), 'must be an absolute path, or "" to not read Docker\'s API'),
    fromEnv: text, default: () => '/run/docker.sock', doc: 'Docker\'s API socket, read for container names and labels ("" : endpoints carry only the network)',
  },
  vxlanVni: {
    schema: z.number({ invalid_type_error: 'must be a number' }).int('must be a whole number').min(1, 'must be 1-16777215').max(16777215, 'must be 1-16777215'),
    fromEnv: num, default: () => 4096, doc: 'VXLAN network identifier (every host of the cluster must agree)',
  },
  vxlanPort: { schema: port, fromEnv: num, default: () => 4789, doc: 'UDP port of VXLAN (every host of the cluster must agree)' },
  vxlanMtu: {
    schema: z.number({ invalid_type_error: 'must be a number' }).int('must be a whole number').refine((n) => n === 0 || (n >= 576 && n <= 65535), 'must be 0 (automatic) or 576-65535'),
    fromEnv: num, default: () => 0, doc: 'MTU of the VXLAN device (0: the underlying interface\'s less 50)',
  },
  bgpEnabled: {
    schema: z.boolean({ invalid_type_error: 'must be true or false' }),
    fromEnv: bool, default: () => true, doc: 'run the BGP speaker (false: no BGP at all; pools with a vxlanMode route between hosts)',
  },
};

export const FIELD_NAMES = Object.keys(FIELDS) as FieldName[];

export function envVarFor(field: FieldName): string {
  return `TRELLIS_${field.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}
