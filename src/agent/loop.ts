// The apply loop: one apply at a time, bursts of changes coalesced into the next apply,
// failures retried with exponential backoff. A change that arrives while an apply runs
// is picked up by a second apply right after it, so no change is ever lost and no two
// applies overlap (the dataplane's diff against the kernel assumes it is alone).

export interface ApplyLoopOptions {
  /** Does one full apply; throws to have it retried. */
  apply: (reasons: string[]) => Promise<void>;
  /** How long a trigger waits for more triggers before applying (a few ms: etcd bursts arrive together). */
  coalesceMs?: number;
  /** First retry delay after a failure; doubles per consecutive failure up to maxBackoffMs. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  onSuccess?: (ms: number, reasons: string[]) => void;
  onFailure?: (err: unknown, consecutive: number, retryInMs: number) => void;
}

export interface ApplyLoopState {
  /** Reasons waiting for the next apply (a failed apply's reasons stay until it succeeds). */
  pending: string[];
  running: boolean;
  /** A coalescing or retry timer is set. */
  scheduled: boolean;
  consecutiveFailures: number;
  stopped: boolean;
}

export interface ApplyLoop {
  /** A copy of where the loop is. */
  readonly state: ApplyLoopState;
  /** Asks for an apply soon (coalesced with other triggers). */
  trigger(reason: string): void;
  /** Resolves when no apply is pending or running (failures waiting for a retry count as pending). */
  idle(): Promise<void>;
  readonly consecutiveFailures: number;
  stop(): Promise<void>;
}

export function backoffMs(consecutive: number, initialMs: number, maxMs: number): number {
  return Math.min(maxMs, initialMs * 2 ** Math.max(0, consecutive - 1));
}

export function createApplyLoop(opts: ApplyLoopOptions): ApplyLoop {
  const coalesceMs = opts.coalesceMs ?? 2;
  const initial = opts.initialBackoffMs ?? 100;
  const max = opts.maxBackoffMs ?? 10_000;
  let pending = new Set<string>();
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;
  let failures = 0;
  let stopped = false;
  let waiters: Array<() => void> = [];

  const settleIfIdle = () => {
    if (!running && !timer && pending.size === 0) {
      const w = waiters;
      waiters = [];
      for (const f of w) f();
    }
  };

  const schedule = (delayMs: number) => {
    if (stopped || running) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(run, delayMs);
  };

  const run = () => {
    timer = null;
    if (stopped || running || pending.size === 0) { settleIfIdle(); return; }
    const reasons = [...pending];
    pending = new Set();
    const started = performance.now();
    running = (async () => {
      try {
        await opts.apply(reasons);
        failures = 0;
        opts.onSuccess?.(performance.now() - started, reasons);
      } catch (err) {
        failures++;
        // Keep the reasons: the retry must still deliver what failed.
        for (const r of reasons) pending.add(r);
        const wait = backoffMs(failures, initial, max);
        opts.onFailure?.(err, failures, wait);
        running = null;
        schedule(wait);
        return;
      }
      running = null;
      if (pending.size > 0) schedule(0);
      else settleIfIdle();
    })();
  };

  return {
    trigger(reason) {
      if (stopped) return;
      pending.add(reason);
      if (running) return;
      // After failures, a new change is tried at once (it may be what fixes things), but a
      // retry timer that is already due sooner is left alone.
      schedule(failures > 0 ? Math.min(coalesceMs, backoffMs(failures, initial, max)) : coalesceMs);
    },
    idle() {
      return new Promise<void>((resolve) => {
        waiters.push(resolve);
        settleIfIdle();
      });
    },
    get consecutiveFailures() { return failures; },
    get state() {
      return { pending: [...pending], running: running !== null, scheduled: timer !== null, consecutiveFailures: failures, stopped };
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = null;
      if (running) await running.catch(() => undefined);
      pending.clear();
      settleIfIdle();
    },
  };
}
