// The HTTP API of a running agent (real etcd, dataplane in a namespace): every
// endpoint, readiness, token auth, and the Prometheus exposition format.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAgent, type Agent } from '../../src/agent/index.js';
import { ApiConfigError, requiredToken, startApiServer } from '../../src/api/index.js';
import { silentLogger } from '../../src/log/index.js';
import { resourceKey, type Resource } from '../../src/model/index.js';
import { freePort, type Store } from '../../src/store/index.js';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { waitUntil } from '../e2e/helpers.js';
import { agentConfig, hostWithContainers, storeFor, tenantResources, waitFor, workload } from '../agent/helpers.js';

let etcd: TestEtcd;
let store: Store;
let net: Awaited<ReturnType<typeof hostWithContainers>>;
let agent: Agent;
let base: string;
const tmp = mkdtempSync(join(tmpdir(), 'trellis-api-'));

test.before(async () => {
  etcd = await startTestEtcd();
  store = storeFor(etcd.endpoints);
  net = await hostWithContainers('ap', ['trlap1', 'trlap2']);
  for (const r of tenantResources()) await store.apply(r);
  await store.apply({ apiVersion: 'trellis.dev/v1', kind: 'Namespace', metadata: { name: 'tenant-b', labels: { tenant: 'b' } }, spec: {} } as Resource);
  await store.apply({ apiVersion: 'trellis.dev/v1', kind: 'Profile', metadata: { name: 'tenant-b' }, spec: { egress: [{ action: 'Allow' }], ingress: [{ action: 'Allow', source: { namespaceSelector: 'tenant == "b"' } }] } } as Resource);
  await store.apply(workload('web-1', 'n1', 'trlap1', '10.66.0.5'));
  const b = workload('web-1', 'n1', 'trlap2', '10.66.0.6') as Extract<Resource, { kind: 'WorkloadEndpoint' }>;
  b.metadata.namespace = 'tenant-b';
  b.spec.profiles = ['tenant-b'];
  await store.apply(b);
  agent = await startAgent(await agentConfig('n1', etcd.endpoints), { netns: net.host.name, logger: silentLogger() });
  base = agent.api!.url;
  await agent.ready(20_000);
});

