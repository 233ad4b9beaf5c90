// The Docker face: libnetwork's NetworkDriver and IpamDriver calls mapped onto Trellis.
// A Docker network is a record in etcd plus a Profile named after the network (containers
// on the network reach each other, nothing else does unless policy says so: Docker's
// --icc world); an endpoint goes through the shared attach path at Join, with the address
// Docker got from RequestAddress (Trellis IPAM, the same compare-and-swap as CNI) and the
// container's name and labels read from Docker's API. Docker replays nothing to a
// restarted plugin, so every call reads what it needs from etcd, never from memory.
import { createHash, randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { allocate, handleOfAddress, IpamError, releaseByHandle, type IpamStore } from '../ipam/index.js';
import {
  API_VERSION, cidrContains, isValidIp, labels as labelsSchema, parseCidr, resourceName, type IPPool, type Profile, type Resource,
  type ResourceKey, type WorkloadEndpoint,
} from '../model/index.js';
import {
  attach, containerMac, detach, endpointKeyOf, endpointName, endpointPorts, GATEWAY_V4, GATEWAY_V6, hostVethName, NetlinkError, withPrefix,
} from '../workload/index.js';
import { DockerApiError, type DockerEngine, type NetworkInfo } from './engine.js';
import {
  createEndpoint, createNetwork, deleteNetwork, DockerPluginError, endpointRef, GATEWAY_REQUEST, join, KNOWN_OPTIONS,
  OPT_GENERIC, OPT_NAMESPACE, OPT_PROFILES, OPT_REQUEST_TYPE, parseRequest, portBindings, protoName, releaseAddress,
  releasePool, requestAddress, requestPool,
} from './protocol.js';
import {
  deleteRecord, dockerKeys, endpointRecord, listRecords, networkRecord, readRecord, writeRecord, type EndpointRecord,
  type NetworkRecord,
} from './records.js';

/** What the driver needs of the store (src/store's Store satisfies it). */
export interface DockerStore extends IpamStore {
  apply(r: Resource): Promise<unknown>;
  delete(key: ResourceKey): Promise<void>;
}

export interface DriverDeps {
  store: DockerStore;
  node: string;
  log: Logger;
  /** One IPAM change at a time on this host (CAS still decides between hosts). */
  ipamLock<T>(fn: () => Promise<T>): Promise<T>;
  /** Docker's API, for the container's name and labels and the network's name; null: endpoints carry only the network. */
  engine: DockerEngine | null;
  /**
   * Resolves true once this host's dataplane has programmed the store up to `revision`
   * (trellisd's own apply loop). Join waits for it, so a container starts with its policy
   * in place rather than dropped as an unknown interface for its first packets.
   */
  programmed?(revision: string, timeoutMs: number): Promise<boolean>;
}

export interface DriverReply { status: number; body: Record<string, unknown> }

/** The label every endpoint of a Docker network carries (the network's name); its Profile admits exactly these. */
export const NETWORK_LABEL = 'trellis.dev/docker-network';
/** Also on every endpoint: the Docker container's name (what `docker run --name` gave). */
export const CONTAINER_LABEL = 'trellis.dev/docker-container';
const DEFAULT_POOL_V4 = 'trellis-default-v4';
const DEFAULT_POOL_V6 = 'trellis-default-v6';
const POOL_PREFIX = 'trellis:';
const HANDLE_PREFIX = 'docker.';
/** Longest Join waits for the dataplane (Docker gives a plugin call far longer). */
const PROGRAM_WAIT_MS = 5000;

const shortId = (id: string) => id.slice(0, 12);
const bare = (a: string) => a.split('/')[0]!;

/** A Profile name from a Docker network name (Docker allows "_" and capitals; resource names do not). */
export function networkProfileName(network: string): string {
  const s = network.toLowerCase().replace(/[^a-z0-9.-]+/g, '-').replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '');
  return `docker-net-${s || createHash('sha256').update(network).digest('hex').slice(0, 12)}`;
}

