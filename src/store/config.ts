// StoreConfig -> etcd3 client options. Pure apart from reading the certificate files,
// so the mapping of TLS and auth settings is testable without a server.
import { readFileSync } from 'node:fs';
import type { IOptions } from 'etcd3';
import type { Logger } from '../log/index.js';
import { StoreError } from './errors.js';

export interface StoreTls { caFile?: string; certFile?: string; keyFile?: string }
export interface StoreAuth { username: string; password: string }

export interface StoreConfig {
  endpoints: string[];
  /** Key prefix (default '/trellis/v1/'). */
  prefix?: string;
  tls?: StoreTls;
  auth?: StoreAuth;
  /** How long a connection attempt may take before a call fails (default 5000 ms). */
  dialTimeoutMs?: number;
  /** Where invalid values and watch reconnects are logged (default: silent). */
  logger?: Logger;
  /** Called for every value read from etcd that does not parse or validate (it is skipped). */
  onInvalid?: (etcdKey: string, error: string) => void;
}

export const DEFAULT_DIAL_TIMEOUT_MS = 5000;

function readPem(file: string, what: string, read: (f: string) => Buffer): Buffer {
  try {
    return read(file);
  } catch (err) {
    throw new StoreError('INVALID', `cannot read the etcd ${what} ${file}: ${(err as Error).message}`);
  }
}

/** The etcd3 client options for a StoreConfig; throws StoreError INVALID for unusable settings. */
export function etcdClientOptions(cfg: StoreConfig, read: (f: string) => Buffer = (f) => readFileSync(f)): IOptions {
  if (cfg.endpoints.length === 0) throw new StoreError('INVALID', 'no etcd endpoints configured');
  for (const e of cfg.endpoints) {
    if (!/^https?:\/\/[^/]+\/?$/.test(e)) throw new StoreError('INVALID', `etcd endpoint "${e}" must look like http://host:port or https://host:port`);
  }
  const opts: IOptions = { hosts: cfg.endpoints, dialTimeout: cfg.dialTimeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS };
  const tls = cfg.tls ?? {};
  if ((tls.certFile === undefined) !== (tls.keyFile === undefined)) {
    throw new StoreError('INVALID', 'etcd client TLS needs both a certificate file and a key file');
  }
  if (tls.caFile !== undefined || tls.certFile !== undefined) {
    if (cfg.endpoints.some((e) => e.startsWith('http://'))) {
      throw new StoreError('INVALID', 'etcd TLS settings are given but an endpoint is http://; use https:// endpoints');
    }
    // Without a CA file gRPC verifies the server against the system roots.
    const credentials: NonNullable<IOptions['credentials']> = {
      rootCertificate: tls.caFile !== undefined ? readPem(tls.caFile, 'CA file', read) : (undefined as unknown as Buffer),
    };
    if (tls.certFile !== undefined && tls.keyFile !== undefined) {
      credentials.certChain = readPem(tls.certFile, 'client certificate file', read);
      credentials.privateKey = readPem(tls.keyFile, 'client key file', read);
    }
    opts.credentials = credentials;
  }
  if (cfg.auth) {
    if (!cfg.auth.username) throw new StoreError('INVALID', 'etcd auth needs a user name');
    opts.auth = { username: cfg.auth.username, password: cfg.auth.password };
  }
  return opts;
}