test.after(async () => {
  await agent?.stop();
  await store?.close();
  await net?.destroy();
  await etcd?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

const get = (path: string, headers: Record<string, string> = {}) => fetch(`${base}${path}`, { headers });

test('healthz and readyz answer, readyz says which checks pass', async () => {
  const h = await get('/healthz');
  assert.is(h.status, 200);
  assert.equal(await h.json(), { alive: true });
  const r = await get('/readyz');
  assert.is(r.status, 200, 'ready once synced and programmed');
  const body = await r.json() as { ready: boolean; checks: Record<string, { ok: boolean }> };
  assert.ok(body.ready);
  assert.ok(body.checks.store?.ok && body.checks.dataplane?.ok, `checks: ${JSON.stringify(body.checks)}`);
});

test('readyz is 503 with the reason while the store has never synced', async () => {
  const dead = await freePort();
  const cfg = await agentConfig('n9', [`http://127.0.0.1:${dead}`]);
  const a = await startAgent(cfg, { netns: net.host.name, logger: silentLogger(), defaultMetrics: false });
  try {
    const r = await fetch(`${a.api!.url}/readyz`);
    assert.is(r.status, 503);
    const body = await r.json() as { ready: boolean; checks: Record<string, { ok: boolean; detail: string }> };
    assert.is(body.ready, false);
    assert.is(body.checks.store?.ok, false, 'store check fails');
    assert.match(body.checks.store!.detail, /no snapshot/);
    for (const path of ['/matrix?port=80', '/explain?from=tenant-a/web-1&to=tenant-b/web-1&port=80']) {
      const m = await fetch(`${a.api!.url}${path}`);
      assert.is(m.status, 503, `${path} is 503 before the store has synced, not an empty answer`);
      assert.match(((await m.json()) as { error: string }).error, /not synced/, `${path} says why`);
    }
  } finally {
    await a.stop();
  }
});

test('status lists the node, endpoints by tenant, policies and BGP', async () => {
  const st = await (await get('/status')).json() as import('../../src/api/index.js').StatusDoc;
  assert.is(st.node, 'n1');
  assert.equal(st.endpoints.map((e) => `${e.id} ${e.tenant}`).sort(), ['WorkloadEndpoint/tenant-a/web-1 a', 'WorkloadEndpoint/tenant-b/web-1 b']);
  assert.ok(Array.isArray(st.bgp.peers), 'bgp.peers is a list');
  assert.ok(st.profiles.includes('Profile/tenant-a') && st.profiles.includes('Profile/tenant-b'), JSON.stringify(st.profiles));
  assert.ok(st.lastApply, 'lastApply is set');
  assert.is(st.lastError, null);
});

test('explain gives the calc verdict, as JSON and as text; bad input is a 400', async () => {
  const ok = await get('/explain?from=tenant-a/web-1&to=tenant-b/web-1&port=80');
  assert.is(ok.status, 200);
  const j = await ok.json() as { allowed: boolean; ingress: { allowed: boolean } };
  assert.is(j.allowed, false, 'tenant-a -> tenant-b is denied by the tenant-b profile');
  const same = await (await get('/explain?from=10.66.0.6&to=tenant-b/web-1&port=80')).json() as { allowed: boolean };
  assert.is(same.allowed, true, 'tenant-b to itself by address is allowed');
  const text = await (await get('/explain?from=tenant-a/web-1&to=tenant-b/web-1&port=80&format=text')).text();
  assert.match(text, /^DENIED: tenant-a\/web-1/);
  assert.is((await get('/explain?from=tenant-a/nope&to=tenant-b/web-1')).status, 400);
  assert.is((await get('/explain?from=tenant-a/web-1&to=tenant-b/web-1&port=99999')).status, 400);
  assert.is((await get('/explain')).status, 400);
});

test('matrix agrees with explain for every pair', async () => {
  const m = await (await get('/matrix?port=80')).json() as import('../../src/api/index.js').MatrixDoc;
  assert.is(m.endpoints.length, 2);
  for (const [i, a] of m.endpoints.entries()) {
    for (const [k, b] of m.endpoints.entries()) {
      const e = await (await get(`/explain?from=${a.id}&to=${b.id}&port=80`)).json() as { allowed: boolean };
      assert.is(m.allowed[i]![k], e.allowed, `${a.id} -> ${b.id}`);
    }
  }
});

test('a staged policy is in no rule of this node; /matrix and the status page show the cells it would change', async () => {
  type Matrix = import('../../src/api/index.js').MatrixDoc;
  const matrix = async () => await (await get('/matrix?port=80')).json() as Matrix;
  assert.is((await matrix()).staged, undefined, 'no staged policy: no staged part');
  const open = { apiVersion: 'projectcalico.org/v3', kind: 'StagedNetworkPolicy', metadata: { name: 'open', namespace: 'tenant-b' }, spec: { stagedAction: 'Set', order: 1, selector: 'all()', ingress: [{ action: 'Allow' }] } } as Resource;
  await store.apply(open);
  try {
    await waitUntil('the staged policy in /matrix', async () => (await matrix()).staged !== undefined, 10_000, 50);
    const m = await matrix();
    const at = (from: string, to: string) => [m.endpoints.findIndex((e) => e.id === from), m.endpoints.findIndex((e) => e.id === to)] as [number, number];
    const [a, b] = at('WorkloadEndpoint/tenant-a/web-1', 'WorkloadEndpoint/tenant-b/web-1');
    assert.equal(m.staged?.changes, ['StagedNetworkPolicy tenant-b/open (Set): adds NetworkPolicy tenant-b/open']);
    assert.equal([m.allowed[a]![b], m.staged?.allowed[a]![b]], [false, true], 'tenant-a -> tenant-b: denied in force, allowed staged');
    assert.equal([m.allowed[b]![a], m.staged?.allowed[b]![a]], [false, false], 'tenant-b -> tenant-a: unchanged');
    const st = await (await get('/status')).json() as import('../../src/api/index.js').StatusDoc;
    assert.not.ok(st.policies.some((p) => p.id.includes('open')), `never enforced: this node's policies are ${JSON.stringify(st.policies)}`);
    const text = await (await get('/explain?from=tenant-a/web-1&to=tenant-b/web-1&port=80&format=text')).text();
    assert.match(text, /^DENIED: /, 'explain answers for the policies in force');

    const { chromium } = await import('playwright-core');
    const ctx = await chromium.launchPersistentContext(mkdtempSync(join(tmp, 'chromium-')), {
      executablePath: '/usr/bin/chromium', headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      const page = await ctx.newPage();
      await page.goto(`${base}/`);
      await page.waitForSelector('body[data-loaded="true"]', { timeout: 15_000 });
      const changed = await page.$$eval('#matrix td.changes', (tds) => tds.map((td) => [td.getAttribute('data-from'), td.getAttribute('data-to'), td.getAttribute('data-allowed'), td.getAttribute('data-staged'), td.textContent]));
      assert.equal(changed, [['WorkloadEndpoint/tenant-a/web-1', 'WorkloadEndpoint/tenant-b/web-1', 'false', 'true', '✗→✓']], 'the one cell that would change is marked');
      assert.equal(await page.$$eval('#staged li', (lis) => lis.map((li) => li.textContent)), ['StagedNetworkPolicy tenant-b/open (Set): adds NetworkPolicy tenant-b/open']);
      assert.is(await page.textContent('#staged-summary'), '1 verdict would change');
    } finally {
      await ctx.close();
    }
  } finally {
    await store.delete({ kind: 'StagedNetworkPolicy', namespace: 'tenant-b', name: 'open' });
  }
  await waitUntil('the staged part gone with the staged policy', async () => (await matrix()).staged === undefined, 10_000, 50);
});

test('host endpoints: /matrix gains HOST/<name> rows and columns, each cell as /explain says both ways; an address names the endpoint', async () => {
  const v1 = 'trellis.dev/v1';
  const added = [
    { apiVersion: v1, kind: 'HostEndpoint', metadata: { name: 'n1-all', labels: { role: 'host' } }, spec: { node: 'n1', interfaceName: '*', expectedIPs: ['10.66.9.1'] } },
    { apiVersion: v1, kind: 'GlobalNetworkPolicy', metadata: { name: 'host-web' }, spec: {
      selector: 'role == "host"', types: ['Ingress', 'Egress'],
      ingress: [{ action: 'Allow', protocol: 'TCP', source: { selector: 'app == "web"' }, destination: { ports: [80] } }],
      egress: [{ action: 'Allow', protocol: 'TCP', destination: { selector: 'projectcalico.org/namespace == "tenant-b"' } }],
    } },
    workload('remote-1', 'n2', 'trlx1', '10.66.0.9', { app: 'db' }),
  ] as Resource[];
  for (const r of added) await store.apply(r);
  try {
    type Doc = import('../../src/api/index.js').MatrixDoc;
    const m = await waitFor('the host endpoint in /matrix', async () => (await get('/matrix?port=80')).json() as Promise<Doc>, (d) => d.endpoints.length === 4);
    assert.equal(m.endpoints.map((e) => e.id).filter((id) => id.startsWith('HOST/')), ['HOST/n1-all'], 'one row and column per local host endpoint');
    const cells: string[] = [];
    for (const [i, a] of m.endpoints.entries()) {
      for (const [k, b] of m.endpoints.entries()) {
        if (!a.id.startsWith('HOST/') && !b.id.startsWith('HOST/')) continue;
        const e = await (await get(`/explain?from=${a.id}&to=${b.id}&port=80`)).json() as { allowed: boolean };
        assert.is(m.allowed[i]![k], e.allowed, `${a.id} -> ${b.id}`);
        cells.push(`${a.id.split('/').pop()}>${b.id.split('/').pop()}:${e.allowed}`);
      }
    }
    assert.equal(cells.sort(), [
      'n1-all>n1-all:true', 'n1-all>remote-1:false', 'n1-all>web-1:false', 'n1-all>web-1:false', 'remote-1>n1-all:false', 'web-1>n1-all:true', 'web-1>n1-all:true',
    ], 'to the host: the web workloads (all-interfaces policy), not remote db; from it: local workloads by their own ingress (their tenant only), remote-1 not (egress to tenant-b only); itself over loopback');
    const byAddress = await (await get('/explain?from=10.66.9.1&to=tenant-b/web-1&port=80&format=text')).text();
    assert.is(byAddress, '10.66.9.1 -> tenant-b/web-1 TCP/80: DENIED by the workload\'s ingress (the host reaches its own workloads through no host endpoint): no profile rule matched: default deny\n');
    const remote = await (await get('/explain?from=HOST/n1-all&to=tenant-a/remote-1&port=443&format=text')).text();
    assert.match(remote, /^HOST\/n1-all -> tenant-a\/remote-1 TCP\/443: DENIED\negress of the host \(node n1\): DENIED at HostEndpoint\/n1-all: policies applied but no rule matched: default deny\ningress of WorkloadEndpoint\/tenant-a\/remote-1 \(node n2\)/);
  } finally {
    for (const r of added.reverse()) await store.delete(resourceKey(r));
  }
  await waitFor('the host rows gone', async () => (await get('/matrix?port=80')).json() as Promise<{ endpoints: unknown[] }>, (d) => d.endpoints.length === 2);
});

test('metrics are Prometheus text with the agent series', async () => {
  const r = await get('/metrics');
  assert.is(r.status, 200);
  assert.match(r.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const text = await r.text();
  for (const name of ['trellis_store_synced', 'trellis_dataplane_apply_duration_seconds_bucket', 'trellis_dataplane_rules', 'trellis_dataplane_ipsets',
    'trellis_dataplane_routes', 'trellis_bgp_sessions_established', 'trellis_store_invalid_values', 'trellis_ipam_affine_blocks']) {
    assert.ok(new RegExp(`^${name}(\\{[^}]*\\})? `, 'm').test(text), `metric ${name} present`);
  }
  // Every sample line: name{labels} value — the exposition format.
  for (const line of text.split('\n').filter((l) => l && !l.startsWith('#'))) {
    assert.match(line, /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? -?[0-9.e+-]+$|^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? (NaN|\+Inf|-Inf)$/, `sample line: ${line}`);
  }
  assert.match(text, /^trellis_store_synced 1$/m);
  assert.match(text, /^trellis_endpoints 2$/m);
});

test('the API changes nothing: other methods are refused', async () => {
  for (const method of ['POST', 'PUT', 'DELETE']) {
    const r = await fetch(`${base}/status`, { method });
    assert.is(r.status, 405, `${method} refused`);
  }
  assert.is((await get('/nope')).status, 404);
});

test('a non-loopback listen address without a token file is refused at start-up', async () => {
  const refused = await startApiServer({ source: {} as never, listen: '0.0.0.0:1' }).then(() => null, (e: unknown) => e);
  assert.instance(refused, ApiConfigError, 'startApiServer refuses 0.0.0.0 without a token file');
  assert.match((refused as Error).message, /not loopback: set apiTokenFile/);
  assert.throws(() => requiredToken('10.1.2.3', undefined), (e: unknown) => e instanceof ApiConfigError);
  const file = join(tmp, 'token');
  writeFileSync(file, 'tok-0123456789abcdef\n');
  assert.is(requiredToken('10.1.2.3', file), 'tok-0123456789abcdef');
  writeFileSync(join(tmp, 'short'), 'abc\n');
  assert.throws(() => requiredToken('10.1.2.3', join(tmp, 'short')), /at least 16 characters/);
});

test('with a token file every request needs the bearer token', async () => {
  const file = join(tmp, 'token2');
  writeFileSync(file, 'tok-fedcba9876543210\n');
  const cfg = await agentConfig('n1', etcd.endpoints, { apiTokenFile: file });
  const a = await startAgent(cfg, { netns: net.host.name, logger: silentLogger(), defaultMetrics: false });
  try {
    for (const path of ['/', '/healthz', '/status', '/metrics']) {
      assert.is((await fetch(`${a.api!.url}${path}`)).status, 401, `${path} without a token`);
      assert.is((await fetch(`${a.api!.url}${path}`, { headers: { Authorization: 'Bearer wrong-token-000000' } })).status, 401, `${path} with a wrong token`);
    }
    const ok = await fetch(`${a.api!.url}/healthz`, { headers: { Authorization: 'Bearer tok-fedcba9876543210' } });
    assert.is(ok.status, 200);
  } finally {
    await a.stop();
  }
});

test.run();
