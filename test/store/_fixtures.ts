// Small valid resources for store tests.
import type { Resource } from '../../src/model/index.js';

export function namespace(name: string, labels: Record<string, string> = {}): Resource {
  return { apiVersion: 'trellis.dev/v1', kind: 'Namespace', metadata: { name, labels }, spec: {} } as Resource;
}

export function policy(ns: string, name: string, order = 100): Resource {
  return {
    apiVersion: 'trellis.dev/v1', kind: 'NetworkPolicy',
    metadata: { name, namespace: ns },
    spec: { order, selector: 'app == "web"', types: ['Ingress'], ingress: [{ action: 'Allow', protocol: 'TCP', destination: { ports: [80] } }] },
  } as Resource;
}

export function endpoint(ns: string, name: string, ip: string, node = 'node-1'): Resource {
  return {
    apiVersion: 'trellis.dev/v1', kind: 'WorkloadEndpoint',
    metadata: { name, namespace: ns, labels: { app: 'web' } },
    spec: { node, interfaceName: `tl${name.slice(0, 10)}`, ipNetworks: [`${ip}/32`], profiles: [ns] },
  } as Resource;
}

export const until = async (what: string, cond: () => boolean, timeoutMs = 20_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
};
