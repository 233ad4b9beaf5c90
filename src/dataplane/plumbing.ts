// The per-workload plumbing: the proto 78 route to each local endpoint over its veth, and
// the interface sysctls. Reading every link and route back costs tens of milliseconds at a
// thousand endpoints, so it is done on the first pass, on a resync, and after a pass that
// left something undone; in between, what this instance last wrote stands in for the
// kernel. Endpoints that calc hands over as new objects (added, changed, or deleted and
// re-added: a re-created veth has lost its routes and sysctls) get their route and sysctls
// written again, blind: both writes are idempotent, and cheaper than reading first. A policy
// edit, which leaves the endpoint list alone, costs nothing here.
import { ROUTE_PROTO_WORKLOAD, type DesiredState, type EndpointState, type RouteState } from '../calc/index.js';
import { DataplaneError } from './errors.js';
import type { Exec } from './exec.js';
import { isHostRoute, parseIpRoutes, planWorkloadRoutes, type KernelRoute } from './routes.js';
import { desiredSysctls, parseGrepValues, planSysctls } from './sysctls.js';

export interface LinksAndRoutes { links: Set<string>; routes: KernelRoute[] }

/** Every link and the routes of one protocol (both families, main table) in one `ip -batch`. */
export async function readLinksAndRoutes(exec: Exec, proto: number): Promise<LinksAndRoutes> {
  const out = await exec.run(['ip', '-j', '-batch', '-'], `link show\nroute show table all proto ${proto}\n`);
  const [linkJson, routeJson] = out.split('\n').filter((l) => l.trim());
  let rows: Array<{ ifname?: string }>;
  try {
    rows = JSON.parse(linkJson ?? '[]') as Array<{ ifname?: string }>;
  } catch (err) {
    throw new DataplaneError('PARSE_FAILED', `cannot parse ip -j link output: ${(err as Error).message}`);
  }
  const links = new Set(rows.map((r) => r.ifname).filter((n): n is string => Boolean(n)));
  return { links, routes: parseIpRoutes(routeJson ?? '[]', 'any', String(proto)) };
}

export interface PlumbingResult {
  added: number;
  replaced: number;
  deleted: number;
  sysctlsWritten: number;
  writeCommands: number;
  skipped: string[];
  errors: string[];
}

/** What the last complete pass left in the kernel. */
interface Known {
  endpoints: ReadonlySet<EndpointState>;
  endpointList: readonly EndpointState[];
  routeList: readonly RouteState[];
  /** Canonical destination -> device. */
  routes: Map<string, string>;
}

export interface Plumber {
  apply(ds: DesiredState, resync: boolean): Promise<PlumbingResult>;
}

const missingLink = (e: EndpointState) => `${e.id}: interface ${e.interfaceName} does not exist`;

/**
 * An unwanted route over a link that exists and that no endpoint uses is kept until it has
 * been seen unwanted this long: the CNI plugs a veth and its route before the endpoint
 * record reaches us, and a resync in between must not remove it. Its traffic meets the
 * unknown-interface drop meanwhile, so keeping it opens nothing.
 */
export const UNWANTED_ROUTE_GRACE_MS = 10_000;

