// What the agent reports about its store: invalid values come and go with the keys, a
// silent partition from etcd shows as a lost store in /status and the metrics within the
// probe's bound, and a setting that would stop trellisd stops it before etcd is dialled.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { startAgent, type Agent } from '../../src/agent/index.js';
import { ConfigError } from '../../src/config/index.js';
import { createNetns, testNetnsPrefix, type Netns } from '../../src/lab/index.js';
import { silentLogger } from '../../src/log/index.js';
import { freePort } from '../../src/store/index.js';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { startProxy } from '../store/_proxy.js';
import { agentConfig, tenantResources, waitFor } from './helpers.js';

let etcd: TestEtcd;
let raw: Etcd3;
let ns: Netns;

test.before(async () => {
  etcd = await startTestEtcd();
  raw = new Etcd3({ hosts: etcd.endpoints });
  ns = await createNetns(`${testNetnsPrefix()}sh`);
});
test.after(async () => {
  raw?.close();
  await ns?.destroy();
  await etcd?.stop();
});

async function metric(a: Agent, name: string): Promise<number> {
  const text = await a.metrics.registry.metrics();
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

const PREFIX = '/trellis/v1/';

test('an invalid value is listed in /status and counted while it lasts; fixed or deleted, it is forgotten', async () => {
  const a = await startAgent(await agentConfig('n1', etcd.endpoints), { netns: ns.name, logger: silentLogger(), defaultMetrics: false });
  try {
    await a.ready(20_000);
    const bad1 = `${PREFIX}namespace/broken-1`;
    const bad2 = `${PREFIX}profile/broken-2`;
    await raw.put(bad1).value('not json{');
    await raw.put(bad2).value(JSON.stringify({ apiVersion: 'trellis.dev/v1', kind: 'Profile', metadata: { name: 'broken-2' }, spec: { ingress: [{ action: 'Maybe' }] } }));
    await waitFor('both invalid values in /status', async () => a.status().store.invalid.map((i) => i.key).sort(), (k) => k.length === 2);
    assert.is(await metric(a, 'trellis_store_invalid_values'), 2, 'the gauge counts both');
    assert.ok(a.components.status.state.store.invalid.has(bad1), 'the status component holds the key');
    const [fixed] = tenantResources();
    await raw.put(bad1).value(JSON.stringify({ ...fixed, metadata: { name: 'broken-1' } }));
    await waitFor('the fixed key forgotten', async () => a.status().store.invalid.map((i) => i.key), (k) => k.length === 1 && k[0] === bad2);
    assert.is(await metric(a, 'trellis_store_invalid_values'), 1, 'the gauge dropped with the fix');
    await raw.delete().key(bad2);
    await waitFor('the deleted key forgotten', async () => a.status().store.invalid.length, (n) => n === 0);
    assert.is(await metric(a, 'trellis_store_invalid_values'), 0, 'the gauge dropped with the delete');
    await raw.delete().key(bad1);
  } finally {
    await a.stop();
  }
});

test('a silent partition from etcd is noticed within the probe bound and shown in /status and metrics; healed, it recovers', async () => {
  const proxy = await startProxy(etcd.endpoints[0]!);
  const a = await startAgent(await agentConfig('n1', [proxy.url]), {
    netns: ns.name, logger: silentLogger(), defaultMetrics: false, watch: { probeIntervalMs: 200, probeTimeoutMs: 300 },
  });
  try {
    await a.ready(20_000);
    await waitFor('the watch connected', async () => a.status().store.status, (s) => s === 'connected');
    assert.is(await metric(a, 'trellis_store_connected'), 1);
    proxy.silence();
    // Bound 500 ms here (interval + timeout); waited for with room for a loaded machine.
    await waitFor('the store shown disconnected', async () => a.status().store.status, (s) => s === 'disconnected', 10_000);
    assert.is(await metric(a, 'trellis_store_connected'), 0, 'trellis_store_connected drops to 0');
    a.status(); // refreshes the stats-backed gauges
    assert.ok(await metric(a, 'trellis_store_watch_probe_failures') >= 1, 'the unanswered probe is counted');
    assert.match(a.readiness().checks.store!.detail, /watch disconnected/, '/readyz names the lost watch');
    proxy.heal();
    await waitFor('the store connected again', async () => a.status().store.status, (s) => s === 'connected', 20_000);
    assert.is(await metric(a, 'trellis_store_connected'), 1);
  } finally {
    await a.stop();
    await proxy.close();
  }
});

/** A TCP listener posing as etcd: counts who dials it. */
async function fakeEtcd(): Promise<{ url: string; dials: () => number; close(): Promise<void> }> {
  let dials = 0;
  const port = await freePort();
  const server: Server = createServer((s) => { dials++; s.destroy(); });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${port}`, dials: () => dials, close: () => new Promise<void>((r) => server.close(() => r())) };
}

test('a non-loopback apiListen without a token stops start-up before etcd is dialled', async () => {
  const fake = await fakeEtcd();
  try {
    const cfg = await agentConfig('n1', [fake.url], { apiListen: '0.0.0.0:9' });
    let err: unknown = null;
    try {
      const a = await startAgent(cfg, { netns: ns.name, logger: silentLogger(), defaultMetrics: false });
      await a.stop();
    } catch (e) { err = e; }
    assert.instance(err, ConfigError, `refused with a ConfigError, got ${String(err)}`);
    assert.match((err as ConfigError).message, /apiListen: .*0\.0\.0\.0 is not loopback: set apiTokenFile/);
    assert.is((err as ConfigError).field, 'apiListen');
    await new Promise((r) => setTimeout(r, 200));
    assert.is(fake.dials(), 0, 'nothing connected to etcd');
  } finally {
    await fake.close();
  }
});

test('trellisd itself exits 2 naming the file and line, without dialling etcd', async () => {
  const fake = await fakeEtcd();
  const dir = mkdtempSync(join(tmpdir(), 'trellis-preflight-'));
  try {
    const file = join(dir, 'trellisd.yaml');
    writeFileSync(file, `nodeName: n1\netcdEndpoints: ["${fake.url}"]\napiListen: "0.0.0.0:9099"\n`);
    const r = spawnSync(process.execPath, [join(process.cwd(), 'dist', 'agent', 'main.js'), '--config', file], { encoding: 'utf8', timeout: 20_000, env: { PATH: process.env.PATH ?? '' } });
    assert.is(r.status, 2, `exit code 2 (stderr: ${r.stderr})`);
    assert.match(r.stderr, new RegExp(`${file.replace(/[.]/g, '\\.')}:3: apiListen: .*not loopback`), 'the message names file:line and the setting');
    assert.is(fake.dials(), 0, 'nothing connected to etcd');
  } finally {
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
