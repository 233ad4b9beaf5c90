// The Docker face: libnetwork's NetworkDriver and IpamDriver calls mapped onto Trellis.
// A Docker network is a record in etcd plus a Profile of its own (containers on the network
// reach each other, nothing else does unless policy says so); an endpoint goes through the
// shared attach path with the address Docker got from RequestAddress (Trellis IPAM, the
// same compare-and-swap as CNI). Docker replays nothing to a restarted plugin, so every
// call reads what it needs from etcd, never from memory.
import { createHash, randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { allocate, handleOfAddress, IpamError, releaseByHandle, type IpamStore } from '../ipam/index.js';
import {
  API_VERSION, cidrContains, isValidIp, parseCidr, resourceName, type IPPool, type Profile, type Resource, type ResourceKey,
  type WorkloadEndpoint,
} from '../model/index.js';
import {
  attach, containerMac, detach, endpointKeyOf, endpointName, endpointPorts, GATEWAY_V4, hostVethName, NetlinkError, withPrefix,
} from '../workload/index.js';
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
}

export interface DriverReply { status: number; body: Record<string, unknown> }

/** The label every endpoint of a Docker network carries; its Profile admits exactly these. */
export const NETWORK_LABEL = 'trellis.dev/docker-network';
const DEFAULT_POOL_V4 = 'trellis-default-v4';
const DEFAULT_POOL_V6 = 'trellis-default-v6';
const CONTAINER_IFNAME = 'eth0';

const shortId = (id: string) => id.slice(0, 12);
export const networkProfileName = (networkID: string): string => `docker-${shortId(networkID)}`;
const bare = (a: string) => a.split('/')[0]!;

/** The container end's name while it waits in the host namespace for Docker to move it. */
function peerName(endpointID: string): string {
  return `tmp${createHash('sha256').update(`${endpointID}.peer`).digest('hex').slice(0, 11)}`;
}

export function networkProfile(networkID: string): Profile {
  return {
    apiVersion: API_VERSION,
    kind: 'Profile',
    metadata: { name: networkProfileName(networkID) },
    spec: {
      ingress: [{ action: 'Allow', source: { selector: `${NETWORK_LABEL} == "${shortId(networkID)}"` } }],
      egress: [{ action: 'Allow' }],
    },
  } as Profile;
}

