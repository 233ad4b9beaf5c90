// The apply step the loop runs: the cache's desired state into the dataplane, then BGP
// (configuration and announcements), which follows the dataplane and never holds it back.
// Nothing is applied before the first full snapshot: a restart with etcd away touches nothing.
import type { Logger } from '../log/index.js';
import type { Advertiser } from './advertise.js';
import type { ResourceCache } from './cache.js';
import type { LearnedRoutes } from './learned.js';
import { repairsOf } from './drift.js';
import { createApplyLoop, type ApplyLoop } from './loop.js';
import type { AgentMetrics } from './metrics.js';
import type { BgpPort, DataplanePort } from './ports.js';
import type { VxlanComponent } from './vxlan.js';
import { countsOf, type AgentStatus } from './status.js';

export interface ApplyDeps {
  cache: ResourceCache;
  status: AgentStatus;
  dataplane: DataplanePort;
  bgp: BgpPort | null;
  advertiser: Advertiser | null;
  learned: LearnedRoutes | null;
  vxlan?: VxlanComponent | null;
  metrics: AgentMetrics;
  log: Logger;
}

function triggerOf(reasons: string[]): 'resync' | 'sync' | 'change' {
  return reasons.includes('resync') ? 'resync' : reasons.includes('sync') ? 'sync' : 'change';
}

export function applyStep(d: ApplyDeps): (reasons: string[]) => Promise<void> {
  return async (reasons) => {
    if (!d.status.state.store.synced) return;
    const t0 = performance.now();
    const next = d.cache.desired();
    const resync = reasons.includes('resync');
    const parts = repairsOf(reasons);
    const repair = parts.filter((p): p is 'routes' | 'policy' => p !== 'vxlan');
    const driftUpTo = d.status.driftSeq;
    const summary = await d.dataplane.reconcile(next, repair.length ? { resync, repair } : { resync });
    if (resync) d.learned?.push({ resync: true });
    d.status.programmed(next, countsOf(next, summary));
    let vxlanChanged = false;
    if (d.vxlan) {
      const before = d.vxlan.owned();
      // VXLAN drift (an FDB entry, neighbour or route of ours gone) is repaired by reading its part back.
      vxlanChanged = await d.vxlan.refresh(d.cache.list(), { resync: resync || parts.includes('vxlan') });
      // A prefix VXLAN took over (or gave back) changes which learned routes belong in the kernel.
      if (d.vxlan.owned() !== before) d.learned?.push();
    }
    // Only now: a VXLAN repair that failed leaves its drift outstanding (the loop retries).
    const repaired = d.status.driftRepaired(driftUpTo);
    if (repaired.length) {
      d.metrics.driftRepairs.inc();
      const counts = (summary.detail as { counts?: unknown } | undefined)?.counts;
      d.log.info({ repaired: repaired.length, wrote: summary.changed || vxlanChanged, counts, changes: repaired.slice(0, 10) }, 'kernel drift repaired');
    }
    d.metrics.applyDuration.observe({ trigger: triggerOf(reasons) }, (performance.now() - t0) / 1000);
    if (resync && (summary.changed || vxlanChanged)) {
      d.metrics.resyncRepairs.inc();
      d.log.warn({ reasons }, 'resync found the dataplane drifted from the desired state and repaired it');
    }
    if (summary.changed) d.log.info({ reasons, ms: Math.round(performance.now() - t0) }, 'dataplane applied');
    if (!d.bgp) return;
    try {
      await d.bgp.configure(d.cache.list());
      d.status.bgpResult(null);
    } catch (err) {
      d.status.bgpResult((err as Error).message);
      d.log.error({ err: (err as Error).message }, 'BGP configuration failed');
    }
    // IPAM unreachable: keep announcing what we announced (withdrawing would cut traffic).
    await d.advertiser?.refresh(next).catch((err: Error) => {
      d.metrics.storeErrors.inc({ kind: 'ipam' });
      d.log.warn({ err: err.message }, 'reading IPAM blocks failed; announcements unchanged');
    });
  };
}

/** The loop around applyStep, reporting each outcome to the status and the metrics. */
export function createAgentApplyLoop(d: ApplyDeps): ApplyLoop {
  const { status, metrics, log } = d;
  return createApplyLoop({
    apply: applyStep(d),
    coalesceMs: 2,
    initialBackoffMs: 100,
    maxBackoffMs: 10_000,
    onSuccess: (ms, reasons) => {
      const s = status.state;
      if (!s.store.synced) return;
      status.applied({ at: new Date().toISOString(), durationMs: Math.round(ms * 10) / 10, reasons });
      metrics.applies.inc();
      metrics.dataplaneProgrammed.set(1);
      metrics.consecutiveFailures.set(0);
      metrics.lastApplyTimestamp.set(Date.now() / 1000);
      metrics.endpoints.set(s.dataplane.desired?.endpoints.length ?? 0);
      metrics.rules.set(s.dataplane.counts.rules);
      metrics.sets.set(s.dataplane.counts.sets);
      metrics.routes.set(s.dataplane.counts.routes);
    },
    onFailure: (err, consecutive, retryInMs) => {
      const message = (err as Error).message ?? String(err);
      status.applyFailed({ at: new Date().toISOString(), message, consecutive });
      metrics.applyFailures.inc();
      metrics.dataplaneProgrammed.set(0);
      metrics.consecutiveFailures.set(consecutive);
      log.error({ err: message, consecutive, retryInMs }, 'dataplane apply failed; the kernel keeps its previous state; retrying');
    },
  });
}
