// Routes Trellis owns, told apart from everybody else's by their protocol number:
// 78 for /32 (/128) device routes to local workloads, 79 for routes a BGP peer taught us.
// Reading parses `ip -j route`; workload routes are written as `ip -batch` lines (the family
// is implied by the prefix, so one batch carries both families), learned ones as RouteOps
// (route-ops.ts) for a route writer: a full BGP table is too many for a request per route.
import { canonicalCidr } from '../model/index.js';
import { ROUTE_PROTO_BGP, ROUTE_PROTO_WORKLOAD, type Family, type RouteState } from '../calc/index.js';
import { DataplaneError } from './errors.js';
import { byCodePoint } from './names.js';
import { RouteOpList, type RouteTarget } from './route-ops.js';

/** A route learned from BGP that the kernel should carry. */
export interface LearnedRoute { dst: string; via: string; family: Family }

/** The learned routes by destination, read where needed (a Map is one). */
export interface LearnedTable {
  get(dst: string): LearnedRoute | undefined;
  values(): Iterable<LearnedRoute>;
  readonly size: number;
}

/**
 * What a learned-route sync brings the kernel to: a whole list, or a table and the
 * destinations that changed in it since the previous sync (null: any may have). With
 * changes, only those destinations are planned while the last write stands in for the
 * kernel: a full table arriving in hundreds of updates is then O(changes) per sync, not
 * O(table), and its writes keep pace with the updates.
 */
export type LearnedWant = readonly LearnedRoute[] | { table: LearnedTable; changed: ReadonlySet<string> | null };

/** A route as read from the kernel (main table). */
export interface KernelRoute {
  dst: string;
  family: Family;
  protocol: string;
  dev?: string;
  via?: string;
  metric?: number;
  scope?: string;
}

interface IpJsonRoute { dst?: string; gateway?: string; dev?: string; protocol?: string; metric?: number; scope?: string; type?: string; table?: string }

/** Canonical CIDR of an `ip -j route` dst: "default" and bare addresses get their prefix length. */
export function routeDst(dst: string, family: Family): string {
  if (dst === 'default') return family === 4 ? '0.0.0.0/0' : '::/0';
  return canonicalCidr(dst.includes('/') ? dst : family === 4 ? `${dst}/32` : dst);
}

/**
 * Parses `ip -j [-6] route show ...`; protocol defaults to `fallbackProto` (ip omits it when
 * filtered by proto). With family 'any' (`table all` dumps both), the family comes from the
 * destination or next hop, and routes outside the main table are left out.
 */
export function parseIpRoutes(json: string, family: Family | 'any', fallbackProto?: string): KernelRoute[] {
  let rows: IpJsonRoute[];
  try {
    rows = JSON.parse(json.trim() || '[]') as IpJsonRoute[];
  } catch (err) {
    throw new DataplaneError('PARSE_FAILED', `cannot parse ip -j route output: ${(err as Error).message}`);
  }
  const out: KernelRoute[] = [];
  for (const r of rows) {
    if (!r.dst || (r.type && r.type !== 'unicast')) continue;
    if (r.table !== undefined && r.table !== 'main') continue;
    const fam: Family = family !== 'any' ? family : r.dst.includes(':') || (r.dst === 'default' && r.gateway?.includes(':')) ? 6 : 4;
    const route: KernelRoute = { dst: routeDst(r.dst, fam), family: fam, protocol: String(r.protocol ?? fallbackProto ?? 'boot') };
    if (r.dev) route.dev = r.dev;
    if (r.gateway) route.via = r.gateway;
    if (r.metric !== undefined) route.metric = r.metric;
    if (r.scope) route.scope = r.scope;
    out.push(route);
  }
  return out;
}

export interface RoutePlan {
  lines: string[];
  added: number;
  replaced: number;
  deleted: number;
  skipped: string[];
}

/**
 * The main table split by owner: our proto 79 routes and everybody else's, by destination.
 * Ours are held as the objects they were read or wanted as (a LearnedRoute written is kept
 * as it is, not copied: one object fewer per route of a full table).
 */
export interface LearnedView {
  ours: Map<string, RouteTarget>;
  foreign: Map<string, KernelRoute>;
  /** For a planner working in place: the plan that last wanted each destination. */
  marks?: Map<string, number>;
  gen?: number;
}

export function learnedView(mainTable: KernelRoute[]): LearnedView {
  const proto = String(ROUTE_PROTO_BGP);
  const view: LearnedView = { ours: new Map(), foreign: new Map() };
  for (const r of mainTable) {
    if (r.protocol === proto) view.ours.set(r.dst, r);
    else if (!view.foreign.has(r.dst)) view.foreign.set(r.dst, r);
  }
  return view;
}