export function createPlumber(exec: Exec, graceMs = UNWANTED_ROUTE_GRACE_MS, now: () => number = Date.now): Plumber {
  let known: Known | null = null;
  /** Unwanted routes kept for the grace period: "dst dev" -> when first seen. */
  const unwantedSince = new Map<string, number>();

  /** Trust this pass's outcome until the next resync, unless it left something undone. */
  function remember(ds: DesiredState, res: PlumbingResult): void {
    known = res.skipped.length || res.errors.length ? null : {
      endpoints: new Set(ds.endpoints), endpointList: ds.endpoints, routeList: ds.routes,
      routes: new Map(ds.routes.filter((r) => isHostRoute(r.dst)).map((r) => [r.dst, r.dev])),
    };
  }

  async function full(ds: DesiredState, res: PlumbingResult): Promise<void> {
    const { routes, links } = await readLinksAndRoutes(exec, ROUTE_PROTO_WORKLOAD);
    const used = new Set(ds.endpoints.map((e) => e.interfaceName));
    const t = now();
    const seen = new Set<string>();
    const keep = (r: KernelRoute): boolean => {
      if (!r.dev || !links.has(r.dev) || used.has(r.dev)) return false;
      const id = `${r.dst} ${r.dev}`;
      seen.add(id);
      const since = unwantedSince.get(id) ?? t;
      unwantedSince.set(id, since);
      return t - since < graceMs;
    };
    const plan = planWorkloadRoutes(ds.routes, routes, links, keep);
    for (const id of [...unwantedSince.keys()]) if (!seen.has(id)) unwantedSince.delete(id);
    res.skipped.push(...plan.skipped);
    if (plan.lines.length) {
      await exec.run(['ip', '-batch', '-'], `${plan.lines.join('\n')}\n`);
      res.writeCommands++;
      Object.assign(res, { added: plan.added, replaced: plan.replaced, deleted: plan.deleted });
    }
    res.skipped.push(...ds.endpoints.filter((e) => !links.has(e.interfaceName)).map(missingLink));
    const wants = desiredSysctls(ds, links);
    const have = parseGrepValues((await exec.tryRun(['grep', '-sH', '.', ...wants.map((w) => w.path)])).stdout);
    const writes = planSysctls(wants, have);
    if (writes.length) {
      const set = await exec.writeSysctls(writes, false);
      if (set.exitCode !== 0) throw new DataplaneError('EXEC_FAILED', `setting sysctls: ${set.stderr.trim().slice(0, 2000)}`);
      res.writeCommands++;
      res.sysctlsWritten = writes.length;
    }
    remember(ds, res);
  }

  async function incremental(ds: DesiredState, was: Known, res: PlumbingResult): Promise<void> {
    const fresh = ds.endpoints.filter((e) => !was.endpoints.has(e));
    const freshIfaces = new Set(fresh.map((e) => e.interfaceName));
    const lines: string[] = [];
    const want = new Map(ds.routes.map((r) => [r.dst, r])); // calc's destinations are canonical already
    for (const [dst, r] of want) {
      if (!isHostRoute(dst)) { res.skipped.push(`${dst}: not a host route; Trellis routes endpoints by /32 and /128 only`); continue; }
      if (was.routes.get(dst) === r.dev && !freshIfaces.has(r.dev)) continue;
      lines.push(`route replace ${dst} dev ${r.dev} scope link proto ${ROUTE_PROTO_WORKLOAD}`);
      if (was.routes.has(dst)) res.replaced++;
      else res.added++;
    }
    for (const [dst, dev] of was.routes) {
      if (want.has(dst) || !isHostRoute(dst)) continue;
      lines.push(`route del ${dst} dev ${dev} proto ${ROUTE_PROTO_WORKLOAD}`);
      res.deleted++;
    }
    const sysctls = desiredSysctls({ ...ds, endpoints: fresh }, null);
    const [routed, set] = await Promise.all([
      // -force: one route whose veth does not exist (yet, or any more) must not stop the rest.
      lines.length ? exec.tryRun(['ip', '-force', '-batch', '-'], `${lines.join('\n')}\n`, { warm: true }) : null,
      // The keys of an interface that does not exist are skipped, not fatal.
      sysctls.length ? exec.writeSysctls(sysctls, true) : null,
    ]);
    if (routed) {
      res.writeCommands++;
      for (const l of routed.stderr.split('\n').map((x) => x.trim()).filter(Boolean)) {
        if (/^Command failed/.test(l) || /No such process/.test(l)) continue; // a route its veth already took along
        const dev = /Cannot find device "([^"]+)"/.exec(l)?.[1];
        const ep = dev === undefined ? undefined : fresh.find((e) => e.interfaceName === dev);
        if (ep) res.skipped.push(missingLink(ep));
        else if (dev !== undefined) res.skipped.push(`route over ${dev}: device does not exist`);
        else res.errors.push(`ip route: ${l}`);
      }
    }
    if (set) {
      res.writeCommands++;
      res.sysctlsWritten = sysctls.length;
      if (set.exitCode !== 0) res.errors.push(`sysctl: ${set.stderr.trim()}`);
    }
    remember(ds, res);
  }

  return {
    async apply(ds, resync) {
      const res: PlumbingResult = { added: 0, replaced: 0, deleted: 0, sysctlsWritten: 0, writeCommands: 0, skipped: [], errors: [] };
      const was = known;
      known = null; // until this pass has finished
      if (resync || !was) await full(ds, res);
      else if (was.endpointList === ds.endpoints && was.routeList === ds.routes) known = was;
      else await incremental(ds, was, res);
      return res;
    },
  };
}
