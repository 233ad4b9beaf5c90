// Drift the kernel reports (someone else changed our routes or iptables tables): noted in
// the status, counted, logged naming what changed, and handed to the apply loop as a repair
// of just that part. The repair is an ordinary apply, so it never overlaps another one; the
// drift stays outstanding (and /readyz not ready) until an apply that began after it succeeded.
import type { Logger } from '../log/index.js';
import type { ApplyLoop } from './loop.js';
import type { AgentMetrics } from './metrics.js';
import type { DataplanePort, DriftNote } from './ports.js';
import type { AgentStatus } from './status.js';

/** The loop's reason for a repair of one part (applyStep reads it back). */
export const DRIFT_REASON = { routes: 'drift-routes', policy: 'drift-policy', vxlan: 'drift-vxlan' } as const;

export type DriftPart = keyof typeof DRIFT_REASON;

export function repairsOf(reasons: readonly string[]): DriftPart[] {
  return (Object.entries(DRIFT_REASON) as Array<[DriftPart, string]>).filter(([, r]) => reasons.includes(r)).map(([p]) => p);
}

export interface DriftWatch { stop(): Promise<void>; readonly started: Promise<void> }

export function watchDrift(d: { dataplane: DataplanePort; status: AgentStatus; loop: ApplyLoop; metrics: AgentMetrics; log: Logger }): DriftWatch | null {
  if (!d.dataplane.watch) return null;
  return d.dataplane.watch((drift: DriftNote[]) => {
    // Before the first programmed state there is nothing of ours to drift from.
    if (!d.status.state.dataplane.programmed) return;
    d.status.drifted(drift.map((x) => x.what));
    const parts = new Set(drift.map((x) => x.part));
    for (const x of drift) d.metrics.driftEvents.inc({ part: x.part });
    d.log.warn({ parts: [...parts], changes: drift.map((x) => x.what) }, 'kernel changed behind trellisd; repairing');
    for (const p of parts) d.loop.trigger(DRIFT_REASON[p]);
  });
}
