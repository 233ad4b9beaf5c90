// What trellisd and trellisctl hand to the store, and trellisctl's own settings: the
// same file and TRELLIS_* variables as trellisd, with flags on top.
import type { ConnectStoreConfig } from '../store/index.js';
import type { DaemonConfig } from './fields.js';
import { loadDaemonConfig, type LoadOptions } from './load.js';

/** The store settings in a daemon config (empty endpoints: embedded etcd). */
export function storeConfigOf(cfg: DaemonConfig): ConnectStoreConfig {
  const out: ConnectStoreConfig = {
    endpoints: cfg.etcdEndpoints,
    prefix: cfg.storePrefix,
    embeddedEtcdDir: cfg.embeddedEtcdDir,
    embeddedClientPort: cfg.embeddedEtcdClientPort,
    embeddedPeerPort: cfg.embeddedEtcdPeerPort,
  };
  if (cfg.etcdCaFile || cfg.etcdCertFile) {
    out.tls = {
      ...(cfg.etcdCaFile ? { caFile: cfg.etcdCaFile } : {}),
      ...(cfg.etcdCertFile ? { certFile: cfg.etcdCertFile } : {}),
      ...(cfg.etcdKeyFile ? { keyFile: cfg.etcdKeyFile } : {}),
    };
  }
  if (cfg.etcdUsername !== undefined) out.auth = { username: cfg.etcdUsername, password: cfg.etcdPassword ?? '' };
  return out;
}

export interface ClientConfig {
  /** Store settings; never empty endpoints (the embedded etcd's loopback URL instead). */
  store: ConnectStoreConfig;
  /** Base URL of the local trellisd HTTP API. */
  apiUrl: string;
  apiTokenFile?: string;
}

export interface ClientFlags {
  /** --etcd-endpoints, comma-separated. */
  etcdEndpoints?: string;
  /** --config */
  config?: string;
}

/** trellisctl settings: --etcd-endpoints > TRELLIS_* env > settings file > defaults. */
export function loadClientConfig(flags: ClientFlags, env: Record<string, string | undefined>, opts: Pick<LoadOptions, 'defaultFile'> = {}): ClientConfig {
  const overrides: Partial<DaemonConfig> = {};
  if (flags.etcdEndpoints !== undefined) overrides.etcdEndpoints = flags.etcdEndpoints.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const { config } = loadDaemonConfig({ ...(flags.config !== undefined ? { file: flags.config } : {}), env, overrides, ...opts });
  const store = storeConfigOf(config);
  if (store.endpoints.length === 0) store.endpoints = [`http://127.0.0.1:${config.embeddedEtcdClientPort}`];
  const [host, port] = splitListen(config.apiListen);
  const apiHost = host === '0.0.0.0' ? '127.0.0.1' : host === '[::]' ? '[::1]' : host;
  return {
    store,
    apiUrl: env.TRELLIS_API_URL ?? `http://${apiHost}:${port}`,
    ...(config.apiTokenFile ? { apiTokenFile: config.apiTokenFile } : {}),
  };
}

function splitListen(listen: string): [string, string] {
  const i = listen.lastIndexOf(':');
  return [listen.slice(0, i), listen.slice(i + 1)];
}
