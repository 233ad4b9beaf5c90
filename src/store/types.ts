// Shapes shared by the store and its watcher (kept apart from both so neither imports the other).
import type { Resource } from '../model/index.js';

export interface Stored { resource: Resource; revision: string }

export interface StoreStats {
  /** Values read from etcd that did not parse or validate (skipped). */
  invalidValues: number;
  /** Full resyncs a watcher did after falling behind a compaction. */
  watchResyncs: number;
  /** Times a watcher lost its stream and resumed. */
  watchReconnects: number;
  /** Times a watcher's liveness probe went unanswered (a silent partition). */
  watchProbeFailures: number;
}
