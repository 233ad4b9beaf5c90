// A dataplane instance: one command helper, one policy backend, the plumbing, the learned
// routes, and a queue so that a reconcile and a learned-route sync never interleave their
// reads and writes.
import { ROUTE_PROTO_BGP, ROUTE_PROTO_WORKLOAD, VXLAN_DEVICE, type DesiredState, type VxlanState } from '../calc/index.js';
import type { Logger } from '../log/index.js';
import type { PolicyBackend } from './backend.js';
import { createExec, type Exec } from './exec.js';
import { createIptablesBackend } from './iptables/index.js';
import { createLearnedRouteSync } from './learned.js';
import { createRouteWriter } from './route-writer.js';
import { createPlumber, readLinksAndRoutes } from './plumbing.js';
import type { KernelDrift, VxlanWanted } from './kernel-events.js';
import { watchKernel, type KernelWatch } from './kernel-watch.js';
import { createReconciler, type ReconcileHow } from './reconcile.js';
import type { ApplyReport } from './report.js';
import { canonicalCidr } from '../model/index.js';
import { parseIpRoutes, type KernelRoute, type LearnedWant } from './routes.js';
import { createVxlanSync } from './vxlan.js';

/** Makes a policy backend that runs its commands through `exec`. */
export type PolicyBackendFactory = (exec: Exec) => PolicyBackend;

/** Every policy backend there is, by name (the shared packet suites run against each). */
export const POLICY_BACKENDS: Readonly<Record<string, PolicyBackendFactory>> = {
  iptables: createIptablesBackend,
};

export interface KernelState {
  /** The policy backend's snapshot of its own objects (its shape is the backend's). */
  policy: { backend: string; snapshot: unknown };
  workloadRoutes: KernelRoute[];
  learnedRoutes: KernelRoute[];
  links: string[];
}

export interface Dataplane {
  /**
   * Brings the kernel to `desired`. The policy backend's objects are diffed against what
   * this instance last programmed, and re-read from the kernel (repairing any drift) on the
   * first call, after `resyncIntervalMs`, after a failed write, or when `resync` is set.
   * Links, workload routes and sysctls likewise, except that endpoints calc hands over as
   * new objects (added, changed, re-created) always have their routes and sysctls rewritten.
   */
  reconcile(desired: DesiredState, opts?: ReconcileHow): Promise<ApplyReport>;
  /**
   * Brings our proto 79 routes to `want` (a list, or a table and its changes: see
   * LearnedWant); the table is re-read like the policy objects in reconcile, and then the
   * whole of `want` is planned.
   */
  syncLearnedRoutes(want: LearnedWant, opts?: { resync?: boolean }): Promise<ApplyReport>;
  /** Brings the VXLAN device, its neighbours and FDB entries and our proto 80 routes to `state` (vxlan.ts). */
  syncVxlan(state: VxlanState, opts?: { resync?: boolean }): Promise<ApplyReport>;
  readKernel(): Promise<KernelState>;
  /**
   * Watches the kernel's change notifications and reports changes someone else made to
   * what this dataplane programmed (its workload routes, the iptables tables, the VXLAN
   * routes, FDB entries and neighbours); repairing them is the caller's
   * `reconcile(desired, {repair: parts})`, and `syncVxlan(state, {resync: true})` for 'vxlan'.
   */
  watch(onDrift: (drift: KernelDrift[]) => void): KernelWatch;
}

export interface DataplaneOptions {
  /** Run every command under `ip netns exec <netns>` (tests, the lab); unset for trellisd in its own namespace. */
  netns?: string;
  logger: Logger;
  /** How long to trust the last write for the policy objects and learned routes before re-reading them (default 60 s; 0: always read). */
  resyncIntervalMs?: number;
  /** The policy backend (default: ipset + iptables). */
  policyBackend?: PolicyBackendFactory;
}

