// The whole cluster in namespaces (3 hosts, a BIRD ToR, etcd): routes learned by BGP
// through the ToR carry traffic between hosts, tenants are isolated both ways, policies
// applied and deleted with trellisctl take effect, a deny-all on every host's own
// interfaces leaves the cluster running (failsafes), the status page shows it, and a host
// that goes down is withdrawn at the ToR within the hold time.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import type { Lab } from '../../src/lab/lab.js';
import { probeMany, probeTcp } from '../../src/lab/matrix.js';
import type { MatrixDoc } from '../../src/api/index.js';
import { DIST, labCniSocket, trellisdLog } from '../../src/lab/cluster.js';
import { freePort } from '../../src/store/index.js';
import { addressOf, learnedRoutes, startLab, stopLab, waitUntil } from './helpers.js';

let lab: Lab;
const tmp = mkdtempSync(join(tmpdir(), 'trellis-e2e-'));

test.before(async () => {
  lab = await startLab({ hosts: 3, tag: 'c' });
});

test.after(async () => {
  await stopLab(lab);
  rmSync(tmp, { recursive: true, force: true });
});

test('every host has an Established session with the ToR, which carries every block', async () => {
  const protos = await lab.birdProtocols();
  for (const h of lab.plan.hosts) assert.is(protos[h.name], 'Established', `ToR session to ${h.name}`);
  const torRoutes = await lab.birdRoutes();
  for (const h of lab.plan.hosts) {
    const st = await lab.status(h.name);
    assert.ok(st.bgp.advertised.length > 0, `${h.name} advertises its blocks`);
    for (const block of st.bgp.advertised) assert.is(torRoutes[block], h.address, `ToR route for ${h.name}'s ${block} points at ${h.address}`);
    const metrics = (await lab.api(h.name, '/metrics')).body;
    assert.match(metrics, /^trellis_bgp_sessions_established 1$/m, `${h.name} /metrics counts its session`);
    assert.match(metrics, new RegExp(`^trellis_bgp_session_state\\{peer="${h.torAddress.replace(/\./g, '\\.')}",state="Established"\\} 1$`, 'm'), `${h.name} session state gauge`);
  }
});

test('each trellisd serves trellis-cni on a socket of its own, and the lab\'s containers were plugged through it', async () => {
  for (const h of lab.plan.hosts) {
    assert.is(statSync(labCniSocket(lab.stateDir, h)).mode & 0o777, 0o600, `${h.name}: socket is root-only`);
    const log = readFileSync(trellisdLog(lab.stateDir, h.name), 'utf8');
    assert.match(log, /"msg":"serving CNI calls"/, `${h.name}: trellisd serves CNI calls`);
    const adds = log.split('\n').filter((l) => l.includes('"msg":"ADD done"')).length;
    const mine = lab.plan.containers.filter((c) => c.host === h.name).length;
    assert.is(adds, mine, `${h.name}: every container of this host was added by its own trellisd`);
  }
});

test('containers on different hosts reach each other over routes learned through the ToR', async () => {
  const h1Learned = await learnedRoutes(lab, 'h1');
  const st2 = await lab.status('h2');
  for (const block of st2.bgp.advertised) {
    assert.ok(h1Learned.includes(`${block} via ${lab.host('h1').torAddress}`), `h1 learned ${block} via the ToR: ${JSON.stringify(h1Learned)}`);
  }
  assert.ok(await probeTcp(lab.container('h1-a-client').netns, addressOf(lab, 'h2-a-web')), 'h1-a-client -> h2-a-web over TCP/80');
  assert.ok(await probeTcp(lab.container('h3-b-web').netns, addressOf(lab, 'h1-b-client')), 'h3-b-web -> h1-b-client over TCP/80');
  const ping = await execa('ip', ['netns', 'exec', lab.container('h1-a-web').netns, 'busybox', 'ping', '-c', '1', '-W', '2', addressOf(lab, 'h3-a-web')], { reject: false });
  assert.is(ping.exitCode, 0, `ping across hosts: ${ping.stdout}`);
});

