// Route change notifications, two ways behind one contract (and one shared test suite,
// test/dataplane/route-events.test.ts). `netlink`: native/rtnetlink listens on a thread of
// its own, and a socket filter drops every notification of the ignored protocol in the
// kernel, before it is queued: a BGP table of 100 000 routes coming or going costs the
// watcher nothing and cannot overflow its queue. `ip`: `ip -o monitor route`, whose lines
// are all printed and read (those of the ignored protocol dismissed on sight), where the
// helper is not built. Both say when the kernel dropped notifications (its queue overflowed):
// then the table must be read back.
import type { Logger } from '../log/index.js';
import { loadRtnetlink, type NativeRouteEvent } from './rtnetlink.js';
import { parseRouteEvent, type RouteEvent } from './kernel-events.js';
import { createMonitorProcesses } from './monitor-process.js';
import { routeDst } from './routes.js';

export interface RouteWatchOptions {
  netns?: string;
  /** Notifications of this protocol are never delivered (Trellis's own BGP routes). */
  ignoreProto: number;
  onEvents(events: RouteEvent[]): void;
  /** The kernel dropped notifications: what changed meanwhile is unknown. */
  onLost(): void;
  log: Logger;
}

export interface RouteWatch {
  readonly name: 'netlink' | 'ip';
  /** Resolves once subscribed (or failed to). */
  readonly started: Promise<void>;
  stop(): Promise<void>;
}

/** Names iproute2 prints for protocols (/etc/iproute2/rt_protos): drift messages read as `ip monitor` would. */
const PROTO_NAMES: Readonly<Record<number, string>> = {
  1: 'redirect', 2: 'kernel', 3: 'boot', 4: 'static', 11: 'zebra', 12: 'bird', 16: 'dhcp', 42: 'babel', 186: 'bgp', 187: 'isis', 188: 'ospf', 189: 'rip',
};
const RTN_UNICAST = 1;
const RT_TABLE_MAIN = 254;

/** A notification as native/rtnetlink reports it, as the RouteEvent `ip monitor` would give; null for what is not a unicast route. */
export function routeEventOf(n: NativeRouteEvent): RouteEvent | null {
  if (n.type !== RTN_UNICAST) return null;
  let dst: string;
  try { dst = routeDst(n.dst, n.family); } catch { return null; }
  return { deleted: n.deleted, dst, dev: n.dev, proto: PROTO_NAMES[n.proto] ?? String(n.proto), table: n.table === RT_TABLE_MAIN ? 'main' : String(n.table) };
}

/** The netlink watcher, or why it cannot be had here. */
export function netlinkRouteWatch(o: RouteWatchOptions): RouteWatch | { error: string } {
  const l = loadRtnetlink();
  if (!('native' in l)) return l;
  let stopped = false;
  let ready!: () => void;
  const started = new Promise<void>((r) => { ready = r; });
  const handle = l.native.watchRoutes(o.netns ? `/run/netns/${o.netns}` : null, o.ignoreProto, (kind, payload) => {
    if (stopped) return;
    if (kind === 'ready') ready();
    else if (kind === 'lost') o.onLost();
    else if (kind === 'error') {
      o.log.warn({ monitor: 'route notifications', err: payload }, 'kernel monitor cannot run; drift of routes waits for the resync');
      ready();
    } else {
      const events: RouteEvent[] = [];
      for (const n of payload as NativeRouteEvent[]) {
        const ev = routeEventOf(n);
        if (ev) events.push(ev);
      }
      if (events.length) o.onEvents(events);
    }
  });
  return {
    name: 'netlink',
    started,
    async stop() {
      stopped = true;
      handle.stop();
      ready();
    },
  };
}

/** `ip -o monitor route` (started again if it exits). */
export function ipRouteWatch(o: RouteWatchOptions): RouteWatch {
  const monitors = createMonitorProcesses(o.netns, o.log);
  // The protocol is the word after "proto": a line of the ignored one is dismissed before it is parsed.
  const ignored = new RegExp(`\\sproto ${o.ignoreProto}(\\s|$)`);
  const started = monitors.run('ip monitor route', ['ip', '-o', 'monitor', 'route'], (line) => {
    if (ignored.test(line)) return;
    const ev = parseRouteEvent(line);
    if (ev) o.onEvents([ev]);
  }, (text) => {
    // What iproute2 prints when the socket's queue overflowed; it goes on reading.
    if (text.includes('No buffer space available')) o.onLost();
  });
  return { name: 'ip', started, stop: () => monitors.stop() };
}