export interface LearnedPlan extends Omit<RoutePlan, 'lines'> {
  /** The writes, in order (a route writer takes them as they are). */
  ops: RouteOpList;
  /** Our routes once the plan is applied, by destination. */
  after: Map<string, RouteTarget>;
}

/**
 * Learned (BGP) routes: add the missing, move those whose next hop moved, delete the
 * stale. A prefix the kernel already routes by another protocol (a local workload's
 * proto 78 route, a static or kernel route) is left alone: BGP never overrides them. A move
 * is a delete of our route then an add, never `replace`: replace matches any protocol, and
 * would take over a foreign route that appeared since the table was last read.
 * Routes are fed one at a time (so a caller can yield between them) and the ops follow
 * the order they were given in, then the deletions in the table's order: sorting a
 * 100 000-route table on every sync held the event loop for most of a second.
 */
export class LearnedPlanner {
  private readonly ours: Map<string, RouteTarget>;
  private readonly foreign: Map<string, KernelRoute>;
  private readonly seen: Set<string> | null;
  private readonly marks: Map<string, number> | null;
  private readonly gen: number;
  private readonly changesOnly: boolean;
  readonly plan: LearnedPlan;

  /**
   * With `inPlace` (and a view), the view itself becomes the table after the plan: its
   * `ours` is updated as routes are wanted and deleted, and which destinations this plan
   * wanted is a number per destination kept in the view. A sync of a 100 000-route table
   * then allocates nothing per route that did not change, where a fresh set of wanted
   * destinations and a fresh table per sync were megabytes of garbage each, and the
   * collector's pauses were the largest event-loop delays of a full-table load (#11). The
   * caller must drop the view if the plan is not applied. With `changesOnly` (and a view)
   * likewise in place, but the plan covers only the destinations given to want() and drop():
   * the others stay as they are.
   */
  constructor(table: KernelRoute[] | LearnedView, opts: { inPlace?: boolean; changesOnly?: boolean } = {}) {
    const given = !Array.isArray(table);
    const view = given ? table : learnedView(table);
    ({ ours: this.ours, foreign: this.foreign } = view);
    this.changesOnly = given && opts.changesOnly === true;
    const inPlace = this.changesOnly || (given && opts.inPlace === true);
    // Only a whole plan in place keeps marks; a plan of changes needs neither marks nor a
    // seen-set (it deletes only what drop() names), a fresh plan a seen-set.
    this.marks = inPlace && !this.changesOnly ? (view.marks ??= new Map()) : null;
    this.gen = this.marks ? (view.gen = (view.gen ?? 0) + 1) : 0;
    this.seen = this.marks || this.changesOnly ? null : new Set();
    this.plan = { ops: new RouteOpList(), added: 0, replaced: 0, deleted: 0, skipped: [], after: inPlace ? view.ours : new Map() };
  }

  /** Marks dst as wanted by this plan; false when it already was (the first one counts). */
  private first(dst: string): boolean {
    // Changes come from a set: each destination once (a repeat would find its own route and do nothing).
    if (this.changesOnly) return true;
    if (this.marks) {
      if (this.marks.get(dst) === this.gen) return false;
      this.marks.set(dst, this.gen);
      return true;
    }
    if (this.seen!.has(dst)) return false;
    this.seen!.add(dst);
    return true;
  }

  private wanted(dst: string): boolean {
    return this.marks ? this.marks.get(dst) === this.gen : this.seen!.has(dst);
  }

  /** One wanted route; its dst must be canonical (canonicalCidr). The first one per dst counts. */
  want(w: LearnedRoute): void {
    const dst = w.dst;
    if (!this.first(dst)) return;
    const plan = this.plan;
    const f = this.foreign.get(dst);
    if (f) {
      plan.skipped.push(`${dst}: kernel already routes it by protocol ${f.protocol}${f.dev ? ` on ${f.dev}` : ''}`);
      return;
    }
    const cur = this.ours.get(dst);
    if (cur && cur.via === w.via) {
      if (!this.marks) plan.after.set(dst, cur);
      return;
    }
    plan.after.set(dst, w);
    if (cur) {
      plan.ops.push('del', cur);
      plan.replaced++;
    } else {
      plan.added++;
    }
    plan.ops.push('add', w);
  }