test('tenant isolation holds both ways and the whole matrix is as declared', async () => {
  const deny = async (from: string, to: string) => assert.not.ok(await probeTcp(lab.container(from).netns, addressOf(lab, to)), `${from} -> ${to} must be denied`);
  const allow = async (from: string, to: string) => assert.ok(await probeTcp(lab.container(from).netns, addressOf(lab, to)), `${from} -> ${to} must be allowed`);
  await deny('h1-a-client', 'h2-b-web');
  await deny('h1-a-web', 'h1-b-client');
  await deny('h2-b-client', 'h3-a-client');
  // tenant-b -> tenant-a web: whatever the policies declare (explainFlow), the dataplane must match.
  const declared = await lab.declaredMatrix();
  const idx = (c: string) => declared.endpoints.findIndex((e) => e.address === addressOf(lab, c));
  const bToAWeb = declared.allowed[idx('h2-b-client')]![idx('h3-a-web')]!;
  assert.is(await probeTcp(lab.container('h2-b-client').netns, addressOf(lab, 'h3-a-web')), bToAWeb, 'h2-b-client -> h3-a-web as declared');
  await allow('h1-a-client', 'h3-a-client');
  const m = await lab.measureMatrix();
  const wrong = m.cells.filter((c) => c.declared !== c.observed);
  assert.is(m.total, lab.plan.containers.length * (lab.plan.containers.length - 1));
  assert.equal(wrong, [], 'observed matrix equals the policies');
});

test('a policy applied with trellisctl apply -f takes effect, and stops when deleted', async () => {
  const file = join(tmp, 'deny-a-web.yaml');
  writeFileSync(file, [
    'apiVersion: trellis.dev/v1', 'kind: GlobalNetworkPolicy', 'metadata:', '  name: e2e-deny-a-to-web', 'spec:', '  order: 5',
    '  selector: app == "web"', '  types: [Ingress]', '  ingress:', '    - action: Deny', '      protocol: TCP',
    '      source:', '        namespaceSelector: tenant == "a"', '',
  ].join('\n'));
  const from = lab.container('h2-a-client').netns;
  const to = addressOf(lab, 'h1-a-web');
  assert.ok(await probeTcp(from, to), 'allowed before the policy');
  await lab.trellisctl(['apply', '-f', file]);
  await waitUntil('the deny policy in force', async () => !(await probeTcp(from, to)), 10_000, 100);
  await lab.trellisctl(['delete', '-f', file]);
  await waitUntil('the deny policy gone', () => probeTcp(from, to), 10_000, 100);
});

