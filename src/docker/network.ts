// What a Docker network and its endpoints become in Trellis, as pure functions: the
// Profile per network (Docker's --icc world), endpoint labels from Docker's labels, -p as
// endpoint ports, the routes Join asks for.
import { createHash } from 'node:crypto';
import { API_VERSION, labels as labelsSchema, type Profile } from '../model/index.js';
import { endpointPorts, GATEWAY_V4 } from '../workload/index.js';
import { DockerPluginError, portBindings, protoName } from './protocol.js';

/** The label every endpoint of a Docker network carries (the network's name); its Profile admits exactly these. */
export const NETWORK_LABEL = 'trellis.dev/docker-network';
/** Also on every endpoint: the Docker container's name (what `docker run --name` gave). */
export const CONTAINER_LABEL = 'trellis.dev/docker-container';

/** A Profile name from a Docker network name (Docker allows "_" and capitals; resource names do not). */
export function networkProfileName(network: string): string {
  const s = network.toLowerCase().replace(/[^a-z0-9.-]+/g, '-').replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '');
  return `docker-net-${s || createHash('sha256').update(network).digest('hex').slice(0, 12)}`;
}

/** The container end's name while it waits in the host namespace for Docker to move it. */
export function peerName(endpointID: string): string {
  return `tmp${createHash('sha256').update(`${endpointID}.peer`).digest('hex').slice(0, 11)}`;
}

export function networkProfile(network: string): Profile {
  return {
    apiVersion: API_VERSION,
    kind: 'Profile',
    metadata: { name: networkProfileName(network) },
    spec: {
      ingress: [{ action: 'Allow', source: { selector: `${NETWORK_LABEL} == "${network}"` } }],
      egress: [{ action: 'Allow' }],
    },
  } as Profile;
}

/**
 * A container's Docker labels as endpoint labels. Docker allows any text (images bring
 * labels like `maintainer=Jane <j@x>`); those a selector could never name are left out
 * (listed in the log) rather than refusing the container.
 */
export function endpointLabels(docker: Record<string, string>): { labels: Record<string, string>; skipped: string[] } {
  const labels: Record<string, string> = {};
  const skipped: string[] = [];
  for (const [k, v] of Object.entries(docker)) {
    if (k.startsWith('trellis.dev/') || !labelsSchema.safeParse({ [k]: v }).success) skipped.push(k);
    else labels[k] = v;
  }
  return { labels, skipped };
}

/** Docker's `-p` maps as endpoint ports; a port range is one entry per port. */
export function dockerPorts(options: Record<string, unknown>) {
  return endpointPorts(portBindings(options).flatMap((b, i) => {
    if (b.HostPort === 0) throw new DockerPluginError('INVALID_REQUEST', `-p ${b.Port}: give a host port (HOST:${b.Port}); Trellis does not pick one`);
    if (b.HostPort < 1 || b.HostPort > 65535 || b.Port < 1 || b.Port > 65535) throw new DockerPluginError('INVALID_REQUEST', `port map ${i}: ports must be 1-65535`);
    const last = b.HostPortEnd && b.HostPortEnd > b.HostPort ? b.HostPortEnd : b.HostPort;
    if (last - b.HostPort > 1023) throw new DockerPluginError('INVALID_REQUEST', `-p ${b.HostPort}-${last}: a range of at most 1024 ports`);
    return Array.from({ length: last - b.HostPort + 1 }, (_, j) => ({
      hostPort: b.HostPort + j, containerPort: b.Port, protocol: protoName(b.Proto), ...(b.HostIP && b.HostIP !== '0.0.0.0' ? { hostIP: b.HostIP } : {}),
    }));
  }));
}

/**
 * The routes Join asks Docker to add in the container. The first endpoint of a sandbox
 * gets the gateway's on-link route (the default route goes through it); a second one must
 * not add it again ("file exists"), and gets its network's subnet on-link instead (the
 * host end answers ARP for it by proxy), so that traffic to and from that network's
 * peers uses this interface and its address rather than the default route's. A second
 * network without --subnet has no such route: its peers are reached from the first
 * network's address.
 */
export function joinRoutes(first: boolean, subnet: string | undefined): Array<{ Destination: string; RouteType: 1 }> {
  if (first) return [{ Destination: `${GATEWAY_V4}/32`, RouteType: 1 }];
  return subnet ? [{ Destination: subnet, RouteType: 1 }] : [];
}

/** Serializes calls on one key (a Join and a Leave of one endpoint never interleave). */
export function keyedQueue(): <T>(key: string, fn: () => Promise<T>) => Promise<T> {
  const tails = new Map<string, Promise<unknown>>();
  return async (key, fn) => {
    const run = (tails.get(key) ?? Promise.resolve()).catch(() => undefined).then(fn);
    tails.set(key, run);
    try { return await run; } finally { if (tails.get(key) === run) tails.delete(key); }
  };
}

