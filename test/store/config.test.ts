// Settings: file < env < flags, strict errors naming the field and its source, and the
// mapping of TLS and auth settings onto the etcd client (no server needed).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, FIELD_NAMES, envVarFor, loadClientConfig, loadDaemonConfig, storeConfigOf } from '../../src/config/index.js';
import { etcdClientOptions, StoreError } from '../../src/store/index.js';

const dir = mkdtempSync(join(tmpdir(), 'trellis-config-'));
const missingDefault = join(dir, 'no-such-default.yaml');
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    assert.instance(err, ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err as ConfigError;
  }
  assert.unreachable('the settings were accepted');
  throw new Error('unreachable');
}

test('defaults, with a missing default file being fine', () => {
  const { config, file: used } = loadDaemonConfig({ env: {}, defaultFile: missingDefault });
  assert.is(used, null);
  assert.equal(config.etcdEndpoints, []);
  assert.is(config.embeddedEtcdDir, '/var/lib/trellis/etcd');
  assert.is(config.apiListen, '127.0.0.1:9099');
  assert.is(config.logLevel, 'info');
  assert.is(config.resyncIntervalSeconds, 60);
  assert.is(config.storePrefix, '/trellis/v1/');
  assert.ok(config.nodeName.length > 0, 'node name defaults to the host name');
});

test('file < env < overrides, and sources say where each value came from', () => {
  const f = file('precedence.yaml', 'nodeName: from-file\nlogLevel: debug\nresyncIntervalSeconds: 30\netcdEndpoints:\n  - http://10.0.0.1:2379\n');
  const { config, sources } = loadDaemonConfig({
    file: f,
    env: { TRELLIS_LOG_LEVEL: 'warn', TRELLIS_ETCD_ENDPOINTS: 'http://a:2379, http://b:2379', TRELLIS_NODE_NAME: 'from-env', TRELLIS_UNRELATED_THING: 'ignored' },
    overrides: { nodeName: 'from-flag' },
  });
  assert.is(config.nodeName, 'from-flag', 'overrides win');
  assert.is(config.logLevel, 'warn', 'env wins over the file');
  assert.equal(config.etcdEndpoints, ['http://a:2379', 'http://b:2379'], 'comma-separated endpoints');
  assert.is(config.resyncIntervalSeconds, 30, 'file wins over the default');
  assert.is(sources.resyncIntervalSeconds, `${f}:3`);
  assert.is(sources.logLevel, 'TRELLIS_LOG_LEVEL');
  assert.is(sources.nodeName, 'override');
  assert.is(sources.apiListen, 'default');
});

test('every field has a TRELLIS_ env var that sets it', () => {
  assert.is(envVarFor('etcdCaFile'), 'TRELLIS_ETCD_CA_FILE');
  assert.is(envVarFor('resyncIntervalSeconds'), 'TRELLIS_RESYNC_INTERVAL_SECONDS');
  const env: Record<string, string> = {
    TRELLIS_NODE_NAME: 'n1', TRELLIS_ETCD_ENDPOINTS: 'https://e:2379', TRELLIS_ETCD_CA_FILE: '/ca', TRELLIS_ETCD_CERT_FILE: '/c',
    TRELLIS_ETCD_KEY_FILE: '/k', TRELLIS_ETCD_USERNAME: 'u', TRELLIS_ETCD_PASSWORD: 'p', TRELLIS_EMBEDDED_ETCD_DIR: '/e',
    TRELLIS_EMBEDDED_ETCD_CLIENT_PORT: '12379', TRELLIS_EMBEDDED_ETCD_PEER_PORT: '12380', TRELLIS_API_LISTEN: '[::1]:1234',
    TRELLIS_API_TOKEN_FILE: '/t', TRELLIS_LOG_LEVEL: 'error', TRELLIS_RESYNC_INTERVAL_SECONDS: '0', TRELLIS_STORE_PREFIX: '/x/',
    TRELLIS_CNI_SOCKET: '/run/x/cni.sock', TRELLIS_FAILSAFE_INBOUND_HOST_PORTS: 'tcp:22', TRELLIS_FAILSAFE_OUTBOUND_HOST_PORTS: 'udp:53',
    TRELLIS_DEFAULT_ENDPOINT_TO_HOST_ACTION: 'Accept', TRELLIS_BGP_SECRETS_DIR: '/run/secrets/bgp',
    TRELLIS_DOCKER_SOCKET: '/run/docker/plugins/trellis.sock', TRELLIS_DOCKER_API_SOCKET: '/run/d.sock',
    TRELLIS_VXLAN_VNI: '77', TRELLIS_VXLAN_PORT: '8472', TRELLIS_VXLAN_MTU: '1400', TRELLIS_BGP_ENABLED: 'false',
  };
  const { sources } = loadDaemonConfig({ env, defaultFile: missingDefault });
  for (const f of FIELD_NAMES) assert.is(sources[f], envVarFor(f), `${f} is set by ${envVarFor(f)}`);
});