test('deny-all on every host\'s all-interfaces host endpoint: the failsafes keep BGP, etcd and a restarted trellisd going, the matrix holds, explain names the failsafe', async () => {
  const file = join(tmp, 'host-deny-all.yaml');
  const hosts = lab.plan.hosts;
  const hepDoc = (h: (typeof hosts)[number]) => ['apiVersion: trellis.dev/v1', 'kind: HostEndpoint', 'metadata:', `  name: ${h.name}-all`, '  labels:', '    e2e-host: deny',
    'spec:', `  node: ${h.name}`, '  interfaceName: "*"', '  expectedIPs:', `    - ${h.address}`].join('\n');
  const policyDoc = ['apiVersion: trellis.dev/v1', 'kind: GlobalNetworkPolicy', 'metadata:', '  name: e2e-host-deny-all', 'spec:', '  selector: e2e-host == "deny"', '  types: [Ingress, Egress]'].join('\n');
  writeFileSync(file, [...hosts.map(hepDoc), policyDoc].join('\n---\n') + '\n');
  const h1 = lab.host('h1');
  const ping = async () => (await lab.exec('h1', ['busybox', 'ping', '-c', '1', '-W', '1', h1.torAddress])).exitCode === 0;
  const containers = (doc: MatrixDoc) => {
    const idx = doc.endpoints.map((e, i) => (e.id.startsWith('HOST/') ? -1 : i)).filter((i) => i >= 0);
    return idx.map((i) => idx.map((j) => doc.allowed[i]![j]!));
  };
  const declaredBefore = containers(await lab.declaredMatrix('h1'));
  assert.ok(await ping(), 'h1 pings the ToR before the policy (what the policy will close)');
  await lab.trellisctl(['apply', '-f', file]);
  try {
    await waitUntil('the deny-all in force on h1 (ICMP is no failsafe)', async () => !(await ping()), 15_000, 200);
    for (const h of hosts) {
      await waitUntil(`${h.name} polices its host endpoint`, async () => (await lab.status(h.name)).host?.endpoints.some((e) => e.id === `HostEndpoint/${h.name}-all`) === true, 15_000, 200);
    }
    // New connections, not just established ones: h1's trellisd restarts behind the policy.
    await lab.stopTrellisd('h1');
    lab.startTrellisd('h1');
    await lab.waitReady('h1', 30_000);
    await waitUntil('h1 Established again with the ToR', async () => (await lab.birdProtocols()).h1 === 'Established', 30_000, 250);
    const protos = await lab.birdProtocols();
    for (const h of hosts) assert.is(protos[h.name], 'Established', `ToR session to ${h.name} under deny-all`);
    for (const h of hosts) {
      const st = await lab.status(h.name);
      assert.ok(st.store.synced && st.store.status === 'connected', `${h.name}: etcd reachable (store ${JSON.stringify(st.store)})`);
      assert.is((await lab.api(h.name, '/readyz')).status, 200, `${h.name}: trellisd ready`);
    }
    const etcdFromHost = await lab.exec('h1', [process.execPath, join(DIST, 'cli/main.js'), 'get', 'hep']);
    assert.is(etcdFromHost.exitCode, 0, `a new etcd client in h1 (outbound failsafe tcp:2379): ${etcdFromHost.stderr}`);
    const explain = async (q: string) => (await lab.api('h1', `/explain?${q}&format=text`)).body;
    assert.match(await explain(`from=HOST/h1-all&to=${h1.torAddress}&protocol=ICMP`), `HOST/h1-all -> ${h1.torAddress}: DENIED at HostEndpoint/h1-all: policies applied but no rule matched`);
    assert.match(await explain(`from=${h1.address}&to=${h1.torAddress}&port=179`), `${h1.address} -> ${h1.torAddress} TCP/179: ALLOWED at HostEndpoint/h1-all by outbound failsafe tcp:179`);
    assert.match(await explain(`from=${h1.torAddress}&to=HOST/h1-all&port=2379`), 'ALLOWED at HostEndpoint/h1-all by failsafe tcp:2379');
    // The matrix: containers as declared before, and h1's own row as its packets say.
    const doc = await lab.declaredMatrix('h1');
    assert.equal(containers(doc), declaredBefore, 'the declared container matrix is unchanged by a host endpoint policy');
    const m = await lab.measureMatrix();
    assert.equal(m.cells.filter((c) => c.declared !== c.observed), [], 'observed container matrix equals the policies under deny-all');
    const row = doc.endpoints.findIndex((e) => e.id === 'HOST/h1-all');
    assert.ok(row >= 0, `/matrix lists HOST/h1-all: ${doc.endpoints.map((e) => e.id).join(', ')}`);
    const targets = doc.endpoints.filter((e) => !e.id.startsWith('HOST/'));
    const seen = await probeMany(h1.netns, targets.map((e) => e.address));
    const fromHost = targets.map((e) => doc.allowed[row]![doc.endpoints.indexOf(e)]!);
    assert.equal(seen, fromHost, 'h1\'s TCP/80 to every container as its HOST/h1-all row declares');
  } finally {
    await lab.trellisctl(['delete', '-f', file]);
  }
  await waitUntil('the deny-all gone from h1', ping, 15_000, 200);
  for (const h of hosts) {
    await waitUntil(`${h.name} polices no host endpoint`, async () => ((await lab.status(h.name)).host?.endpoints.length ?? 0) === 0, 15_000, 200);
  }
  assert.is((await lab.declaredMatrix('h1')).endpoints.filter((e) => e.id.startsWith('HOST/')).length, 0, 'no HOST rows once the host endpoints are gone');
});

