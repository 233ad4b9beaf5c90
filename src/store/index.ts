// The store: Trellis resources in etcd. PLACEHOLDER face until the store lands.
export { startEtcdServer, waitEtcdHealthy, freePort } from './etcd-server.js';
export type { EtcdServer, EtcdServerOptions } from './etcd-server.js';
