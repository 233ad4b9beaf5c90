// BGP-learned routes on their way to the kernel. The speaker hands over its full set of
// best routes whenever it changes; they are installed one sync at a time, in order, and a
// failed sync is retried. After a restart a gate holds them back: the previous run's
// routes stay in the kernel until every peer has sent End-of-RIB (or the graceful-restart
// timeout passes), so traffic to other nodes never drops while sessions come back.
// Sets coalesce: at most one sync runs and one waits; the waiting one takes the newest table
// and every destination changed since the last sync started. A 100k-route table arrives as
// hundreds of sets: each sync plans only what changed (the event-loop stall of #11), and
// anything that needs the whole picture (a resync, a retry, VXLAN taking prefixes over)
// plans the whole table.
import type { Logger } from '../log/index.js';
import type { DataplanePort, LearnedRoute, LearnedSet, LearnedTable } from './ports.js';

const EMPTY: LearnedTable = new Map<string, LearnedRoute>();

export interface LearnedState {
  /** The speaker's table (live). */
  table: LearnedTable;
  /** Open once graceful restart is over; before it nothing is installed. */
  gateOpen: boolean;
  /** Why the gate opened: every peer's End-of-RIB, or the timeout. */
  openedBy: 'eor' | 'timeout' | null;
  /** Routes in the kernel after the last successful sync (null before one). */
  installed: number | null;
  /** Consecutive failed syncs (a retry is scheduled while this is above 0). */
  failures: number;
}

export interface LearnedRoutes {
  readonly state: Readonly<LearnedState>;
  /** The speaker's new set: installed now if the gate is open. */
  set(set: LearnedSet): void;
  /** Opens the gate at End-of-RIB or after timeoutMs, whichever comes first. */
  openAfter(endOfRib: Promise<void>, timeoutMs: number): void;
  /** Queues a sync of the whole table (`resync`: read the kernel back and repair). */
  push(opts?: { resync?: boolean }): void;
  /** Resolves when every queued sync has run. */
  settled(): Promise<void>;
  stop(): Promise<void>;
}

export interface LearnedOptions {
  dataplane: DataplanePort;
  log: Logger;
  onInstalled?: (count: number) => void;
  retryMs?: number;
  /**
   * Destinations routed from the store (VXLAN): a learned route to one is not installed.
   * The store knows which host holds a block; BGP only repeats it, so VXLAN's route wins.
   */
  owned?: () => ReadonlySet<string>;
}

export function createLearnedRoutes(opts: LearnedOptions): LearnedRoutes {
  const retryMs = opts.retryMs ?? 1000;
  const state: LearnedState = { table: EMPTY, gateOpen: false, openedBy: null, installed: null, failures: 0 };
  let chain: Promise<void> = Promise.resolve();
  let stopped = false;
  /** Options of the sync that is queued and not started yet (null: none queued). */
  let queued: { resync?: boolean } | null = null;
  /** Destinations changed since the last sync started; null: plan the whole table. */
  let changed: Set<string> | null = null;

  /** The table less the destinations VXLAN routes. */
  const kernelTable = (): LearnedTable => {
    const owned = opts.owned?.();
    const t = state.table;
    if (!owned?.size) return t;
    // Counted once per sync, however often asked (the state and the dataplane's summary both ask).
    let size: number | undefined;
    return {
      get: (dst) => (owned.has(dst) ? undefined : t.get(dst)),
      *values() { for (const r of t.values()) if (!owned.has(r.dst)) yield r; },
      get size() {
        if (size === undefined) { size = 0; for (const r of t.values()) if (!owned.has(r.dst)) size++; }
        return size;
      },
    };
  };

  const sync = async (o: { resync?: boolean }) => {
    if (!state.gateOpen || stopped) return;
    const table = kernelTable();
    const these = changed;
    changed = new Set();
    try {
      await opts.dataplane.syncLearnedRoutes({ table, changed: these }, o);
      state.installed = table.size;
      state.failures = 0;
      opts.onInstalled?.(state.installed);
    } catch (err) {
      state.failures++;
      opts.log.error({ err: (err as Error).message, retryMs }, 'installing BGP-learned routes failed; retrying');
      setTimeout(() => push(o), retryMs).unref();
    }
  };
  const queue = (o: { resync?: boolean }) => {
    if (stopped) return;
    if (queued) { if (o.resync) queued.resync = true; return; }
    const mine: { resync?: boolean } = { ...o };
    queued = mine;
    chain = chain.then(() => { queued = null; return sync(mine); });
  };
  const push = (o: { resync?: boolean } = {}) => {
    changed = null;
    queue(o);
  };

  return {
    state,
    set(set) {
      state.table = set.table;
      if (!set.changed) changed = null;
      // The set is ours once handed over: kept as it is when nothing else is pending.
      else if (changed?.size === 0) changed = set.changed;
      else if (changed) for (const d of set.changed) changed.add(d);
      queue({});
    },
    openAfter(endOfRib, timeoutMs) {
      const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMs).unref());
      void Promise.race([endOfRib.then(() => 'eor' as const), timer]).then((why) => {
        if (state.gateOpen) return;
        state.gateOpen = true;
        state.openedBy = why;
        opts.log.info({ why }, 'graceful restart over: learned routes now follow BGP');
        push();
      });
    },
    push,
    settled: () => chain,
    async stop() {
      stopped = true;
      await chain.catch(() => undefined);
    },
  };
}
