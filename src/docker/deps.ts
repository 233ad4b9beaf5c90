// What the Docker drivers need from trellisd: the store, this node, a log, the host's IPAM
// lock, Docker's API and the dataplane's progress.
import type { Logger } from 'pino';
import type { IpamStore } from '../ipam/index.js';
import type { Resource, ResourceKey } from '../model/index.js';
import type { DockerEngine } from './engine.js';

/** What the driver needs of the store (src/store's Store satisfies it). */
export interface DockerStore extends IpamStore {
  apply(r: Resource): Promise<unknown>;
  delete(key: ResourceKey): Promise<void>;
}

export interface DriverDeps {
  store: DockerStore;
  node: string;
  log: Logger;
  /** One IPAM change at a time on this host (CAS still decides between hosts). */
  ipamLock<T>(fn: () => Promise<T>): Promise<T>;
  /** Docker's API, for the container's name and labels and the network's name; null: endpoints carry only the network. */
  engine: DockerEngine | null;
  /**
   * Resolves true once this host's dataplane has programmed the store up to `revision`
   * (trellisd's own apply loop). Join waits for it, so a container starts with its policy
   * in place rather than dropped as an unknown interface for its first packets.
   */
  programmed?(revision: string, timeoutMs: number): Promise<boolean>;
}

