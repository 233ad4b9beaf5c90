// The periodic full resync as a node-cron expression. node-cron counts seconds in the
// first field, so intervals that divide a minute or an hour map exactly; others round
// to the nearest interval that does (a resync is a safety net, not a clock).
const MINUTE_DIVISORS = [1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30];

export function resyncCron(intervalSeconds: number): string {
  if (!Number.isFinite(intervalSeconds) || intervalSeconds <= 0) throw new RangeError(`resync interval ${intervalSeconds} s must be a positive number of seconds`);
  const s = Math.round(intervalSeconds);
  if (s < 60) {
    const step = nearest(MINUTE_DIVISORS, s);
    return step === 1 ? '* * * * * *' : `*/${step} * * * * *`;
  }
  const minutes = Math.round(s / 60);
  if (minutes < 60) {
    const step = nearest(MINUTE_DIVISORS, minutes);
    return step === 1 ? '0 * * * * *' : `0 */${step} * * * *`;
  }
  const hours = Math.min(24, Math.round(minutes / 60));
  const step = nearest([1, 2, 3, 4, 6, 8, 12, 24], hours);
  return step === 24 ? '0 0 0 * * *' : step === 1 ? '0 0 * * * *' : `0 0 */${step} * * *`;
}

function nearest(options: number[], v: number): number {
  let best = options[0]!;
  for (const o of options) if (Math.abs(o - v) < Math.abs(best - v)) best = o;
  return best;
}
