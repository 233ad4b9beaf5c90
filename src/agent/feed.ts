// The store watch feeding the agent: snapshots replace the cache, events patch it, and
// either asks the apply loop for an apply; connection and invalid values go to the status.
import type { Logger } from '../log/index.js';
import type { ResourceKey } from '../model/index.js';
import type { WatchHandler, WatchStatus } from '../store/index.js';
import type { ResourceCache } from './cache.js';
import type { ApplyLoop } from './loop.js';
import type { AgentMetrics } from './metrics.js';
import type { AgentStatus } from './status.js';

export function storeFeed(d: { cache: ResourceCache; status: AgentStatus; loop: ApplyLoop; metrics: AgentMetrics; log: Logger }): WatchHandler {
  const { cache, status, loop, metrics, log } = d;
  // Keys whose stored value is invalid, by etcd key: their last valid version (if the cache
  // has one) stays in force across snapshots until the key is fixed or deleted.
  const held = new Map<string, ResourceKey>();
  return {
    onSync(snapshot, rev) {
      const changed = cache.replaceAll(snapshot.map((s) => s.resource), held.values());
      const first = !status.state.store.synced;
      status.synced(rev);
      metrics.storeSynced.set(1);
      if (first || changed) loop.trigger(first ? 'sync' : 'resync-store');
      log.info({ revision: rev, resources: snapshot.length, first }, 'store snapshot');
    },
    onEvent(ev) {
      status.revision(ev.revision);
      if (ev.type === 'put' && ev.resource) cache.put(ev.key, ev.resource);
      else cache.delete(ev.key);
      loop.trigger('change');
    },
    onInvalid(key, error, resource, historyRevision) {
      if (resource) held.set(key, resource);
      // A snapshot that found the last valid version in etcd's history carries it (a
      // trellisd started after the value went bad); else the cache may hold one seen earlier.
      const holding = historyRevision !== undefined || (resource !== undefined && cache.has(resource));
      const hold = historyRevision !== undefined
        ? `the last valid version, etcd revision ${historyRevision}, stays in force`
        : holding ? 'the last valid version stays in force' : 'never valid here: nothing of it is in force';
      status.invalid(key, `${error} (${hold})`);
      metrics.storeInvalidValues.set(status.state.store.invalid.size);
      log.warn({ key, error, holding, ...(historyRevision ? { historyRevision } : {}) }, `invalid value in etcd: ${hold}`);
    },
    onValid(key) {
      held.delete(key);
      status.valid(key);
      metrics.storeInvalidValues.set(status.state.store.invalid.size);
      log.info({ key }, 'a value in etcd reported invalid is fixed or deleted');
    },
    onStatus(s: WatchStatus) {
      const before = status.state.store.status;
      if (s !== before) log.info({ status: s }, 'store watch');
      if (s === 'disconnected' && before !== 'disconnected') metrics.storeErrors.inc({ kind: 'watch' });
      status.storeStatus(s);
      metrics.storeConnected.set(s === 'connected' ? 1 : 0);
    },
  };
}
