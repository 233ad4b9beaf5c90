// The periodic full resync (the safety net under the event-driven applies): give back
// IPAM blocks left empty past their grace period, then reconcile against the kernel read
// back, and resync the learned routes too.
import cron from 'node-cron';
import { EMPTY_BLOCK_GRACE_MS } from '../ipam/index.js';
import type { Logger } from '../log/index.js';
import type { LearnedRoutes } from './learned.js';
import type { ApplyLoop } from './loop.js';
import type { AgentMetrics } from './metrics.js';
import type { IpamPort } from './ports.js';
import { resyncCron } from './schedule.js';
import type { AgentStatus } from './status.js';

// Its home is ipam (trellisctl names it in the hint after an IPPool is deleted).
export { EMPTY_BLOCK_GRACE_MS };

export interface ResyncDeps {
  node: string;
  intervalSeconds: number;
  status: AgentStatus;
  loop: ApplyLoop;
  learned: LearnedRoutes | null;
  ipam: IpamPort | null;
  metrics: AgentMetrics;
  log: Logger;
}

export interface ResyncTask {
  /** One resync as the timer runs it (the loop's apply is triggered, not awaited). */
  run(): Promise<void>;
  stop(): void;
}

export function scheduleResync(d: ResyncDeps): ResyncTask {
  let stopped = false;
  const releaseEmptyBlocks = async () => {
    if (!d.ipam || d.status.state.store.status !== 'connected') return;
    try {
      const released = await d.ipam.releaseEmpty(d.node, EMPTY_BLOCK_GRACE_MS);
      if (released.length) d.log.info({ released }, 'released empty IPAM blocks');
    } catch (err) {
      d.metrics.storeErrors.inc({ kind: 'ipam' });
      d.log.warn({ err: (err as Error).message }, 'releasing empty IPAM blocks failed; next resync tries again');
    }
  };
  const run = async () => {
    if (!d.status.state.store.synced || stopped) return;
    d.metrics.resyncs.inc();
    d.learned?.push();
    await releaseEmptyBlocks();
    d.loop.trigger('resync');
  };
  const task = d.intervalSeconds > 0
    ? cron.schedule(resyncCron(d.intervalSeconds), () => { void run(); },
      { name: `trellisd-resync-${d.node}-${process.pid}-${Math.random().toString(36).slice(2, 6)}`, noOverlap: true })
    : null;
  return {
    run,
    stop() {
      stopped = true;
      task?.destroy();
    },
  };
}
