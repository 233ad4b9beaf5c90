// Docker's remote plugin protocol (libnetwork NetworkDriver and IpamDriver) as Engine 20.10
// speaks it: every call a POST of JSON to /<Interface>.<Method>. The request shapes here
// are the fields Trellis reads; everything else Docker sends is ignored.
import { z } from 'zod';
import { TrellisError } from '../model/index.js';

export const PLUGIN_CONTENT_TYPE = 'application/vnd.docker.plugins.v1+json';

/** Docker's own option keys. */
export const OPT_GENERIC = 'com.docker.network.generic';
export const OPT_PORTMAP = 'com.docker.network.portmap';
export const OPT_REQUEST_TYPE = 'RequestAddressType';
export const GATEWAY_REQUEST = 'com.docker.network.gateway';

/** The options `docker network create -o KEY=VALUE` may carry for Trellis. */
export const OPT_NAMESPACE = 'trellis.namespace';
export const OPT_PROFILES = 'trellis.profiles';
export const KNOWN_OPTIONS = [OPT_NAMESPACE, OPT_PROFILES] as const;

const options = z.record(z.unknown()).nullish().transform((o) => o ?? {});

export const requestPool = z.object({
  AddressSpace: z.string().optional(),
  Pool: z.string().optional().default(''),
  SubPool: z.string().optional(),
  Options: options,
  V6: z.boolean().optional().default(false),
});

export const releasePool = z.object({ PoolID: z.string() });

export const requestAddress = z.object({
  PoolID: z.string(),
  Address: z.string().optional().default(''),
  Options: options,
});

export const releaseAddress = z.object({ PoolID: z.string(), Address: z.string() });

const ipData = z.array(z.object({ AddressSpace: z.string().optional(), Pool: z.string(), Gateway: z.string().optional() })).nullish();

export const createNetwork = z.object({
  NetworkID: z.string().min(1),
  Options: options,
  IPv4Data: ipData,
  IPv6Data: ipData,
});

export const deleteNetwork = z.object({ NetworkID: z.string().min(1) });

const portBinding = z.object({
  Proto: z.number().int(),
  Port: z.number().int(),
  HostIP: z.string().optional().default(''),
  HostPort: z.number().int(),
  HostPortEnd: z.number().int().optional(),
}).passthrough();
export type PortBinding = z.infer<typeof portBinding>;

export const createEndpoint = z.object({
  NetworkID: z.string().min(1),
  EndpointID: z.string().min(1),
  Interface: z.object({
    Address: z.string().optional().default(''),
    AddressIPv6: z.string().optional().default(''),
    MacAddress: z.string().optional().default(''),
  }).nullish().transform((i) => i ?? { Address: '', AddressIPv6: '', MacAddress: '' }),
  Options: options,
});

export const endpointRef = z.object({ NetworkID: z.string().min(1), EndpointID: z.string().min(1) });

export const join = z.object({
  NetworkID: z.string().min(1),
  EndpointID: z.string().min(1),
  SandboxKey: z.string().min(1),
  Options: options,
});

/** Docker's port maps from CreateEndpoint's options: proto 6 is TCP, 17 UDP, 132 SCTP. */
export function portBindings(opts: Record<string, unknown>): PortBinding[] {
  const raw = opts[OPT_PORTMAP];
  if (raw === undefined || raw === null) return [];
  const r = z.array(portBinding).safeParse(raw);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  throw new DockerPluginError('INVALID_REQUEST', `CreateEndpoint: field "Options.${OPT_PORTMAP}.${issue.path.join('.')}" ${issue.message}`);
}

export const protoName = (p: number): 'tcp' | 'udp' | 'sctp' => (p === 17 ? 'udp' : p === 132 ? 'sctp' : 'tcp');

/**
 * A refusal Docker shows the user. The IPAM side must be answered with HTTP 500: Engine
 * 20.10 ignores an IPAM `Err` sent with 200 and says only "No address returned".
 */
export class DockerPluginError extends TrellisError<'INVALID_REQUEST' | 'UNKNOWN_NETWORK' | 'IPAM' | 'INTERNAL'> {}

/** The first problem of a request that does not parse, as a sentence naming the field. */
export function parseRequest<T>(schema: z.ZodType<T, z.ZodTypeDef, unknown>, method: string, body: unknown): T {
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  throw new DockerPluginError('INVALID_REQUEST', `${method}: field "${issue.path.join('.') || '(body)'}" ${issue.message}`);
}