  /** With changesOnly: dst is no longer wanted (deleted if it is ours). */
  drop(dst: string): void {
    if (!this.first(dst)) return;
    const cur = this.ours.get(dst);
    if (!cur) return;
    this.plan.ops.push('del', cur);
    this.plan.deleted++;
    this.ours.delete(dst);
  }

  /** Adds the deletions of our routes nobody wants; returns the plan. */
  finish(): LearnedPlan {
    const steps = this.finishing();
    for (;;) {
      const s = steps.next();
      if (s.done) return s.value;
    }
  }

  /**
   * finish() in steps of STEP table entries, for a caller that yields between them: a full
   * table withdrawn at once is 100 000 deletions, tens of milliseconds in one go.
   */
  *finishing(): Generator<void, LearnedPlan> {
    // A plan of changes deletes what drop() was told, nothing else.
    if (this.changesOnly) return this.plan;
    let n = 0;
    // Deleting the entry just visited is safe while iterating a Map.
    for (const [dst, cur] of this.ours) {
      if ((++n & (STEP - 1)) === 0) yield;
      if (this.wanted(dst)) continue;
      this.plan.ops.push('del', cur);
      this.plan.deleted++;
      if (this.marks) this.ours.delete(dst);
    }
    if (this.marks) {
      for (const [dst, g] of this.marks) {
        if ((++n & (STEP - 1)) === 0) yield;
        if (g !== this.gen) this.marks.delete(dst);
      }
    }
    return this.plan;
  }
}

const STEP = 256;

export function planLearnedRoutes(wanted: LearnedRoute[], table: KernelRoute[] | LearnedView): LearnedPlan {
  const p = new LearnedPlanner(table);
  for (const w of wanted) {
    const dst = canonicalCidr(w.dst);
    p.want(dst === w.dst ? w : { ...w, dst });
  }
  return p.finish();
}

/** Renders the workload routes as `ip -batch` lines (the whole desired set, for the golden tests). */
export function renderWorkloadRoutes(routes: RouteState[]): string[] {
  return [...routes]
    .sort((a, b) => byCodePoint(a.dst, b.dst))
    .map((r) => `route replace ${r.dst} dev ${r.dev} scope link proto ${ROUTE_PROTO_WORKLOAD}`);
}

/** A host route (/32, /128): the only kind Trellis ever writes or removes for an endpoint. */
export function isHostRoute(dst: string): boolean {
  const len = Number(dst.slice(dst.lastIndexOf('/') + 1));
  return dst.includes(':') ? len === 128 : len === 32;
}

/**
 * Workload routes: replace what is missing or points at the wrong device, delete proto 78
 * routes no endpoint wants. Routes to devices that do not exist (yet) are skipped, so one
 * half-created veth cannot fail the batch for everybody else.
 */
export function planWorkloadRoutes(wanted: RouteState[], kernel: KernelRoute[], links: Set<string>, keep: (r: KernelRoute) => boolean = () => false): RoutePlan {
  const proto = String(ROUTE_PROTO_WORKLOAD);
  const have = new Map<string, KernelRoute>();
  // Only host routes are ours: a wider proto 78 route (someone else's, or a default route an
  // endpoint record once claimed) is never replaced or removed, whatever protocol it carries.
  for (const r of kernel) if (r.protocol === proto && isHostRoute(r.dst)) have.set(r.dst, r);
  const plan: RoutePlan = { lines: [], added: 0, replaced: 0, deleted: 0, skipped: [] };
  const want = new Map<string, RouteState>();
  for (const r of wanted) {
    const dst = canonicalCidr(r.dst);
    if (isHostRoute(dst)) want.set(dst, r);
    else plan.skipped.push(`${dst}: not a host route; Trellis routes endpoints by /32 and /128 only`);
  }
  for (const [dst, r] of [...want].sort(([a], [b]) => byCodePoint(a, b))) {
    const cur = have.get(dst);
    if (cur && cur.dev === r.dev && (cur.via === undefined)) continue;
    if (!links.has(r.dev)) {
      plan.skipped.push(`${dst}: device ${r.dev} does not exist`);
      continue;
    }
    plan.lines.push(`route replace ${dst} dev ${r.dev} scope link proto ${proto}`);
    if (cur) plan.replaced++;
    else plan.added++;
  }
  for (const [dst, cur] of [...have].sort(([a], [b]) => byCodePoint(a, b))) {
    if (want.has(dst) || keep(cur)) continue;
    plan.lines.push(`route del ${dst}${cur.dev ? ` dev ${cur.dev}` : ''} proto ${proto}`);
    plan.deleted++;
  }
  return plan;
}