/** The container end's name while it waits in the host namespace for Docker to move it. */
function peerName(endpointID: string): string {
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
function keyedQueue(): <T>(key: string, fn: () => Promise<T>) => Promise<T> {
  const tails = new Map<string, Promise<unknown>>();
  return async (key, fn) => {
    const run = (tails.get(key) ?? Promise.resolve()).catch(() => undefined).then(fn);
    tails.set(key, run);
    try { return await run; } finally { if (tails.get(key) === run) tails.delete(key); }
  };
}

export function createDriver(deps: DriverDeps) {
  const { store, node, log } = deps;
  const keys = dockerKeys(store.prefix);
  const serial = keyedQueue();

  async function pools(): Promise<IPPool[]> {
    return (await store.list('IPPool')).map((s) => s.resource as IPPool);
  }

  /** The IPPool a --subnet lies in, or a sentence saying none does. */
  async function poolHolding(subnet: string): Promise<IPPool> {
    let c;
    try { c = parseCidr(subnet); } catch { throw new DockerPluginError('IPAM', `--subnet ${subnet} is not a CIDR`); }
    const all = await pools();
    const p = all.find((pool) => {
      const pc = parseCidr(pool.spec.cidr);
      return pc.family === c.family && c.prefixLength >= pc.prefixLength && cidrContains(pool.spec.cidr, c.address);
    });
    if (!p) {
      const have = all.map((x) => `${x.metadata.name} ${x.spec.cidr}`).join(', ') || 'none';
      throw new DockerPluginError('IPAM', `subnet ${subnet} lies in no Trellis IPPool (pools: ${have}); create one with trellisctl apply, or use a subnet inside one`);
    }
    return p;
  }

  async function network(id: string): Promise<NetworkRecord> {
    const n = await readRecord(store.etcd, keys.network(id), networkRecord);
    if (!n) throw new DockerPluginError('UNKNOWN_NETWORK', `network ${shortId(id)} is not known to Trellis (was it created with -d trellis while trellisd ran against this etcd?)`);
    return n;
  }

  /** The network's name and the container, from Docker; without an engine, the short IDs stand in. */
  async function identify(networkID: string, endpointID: string): Promise<NetworkInfo> {
    if (!deps.engine) return { name: shortId(networkID), container: null };
    try {
      return await deps.engine.lookup(networkID, endpointID);
    } catch (e) {
      // Fail closed: an endpoint without its labels could miss a policy meant for it.
      throw new DockerPluginError('INTERNAL', `cannot read the container's labels: ${(e as Error).message}`);
    }
  }

  const ipam = {
    async RequestPool(body: unknown) {
      const r = parseRequest(requestPool, 'RequestPool', body);
      if (r.SubPool) throw new DockerPluginError('IPAM', '--ip-range is not supported by Trellis IPAM: addresses come from the IPPool holding --subnet');
      // The gateway is Trellis's fixed link-local one, so Docker never asks for a gateway address.
      const data = { 'com.docker.network.gateway': r.V6 ? `${GATEWAY_V6}/128` : `${GATEWAY_V4}/32` };
      if (!r.Pool) return { PoolID: r.V6 ? DEFAULT_POOL_V6 : DEFAULT_POOL_V4, Pool: r.V6 ? '::/0' : '0.0.0.0/0', Data: data };
      await poolHolding(r.Pool);
      return { PoolID: `${POOL_PREFIX}${r.Pool}`, Pool: r.Pool, Data: data };
    },
    async ReleasePool(body: unknown) {
      parseRequest(releasePool, 'ReleasePool', body);
      return {};
    },
    async RequestAddress(body: unknown) {
      const r = parseRequest(requestAddress, 'RequestAddress', body);
      const subnet = r.PoolID.startsWith(POOL_PREFIX) ? r.PoolID.slice(POOL_PREFIX.length) : null;
      if (!subnet && r.PoolID !== DEFAULT_POOL_V4 && r.PoolID !== DEFAULT_POOL_V6) {
        throw new DockerPluginError('IPAM', `RequestAddress: field "PoolID" "${r.PoolID}" was not handed out by Trellis`);
      }
      const v6 = r.PoolID === DEFAULT_POOL_V6 || (subnet?.includes(':') ?? false);
      if (r.Options[OPT_REQUEST_TYPE] === GATEWAY_REQUEST) return { Address: v6 ? `${GATEWAY_V6}/128` : `${GATEWAY_V4}/32` };
      if (r.Address && !isValidIp(r.Address)) throw new DockerPluginError('IPAM', `--ip ${r.Address} is not an IP address`);
      const pool = subnet ? await poolHolding(subnet) : null;
      if (r.Address && subnet && !cidrContains(subnet, r.Address)) throw new DockerPluginError('IPAM', `--ip ${r.Address} is outside the network's subnet ${subnet}`);
      const handle = `${HANDLE_PREFIX}${randomBytes(8).toString('hex')}`;
      const alloc = await deps.ipamLock(() => allocate(store, {
        node, handle, family: v6 ? 6 : 4,
        ...(r.Address ? { address: r.Address } : {}),
        ...(pool ? { pools: [pool.metadata.name] } : {}),
        attrs: { orchestrator: 'docker', pool: r.PoolID },
      }));
      log.debug({ address: alloc.address, handle }, 'docker address allocated');
      return { Address: withPrefix(alloc.address), Data: {} };
    },
    async ReleaseAddress(body: unknown) {
      const r = parseRequest(releaseAddress, 'ReleaseAddress', body);
      const a = bare(r.Address);
      if (a === GATEWAY_V4 || a === GATEWAY_V6) return {};
      if (!isValidIp(a)) throw new DockerPluginError('IPAM', `ReleaseAddress: field "Address" "${r.Address}" is not an IP address`);
      const handle = await handleOfAddress(store, a);
      // Only what this driver handed out: an address another runtime holds is not Docker's to free.
      if (handle?.startsWith(HANDLE_PREFIX)) await deps.ipamLock(() => releaseByHandle(store, handle));
      return {};
    },
  };

  const net = {
    async CreateNetwork(body: unknown) {
      const r = parseRequest(createNetwork, 'CreateNetwork', body);
      const generic = (r.Options[OPT_GENERIC] ?? {}) as Record<string, unknown>;
      if (typeof generic !== 'object' || Array.isArray(generic)) throw new DockerPluginError('INVALID_REQUEST', `CreateNetwork: field "Options.${OPT_GENERIC}" must be an object`);
      for (const k of Object.keys(generic)) {
        if (!(KNOWN_OPTIONS as readonly string[]).includes(k)) {
          throw new DockerPluginError('INVALID_REQUEST', `unknown option -o ${k} for a Trellis network (known: ${KNOWN_OPTIONS.join(', ')})`);
        }
      }
      const namespace = String(generic[OPT_NAMESPACE] ?? 'default');
      if (!resourceName.safeParse(namespace).success) throw new DockerPluginError('INVALID_REQUEST', `option -o ${OPT_NAMESPACE}=${namespace}: not a valid Namespace name (lower-case letters, digits, "-", ".")`);
      const extra = String(generic[OPT_PROFILES] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
      for (const p of extra) {
        if (!resourceName.safeParse(p).success) throw new DockerPluginError('INVALID_REQUEST', `option -o ${OPT_PROFILES}: "${p}" is not a valid Profile name`);
      }
      if ((r.IPv6Data ?? []).length > 0) throw new DockerPluginError('INVALID_REQUEST', '--ipv6 networks are not supported by the Trellis Docker driver yet');
      const v4 = r.IPv4Data?.[0]?.Pool;
      const subnet = v4 && v4 !== '0.0.0.0/0' ? v4 : undefined;
      const pool = subnet ? await poolHolding(subnet) : null;
      const rec: NetworkRecord = {
        id: r.NetworkID, namespace, profiles: extra,
        ...(pool ? { pools: [pool.metadata.name] } : {}), ...(subnet ? { subnet } : {}), createdAt: new Date().toISOString(),
      };
      await writeRecord(store.etcd, keys.network(r.NetworkID), rec);
      log.info({ network: r.NetworkID, namespace, profiles: extra }, 'docker network created');
      return {};
    },
    async DeleteNetwork(body: unknown) {
      const r = parseRequest(deleteNetwork, 'DeleteNetwork', body);
      const rec = await readRecord(store.etcd, keys.network(r.NetworkID), networkRecord);
      await deleteRecord(store.etcd, keys.network(r.NetworkID));
      // The Profile is the network name's, shared with the same network on other hosts: the last one removes it.
      if (rec?.name) {
        const still = (await listRecords(store.etcd, keys.networks, networkRecord)).some((n) => n.name === rec.name);
        if (!still) await store.delete({ kind: 'Profile', name: networkProfileName(rec.name) }).catch(ignoreNotFound);
      }
      log.info({ network: r.NetworkID, name: rec?.name }, 'docker network deleted');
      return {};
    },
    async CreateEndpoint(body: unknown) {
      const r = parseRequest(createEndpoint, 'CreateEndpoint', body);
      await network(r.NetworkID);
      const addresses = [r.Interface.Address, r.Interface.AddressIPv6].filter(Boolean).map(bare);
      if (addresses.length === 0) throw new DockerPluginError('INVALID_REQUEST', 'CreateEndpoint: field "Interface.Address" is empty (the network must use --ipam-driver trellis)');
      for (const a of addresses) if (!isValidIp(a)) throw new DockerPluginError('INVALID_REQUEST', `CreateEndpoint: field "Interface.Address" "${a}" is not an IP address`);
      const ports = dockerPorts(r.Options);
      const mac = r.Interface.MacAddress || containerMac(r.EndpointID, 'eth');
      const rec: EndpointRecord = {
        id: r.EndpointID, network: r.NetworkID, node, addresses, mac, ports,
        hostVeth: hostVethName(r.EndpointID, 'eth'), peer: peerName(r.EndpointID),
      };
      // Nothing is made yet: the veth and the endpoint come at Join, once the container is known.
      await writeRecord(store.etcd, keys.endpoint(r.EndpointID), rec);
      return { Interface: r.Interface.MacAddress ? {} : { MacAddress: mac } };
    },
    Join: (body: unknown) => {
      const r = parseRequest(join, 'Join', body);
      return serial(r.EndpointID, () => joinEndpoint(r.NetworkID, r.EndpointID, r.SandboxKey));
    },
    Leave: (body: unknown) => {
      const r = parseRequest(endpointRef, 'Leave', body);
      return serial(r.EndpointID, () => removeEndpoint(r.EndpointID, false));
    },
    DeleteEndpoint: (body: unknown) => {
      const r = parseRequest(endpointRef, 'DeleteEndpoint', body);
      return serial(r.EndpointID, () => removeEndpoint(r.EndpointID, true));
    },
    async EndpointOperInfo(body: unknown) {
      const r = parseRequest(endpointRef, 'EndpointOperInfo', body);
      const rec = await readRecord(store.etcd, keys.endpoint(r.EndpointID), endpointRecord);
      return { Value: rec?.endpoint ? { 'trellis.endpoint': rec.endpoint, 'trellis.hostInterface': rec.hostVeth } : {} };
    },
  };

  async function joinEndpoint(networkID: string, endpointID: string, sandbox: string) {
    const rec = await readRecord(store.etcd, keys.endpoint(endpointID), endpointRecord);
    if (!rec) throw new DockerPluginError('INVALID_REQUEST', `Join: endpoint ${shortId(endpointID)} was never created by Trellis`);
    const t0 = performance.now();
    const n = await network(networkID);
    const info = await identify(networkID, endpointID);
    const tLookup = performance.now();
    const container = info.container?.name ?? shortId(endpointID);
    const { labels, skipped } = endpointLabels(info.container?.labels ?? {});
    if (skipped.length) log.warn({ container, skipped }, 'Docker labels that are not valid endpoint labels were left out');
    // The network's name is what its Profile and the hosts share.
    if (n.name !== info.name) await writeRecord(store.etcd, keys.network(networkID), { ...n, name: info.name });
    await store.apply(networkProfile(info.name));
    const name = endpointName(node, 'docker', container, info.name);
    // A second network on one sandbox must not add the gateway route again ("file exists").
    const others = (await listRecords(store.etcd, keys.endpoints, endpointRecord)).filter((e) => e.sandbox === sandbox && e.id !== endpointID);
    const joined: EndpointRecord = { ...rec, sandbox, endpoint: `${n.namespace}/${name}`, container };
    // Recorded before anything is made: a Leave or DeleteEndpoint after a crash finds what to undo.
    await writeRecord(store.etcd, keys.endpoint(endpointID), joined);
    const tRecords = performance.now();
    const attached = await attach(store, {
      node, handle: '', families: [], allocated: rec.addresses, attrs: {},
      veth: { host: rec.hostVeth, ifname: rec.peer, mac: rec.mac }, netns: null,
      endpoint: (addrs): WorkloadEndpoint => ({
        apiVersion: API_VERSION,
        kind: 'WorkloadEndpoint',
        metadata: {
          name, namespace: n.namespace,
          labels: { ...labels, [NETWORK_LABEL]: info.name, [CONTAINER_LABEL]: container },
          annotations: { 'trellis.dev/docker-network-id': networkID, 'trellis.dev/docker-endpoint-id': endpointID },
        },
        spec: {
          orchestrator: 'docker', workload: container, node, containerID: info.container?.id ?? endpointID, endpoint: `eth-${info.name}`.slice(0, 63),
          interfaceName: rec.hostVeth, mac: rec.mac, ipNetworks: addrs.map(withPrefix), profiles: [networkProfileName(info.name), ...n.profiles],
          ...(rec.ports.length ? { ports: rec.ports } : {}),
        },
      }),
    }, { log, ipamLock: deps.ipamLock });
    const tAttach = performance.now();
    const ready = attached.revision && deps.programmed ? await deps.programmed(attached.revision, PROGRAM_WAIT_MS) : null;
    if (ready === false) log.warn({ endpoint: joined.endpoint }, `dataplane had not programmed the endpoint within ${PROGRAM_WAIT_MS} ms; its traffic is dropped until it does`);
    const ms = (a: number, b: number) => Math.round((b - a) * 10) / 10;
    // Where Join's time goes (the bench reads it): Docker's API, etcd records, attach, the dataplane.
    const phases = { lookup: ms(t0, tLookup), records: ms(tLookup, tRecords), attach: ms(tRecords, tAttach), dataplane: ms(tAttach, performance.now()) };
    log.info({ endpoint: joined.endpoint, addresses: rec.addresses, programmed: ready, phases }, 'docker endpoint joined');
    const v4 = rec.addresses.some((a) => !a.includes(':'));
    return {
      InterfaceName: { SrcName: rec.peer, DstPrefix: 'eth' },
      ...(v4 ? { Gateway: GATEWAY_V4 } : {}),
      ...(v4 ? { StaticRoutes: joinRoutes(others.length === 0, n.subnet) } : {}),
      DisableGatewayService: true,
    };
  }

  /** Leave undoes Join (endpoint record, veth); DeleteEndpoint also forgets the endpoint. Both idempotent. */
  async function removeEndpoint(endpointID: string, forget: boolean) {
    const rec = await readRecord(store.etcd, keys.endpoint(endpointID), endpointRecord);
    const host = rec?.hostVeth ?? hostVethName(endpointID, 'eth');
    // The address is Docker's to release (ReleaseAddress follows).
    await detach(store, { handle: null, host, endpoints: rec?.endpoint ? [endpointKeyOf(rec.endpoint)] : [] }, deps);
    if (forget) await deleteRecord(store.etcd, keys.endpoint(endpointID));
    else if (rec) {
      const { sandbox: _s, endpoint: _e, ...rest } = rec;
      await writeRecord(store.etcd, keys.endpoint(endpointID), rest);
    }
    log.info({ endpoint: rec?.endpoint ?? endpointID, forget }, forget ? 'docker endpoint deleted' : 'docker endpoint left');
    return {};
  }

  const calls: Record<string, (body: unknown) => Promise<Record<string, unknown>>> = {
    '/Plugin.Activate': async () => ({ Implements: ['NetworkDriver', 'IpamDriver'] }),
    '/NetworkDriver.GetCapabilities': async () => ({ Scope: 'local', ConnectivityScope: 'local' }),
    '/NetworkDriver.CreateNetwork': net.CreateNetwork,
    '/NetworkDriver.DeleteNetwork': net.DeleteNetwork,
    '/NetworkDriver.CreateEndpoint': net.CreateEndpoint,
    '/NetworkDriver.DeleteEndpoint': net.DeleteEndpoint,
    '/NetworkDriver.EndpointOperInfo': net.EndpointOperInfo,
    '/NetworkDriver.Join': net.Join,
    '/NetworkDriver.Leave': net.Leave,
    // Docker programs nothing for a remote driver's -p: the endpoint's ports already carry them.
    '/NetworkDriver.ProgramExternalConnectivity': async () => ({}),
    '/NetworkDriver.RevokeExternalConnectivity': async () => ({}),
    '/NetworkDriver.DiscoverNew': async () => ({}),
    '/NetworkDriver.DiscoverDelete': async () => ({}),
    '/NetworkDriver.AllocateNetwork': async () => ({}),
    '/NetworkDriver.FreeNetwork': async () => ({}),
    '/IpamDriver.GetCapabilities': async () => ({ RequiresMACAddress: false }),
    '/IpamDriver.GetDefaultAddressSpaces': async () => ({ LocalDefaultAddressSpace: 'trellis-local', GlobalDefaultAddressSpace: 'trellis-global' }),
    '/IpamDriver.RequestPool': ipam.RequestPool,
    '/IpamDriver.ReleasePool': ipam.ReleasePool,
    '/IpamDriver.RequestAddress': ipam.RequestAddress,
    '/IpamDriver.ReleaseAddress': ipam.ReleaseAddress,
  };

  /**
   * One plugin call: never throws. A refusal is HTTP 500 with `Err` (Docker shows it to the
   * user); the IPAM side must not answer 200, which Engine 20.10 reads as "No address returned".
   */
  async function handle(path: string, body: unknown): Promise<DriverReply> {
    const call = calls[path];
    if (!call) return { status: 404, body: { Err: `trellis: ${path} is not a call Trellis implements` } };
    try {
      return { status: 200, body: await call(body) };
    } catch (e) {
      const message = errorSentence(e);
      log.warn({ call: path, err: message }, 'docker plugin call refused');
      return { status: 500, body: { Err: `trellis: ${message}` } };
    }
  }

  return { handle };
}

export type Driver = ReturnType<typeof createDriver>;

function errorSentence(e: unknown): string {
  if (e instanceof DockerPluginError || e instanceof NetlinkError || e instanceof DockerApiError) return e.message;
  if (e instanceof IpamError) return e.message;
  return (e as Error)?.message ?? String(e);
}

function ignoreNotFound(e: unknown): void {
  if ((e as { code?: unknown })?.code !== 'NOT_FOUND') throw e;
}
