// ADD, DEL, CHECK, GC and STATUS: the CNI protocol around the shared attach path
// (src/workload), which allocates, wires the veth, writes the endpoint and undoes all of it
// when a step fails. DEL is idempotent: whatever is already gone is skipped.
import { existsSync } from 'node:fs';
import type { Logger } from 'pino';
import { handleInfo, IpamError, listHandles, type IpamStore } from '../ipam/index.js';
import { API_VERSION, type WorkloadEndpoint } from '../model/index.js';
import { StoreError } from '../store/index.js';
import {
  attach, containerMac, detach, endpointKey, endpointKeyOf, endpointName, endpointPorts, gatewayOf, HOST_VETH_MAC,
  hostVethName, inspect, ipamHandle, NetlinkError, withPrefix, type AttachStep, type WorkloadStore,
} from '../workload/index.js';
import { nodeNameOf, planAdd, storeSettings, type CniEnv, type NetConf, type StoreSettings } from './config.js';
import { CNI_ERR, CniError, encodeResult, type CniResult } from './spec.js';

/** The store operations the plugin uses (src/store's Store satisfies it). */
export interface CniStore extends IpamStore, WorkloadStore {
  close(): Promise<void>;
}

export interface Deps {
  openStore(s: StoreSettings): CniStore | Promise<CniStore>;
  log: Logger;
  env: NodeJS.ProcessEnv;
  /** Runs an IPAM change while no other runs on this host (locks.ts); CAS still decides. */
  ipamLock<T>(fn: () => Promise<T>): Promise<T>;
}

/** Maps any failure to the spec's error object codes. */
export function toCniError(e: unknown): CniError {
  if (e instanceof CniError) return e;
  if (e instanceof IpamError) {
    const code = e.code === 'POOL_EXHAUSTED' ? CNI_ERR.POOL_EXHAUSTED
      : e.code === 'ADDRESS_IN_USE' || e.code === 'HANDLE_IN_USE' || e.code === 'ADDRESS_RESERVED' ? CNI_ERR.ADDRESS_IN_USE
        : e.code === 'NO_POOL' ? CNI_ERR.NO_POOL
          : e.code === 'CONFLICT_RETRIES' ? CNI_ERR.TRY_AGAIN_LATER
            : e.code === 'INVALID_REQUEST' ? CNI_ERR.INVALID_NETWORK_CONFIG : CNI_ERR.INTERNAL;
    return new CniError(code, `IPAM: ${e.message}`);
  }
  if (e instanceof NetlinkError) return new CniError(CNI_ERR.IO_FAILURE, e.message);
  if (e instanceof StoreError) {
    return new CniError(e.code === 'UNAVAILABLE' ? CNI_ERR.TRY_AGAIN_LATER : CNI_ERR.INTERNAL, `store: ${e.message}`);
  }
  const msg = (e as { message?: string } | null)?.message ?? String(e);
  if (/UNAVAILABLE|ECONNREFUSED|deadline|No connection established|GRPC/i.test(msg)) {
    return new CniError(CNI_ERR.TRY_AGAIN_LATER, `etcd unreachable: ${msg}`);
  }
  return new CniError(CNI_ERR.INTERNAL, msg);
}

/** Test hook: TRELLIS_CNI_FAULT=<step> fails ADD right after that step, to exercise the undo path. */
function faultHook(deps: Deps): ((step: AttachStep) => void) | undefined {
  const at = deps.env.TRELLIS_CNI_FAULT;
  if (!at) return undefined;
  return (step) => { if (step === at) throw new CniError(CNI_ERR.INTERNAL, `injected fault after ${step}`); };
}

const cniEndpointName = (node: string, containerID: string, ifname: string) => endpointName(node, 'cni', containerID, ifname);

