// A real etcd for a test: started on free loopback ports in a temporary directory,
// stopped and removed afterwards.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEtcdServer, type EtcdServer } from '../../src/store/index.js';

export interface TestEtcd { server: EtcdServer; endpoints: string[]; dataDir: string; stop(): Promise<void>; restart(): Promise<void> }

export async function startTestEtcd(): Promise<TestEtcd> {
  const dataDir = mkdtempSync(join(tmpdir(), 'trellis-etcd-'));
  let server = await startEtcdServer({ dataDir: join(dataDir, 'member') });
  const t: TestEtcd = {
    get server() { return server; },
    endpoints: [server.clientUrl],
    dataDir,
    async stop() {
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
    async restart() {
      const { clientPort, peerPort } = server.options;
      await server.stop();
      // Same ports and data: clients see the same cluster come back.
      server = await startEtcdServer({ dataDir: join(dataDir, 'member'), clientPort, peerPort });
    },
  };
  return t;
}