export function createDriver(deps: DriverDeps) {
  const { store, node, log } = deps;
  const keys = dockerKeys(store.prefix);

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

  const ipam = {
    async RequestPool(body: unknown) {
      const r = parseRequest(requestPool, 'RequestPool', body);
      if (r.SubPool) throw new DockerPluginError('IPAM', '--ip-range is not supported by Trellis IPAM: addresses come from the whole IPPool');
      // The gateway is Trellis's fixed link-local one, so Docker never asks for a gateway address.
      const data = { 'com.docker.network.gateway': r.V6 ? 'fe80::1/128' : `${GATEWAY_V4}/32` };
      if (!r.Pool) return { PoolID: r.V6 ? DEFAULT_POOL_V6 : DEFAULT_POOL_V4, Pool: r.V6 ? '::/0' : '0.0.0.0/0', Data: data };
      await poolHolding(r.Pool);
      return { PoolID: `trellis:${r.Pool}`, Pool: r.Pool, Data: data };
    },
    async ReleasePool(body: unknown) {
      parseRequest(releasePool, 'ReleasePool', body);
      return {};
    },
    async RequestAddress(body: unknown) {
      const r = parseRequest(requestAddress, 'RequestAddress', body);
      const v6 = r.PoolID === DEFAULT_POOL_V6 || r.PoolID.includes(':');
      if (r.Options[OPT_REQUEST_TYPE] === GATEWAY_REQUEST) return { Address: v6 ? 'fe80::1/128' : `${GATEWAY_V4}/32` };
      const subnet = r.PoolID.startsWith('trellis:') ? r.PoolID.slice('trellis:'.length) : null;
      const pool = subnet ? await poolHolding(subnet) : null;
      if (r.Address && !isValidIp(r.Address)) throw new DockerPluginError('IPAM', `--ip ${r.Address} is not an IP address`);
      const handle = `docker.${randomBytes(8).toString('hex')}`;
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
      if (a === GATEWAY_V4 || a === 'fe80::1') return {};
      const handle = await handleOfAddress(store, a);
      // Only what this driver handed out: an address another runtime holds is not Docker's to free.
      if (handle?.startsWith('docker.')) await deps.ipamLock(() => releaseByHandle(store, handle));
      return {};
    },
  };

  const net = {
    async CreateNetwork(body: unknown) {
      const r = parseRequest(createNetwork, 'CreateNetwork', body);
      const generic = (r.Options[OPT_GENERIC] ?? {}) as Record<string, unknown>;
      for (const k of Object.keys(generic)) {
        if (!(KNOWN_OPTIONS as readonly string[]).includes(k)) {
          throw new DockerPluginError('INVALID_REQUEST', `unknown option "${k}" for a Trellis network (known: ${KNOWN_OPTIONS.join(', ')})`);
        }
      }
      const namespace = String(generic[OPT_NAMESPACE] ?? 'default');
      if (!resourceName.safeParse(namespace).success) throw new DockerPluginError('INVALID_REQUEST', `option ${OPT_NAMESPACE}="${namespace}" is not a valid Namespace name`);
      const extra = String(generic[OPT_PROFILES] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
      for (const p of extra) {
        if (!resourceName.safeParse(p).success) throw new DockerPluginError('INVALID_REQUEST', `option ${OPT_PROFILES}: "${p}" is not a valid Profile name`);
      }
      const v4 = r.IPv4Data?.[0]?.Pool;
      const subnet = v4 && v4 !== '0.0.0.0/0' ? v4 : undefined;
      const pool = subnet ? await poolHolding(subnet) : null;
      const rec: NetworkRecord = {
        id: r.NetworkID, namespace, profiles: [networkProfileName(r.NetworkID), ...extra],
        ...(pool ? { pools: [pool.metadata.name] } : {}), ...(subnet ? { subnet } : {}), createdAt: new Date().toISOString(),
      };
      // Profile first: an endpoint never lists a profile that does not exist (that would allow nothing).
      await store.apply(networkProfile(r.NetworkID));
      await writeRecord(store.etcd, keys.network(r.NetworkID), rec);
      log.info({ network: r.NetworkID, namespace, profiles: rec.profiles }, 'docker network created');
      return {};
    },
    async DeleteNetwork(body: unknown) {
      const r = parseRequest(deleteNetwork, 'DeleteNetwork', body);
      await deleteRecord(store.etcd, keys.network(r.NetworkID));
      await store.delete({ kind: 'Profile', name: networkProfileName(r.NetworkID) }).catch(ignoreNotFound);
      return {};
    },
    async CreateEndpoint(body: unknown) {
      const r = parseRequest(createEndpoint, 'CreateEndpoint', body);
      const n = await network(r.NetworkID);
      const addresses = [r.Interface.Address, r.Interface.AddressIPv6].filter(Boolean).map(bare);
      if (addresses.length === 0) throw new DockerPluginError('INVALID_REQUEST', 'CreateEndpoint: no address (the network must use --ipam-driver trellis)');
      const ports = endpointPorts(portBindings(r.Options).flatMap((b) => {
        const last = b.HostPortEnd && b.HostPortEnd > b.HostPort ? b.HostPortEnd : b.HostPort;
        if (b.HostPort === 0) throw new DockerPluginError('INVALID_REQUEST', `-p ${b.Port}: a host port must be given (Trellis does not pick one)`);
        return Array.from({ length: last - b.HostPort + 1 }, (_, i) => ({
          hostPort: b.HostPort + i, containerPort: b.Port, protocol: protoName(b.Proto), ...(b.HostIP && b.HostIP !== '0.0.0.0' ? { hostIP: b.HostIP } : {}),
        }));
      }));
      const host = hostVethName(r.EndpointID, CONTAINER_IFNAME);
      const peer = peerName(r.EndpointID);
      const mac = r.Interface.MacAddress || containerMac(r.EndpointID, CONTAINER_IFNAME);
      const name = endpointName(node, 'docker', shortId(r.EndpointID), CONTAINER_IFNAME);
      const rec: EndpointRecord = { id: r.EndpointID, network: r.NetworkID, node, addresses, hostVeth: host, peer, endpoint: `${n.namespace}/${name}` };
      // Recorded before anything is made: a DeleteEndpoint after a crash finds what to undo.
      await writeRecord(store.etcd, keys.endpoint(r.EndpointID), rec);
      try {
        await attach(store, {
          node, handle: '', families: [], allocated: addresses, attrs: {},
          veth: { host, ifname: peer, mac }, netns: null,
          endpoint: (addrs): WorkloadEndpoint => ({
            apiVersion: API_VERSION,
            kind: 'WorkloadEndpoint',
            metadata: {
              name, namespace: n.namespace,
              labels: { [NETWORK_LABEL]: shortId(r.NetworkID) },
              annotations: { 'trellis.dev/docker-network-id': r.NetworkID, 'trellis.dev/docker-endpoint-id': r.EndpointID },
            },
            spec: {
              orchestrator: 'docker', workload: shortId(r.EndpointID), node, containerID: r.EndpointID, endpoint: CONTAINER_IFNAME,
              interfaceName: host, mac, ipNetworks: addrs.map(withPrefix), profiles: n.profiles, ...(ports.length ? { ports } : {}),
            },
          }),
        }, { log, ipamLock: deps.ipamLock });
      } catch (e) {
        await deleteRecord(store.etcd, keys.endpoint(r.EndpointID)).catch(() => undefined);
        throw e;
      }
      log.info({ endpoint: rec.endpoint, addresses }, 'docker endpoint created');
      return { Interface: r.Interface.MacAddress ? {} : { MacAddress: mac } };
    },
    async Join(body: unknown) {
      const r = parseRequest(join, 'Join', body);
      const rec = await readRecord(store.etcd, keys.endpoint(r.EndpointID), endpointRecord);
      if (!rec) throw new DockerPluginError('INVALID_REQUEST', `endpoint ${shortId(r.EndpointID)} was never created by Trellis`);
      // A second network on one sandbox must not add the gateway route again ("file exists").
      const others = (await listRecords(store.etcd, keys.endpoints, endpointRecord)).filter((e) => e.sandbox === r.SandboxKey && e.id !== rec.id);
      await writeRecord(store.etcd, keys.endpoint(r.EndpointID), { ...rec, sandbox: r.SandboxKey });
      const v4 = rec.addresses.some((a) => !a.includes(':'));
      return {
        InterfaceName: { SrcName: rec.peer, DstPrefix: 'eth' },
        ...(v4 ? { Gateway: GATEWAY_V4 } : {}),
        ...(others.length === 0 && v4 ? { StaticRoutes: [{ Destination: `${GATEWAY_V4}/32`, RouteType: 1 }] } : {}),
        DisableGatewayService: true,
      };
    },
    async Leave(body: unknown) {
      const r = parseRequest(endpointRef, 'Leave', body);
      const rec = await readRecord(store.etcd, keys.endpoint(r.EndpointID), endpointRecord);
      if (rec) {
        const { sandbox: _gone, ...rest } = rec;
        await writeRecord(store.etcd, keys.endpoint(r.EndpointID), rest);
      }
      return {};
    },
    async DeleteEndpoint(body: unknown) {
      const r = parseRequest(endpointRef, 'DeleteEndpoint', body);
      const rec = await readRecord(store.etcd, keys.endpoint(r.EndpointID), endpointRecord);
      const host = rec?.hostVeth ?? hostVethName(r.EndpointID, CONTAINER_IFNAME);
      // The address is Docker's to release (ReleaseAddress follows).
      await detach(store, { handle: null, host, endpoints: rec ? [endpointKeyOf(rec.endpoint)] : [] }, deps);
      await deleteRecord(store.etcd, keys.endpoint(r.EndpointID));
      log.info({ endpoint: rec?.endpoint ?? r.EndpointID }, 'docker endpoint deleted');
      return {};
    },
    async EndpointOperInfo(body: unknown) {
      parseRequest(endpointRef, 'EndpointOperInfo', body);
      return { Value: {} };
    },
  };

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

  /** One plugin call: never throws; a failure is a 500 whose Err Docker shows the user. */
  async function handle(path: string, body: unknown): Promise<DriverReply> {
    const call = calls[path];
    if (!call) return { status: 404, body: { Err: `Trellis does not implement ${path}` } };
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
  if (e instanceof DockerPluginError || e instanceof NetlinkError) return e.message;
  if (e instanceof IpamError) return `IPAM: ${e.message}`;
  return (e as Error)?.message ?? String(e);
}

function ignoreNotFound(e: unknown): void {
  if ((e as { code?: unknown })?.code !== 'NOT_FOUND') throw e;
}