export async function cmdAdd(env: CniEnv, conf: NetConf, deps: Deps): Promise<Record<string, unknown>> {
  const plan = planAdd(conf, env, deps.env);
  if (!existsSync(env.netns)) throw new CniError(CNI_ERR.INVALID_ENV, `CNI_NETNS ${env.netns} does not exist`);
  const handle = ipamHandle(env.containerID, env.ifname);
  const host = hostVethName(env.containerID, env.ifname);
  const mac = containerMac(env.containerID, env.ifname);
  const name = cniEndpointName(plan.nodeName, env.containerID, env.ifname);
  const log = deps.log.child({ containerID: env.containerID, ifname: env.ifname, host });
  const store = await deps.openStore(plan.store);
  try {
    const ports = endpointPorts(plan.portMappings);
    const afterStep = faultHook(deps);
    const { addresses } = await attach(store, {
      node: plan.nodeName, handle, families: plan.families,
      ...(plan.requestedIPv4 ? { requested: { v4: plan.requestedIPv4 } } : {}),
      ...(plan.pools ? { pools: plan.pools } : {}),
      attrs: { endpoint: `${plan.namespace}/${name}`, containerID: env.containerID, network: plan.network },
      veth: { host, ifname: env.ifname, mac, ...(plan.mtu ? { mtu: plan.mtu } : {}) },
      netns: env.netns,
      endpoint: (addrs): WorkloadEndpoint => ({
        apiVersion: API_VERSION,
        kind: 'WorkloadEndpoint',
        metadata: {
          name, namespace: plan.namespace,
          ...(Object.keys(plan.labels).length ? { labels: plan.labels } : {}),
          annotations: { 'trellis.dev/network': plan.network, 'trellis.dev/netns': env.netns },
        },
        spec: {
          orchestrator: 'cni', workload: plan.workload, node: plan.nodeName, containerID: env.containerID,
          endpoint: env.ifname, interfaceName: host, mac, ipNetworks: addrs.map(withPrefix), profiles: plan.profiles,
          ...(ports.length ? { ports } : {}),
        },
      }),
    }, { log, ipamLock: deps.ipamLock, ...(afterStep ? { afterStep } : {}) });
    log.info({ addresses, endpoint: `${plan.namespace}/${name}` }, 'ADD done');
    const result: CniResult = {
      interfaces: [{ name: host, mac: HOST_VETH_MAC }, { name: env.ifname, mac, sandbox: env.netns }],
      ips: addresses.map((a) => ({ address: withPrefix(a), gateway: gatewayOf(a), interface: 1 })),
      routes: addresses.map((a) => ({ dst: a.includes(':') ? '::/0' : '0.0.0.0/0', gw: gatewayOf(a) })),
      dns: {},
    };
    return encodeResult(plan.version, result);
  } catch (e) {
    throw toCniError(e);
  } finally {
    await store.close().catch(() => undefined);
  }
}

/** The namespace ADD would have used, if the configuration still yields one. */
function plannedNamespace(conf: NetConf, env: CniEnv, deps: Deps): string | null {
  try { return planAdd(conf, env, deps.env).namespace; } catch { return null; }
}

export async function cmdDel(env: CniEnv, conf: NetConf, deps: Deps): Promise<void> {
  const settings = storeSettings(conf, deps.env);
  const node = nodeNameOf(conf, deps.env);
  const handle = ipamHandle(env.containerID, env.ifname);
  const host = hostVethName(env.containerID, env.ifname);
  const store = await deps.openStore(settings);
  try {
    const info = await handleInfo(store, handle);
    const recorded = info?.attrs.endpoint;
    const name = cniEndpointName(node, env.containerID, env.ifname);
    const keys = new Set<string>();
    if (recorded) keys.add(recorded);
    const ns = plannedNamespace(conf, env, deps);
    if (ns) keys.add(`${ns}/${name}`);
    const released = await detach(store, { handle, host, endpoints: [...keys].map(endpointKeyOf) }, deps);
    deps.log.info({ containerID: env.containerID, ifname: env.ifname, released }, 'DEL done');
  } catch (e) {
    throw toCniError(e);
  } finally {
    await store.close().catch(() => undefined);
  }
}

