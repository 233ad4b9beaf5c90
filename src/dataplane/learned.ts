// Routes learned over BGP (proto 79) brought to what the speaker selected. The table is
// read back on the first sync, on a resync, after a failed write and once per resync
// interval; in between, what we last wrote stands in for it (reading 100 000 routes back
// for every BGP update would cost seconds each).
import { canonicalCidr, isValidIp } from '../model/index.js';
import type { Exec } from './exec.js';
import type { Logger } from '../log/index.js';
import { emptyCounts, type ApplyReport } from './report.js';
import { ROUTE_PROTO_BGP } from '../calc/index.js';
import type { RouteWriter } from './route-writer.js';
import { nextTurn } from './turn.js';
import { LearnedPlanner, learnedView, parseIpRoutes, type LearnedRoute, type LearnedView, type LearnedWant } from './routes.js';

/**
 * A checker for learned routes: the route with its canonical dst, or why it is invalid.
 * Next hops are few (one per peer or so): each is validated once per checker.
 */
function createLearnedCheck(): (r: LearnedRoute) => LearnedRoute | string {
  const vias = new Map<string, boolean>();
  return (r) => {
    const viaFamily = r.via.includes(':') ? 6 : 4;
    const dstFamily = r.dst.includes(':') ? 6 : 4;
    if (viaFamily !== r.family || dstFamily !== r.family) return invalid(r);
    let viaOk = vias.get(r.via);
    if (viaOk === undefined) vias.set(r.via, (viaOk = isValidIp(r.via)));
    if (!viaOk) return invalid(r);
    let dst: string;
    try { dst = canonicalCidr(r.dst); } catch { return invalid(r); }
    return dst === r.dst ? r : { ...r, dst };
  };
}

function invalid(r: LearnedRoute): string {
  return `learned route ${r.dst} via ${r.via} (family ${r.family}): destination, next hop or family invalid`;
}

/** Routes checked and planned between two turns of the event loop (a 100k table is ~50 slices)... */
const SLICE = 2000;
/** ...or fewer once a slice has taken this long (the clock read every 256 routes). */
const SLICE_MS = 5;

/** Counts work and says when to let the event loop run: other sessions' keepalives and the API go between slices. */
function createSlicer() {
  let n = 0;
  let end = performance.now() + SLICE_MS;
  return {
    /** One more item done; true when the slice is over. */
    due: () => ++n >= SLICE || ((n & 255) === 0 && performance.now() >= end),
    /** True when the slice's time is up (for steps that are batches already). */
    late: () => performance.now() >= end,
    async yield() {
      await nextTurn();
      n = 0;
      end = performance.now() + SLICE_MS;
    },
  };
}

const isList = (w: LearnedWant): w is readonly LearnedRoute[] => Array.isArray(w);

export interface LearnedRouteSync {
  sync(want: LearnedWant, how: { resync?: boolean }): Promise<ApplyReport>;
}

export function createLearnedRouteSync(exec: Exec, writer: RouteWriter, log: Logger, resyncIntervalMs: number): LearnedRouteSync {
  let learned: { readAt: number; view: LearnedView } | null = null;
  // No memo of routes already checked: between resyncs only the changed routes are
  // checked, and a WeakMap entry per route (4-8 MiB at 100k, marked as ephemerons by every
  // full GC) cost more than checking a whole table again on a resync (~20 ms at 100k).
  const checkedRoute = createLearnedCheck();
  async function sync(want: LearnedWant, how: { resync?: boolean }): Promise<ApplyReport> {
    const started = Date.now();
    const counts = emptyCounts();
    const errors: string[] = [];
    const cached = learned;
    const resync = !cached || how.resync === true || Date.now() - cached.readAt >= resyncIntervalMs;
    learned = null;
    const view: LearnedView = resync ? learnedView(parseIpRoutes(await exec.run(['ip', '-j', 'route', 'show', 'table', 'all']), 'any')) : cached.view;
    // Only the changes, when the last write stands in for the table; else the whole list
    // (a table is read once, here: it may change while this sync yields).
    const changes = !resync && !isList(want) ? want.changed : null;
    const routes: readonly LearnedRoute[] = isList(want) ? want : changes ? [] : [...want.table.values()];
    // In place: the cached view becomes the table after this plan (dropped below if it fails).
    const planner = new LearnedPlanner(view, changes ? { changesOnly: true } : { inPlace: true });
    const slicer = createSlicer();
    for (const given of routes) {
      if (slicer.due()) await slicer.yield();
      const r = checkedRoute(given);
      if (typeof r === 'string') errors.push(r); else planner.want(r);
    }
    if (changes && !isList(want)) {
      for (const dst of changes) {
        if (slicer.due()) await slicer.yield();
        const given = want.table.get(dst);
        const r = given ? checkedRoute(given) : null;
        if (r && typeof r !== 'string') { planner.want(r); continue; }
        if (r) errors.push(r);
        // Gone, or no longer valid: not in the kernel either.
        const canonical = canonicalOrNull(dst);
        if (canonical) planner.drop(canonical);
      }
    }
    const steps = planner.finishing();
    let step = steps.next();
    while (!step.done) {
      if (slicer.late()) await slicer.yield();
      step = steps.next();
    }
    const plan = step.value;
    let failed = false;
    if (plan.ops.length) {
      const r = await writer.write(plan.ops, ROUTE_PROTO_BGP);
      counts.writeCommands++;
      if (!r.ok) {
        failed = true;
        errors.push(...r.errors);
      }
      counts.routesAdded = plan.added;
      counts.routesReplaced = plan.replaced;
      counts.routesDeleted = plan.deleted;
    }
    if (!failed) learned = { readAt: resync ? started : cached!.readAt, view };
    if (errors.length) log.warn({ errors: errors.slice(0, 20) }, 'learned routes partly applied');
    return { wrote: counts.writeCommands > 0, resynced: resync, counts, skipped: plan.skipped, errors, durationMs: Date.now() - started };
  }
  return { sync };
}

function canonicalOrNull(dst: string): string | null {
  try { return canonicalCidr(dst); } catch { return null; }
}
