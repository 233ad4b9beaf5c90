// The store against a real etcd that demands TLS client certificates, and one with
// user/password auth: the settings that production clusters use, shown end to end.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadDaemonConfig, storeConfigOf } from '../../src/config/index.js';
import { freePort, openStore, StoreError, type Store } from '../../src/store/index.js';
import { startTestEtcd } from '../helpers/etcd.js';
import { namespace } from './_fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'trellis-tls-'));
const f = (n: string) => join(dir, n);

function sh(argv: string[], env: Record<string, string> = {}): string {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/** A CA, and a server (127.0.0.1) and a client certificate it signed. */
function makeCerts(): void {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  sh(['openssl', 'req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.crt'), '-days', '1', '-subj', '/CN=trellis-test-ca']);
  for (const [who, ext] of [['server', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n'], ['client', 'extendedKeyUsage=clientAuth\n']] as const) {
    writeFileSync(f(`${who}.ext`), ext);
    sh(['openssl', 'req', ...ec, '-keyout', f(`${who}.key`), '-out', f(`${who}.csr`), '-subj', `/CN=${who === 'server' ? '127.0.0.1' : 'trellisd'}`]);
    sh(['openssl', 'x509', '-req', '-in', f(`${who}.csr`), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial',
      '-out', f(`${who}.crt`), '-days', '1', '-extfile', f(`${who}.ext`)]);
  }
}

async function startTlsEtcd(): Promise<{ url: string; proc: ChildProcess }> {
  const [client, peer] = [await freePort(), await freePort()];
  const url = `https://127.0.0.1:${client}`;
  const proc = spawn('etcd', [
    '--name', 'tls', '--data-dir', f('data'),
    '--listen-client-urls', url, '--advertise-client-urls', url,
    '--listen-peer-urls', `http://127.0.0.1:${peer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peer}`,
    '--initial-cluster', `tls=http://127.0.0.1:${peer}`,
    '--cert-file', f('server.crt'), '--key-file', f('server.key'),
    '--client-cert-auth', '--trusted-ca-file', f('ca.crt'),
  ], { stdio: 'ignore' });
  // Healthy once a client with a certificate gets an answer.
  const deadline = Date.now() + 20_000;
  for (;;) {
    const r = spawnSync('etcdctl', ['--endpoints', url, '--cacert', f('ca.crt'), '--cert', f('client.crt'), '--key', f('client.key'), 'endpoint', 'health'],
      { env: { ...process.env, ETCDCTL_API: '3' }, encoding: 'utf8' });
    if (r.status === 0) return { url, proc };
    if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`TLS etcd did not become healthy: ${r.stderr}`);
    await new Promise((res) => setTimeout(res, 200));
  }
}

/** The store call must fail (not hang): bounded so a hang shows as a failure, with its error returned. */
async function refusal(what: string, call: () => Promise<unknown>): Promise<unknown> {
  const hung = Symbol('hung');
  const r = await Promise.race([
    call().then(() => null, (e: unknown) => e),
    new Promise((res) => setTimeout(() => res(hung), 15_000)),
  ]);
  assert.ok(r !== hung, `${what}: the store call hung instead of failing`);
  assert.ok(r !== null, `${what}: the store call succeeded but must be refused`);
  return r;
}

makeCerts();
const etcd = await startTlsEtcd();

test('TLS: a store with the CA and a client certificate creates, reads and watches', async () => {
  const store = openStore({ endpoints: [etcd.url], tls: { caFile: f('ca.crt'), certFile: f('client.crt'), keyFile: f('client.key') } });
  try {
    await store.create(namespace('tls-a', { tenant: 'a' }));
    const got = await store.get({ kind: 'Namespace', name: 'tls-a' });
    assert.is(got?.resource.metadata.labels?.tenant, 'a', 'the resource written over TLS reads back');
    let snapshot: string[] = [];
    const w = await store.watch({ onSync(s) { snapshot = s.map((x) => x.resource.metadata.name); }, onEvent() {} }, { kinds: ['Namespace'] });
    const deadline = Date.now() + 10_000;
    while (!snapshot.includes('tls-a') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await w.close();
    assert.ok(snapshot.includes('tls-a'), `the watcher's snapshot over TLS holds tls-a (got ${JSON.stringify(snapshot)})`);
  } finally {
    await store.close();
  }
});

test('TLS: without a client certificate the server refuses, and the store says so with UNAVAILABLE', async () => {
  const store = openStore({ endpoints: [etcd.url], tls: { caFile: f('ca.crt') }, dialTimeoutMs: 2000 });
  try {
    const err = await refusal('no client certificate', () => store.get({ kind: 'Namespace', name: 'tls-a' }));
    assert.instance(err, StoreError, 'a typed StoreError');
    assert.is((err as StoreError).code, 'UNAVAILABLE');
  } finally {
    await store.close();
  }
});

test('TLS: the TRELLIS_ETCD_* variables reach the store through trellisd configuration', async () => {
  const { config } = loadDaemonConfig({
    defaultFile: join(dir, 'absent.yaml'),
    env: {
      TRELLIS_NODE_NAME: 'n1', TRELLIS_ETCD_ENDPOINTS: etcd.url,
      TRELLIS_ETCD_CA_FILE: f('ca.crt'), TRELLIS_ETCD_CERT_FILE: f('client.crt'), TRELLIS_ETCD_KEY_FILE: f('client.key'),
    },
  });
  const store: Store = openStore(storeConfigOf(config));
  try {
    const got = await store.get({ kind: 'Namespace', name: 'tls-a' });
    assert.ok(got, 'the store configured from TRELLIS_ETCD_* reads over TLS');
  } finally {
    await store.close();
  }
});

test('auth: etcd with users enabled accepts the right password and refuses a wrong one', async () => {
  const plain = await startTestEtcd();
  try {
    const ctl = (...args: string[]) => sh(['etcdctl', '--endpoints', plain.endpoints[0]!, ...args], { ETCDCTL_API: '3' });
    ctl('user', 'add', 'root:s3cret');
    ctl('auth', 'enable');
    const good = openStore({ endpoints: plain.endpoints, auth: { username: 'root', password: 's3cret' } });
    try {
      await good.create(namespace('auth-a'));
      assert.ok(await good.get({ kind: 'Namespace', name: 'auth-a' }), 'written and read with the right password');
    } finally {
      await good.close();
    }
    const bad = openStore({ endpoints: plain.endpoints, auth: { username: 'root', password: 'wrong' }, dialTimeoutMs: 2000 });
    try {
      const err = await refusal('wrong password', () => bad.get({ kind: 'Namespace', name: 'auth-a' }));
      assert.instance(err, StoreError, 'a typed StoreError');
      assert.match((err as Error).message, /auth|password|credential|permission/i, 'the message says authentication failed');
    } finally {
      await bad.close();
    }
  } finally {
    await plain.stop();
  }
});

test.after(() => {
  etcd.proc.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
});

test.run();