test('failsafe ports: Calico\'s defaults, protocol:port[:net] lists (file or env), and a bad entry names its item', () => {
  const d = loadDaemonConfig({ env: {}, defaultFile: missingDefault }).config;
  assert.equal(d.failsafeInboundHostPorts.map((f) => `${f.protocol}:${f.port}`), ['tcp:22', 'udp:68', 'tcp:179', 'tcp:2379', 'tcp:2380'], 'inbound defaults');
  assert.equal(d.failsafeOutboundHostPorts.map((f) => `${f.protocol}:${f.port}`), ['udp:53', 'udp:67', 'tcp:179', 'tcp:2379', 'tcp:2380'], 'outbound defaults');
  assert.is(d.defaultEndpointToHostAction, 'Drop', 'workload-to-host default');
  const f = file('fs.yaml', 'failsafeInboundHostPorts:\n  - tcp:22:10.0.0.0/8\n  - {protocol: UDP, port: 68}\nfailsafeOutboundHostPorts: []\n');
  const c = loadDaemonConfig({ file: f, env: {} }).config;
  assert.equal(c.failsafeInboundHostPorts, [{ protocol: 'tcp', port: 22, net: '10.0.0.0/8' }, { protocol: 'udp', port: 68 }], 'string and object forms');
  assert.equal(c.failsafeOutboundHostPorts, [], 'an empty list turns outbound failsafes off');
  const e = configError(() => loadDaemonConfig({ env: { TRELLIS_FAILSAFE_INBOUND_HOST_PORTS: 'tcp:22, icmp:0' }, defaultFile: missingDefault }));
  assert.is(e.field, 'failsafeInboundHostPorts');
  assert.is(e.source, 'TRELLIS_FAILSAFE_INBOUND_HOST_PORTS');
  assert.match(e.message, /item 1/);
  assert.match(e.message, /icmp:0/);
  const a = configError(() => loadDaemonConfig({ env: { TRELLIS_DEFAULT_ENDPOINT_TO_HOST_ACTION: 'drop' }, defaultFile: missingDefault }));
  assert.match(a.message, /Drop, Return or Accept/);
});

test('an unknown key in the file is an error naming it and its line', () => {
  const f = file('unknown.yaml', 'nodeName: a\nlogLevel: info\netcdEndpoint: http://x:2379\n');
  const e = configError(() => loadDaemonConfig({ file: f, env: {} }));
  assert.is(e.field, 'etcdEndpoint');
  assert.is(e.source, `${f}:3`);
  assert.match(e.message, /unknown setting/);
});

test('a bad value names the field and the source: file line or env var', () => {
  const f = file('bad.yaml', 'logLevel: info\nresyncIntervalSeconds: soon\n');
  let e = configError(() => loadDaemonConfig({ file: f, env: {} }));
  assert.is(e.field, 'resyncIntervalSeconds');
  assert.is(e.source, `${f}:2`);
  e = configError(() => loadDaemonConfig({ env: { TRELLIS_RESYNC_INTERVAL_SECONDS: '1.5' }, defaultFile: missingDefault }));
  assert.is(e.source, 'TRELLIS_RESYNC_INTERVAL_SECONDS');
  assert.match(e.message, /whole number/);
  e = configError(() => loadDaemonConfig({ env: { TRELLIS_ETCD_ENDPOINTS: 'etcd:2379' }, defaultFile: missingDefault }));
  assert.is(e.field, 'etcdEndpoints');
  assert.match(e.message, /http:\/\/host:port/);
  e = configError(() => loadDaemonConfig({ env: { TRELLIS_LOG_LEVEL: 'loud' }, defaultFile: missingDefault }));
  assert.match(e.message, /TRELLIS_LOG_LEVEL: logLevel: must be one of/);
  e = configError(() => loadDaemonConfig({ env: { TRELLIS_API_LISTEN: '9099' }, defaultFile: missingDefault }));
  assert.is(e.field, 'apiListen');
  e = configError(() => loadDaemonConfig({ env: { TRELLIS_ETCD_CERT_FILE: '/c' }, defaultFile: missingDefault }));
  assert.is(e.field, 'etcdCertFile', 'a certificate without a key is refused');
});

