// Shared set-up for IPAM tests: one real etcd per test file, a fresh key prefix per test.
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { openStore, startEtcdServer, type EtcdServer, type Store } from '../../src/store/index.js';
import { API_VERSION, type IPPool, type Node } from '../../src/model/index.js';

// A real etcd like test/helpers/etcd.ts starts, but with its data on tmpfs: IPAM tests
// commit thousands of transactions and would otherwise measure the disk's fsync.
interface LocalEtcd { endpoints: string[]; server: EtcdServer; stop(): Promise<void> }
let etcd: LocalEtcd | null = null;
let counter = 0;
const opened: Store[] = [];

export async function etcdUp(): Promise<LocalEtcd> {
  if (etcd) return etcd;
  const dir = mkdtempSync(join('/dev/shm', 'trellis-ipam-etcd-'));
  const server = await startEtcdServer({ dataDir: join(dir, 'member') });
  etcd = {
    endpoints: [server.clientUrl],
    server,
    async stop() { await server.stop(); rmSync(dir, { recursive: true, force: true }); },
  };
  return etcd;
}

/** A store on a prefix no other test uses. */
export async function freshStore(prefix?: string): Promise<Store> {
  const e = await etcdUp();
  const s = openStore({ endpoints: e.endpoints, prefix: prefix ?? `/t${process.pid}-${++counter}/` });
  opened.push(s);
  return s;
}

export async function teardown(): Promise<void> {
  for (const s of opened.splice(0)) await s.close().catch(() => undefined);
  if (etcd) await etcd.stop();
  etcd = null;
}

export function pool(name: string, cidr: string, spec: Partial<IPPool['spec']> = {}): IPPool {
  return { apiVersion: API_VERSION, kind: 'IPPool', metadata: { name }, spec: { cidr, ...spec } };
}

export function node(name: string, labels: Record<string, string> = {}): Node {
  return { apiVersion: API_VERSION, kind: 'Node', metadata: { name, labels }, spec: {} };
}
