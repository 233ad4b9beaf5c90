// libnetwork's NetworkDriver: a Docker network is a record in etcd plus a Profile named
// after the network; an endpoint is recorded at CreateEndpoint and attached at Join through
// the shared attach path, with the container's name and labels read from Docker's API.
// Docker replays nothing to a restarted plugin, so every call reads what it needs from
// etcd, never from memory.
import { API_VERSION, isValidIp, resourceName, type WorkloadEndpoint } from '../model/index.js';
import {
  attach, containerMac, detach, endpointKeyOf, endpointName, GATEWAY_V4, hostVethName, withPrefix,
} from '../workload/index.js';
import type { DriverDeps } from './deps.js';
import type { NetworkInfo } from './engine.js';
import {
  createEndpoint, createNetwork, deleteNetwork, DockerPluginError, endpointRef, join, KNOWN_OPTIONS, OPT_GENERIC, OPT_NAMESPACE, OPT_PROFILES, parseRequest,
} from './protocol.js';
import { CONTAINER_LABEL, dockerPorts, endpointLabels, joinRoutes, keyedQueue, NETWORK_LABEL, networkProfile, networkProfileName, peerName } from './network.js';
import { poolHolding } from './pools.js';
import {
  deleteRecord, dockerKeys, endpointRecord, listRecords, networkRecord, readRecord, writeRecord, type EndpointRecord, type NetworkRecord,
} from './records.js';

/** Longest Join waits for the dataplane (Docker gives a plugin call far longer). */
const PROGRAM_WAIT_MS = 5000;

const shortId = (id: string) => id.slice(0, 12);
const bare = (a: string) => a.split('/')[0]!;

export function createNetworkDriver(deps: DriverDeps) {
  const { store, node, log } = deps;
  const keys = dockerKeys(store.prefix);
  const serial = keyedQueue();

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

  return {
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
      const pool = subnet ? await poolHolding(store, subnet) : null;
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
}

function ignoreNotFound(e: unknown): void {
  if ((e as { code?: unknown })?.code !== 'NOT_FOUND') throw e;
}
