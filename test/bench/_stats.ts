// Small statistics for benchmarks: medians and percentiles over samples.
export function percentile(samples: number[], p: number): number {
  if (samples.length === 0) return NaN;
  const s = [...samples].sort((a, b) => a - b);
  const idx = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[idx]!;
}
export const median = (samples: number[]): number => percentile(samples, 50);
export function rssMiB(): number {
  return Math.round((process.memoryUsage().rss / 1024 / 1024) * 10) / 10;
}

/** To the thousandth (a microsecond of a millisecond figure). */
export const round3 = (x: number) => Math.round(x * 1000) / 1000;
/** Median and p90 of millisecond samples, to the microsecond. */
export const msStats = (xs: number[]) => ({ medianMs: round3(median(xs)), p90Ms: round3(percentile(xs, 90)), samples: xs.length });
/** Milliseconds a synchronous call takes. */
export function timeSync(fn: () => void): number {
  const t = performance.now();
  fn();
  return performance.now() - t;
}
