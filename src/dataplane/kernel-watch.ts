// Watches the kernel's change notifications for someone else's changes to what Trellis
// programmed, so that drift is repaired in well under a second instead of at the next
// resync: route notifications for workload and VXLAN routes (route-events.ts: a netlink
// socket that never sees our BGP routes, or `ip -o monitor route`), `nft monitor` for the
// iptables-nft tables (the policy backend's rules and chains; writes of our own command
// helper are told apart by the pid nf_tables reports for each transaction), `bridge monitor
// fdb` and `ip -4 -o monitor neigh` for the VXLAN device's static FDB entries and
// neighbours (nothing but the VXLAN sync writes those, and only what is wanted, so no
// attribution is needed). Every monitor only reads. A monitor that exits is started again
// after a pause (monitor-process.ts); one that cannot start (no nft on an iptables-legacy
// host) leaves the periodic resync as the only check of that part.
import type { Logger } from '../log/index.js';
import { ROUTE_PROTO_BGP } from '../calc/index.js';
import {
  createNftParser, fdbDrift, neighDrift, nftDrift, parseFdbEvent, parseNeighEvent, routeDrift, vxlanRouteDrift,
  type KernelDrift, type VxlanWanted,
} from './kernel-events.js';
import { createMonitorProcesses } from './monitor-process.js';
import { ipRouteWatch, netlinkRouteWatch, type RouteWatch, type RouteWatchOptions } from './route-events.js';
import { ownPid } from './spawner.js';

export interface KernelWatchOptions {
  netns?: string;
  log: Logger;
  /** The workload routes last asked for (destination -> device). */
  routes(): ReadonlyMap<string, string>;
  /** What the VXLAN sync last asked for; null while it has asked for no device. */
  vxlan(): VxlanWanted | null;
  /** Called with the drift seen over a short window (so a flush of a hundred rules is one call). */
  onDrift(drift: KernelDrift[]): void;
  /** How long to gather events before reporting (default 20 ms). */
  windowMs?: number;
  /** The route notification source (default: netlink where native/rtnetlink is built, else ip monitor). */
  routeWatch?: (o: RouteWatchOptions) => RouteWatch;
}

export interface KernelWatch {
  /** Resolves once both monitors have started (or failed to). */
  readonly started: Promise<void>;
  stop(): Promise<void>;
}

function defaultRouteWatch(o: RouteWatchOptions): RouteWatch {
  const native = netlinkRouteWatch(o);
  return 'stop' in native ? native : ipRouteWatch(o);
}

export function watchKernel(o: KernelWatchOptions): KernelWatch {
  const windowMs = o.windowMs ?? 20;
  let stopped = false;
  let gathered: KernelDrift[] = [];
  let timer: NodeJS.Timeout | null = null;
  const monitors = createMonitorProcesses(o.netns, o.log);

  const report = (d: KernelDrift | null) => {
    if (!d || stopped) return;
    gathered.push(d);
    timer ??= setTimeout(() => {
      timer = null;
      const batch = gathered;
      gathered = [];
      if (!stopped && batch.length) o.onDrift(batch);
    }, windowMs);
  };

  const routeOpts: RouteWatchOptions = {
    ...(o.netns ? { netns: o.netns } : {}),
    log: o.log,
    // Our own BGP routes are never drift: a full table's notifications are not even delivered.
    ignoreProto: ROUTE_PROTO_BGP,
    onEvents(events) {
      const vx = o.vxlan();
      const ours = o.routes();
      for (const ev of events) {
        report(routeDrift(ev, ours));
        if (vx) report(vxlanRouteDrift(ev, vx));
      }
    },
    onLost() {
      // What changed meanwhile is unknown: read the routes back as after drift.
      report({ part: 'routes', what: 'route notifications lost (the kernel dropped them: the queue overflowed); reading the routes back' });
      if (o.vxlan()) report({ part: 'vxlan', what: 'route notifications lost; reading the VXLAN routes back' });
    },
  };
  const nft = createNftParser();
  const routes = (o.routeWatch ?? defaultRouteWatch)(routeOpts);

  const started = Promise.all([
    routes.started,
    // A host's bridges learn and age MACs, and ARP comes and goes, all the time: only lines
    // naming the VXLAN device are parsed.
    monitors.run('bridge monitor fdb', ['bridge', 'monitor', 'fdb'], (line) => {
      const vx = o.vxlan();
      if (!vx || !line.includes(` dev ${vx.device} `)) return;
      const ev = parseFdbEvent(line);
      if (ev) report(fdbDrift(ev, vx));
    }),
    monitors.run('ip monitor neigh', ['ip', '-4', '-o', 'monitor', 'neigh'], (line) => {
      const vx = o.vxlan();
      if (!vx || !line.includes(` dev ${vx.device} `)) return;
      const ev = parseNeighEvent(line);
      if (ev) report(neighDrift(ev, vx));
    }),
    monitors.run('nft monitor', ['nft', 'monitor'], (line) => {
      const tx = nft(line);
      if (tx) report(nftDrift(tx, ownPid));
    }),
  ]).then(() => undefined);

  return {
    started,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = null;
      await Promise.all([routes.stop(), monitors.stop()]);
    },
  };
}
