// What the driver keeps in etcd, because Docker replays nothing to a restarted plugin and
// every host must agree on a network: one record per Docker network (by Docker's network
// ID), and one per endpoint on this host (what DeleteEndpoint must undo).
import { z } from 'zod';
import type { Etcd3 } from 'etcd3';
import { endpointPort } from '../model/index.js';
import { DOCKER_SEGMENT } from '../store/index.js';

export const networkRecord = z.object({
  id: z.string(),
  /** Docker's name for it, learnt at the first Join (the driver is never told it at CreateNetwork). */
  name: z.string().optional(),
  /** The Trellis Namespace its endpoints live in. */
  namespace: z.string(),
  /** Profiles every endpoint lists after the network's own: those named by -o trellis.profiles. */
  profiles: z.array(z.string()),
  /** The IPPool names allocation is limited to (the pool holding --subnet), or none: any pool. */
  pools: z.array(z.string()).optional(),
  subnet: z.string().optional(),
  createdAt: z.string(),
});
export type NetworkRecord = z.infer<typeof networkRecord>;

export const endpointRecord = z.object({
  id: z.string(),
  network: z.string(),
  node: z.string(),
  addresses: z.array(z.string()),
  mac: z.string(),
  /** The endpoint's port maps (Docker's -p), as the WorkloadEndpoint records them. */
  ports: z.array(endpointPort),
  hostVeth: z.string(),
  peer: z.string(),
  /** The WorkloadEndpoint, "namespace/name", once joined. */
  endpoint: z.string().optional(),
  container: z.string().optional(),
  /** The sandbox it joined (a second network on the same sandbox gets no gateway route). */
  sandbox: z.string().optional(),
});
export type EndpointRecord = z.infer<typeof endpointRecord>;

export interface DockerKeys { network(id: string): string; networks: string; endpoint(id: string): string; endpoints: string }

export function dockerKeys(prefix: string): DockerKeys {
  return {
    network: (id) => `${prefix}${DOCKER_SEGMENT}/networks/${id}`,
    networks: `${prefix}${DOCKER_SEGMENT}/networks/`,
    endpoint: (id) => `${prefix}${DOCKER_SEGMENT}/endpoints/${id}`,
    endpoints: `${prefix}${DOCKER_SEGMENT}/endpoints/`,
  };
}

export async function readRecord<T>(etcd: Etcd3, key: string, schema: z.ZodType<T, z.ZodTypeDef, unknown>): Promise<T | null> {
  const raw = await etcd.get(key).string();
  if (raw === null) return null;
  const r = schema.safeParse(JSON.parse(raw));
  if (!r.success) throw new Error(`etcd key ${key}: not a valid record (${r.error.issues[0]?.message ?? 'invalid'})`);
  return r.data;
}

export async function listRecords<T>(etcd: Etcd3, prefix: string, schema: z.ZodType<T, z.ZodTypeDef, unknown>): Promise<T[]> {
  const all = await etcd.getAll().prefix(prefix).strings();
  return Object.entries(all).flatMap(([k, v]) => {
    const r = schema.safeParse(JSON.parse(v));
    if (!r.success) throw new Error(`etcd key ${k}: not a valid record`);
    return [r.data];
  });
}

export async function writeRecord(etcd: Etcd3, key: string, value: unknown): Promise<void> {
  await etcd.put(key).value(JSON.stringify(value));
}

export async function deleteRecord(etcd: Etcd3, key: string): Promise<void> {
  await etcd.delete().key(key);
}
