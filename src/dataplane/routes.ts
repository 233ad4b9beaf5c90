// Routes Trellis owns, told apart from everybody else's by their protocol number:
// 78 for /32 (/128) device routes to local workloads, 79 for routes a BGP peer taught us.
// Reading parses `ip -j route`; writing renders `ip -batch` lines (the family is implied
// by the prefix, so one batch carries both families).
import { canonicalCidr } from '../model/index.js';
import { ROUTE_PROTO_BGP, ROUTE_PROTO_WORKLOAD, type Family, type RouteState } from '../calc/index.js';
import { DataplaneError } from './errors.js';
import { byCodePoint } from './names.js';

/** A route learned from BGP that the kernel should carry. */
export interface LearnedRoute { dst: string; via: string; family: Family }

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
  return canonicalDst(dst.includes('/') ? dst : family === 4 ? `${dst}/32` : dst);
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

/** The main table split by owner: our proto 79 routes and everybody else's, by destination. */
export interface LearnedView {
  ours: Map<string, KernelRoute>;
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

export interface LearnedPlan extends RoutePlan {
  /** Our routes once the plan is applied (destination -> next hop). */
  after: Map<string, KernelRoute>;
}

const V4_CIDR = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;

/**
 * canonicalCidr for the common case of a learned IPv4 prefix ("a.b.c.d/len", decimal,
 * no leading zeros), without ipaddr.js: parsing 100 000 prefixes that way took seconds of
 * the event loop. Other text goes to canonicalCidr (which throws when it is invalid).
 */
export function canonicalDst(s: string): string {
  const m = V4_CIDR.exec(s);
  if (!m) return canonicalCidr(s);
  let n = 0;
  for (let i = 1; i <= 4; i++) {
    const t = m[i]!;
    const o = Number(t);
    if (o > 255 || (t.length > 1 && t[0] === '0')) return canonicalCidr(s);
    n = n * 256 + o;
  }
  const len = Number(m[5]);
  if (len > 32 || (m[5]!.length > 1 && m[5]![0] === '0')) return canonicalCidr(s);
  const net = len === 0 ? 0 : n - (n % 2 ** (32 - len));
  if (net === n) return s;
  return `${Math.floor(net / 16777216)}.${Math.floor(net / 65536) % 256}.${Math.floor(net / 256) % 256}.${net % 256}/${len}`;
}

/**
 * Learned (BGP) routes: add the missing, move those whose next hop moved, delete the
 * stale. A prefix the kernel already routes by another protocol (a local workload's
 * proto 78 route, a static or kernel route) is left alone: BGP never overrides them. A move
 * is a delete of our route then an add, never `replace`: replace matches any protocol, and
 * would take over a foreign route that appeared since the table was last read.
 * Routes are fed one at a time (so a caller can yield between them) and the lines follow
 * the order they were given in, then the deletions in the table's order: sorting a
 * 100 000-route table on every sync held the event loop for most of a second.
 */
export class LearnedPlanner {
  private readonly ours: Map<string, KernelRoute>;
  private readonly foreign: Map<string, KernelRoute>;
  private readonly proto = String(ROUTE_PROTO_BGP);
  private readonly seen: Set<string> | null;
  private readonly marks: Map<string, number> | null;
  private readonly gen: number;
  readonly plan: LearnedPlan;

  /**
   * With `inPlace` (and a view), the view itself becomes the table after the plan: its
   * `ours` is updated as routes are wanted and deleted, and which destinations this plan
   * wanted is a number per destination kept in the view. A sync of a 100 000-route table
   * then allocates nothing per route that did not change, where a fresh set of wanted
   * destinations and a fresh table per sync were megabytes of garbage each, and the
   * collector's pauses were the largest event-loop delays of a full-table load (#11). The
   * caller must drop the view if the plan is not applied.
   */
  constructor(table: KernelRoute[] | LearnedView, opts: { inPlace?: boolean } = {}) {
    const view = Array.isArray(table) ? learnedView(table) : table;
    ({ ours: this.ours, foreign: this.foreign } = view);
    if (opts.inPlace && !Array.isArray(table)) {
      this.marks = view.marks ??= new Map();
      this.gen = view.gen = (view.gen ?? 0) + 1;
      this.seen = null;
      this.plan = { lines: [], added: 0, replaced: 0, deleted: 0, skipped: [], after: view.ours };
    } else {
      this.marks = null;
      this.gen = 0;
      this.seen = new Set();
      this.plan = { lines: [], added: 0, replaced: 0, deleted: 0, skipped: [], after: new Map() };
    }
  }

  /** Marks dst as wanted by this plan; false when it already was (the first one counts). */
  private first(dst: string): boolean {
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

  /** One wanted route; its dst must be canonical (canonicalDst). The first one per dst counts. */
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
    plan.after.set(dst, { dst, family: w.family, protocol: this.proto, via: w.via });
    if (!cur) {
      plan.lines.push(`route add ${dst} via ${w.via} proto ${this.proto}`);
      plan.added++;
    } else {
      plan.lines.push(`route del ${dst}${cur.via ? ` via ${cur.via}` : ''} proto ${this.proto}`, `route add ${dst} via ${w.via} proto ${this.proto}`);
      plan.replaced++;
    }
  }

  /** Adds the deletions of our routes nobody wants; returns the plan. */
  finish(): LearnedPlan {
    for (const [dst, cur] of this.ours) {
      if (this.wanted(dst)) continue;
      this.plan.lines.push(`route del ${dst}${cur.via ? ` via ${cur.via}` : ''} proto ${this.proto}`);
      this.plan.deleted++;
      if (this.marks) this.ours.delete(dst);
    }
    if (this.marks) for (const [dst, g] of this.marks) if (g !== this.gen) this.marks.delete(dst);
    return this.plan;
  }
}

export function planLearnedRoutes(wanted: LearnedRoute[], table: KernelRoute[] | LearnedView): LearnedPlan {
  const p = new LearnedPlanner(table);
  for (const w of wanted) {
    const dst = canonicalDst(w.dst);
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
