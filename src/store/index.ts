// The store face: Trellis resources in etcd (see keys.ts for the key layout).
export { openStore } from './store.js';
export type { Store } from './store.js';
export type { Stored, StoreStats } from './types.js';
export type { StoreConfig, StoreTls, StoreAuth } from './config.js';
export { etcdClientOptions, DEFAULT_DIAL_TIMEOUT_MS } from './config.js';
export { StoreError } from './errors.js';
export type { StoreErrorCode } from './errors.js';
export { DEFAULT_PREFIX, DOCKER_SEGMENT, IPAM_SEGMENT, keyFor, kindPrefix, parseEtcdKey } from './keys.js';
export type { WatchHandler, WatchEvent, WatchOptions, WatchStatus, Watcher } from './watch.js';
export { DEFAULT_PROBE_INTERVAL_MS, DEFAULT_PROBE_TIMEOUT_MS } from './watch.js';
export { connectStore } from './connect.js';
export type { ConnectedStore, ConnectStoreConfig } from './connect.js';
export { startEtcdServer, waitEtcdHealthy, freePort } from './etcd-server.js';
export type { EtcdServer, EtcdServerOptions } from './etcd-server.js';
