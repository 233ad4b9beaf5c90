// connectStore: the store trellisd uses. With no endpoints configured it runs its own
// single-member etcd (embedded default for a one-host setup) and stops it on close.
import { openStore, type Store } from './store.js';
import type { StoreConfig } from './config.js';
import { startEtcdServer, type EtcdServer } from './etcd-server.js';
import { StoreError } from './errors.js';

export interface ConnectStoreConfig extends StoreConfig {
  /** Data directory of the embedded etcd (used only when endpoints is empty). */
  embeddedEtcdDir?: string;
  /** Loopback ports of the embedded etcd (default: free ports). */
  embeddedClientPort?: number;
  embeddedPeerPort?: number;
}

export interface ConnectedStore {
  store: Store;
  /** The embedded etcd, when one was started. */
  embedded: EtcdServer | null;
  stop(): Promise<void>;
}

export async function connectStore(cfg: ConnectStoreConfig): Promise<ConnectedStore> {
  let embedded: EtcdServer | null = null;
  let endpoints = cfg.endpoints;
  if (endpoints.length === 0) {
    if (!cfg.embeddedEtcdDir) throw new StoreError('INVALID', 'no etcd endpoints and no embedded etcd data directory configured');
    try {
      embedded = await startEtcdServer({
        dataDir: cfg.embeddedEtcdDir,
        name: 'trellis-embedded',
        host: '127.0.0.1',
        ...(cfg.embeddedClientPort ? { clientPort: cfg.embeddedClientPort } : {}),
        ...(cfg.embeddedPeerPort ? { peerPort: cfg.embeddedPeerPort } : {}),
      });
    } catch (err) {
      throw new StoreError('UNAVAILABLE', `cannot start the embedded etcd in ${cfg.embeddedEtcdDir}: ${(err as Error).message}`, { cause: err });
    }
    endpoints = [embedded.clientUrl];
    cfg.logger?.info({ clientUrl: embedded.clientUrl, dataDir: cfg.embeddedEtcdDir }, 'started embedded etcd');
  }
  let store: Store;
  try {
    store = openStore({ ...cfg, endpoints });
  } catch (err) {
    await embedded?.stop();
    throw err;
  }
  return {
    store,
    embedded,
    async stop() {
      await store.close();
      await embedded?.stop();
    },
  };
}
