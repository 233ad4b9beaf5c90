// Timing a change by probing for it: probes are launched every PROBE_EVERY_MS, and the
// change is "reflected" at the launch time of the first probe that shows the new state.
export const PROBE_EVERY_MS = 50;

/** ms from t0 until fn() first returns `want` for a probe launched at that moment. */
export async function firstReflecting(t0: number, want: boolean, fn: () => Promise<boolean>, timeoutMs = 20_000): Promise<number> {
  return new Promise((resolve, reject) => {
    let done = false;
    const timer = setInterval(() => {
      const launched = performance.now() - t0;
      if (launched > timeoutMs) { clearInterval(timer); if (!done) { done = true; reject(new Error(`not reflected after ${timeoutMs} ms`)); } return; }
      void fn().then((v) => {
        if (!done && v === want) { done = true; clearInterval(timer); resolve(launched); }
      });
    }, PROBE_EVERY_MS);
  });
}