test('an explicit missing file and broken YAML are errors; the default file is read when present', () => {
  configError(() => loadDaemonConfig({ file: join(dir, 'missing.yaml'), env: {} }));
  const broken = file('broken.yaml', 'nodeName: a\n  logLevel: [\n');
  const e = configError(() => loadDaemonConfig({ file: broken, env: {} }));
  assert.match(e.source, new RegExp(`^${broken}:\\d+$`));
  const def = file('default.yaml', 'nodeName: from-default-file\n');
  assert.is(loadDaemonConfig({ env: {}, defaultFile: def }).config.nodeName, 'from-default-file');
  assert.is(loadDaemonConfig({ env: { TRELLIS_CONFIG: def }, defaultFile: missingDefault }).config.nodeName, 'from-default-file', 'TRELLIS_CONFIG names the file');
});

test('store settings: TLS files and user/password reach the etcd client options', () => {
  const { config } = loadDaemonConfig({
    env: { TRELLIS_ETCD_ENDPOINTS: 'https://e1:2379,https://e2:2379', TRELLIS_ETCD_CA_FILE: '/pki/ca.crt', TRELLIS_ETCD_CERT_FILE: '/pki/c.crt', TRELLIS_ETCD_KEY_FILE: '/pki/c.key', TRELLIS_ETCD_USERNAME: 'trellis', TRELLIS_ETCD_PASSWORD: 's3cret' },
    defaultFile: missingDefault,
  });
  const sc = storeConfigOf(config);
  assert.equal(sc.tls, { caFile: '/pki/ca.crt', certFile: '/pki/c.crt', keyFile: '/pki/c.key' });
  assert.equal(sc.auth, { username: 'trellis', password: 's3cret' });
  const read: string[] = [];
  const opts = etcdClientOptions(sc, (f) => { read.push(f); return Buffer.from(`PEM ${f}`); });
  assert.equal(opts.hosts, ['https://e1:2379', 'https://e2:2379']);
  assert.is(opts.credentials?.rootCertificate.toString(), 'PEM /pki/ca.crt');
  assert.is(opts.credentials?.certChain?.toString(), 'PEM /pki/c.crt');
  assert.is(opts.credentials?.privateKey?.toString(), 'PEM /pki/c.key');
  assert.equal(opts.auth, { username: 'trellis', password: 's3cret' });
  assert.equal(read.sort(), ['/pki/c.crt', '/pki/c.key', '/pki/ca.crt']);
  const plain = etcdClientOptions({ endpoints: ['http://127.0.0.1:2379'] });
  assert.is(plain.credentials, undefined, 'no TLS unless configured');
  assert.is(plain.auth, undefined, 'no auth unless configured');
});

test('unusable store settings are refused with INVALID', () => {
  const invalid = (fn: () => unknown, why: string) => {
    try { fn(); } catch (err) {
      assert.instance(err, StoreError, why);
      assert.is((err as StoreError).code, 'INVALID', why);
      return;
    }
    assert.unreachable(why);
  };
  invalid(() => etcdClientOptions({ endpoints: [] }), 'no endpoints');
  invalid(() => etcdClientOptions({ endpoints: ['http://e:2379'], tls: { caFile: '/ca' } }, () => Buffer.from('x')), 'TLS with an http:// endpoint');
  invalid(() => etcdClientOptions({ endpoints: ['https://e:2379'], tls: { certFile: '/c' } }, () => Buffer.from('x')), 'certificate without key');
  invalid(() => etcdClientOptions({ endpoints: ['https://e:2379'], tls: { caFile: join(dir, 'nope.crt') } }), 'unreadable CA file');
});

test('trellisctl settings: --etcd-endpoints > env > file; embedded default endpoint', () => {
  const f = file('client.yaml', 'etcdEndpoints: [http://file:2379]\napiListen: 0.0.0.0:9100\n');
  assert.equal(loadClientConfig({ config: f }, {}).store.endpoints, ['http://file:2379']);
  assert.equal(loadClientConfig({ config: f }, { TRELLIS_ETCD_ENDPOINTS: 'http://env:2379' }).store.endpoints, ['http://env:2379']);
  assert.equal(loadClientConfig({ config: f, etcdEndpoints: 'http://flag:2379' }, { TRELLIS_ETCD_ENDPOINTS: 'http://env:2379' }).store.endpoints, ['http://flag:2379']);
  assert.is(loadClientConfig({ config: f }, {}).apiUrl, 'http://127.0.0.1:9100', 'a wildcard listen address is reached on loopback');
  assert.equal(loadClientConfig({}, {}, { defaultFile: missingDefault }).store.endpoints, ['http://127.0.0.1:2379'], 'no endpoints: the embedded etcd');
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
