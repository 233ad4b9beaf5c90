// npm run bench -- store [--endpoints 10000] [--runs 5]
// Snapshot load of N WorkloadEndpoints from a real etcd: the time from watch() to onSync
// (paged range reads at one revision + validation of every value), and list(); median of
// the runs, plus RSS after loading.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { openStore, startEtcdServer, type Stored } from '../../src/store/index.js';
import { median, rssMiB } from './_stats.js';

function endpoint(i: number) {
  const ns = `tenant-${i % 20}`;
  return {
    apiVersion: 'trellis.dev/v1', kind: 'WorkloadEndpoint',
    metadata: { name: `wep-${i}`, namespace: ns, labels: { app: i % 3 === 0 ? 'web' : 'client', tenant: ns } },
    spec: {
      orchestrator: 'podman', workload: `c${i}`, node: `node-${i % 50}`, containerID: `c${i.toString(16).padStart(12, '0')}`,
      interfaceName: `tl${i.toString(16).padStart(8, '0')}`, mac: '02:00:00:00:00:01',
      ipNetworks: [`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}/32`], profiles: [ns],
      ports: [{ name: 'http', protocol: 'TCP', port: 80 }],
    },
  };
}

export async function run(params: Record<string, string>): Promise<Record<string, unknown>> {
  const count = Number(params.endpoints ?? 10000);
  const runs = Number(params.runs ?? 5);
  const dir = mkdtempSync(join(tmpdir(), 'trellis-bench-store-'));
  const server = await startEtcdServer({ dataDir: join(dir, 'member') });
  const prefix = '/bench/';
  const raw = new Etcd3({ hosts: [server.clientUrl] });
  try {
    const t0 = Date.now();
    for (let i = 0; i < count; i += 100) {
      const ops = [];
      for (let j = i; j < Math.min(count, i + 100); j++) {
        const e = endpoint(j);
        ops.push({ request_put: { key: Buffer.from(`${prefix}workloadendpoint/${e.metadata.namespace}/${e.metadata.name}`), value: Buffer.from(JSON.stringify(e)) } });
      }
      await raw.kv.txn({ compare: [], success: ops, failure: [] });
    }
    const writeMs = Date.now() - t0;
    const rssBefore = rssMiB();
    const syncMs: number[] = [];
    const listMs: number[] = [];
    let loaded = 0;
    let invalid = 0;
    for (let r = 0; r < runs; r++) {
      const store = openStore({ endpoints: [server.clientUrl], prefix });
      try {
        const start = process.hrtime.bigint();
        let snapshot: Stored[] = [];
        const w = await store.watch({ onSync: (s) => { snapshot = s; }, onEvent: () => undefined }, { kinds: ['WorkloadEndpoint'] });
        await w.synced;
        syncMs.push(Number(process.hrtime.bigint() - start) / 1e6);
        loaded = snapshot.length;
        await w.close();
        const l0 = process.hrtime.bigint();
        const listed = await store.list('WorkloadEndpoint');
        listMs.push(Number(process.hrtime.bigint() - l0) / 1e6);
        if (listed.length !== count) throw new Error(`list returned ${listed.length} of ${count}`);
        invalid = store.stats().invalidValues;
      } finally {
        await store.close();
      }
    }
    if (loaded !== count) throw new Error(`snapshot held ${loaded} of ${count} endpoints`);
    return {
      endpoints: count,
      runs,
      writeSetupMs: writeMs,
      snapshotMsMedian: Math.round(median(syncMs)),
      snapshotMsAll: syncMs.map(Math.round),
      listMsMedian: Math.round(median(listMs)),
      perEndpointUsMedian: Math.round((median(syncMs) * 1000) / count),
      rssMiBBeforeLoad: rssBefore,
      rssMiBAfterLoad: rssMiB(),
      invalidValues: invalid,
    };
  } finally {
    raw.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
