// Shared by the agent and API tests: a host namespace with one plugged "container"
// (a veth whose far end sits in a namespace of its own), an etcd, and resources.
import { execa } from 'execa';
import { connectNetns, createNetns, testNetnsPrefix, type Netns } from '../../src/lab/index.js';
import { loadDaemonConfig, type DaemonConfig } from '../../src/config/index.js';
import { freePort, openStore, type Store } from '../../src/store/index.js';
import type { Resource } from '../../src/model/index.js';

export async function hostWithContainers(tag: string, ifaces: string[]): Promise<{ host: Netns; containers: Netns[]; destroy(): Promise<void> }> {
  const host = await createNetns(`${testNetnsPrefix()}${tag}`);
  const containers: Netns[] = [];
  try {
    for (const [i, ifname] of ifaces.entries()) {
      const c = await createNetns(`${testNetnsPrefix()}${tag}c${i}`);
      containers.push(c);
      await connectNetns({ ns: host.name, ifname }, { ns: c.name, ifname: 'eth0' });
    }
  } catch (err) {
    for (const c of containers) await c.destroy();
    await host.destroy();
    throw err;
  }
  return {
    host, containers,
    async destroy() {
      for (const c of containers) await c.destroy();
      await host.destroy();
    },
  };
}

export async function agentConfig(node: string, endpoints: string[], extra: Partial<DaemonConfig> = {}): Promise<DaemonConfig> {
  return loadDaemonConfig({
    env: {},
    defaultFile: '/nonexistent/trellisd.yaml',
    overrides: { nodeName: node, etcdEndpoints: endpoints, apiListen: `127.0.0.1:${await freePort()}`, resyncIntervalSeconds: 0, logLevel: 'silent', ...extra },
  }).config;
}

export function storeFor(endpoints: string[]): Store {
  return openStore({ endpoints });
}

const api = 'trellis.dev/v1';
export function tenantResources(): Resource[] {
  return [
    { apiVersion: api, kind: 'Namespace', metadata: { name: 'tenant-a', labels: { tenant: 'a' } }, spec: {} },
    { apiVersion: api, kind: 'Profile', metadata: { name: 'tenant-a' }, spec: { egress: [{ action: 'Allow' }], ingress: [{ action: 'Allow', source: { namespaceSelector: 'tenant == "a"' } }] } },
  ] as Resource[];
}

export function workload(name: string, node: string, iface: string, ip: string, labels: Record<string, string> = { app: 'web' }): Resource {
  return {
    apiVersion: api, kind: 'WorkloadEndpoint',
    metadata: { name, namespace: 'tenant-a', labels },
    spec: { node, interfaceName: iface, ipNetworks: [`${ip}/32`], profiles: ['tenant-a'] },
  } as Resource;
}

export async function routesIn(ns: string, proto: number): Promise<string[]> {
  const r = await execa('ip', ['-n', ns, '-j', 'route', 'show', 'proto', String(proto)]);
  return (JSON.parse(String(r.stdout) || '[]') as Array<{ dst: string; dev?: string }>).map((x) => `${x.dst} dev ${x.dev ?? '?'}`).sort();
}

export async function waitFor<T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T = await fn();
  while (!ok(last)) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last value: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 25));
    last = await fn();
  }
  return last;
}
