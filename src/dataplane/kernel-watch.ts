// Watches the kernel's change notifications for someone else's changes to what Trellis
// programmed, so that drift is repaired in well under a second instead of at the next
// resync: `ip -o monitor route` for workload and VXLAN routes, `nft monitor` for the
// iptables-nft tables (the policy backend's rules and chains; writes of our own command
// helper are told apart by the pid nf_tables reports for each transaction), `bridge monitor
// fdb` and `ip -4 -o monitor neigh` for the VXLAN device's static FDB entries and
// neighbours (nothing but the VXLAN sync writes those, and only what is wanted, so no
// attribution is needed). Every monitor only reads. A
// monitor that exits is started again after a pause; one that cannot start (no nft on an
// iptables-legacy host) leaves the periodic resync as the only check of that part.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Logger } from '../log/index.js';
import {
  createNftParser, fdbDrift, mayBeHostRouteEvent, neighDrift, nftDrift, parseFdbEvent, parseNeighEvent, parseRouteEvent, routeDrift, vxlanRouteDrift,
  type KernelDrift, type VxlanWanted,
} from './kernel-events.js';
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
}

export interface KernelWatch {
  /** Resolves once both monitors have started (or failed to). */
  readonly started: Promise<void>;
  stop(): Promise<void>;
}

/** A monitor that exits is started again after this, doubled while it keeps dying young (up to a minute). */
const RESTART_MS = 1000;
const RESTART_MAX_MS = 60_000;

export function watchKernel(o: KernelWatchOptions): KernelWatch {
  const windowMs = o.windowMs ?? 20;
  let stopped = false;
  let gathered: KernelDrift[] = [];
  let timer: NodeJS.Timeout | null = null;
  const children = new Set<ChildProcess>();

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

  const restartAfter = new Map<string, number>();
  const run = (name: string, argv: string[], onLine: (line: string) => void): Promise<void> => new Promise((resolve) => {
    if (stopped) { resolve(); return; }
    const began = Date.now();
    const full = o.netns ? ['ip', 'netns', 'exec', o.netns, ...argv] : argv;
    const child = spawn(full[0]!, full.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let err = '';
    child.stderr.on('data', (b: Buffer) => { err = (err + b.toString()).slice(-500); });
    createInterface({ input: child.stdout }).on('line', onLine);
    // A monitor subscribes before it prints anything; a short pause stands in for that moment.
    const ready = setTimeout(resolve, 100);
    child.on('error', (e) => {
      o.log.warn({ monitor: name, err: e.message }, 'kernel monitor cannot start; drift of this part waits for the resync');
    });
    child.on('close', (code, signal) => {
      children.delete(child);
      clearTimeout(ready);
      resolve();
      if (stopped) return;
      const young = Date.now() - began < 5000;
      const wait = young ? Math.min(RESTART_MAX_MS, (restartAfter.get(name) ?? RESTART_MS / 2) * 2) : RESTART_MS;
      restartAfter.set(name, wait);
      o.log.warn({ monitor: name, code, signal, stderr: err.trim(), retryInMs: wait }, 'kernel monitor exited; starting it again');
      setTimeout(() => { void run(name, argv, onLine); }, wait).unref();
    });
  });

  const nft = createNftParser();
  const started = Promise.all([
    run('ip monitor route', ['ip', '-o', 'monitor', 'route'], (line) => {
      const vx = o.vxlan();
      // Without VXLAN only host routes can be drift, and a full BGP table's prefixes are
      // dismissed on their first word; VXLAN's routes are blocks, so with it every line is read.
      if (!vx && !mayBeHostRouteEvent(line)) return;
      const ev = parseRouteEvent(line);
      if (!ev) return;
      report(routeDrift(ev, o.routes()));
      if (vx) report(vxlanRouteDrift(ev, vx));
    }),
    // A host's bridges learn and age MACs, and ARP comes and goes, all the time: only lines
    // naming the VXLAN device are parsed.
    run('bridge monitor fdb', ['bridge', 'monitor', 'fdb'], (line) => {
      const vx = o.vxlan();
      if (!vx || !line.includes(` dev ${vx.device} `)) return;
      const ev = parseFdbEvent(line);
      if (ev) report(fdbDrift(ev, vx));
    }),
    run('ip monitor neigh', ['ip', '-4', '-o', 'monitor', 'neigh'], (line) => {
      const vx = o.vxlan();
      if (!vx || !line.includes(` dev ${vx.device} `)) return;
      const ev = parseNeighEvent(line);
      if (ev) report(neighDrift(ev, vx));
    }),
    run('nft monitor', ['nft', 'monitor'], (line) => {
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
      const exits = [...children].map((c) => new Promise<void>((r) => {
        if (c.exitCode !== null || c.signalCode !== null) { r(); return; }
        c.once('close', () => r());
        c.kill('SIGTERM');
      }));
      await Promise.all(exits);
    },
  };
}
