// Endpoint records cannot lie, end to end: a WorkloadEndpoint that claims another one's
// address, or an address outside every IPPool, is refused by trellisd (no route, nothing
// programmed for either claimant of a conflict), reported on both in /status and in
// `trellisctl get wep -o wide`, and the honest endpoint is back once the claim is gone.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { resolve, join } from 'node:path';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { startAgent, type Agent } from '../../src/agent/index.js';
import { ROUTE_PROTO_WORKLOAD } from '../../src/calc/index.js';
import { silentLogger } from '../../src/log/index.js';
import type { Resource } from '../../src/model/index.js';
import type { Store } from '../../src/store/index.js';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { agentConfig, hostWithContainers, routesIn, storeFor, waitFor, workload } from './helpers.js';

const IF1 = 'trlcl1';
const IF2 = 'trlcl2';
const IF3 = 'trlcl3';
const WEB = 'WorkloadEndpoint/tenant-a/web';
const LIAR = 'WorkloadEndpoint/tenant-b/liar';

let etcd: TestEtcd;
let store: Store;
let net: Awaited<ReturnType<typeof hostWithContainers>>;
let agent: Agent;

const root = resolve(import.meta.dirname, '../..');

test.before(async () => {
  etcd = await startTestEtcd();
  store = storeFor(etcd.endpoints);
  net = await hostWithContainers('cl', [IF1, IF2, IF3]);
  await store.apply({ apiVersion: 'trellis.dev/v1', kind: 'IPPool', metadata: { name: 'p' }, spec: { cidr: '10.67.0.0/24' } } as Resource);
  await store.apply(workload('web', 'cl', IF1, '10.67.0.5'));
  agent = await startAgent(await agentConfig('cl', etcd.endpoints), { netns: net.host.name, logger: silentLogger(), defaultMetrics: false });
  await agent.ready(20_000);
  await waitFor('the route to web', () => routesIn(net.host.name, ROUTE_PROTO_WORKLOAD), (r) => r.includes(`10.67.0.5 dev ${IF1}`));
});

test.after(async () => {
  await agent?.stop();
  await store?.close();
  await net?.destroy();
  await etcd?.stop();
});

const liar = (): Resource => {
  const r = workload('liar', 'cl', IF2, '10.67.0.5');
  return { ...r, metadata: { ...r.metadata, namespace: 'tenant-b' } } as Resource;
};

function wide(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'trl-fail-cl-'));
  const cfg = join(dir, 'empty.yaml');
  writeFileSync(cfg, '');
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), 'get', 'wep', '-A', '-o', 'wide'], {
      cwd: root, env: { ...process.env, TRELLIS_CONFIG: cfg, TRELLIS_ETCD_ENDPOINTS: etcd.endpoints.join(',') }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => { out += b.toString(); });
    child.stderr.on('data', (b: Buffer) => { err += b.toString(); });
    child.on('close', (code) => (code === 0 ? done(out) : fail(new Error(`trellisctl get wep exited ${code}: ${err}`))));
  });
}

test("an endpoint claiming another's address: both refused, no route for either, reported on both", async () => {
  await store.apply(liar());
  await waitFor('the route to the claimed address gone', () => routesIn(net.host.name, ROUTE_PROTO_WORKLOAD), (r) => !r.some((x) => x.startsWith('10.67.0.5 ')));
  await agent.idle();
  const eps = agent.status().endpoints;
  assert.equal(eps.find((e) => e.id === WEB)?.refused, [`address 10.67.0.5/32 is also claimed by ${LIAR}`], '/status names the conflict on web');
  assert.equal(eps.find((e) => e.id === LIAR)?.refused, [`address 10.67.0.5/32 is also claimed by ${WEB}`], '/status names the conflict on the liar');
  const ids = agent.components.status.state.dataplane.desired!.endpoints.map((e) => e.id);
  assert.equal(ids, [], `neither is programmed: ${JSON.stringify(ids)}`);
  const table = await wide();
  assert.match(table, new RegExp(`tenant-a\\s+web\\s.*refused: address 10\\.67\\.0\\.5/32 is also claimed by ${LIAR}`), `get wep -o wide shows the conflict:\n${table}`);
  assert.match(table, /tenant-b\s+liar\s.*refused: address 10\.67\.0\.5\/32 is also claimed by WorkloadEndpoint\/tenant-a\/web/);
});

test('the claim deleted: the honest endpoint is programmed again', async () => {
  await store.delete({ kind: 'WorkloadEndpoint', namespace: 'tenant-b', name: 'liar' });
  await waitFor('the route to web back', () => routesIn(net.host.name, ROUTE_PROTO_WORKLOAD), (r) => r.includes(`10.67.0.5 dev ${IF1}`));
  await agent.idle();
  assert.is(agent.status().endpoints.find((e) => e.id === WEB)?.refused, undefined, 'web no longer refused');
});

test('an endpoint outside every IPPool is refused and gets no route; the host default route is untouched', async () => {
  const defaultBefore = await net.host.run(['ip', 'route', 'show', 'default']);
  await store.apply(workload('stray', 'cl', IF3, '10.99.0.9'));
  await store.apply(workload('web-2', 'cl', IF3, '10.67.0.9'));
  await waitFor('the in-pool endpoint routed', () => routesIn(net.host.name, ROUTE_PROTO_WORKLOAD), (r) => r.includes(`10.67.0.9 dev ${IF3}`));
  await agent.idle();
  assert.not.ok((await routesIn(net.host.name, ROUTE_PROTO_WORKLOAD)).some((x) => x.startsWith('10.99.0.9')), 'no route for the out-of-pool address');
  assert.equal(agent.status().endpoints.find((e) => e.id === 'WorkloadEndpoint/tenant-a/stray')?.refused, ['address 10.99.0.9/32 is outside every IPPool']);
  assert.match(await wide(), /tenant-a\s+stray\s.*refused: address 10\.99\.0\.9\/32 is outside every IPPool/);
  assert.is(await net.host.run(['ip', 'route', 'show', 'default']), defaultBefore, 'the default route is as it was');
});

test.run();