test('the status page shows the sessions as Established and the matrix of /status', async () => {
  const { chromium } = await import('playwright-core');
  const port = await freePort();
  // A loopback forwarder into h1's namespace, where trellisd's API listens on 127.0.0.1:9099.
  const fwd: ChildProcess = spawn('socat', [`TCP-LISTEN:${port},bind=127.0.0.1,fork,reuseaddr`, `EXEC:ip netns exec ${lab.host('h1').netns} socat STDIO TCP\\:127.0.0.1\\:9099`], { stdio: 'ignore' });
  const profile = mkdtempSync(join(tmp, 'chromium-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium', headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    await waitUntil('the forwarder', async () => (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => null))?.ok === true, 5000, 100);
    const page = await ctx.newPage();
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.waitForSelector('body[data-loaded="true"]', { timeout: 15_000 });
    assert.is(await page.textContent('#node'), 'h1');
    const sessions = await page.$$eval('#sessions tbody tr', (rows) => rows.map((r) => r.getAttribute('data-state')));
    assert.ok(sessions.length >= 1, 'at least one BGP session shown');
    assert.ok(sessions.every((s) => s === 'Established'), `sessions shown: ${JSON.stringify(sessions)}`);
    const cells = await page.$$eval('#matrix td.cell', (tds) => tds.map((td) => [td.getAttribute('data-from'), td.getAttribute('data-to'), td.getAttribute('data-allowed')]));
    const mx = await lab.declaredMatrix('h1');
    const st = await lab.status('h1');
    assert.is(mx.endpoints.length, st.endpoints.length, 'the matrix covers every endpoint in /status');
    assert.is(cells.length, mx.endpoints.length ** 2, 'one cell per pair');
    for (const [from, to, allowed] of cells) {
      const i = mx.endpoints.findIndex((e) => e.id === from);
      const j = mx.endpoints.findIndex((e) => e.id === to);
      assert.is(allowed, String(mx.allowed[i]![j]), `page cell ${from} -> ${to}`);
    }
    const tenants = await page.$$eval('#endpoints .tenant', (ds) => ds.map((d) => d.getAttribute('data-tenant')));
    assert.equal(tenants, ['a', 'b']);
  } finally {
    await ctx.close();
    fwd.kill('SIGTERM');
  }
});

test('a host that goes down is withdrawn at the ToR within the hold time, and its routes leave the others', async () => {
  const h3 = lab.host('h3');
  const blocks = (await lab.status('h3')).bgp.advertised;
  assert.ok(blocks.length > 0);
  // The host vanishes: its fabric link goes silent, then its trellisd dies (no goodbye reaches the ToR).
  await execa('ip', ['netns', 'exec', h3.netns, 'iptables', '-I', 'INPUT', '1', '-i', 'eth0', '-j', 'DROP']);
  await execa('ip', ['netns', 'exec', h3.netns, 'iptables', '-I', 'OUTPUT', '1', '-o', 'eth0', '-j', 'DROP']);
  await lab.stopTrellisd('h3', 'SIGKILL');
  // The bound is the hold time plus the polling step: BIRD must not keep the routes as stale.
  await waitUntil(`h3 blocks withdrawn at the ToR within the ${lab.timers.holdTime} s hold time`, async () => {
    const routes = await lab.birdRoutes();
    return blocks.every((b) => !(b in routes));
  }, lab.timers.holdTime * 1000 + 1000, 250);
  await waitUntil('h3 routes gone from h1 and h2', async () => {
    const l1 = await learnedRoutes(lab, 'h1');
    const l2 = await learnedRoutes(lab, 'h2');
    return blocks.every((b) => !l1.some((r) => r.startsWith(`${b} `)) && !l2.some((r) => r.startsWith(`${b} `)));
  }, 5000, 100);
});

test.run();
