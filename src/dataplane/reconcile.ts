// One reconcile: DesiredState -> the kernel, through a policy backend and the plumbing.
// The ordering rule: routes and sysctls (plumbing.ts) start first and run alongside the
// policy write, since they do not refer to the rules and a route that precedes its
// endpoint's chains only reaches the dispatch's unknown-interface drop; the policy write is
// the backend's plan, run stage by stage (backend.ts). A reconcile with no drift writes
// nothing. The backend's objects are diffed against what this reconciler last programmed,
// and read back from the kernel (repairing any drift) on the first call, after the resync
// interval, after a failed write, or when asked.
import type { DesiredState } from '../calc/index.js';
import type { Logger } from '../log/index.js';
import type { PolicyApplied, PolicyBackend } from './backend.js';
import { validIfaceName } from './names.js';
import type { Plumber, PlumbingResult } from './plumbing.js';
import { emptyCounts, type ApplyCounts, type ApplyReport } from './report.js';

/** What the backend last wrote, standing in for a kernel read between resyncs. */
interface Programmed<S> { readAt: number; snapshot: S }

/**
 * An interface name the kernel tools would refuse must not fail the whole write: that
 * endpoint is left out (its traffic then meets the unknown-interface drop: fail closed).
 */
export function withValidInterfaces(desired: DesiredState, skipped: string[]): DesiredState {
  const bad = desired.endpoints.filter((e) => !validIfaceName(e.interfaceName));
  for (const e of bad) skipped.push(`${e.id}: interface name ${JSON.stringify(e.interfaceName)} is not a valid Linux interface name`);
  return bad.length ? { ...desired, endpoints: desired.endpoints.filter((e) => validIfaceName(e.interfaceName)) } : desired;
}

export function needsResync(cached: { readAt: number } | null, asked: boolean, now: number, intervalMs: number): boolean {
  return !cached || asked || now - cached.readAt >= intervalMs;
}

function addPolicy(counts: ApplyCounts, applied: PolicyApplied): void {
  for (const [k, v] of Object.entries(applied.counts) as Array<[keyof PolicyApplied['counts'], number]>) counts[k] += v;
  counts.writeCommands += applied.writeCommands;
}

function addPlumbing(counts: ApplyCounts, plumbed: PlumbingResult): void {
  counts.routesAdded = plumbed.added;
  counts.routesReplaced = plumbed.replaced;
  counts.routesDeleted = plumbed.deleted;
  counts.sysctlsWritten = plumbed.sysctlsWritten;
  counts.writeCommands += plumbed.writeCommands;
}

/** What a reconcile reads back from the kernel: everything (`resync`), or only the parts drift was seen in. */
export interface ReconcileHow { resync?: boolean; repair?: ReadonlyArray<'routes' | 'policy'> }

export interface Reconciler {
  reconcile(desired: DesiredState, how: ReconcileHow): Promise<ApplyReport>;
}

export function createReconciler<S>(backend: PolicyBackend<S>, plumber: Plumber, log: Logger, resyncIntervalMs: number): Reconciler {
  let programmed: Programmed<S> | null = null;

  /** The backend's write; on full success what it wrote becomes the stand-in for the next reconcile. */
  async function writePolicy(ds: DesiredState, cached: Programmed<S> | null, resync: boolean, started: number): Promise<PolicyApplied> {
    const kernel = resync || !cached ? await backend.read() : cached.snapshot;
    const plan = backend.plan(ds, kernel);
    const applied = await backend.apply(plan);
    // Unless a best-effort step failed: then the kernel differs from the plan, so re-read next time.
    if (applied.errors.length === 0) programmed = { readAt: resync || !cached ? started : cached.readAt, snapshot: plan.after() };
    return applied;
  }

  async function reconcile(desired: DesiredState, how: ReconcileHow): Promise<ApplyReport> {
    const started = Date.now();
    const counts = emptyCounts();
    const skipped: string[] = [];
    const errors: string[] = [];
    const ds = withValidInterfaces(desired, skipped);
    const cached = programmed;
    const resync = needsResync(cached, how.resync === true, started, resyncIntervalMs);
    const readPolicy = resync || (how.repair?.includes('policy') ?? false);
    programmed = null; // until this reconcile's writes have all succeeded

    const plumbing = plumber.apply(ds, resync || (how.repair?.includes('routes') ?? false));
    // Awaited below (or on the error path); until then a failure must not count as unhandled.
    plumbing.catch(() => undefined);
    let applied: PolicyApplied;
    try {
      applied = await writePolicy(ds, cached, readPolicy, started);
    } catch (err) {
      // A failed read or write ends this reconcile only once the plumbing is done: the next one must not overlap it.
      await plumbing.catch(() => undefined);
      throw err;
    }
    addPolicy(counts, applied);
    errors.push(...applied.errors);
    const plumbed = await plumbing;
    skipped.push(...plumbed.skipped);
    errors.push(...plumbed.errors);
    addPlumbing(counts, plumbed);

    const report: ApplyReport = { wrote: counts.writeCommands > 0, resynced: resync || readPolicy, counts, skipped, errors, durationMs: Date.now() - started };
    if (report.wrote) log.info({ counts, skipped: skipped.length, errors }, 'dataplane reconciled');
    else log.debug({ durationMs: report.durationMs }, 'dataplane in sync');
    return report;
  }
  return { reconcile };
}