/** Runs operations one at a time, in call order; a failed one does not stop the next. */
function createSerialQueue(): <T>(fn: () => Promise<T>) => Promise<T> {
  let queue: Promise<unknown> = Promise.resolve();
  return <T>(fn: () => Promise<T>): Promise<T> => {
    const next = queue.then(fn, fn);
    queue = next.catch(() => undefined);
    return next;
  };
}

async function readKernelState(exec: Exec, backend: PolicyBackend): Promise<KernelState> {
  const [snapshot, wl, learnedRoutes] = await Promise.all([
    backend.read(),
    readLinksAndRoutes(exec, ROUTE_PROTO_WORKLOAD),
    exec.run(['ip', '-j', 'route', 'show', 'table', 'all', 'proto', String(ROUTE_PROTO_BGP)]).then((t) => parseIpRoutes(t, 'any', String(ROUTE_PROTO_BGP))),
  ]);
  return { policy: { backend: backend.name, snapshot }, workloadRoutes: wl.routes, learnedRoutes, links: [...wl.links].sort() };
}

export function createDataplane(opts: DataplaneOptions): Dataplane {
  const log = opts.logger.child({ sub: 'dataplane', ...(opts.netns ? { netns: opts.netns } : {}) });
  const exec = createExec(opts.netns, (argv, ms, exitCode) => log.debug({ cmd: argv.join(' '), ms, exitCode }, 'command'));
  const resyncIntervalMs = opts.resyncIntervalMs ?? 60_000;
  const backend = (opts.policyBackend ?? createIptablesBackend)(exec);
  const reconciler = createReconciler(backend, createPlumber(exec), log, resyncIntervalMs);
  const learned = createLearnedRouteSync(exec, createRouteWriter(exec, log), log, resyncIntervalMs);
  const vxlan = createVxlanSync(exec, log, resyncIntervalMs);
  const serial = createSerialQueue();
  // The routes last asked for, by destination, for telling a deleted route of ours from
  // one we deleted ourselves (built when a route event arrives, not on every reconcile).
  let asked: DesiredState['routes'] = [];
  let askedMap: { of: DesiredState['routes']; map: Map<string, string> } | null = null;
  const wantedRoutes = (): ReadonlyMap<string, string> => {
    if (askedMap?.of !== asked) askedMap = { of: asked, map: new Map(asked.map((r) => [r.dst, r.dev])) };
    return askedMap.map;
  };
  // Likewise what the VXLAN sync was last asked for (set before its write, so that our own
  // deletes of entries no longer wanted are never taken for drift).
  let askedVxlan: VxlanState | null = null;
  let vxlanMaps: { of: VxlanState; wanted: VxlanWanted } | null = null;
  const wantedVxlan = (): VxlanWanted | null => {
    if (!askedVxlan?.device) return null;
    if (vxlanMaps?.of !== askedVxlan) {
      const s = askedVxlan;
      vxlanMaps = { of: s, wanted: {
        device: VXLAN_DEVICE,
        routes: new Set(s.routes.map((r) => canonicalCidr(r.dst))),
        fdb: new Map(s.vteps.map((v) => [v.mac, v.address])),
        neigh: new Map(s.vteps.map((v) => [v.tunnelAddr, v.mac])),
      } };
    }
    return vxlanMaps.wanted;
  };
  return {
    reconcile: (ds, o) => {
      asked = ds.routes;
      return serial(() => reconciler.reconcile(ds, o ?? {}));
    },
    watch: (onDrift) => watchKernel({ ...(opts.netns ? { netns: opts.netns } : {}), log, routes: wantedRoutes, vxlan: wantedVxlan, onDrift }),
    syncLearnedRoutes: (routes, o) => serial(() => learned.sync(routes, o ?? {})),
    syncVxlan: (state, o) => {
      askedVxlan = state;
      return serial(() => vxlan.sync(state, o ?? {}));
    },
    readKernel: () => serial(() => readKernelState(exec, backend)),
  };
}
