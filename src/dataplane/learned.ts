// Routes learned over BGP (proto 79) brought to what the speaker selected. The table is
// read back on the first sync, on a resync, after a failed write and once per resync
// interval; in between, what we last wrote stands in for it (reading 100 000 routes back
// for every BGP update would cost seconds each).
import { isValidCidrOrIp, isValidIp } from '../model/index.js';
import type { Exec } from './exec.js';
import type { Logger } from '../log/index.js';
import { emptyCounts, type ApplyReport } from './report.js';
import { learnedView, parseIpRoutes, planLearnedRoutes, type LearnedRoute, type LearnedView } from './routes.js';

/** Routes of a family, destination and next hop the kernel would take; the rest as errors. */
export function validLearnedRoutes(routes: readonly LearnedRoute[]): { valid: LearnedRoute[]; errors: string[] } {
  const valid: LearnedRoute[] = [];
  const errors: string[] = [];
  for (const r of routes) {
    const dstFamily = r.dst.includes(':') ? 6 : 4;
    const viaFamily = r.via.includes(':') ? 6 : 4;
    if (!isValidCidrOrIp(r.dst) || !isValidIp(r.via) || viaFamily !== r.family || dstFamily !== r.family) {
      errors.push(`learned route ${r.dst} via ${r.via} (family ${r.family}): destination, next hop or family invalid`);
      continue;
    }
    valid.push(r);
  }
  return { valid, errors };
}

export interface LearnedRouteSync {
  sync(routes: LearnedRoute[], how: { resync?: boolean }): Promise<ApplyReport>;
}

export function createLearnedRouteSync(exec: Exec, log: Logger, resyncIntervalMs: number): LearnedRouteSync {
  let learned: { readAt: number; view: LearnedView } | null = null;
  async function sync(routes: LearnedRoute[], how: { resync?: boolean }): Promise<ApplyReport> {
    const started = Date.now();
    const counts = emptyCounts();
    const { valid, errors } = validLearnedRoutes(routes);
    const cached = learned;
    const resync = !cached || how.resync === true || Date.now() - cached.readAt >= resyncIntervalMs;
    learned = null;
    const view: LearnedView = resync ? learnedView(parseIpRoutes(await exec.run(['ip', '-j', 'route', 'show', 'table', 'all']), 'any')) : cached.view;
    const plan = planLearnedRoutes(valid, view);
    let failed = false;
    if (plan.lines.length) {
      // -force: one unreachable next hop must not keep every other prefix out of the table.
      const r = await exec.tryRun(['ip', '-force', '-batch', '-'], `${plan.lines.join('\n')}\n`);
      counts.writeCommands++;
      if (r.exitCode !== 0) {
        failed = true;
        errors.push(...r.stderr.trim().split('\n').filter(Boolean));
      }
      counts.routesAdded = plan.added;
      counts.routesReplaced = plan.replaced;
      counts.routesDeleted = plan.deleted;
    }
    if (!failed) learned = { readAt: resync ? started : cached!.readAt, view: { ours: plan.after, foreign: view.foreign } };
    if (errors.length) log.warn({ errors: errors.slice(0, 20) }, 'learned routes partly applied');
    return { wrote: counts.writeCommands > 0, resynced: resync, counts, skipped: plan.skipped, errors, durationMs: Date.now() - started };
  }
  return { sync };
}