export async function cmdCheck(env: CniEnv, conf: NetConf, deps: Deps): Promise<void> {
  if (conf.cniVersion.startsWith('0.3')) {
    throw new CniError(CNI_ERR.INCOMPATIBLE_VERSION, `CHECK needs cniVersion 0.4.0 or later (got ${conf.cniVersion})`);
  }
  if (conf.prevResult === undefined) throw new CniError(CNI_ERR.INVALID_NETWORK_CONFIG, 'network configuration field "prevResult": is required for CHECK');
  const plan = planAdd(conf, env, deps.env);
  const handle = ipamHandle(env.containerID, env.ifname);
  const host = hostVethName(env.containerID, env.ifname);
  const mac = containerMac(env.containerID, env.ifname);
  const name = cniEndpointName(plan.nodeName, env.containerID, env.ifname);
  const store = await deps.openStore(plan.store);
  try {
    const problems: string[] = [];
    const info = await handleInfo(store, handle);
    const address = info?.addresses[0]?.address;
    if (!address) problems.push(`no address is allocated to ${handle}`);
    const wep = await store.get(endpointKey(plan.namespace, name));
    if (!wep) problems.push(`WorkloadEndpoint ${plan.namespace}/${name} does not exist`);
    if (!existsSync(env.netns)) problems.push(`CNI_NETNS ${env.netns} does not exist`);
    else if (address) problems.push(...await inspect({ host, ifname: env.ifname, netns: env.netns, address, mac }));
    if (problems.length) throw new CniError(CNI_ERR.CHECK_FAILED, `CHECK failed: ${problems.join('; ')}`);
  } catch (e) {
    throw toCniError(e);
  } finally {
    await store.close().catch(() => undefined);
  }
}

/** GC and STATUS exist from CNI 1.1.0 on. */
function need11(conf: NetConf, command: string): void {
  if (conf.cniVersion !== '1.1.0') throw new CniError(CNI_ERR.INCOMPATIBLE_VERSION, `${command} needs cniVersion 1.1.0 (got ${conf.cniVersion})`);
}

/**
 * GC: releases what this network holds on this node for attachments the runtime no longer
 * lists (endpoint, host veth, address), exactly as DEL would. Without the list nothing is
 * touched: an absent list must never read as "nothing is valid".
 */
export async function cmdGc(conf: NetConf, deps: Deps): Promise<string[]> {
  need11(conf, 'GC');
  const valid = conf['cni.dev/valid-attachments'];
  if (!valid) throw new CniError(CNI_ERR.INVALID_NETWORK_CONFIG, 'network configuration field "cni.dev/valid-attachments": is required for GC');
  const keep = new Set(valid.map((a) => ipamHandle(a.containerID, a.ifname)));
  const node = nodeNameOf(conf, deps.env);
  const store = await deps.openStore(storeSettings(conf, deps.env));
  const collected: string[] = [];
  try {
    for (const h of await listHandles(store, node)) {
      if (h.attrs.network !== conf.name || keep.has(h.handle)) continue;
      const containerID = h.attrs.containerID;
      if (containerID === undefined || !h.handle.startsWith(`${containerID}.`)) continue; // not one of ours
      const ifname = h.handle.slice(containerID.length + 1);
      const ep = h.attrs.endpoint;
      await detach(store, { handle: h.handle, host: hostVethName(containerID, ifname), endpoints: ep ? [endpointKeyOf(ep)] : [] }, deps);
      collected.push(h.handle);
    }
    deps.log.info({ collected }, 'GC done');
    return collected;
  } catch (e) {
    throw toCniError(e);
  } finally {
    await store.close().catch(() => undefined);
  }
}

/** STATUS: ready for ADD when etcd answers and some IPPool exists. */
export async function cmdStatus(conf: NetConf, deps: Deps): Promise<void> {
  need11(conf, 'STATUS');
  const store = await deps.openStore(storeSettings(conf, deps.env));
  try {
    const pools = await store.list('IPPool').catch((e: unknown) => {
      throw new CniError(CNI_ERR.PLUGIN_NOT_AVAILABLE, `etcd does not answer: ${(e as Error).message}`);
    });
    if (pools.length === 0) throw new CniError(CNI_ERR.PLUGIN_NOT_AVAILABLE, 'no IPPool exists: ADD has nothing to allocate from');
  } finally {
    await store.close().catch(() => undefined);
  }
}
