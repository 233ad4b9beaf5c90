// The speaker: wires its parts and gives the agent its API. Each part holds one concern:
//   speaker-state.ts   what they share (identity, configuration, peers, Loc-RIB, phase flags)
//   decision.ts        the Loc-RIB's batched selection, to the kernel and the peers
//   import-path.ts     UPDATEs into each peer's Adj-RIB-In (filters, importPolicy)
//   export-path.ts     the Loc-RIB into each peer's Adj-RIB-Out (filters, export rules)
//   restart-wiring.ts  graceful restart: the helper side and our own deferral
//   session-host.ts    what sessions ask of the speaker (OPEN checks, collisions, idle hold)
//   peer-table.ts      configuration applied as a difference
// Their rules live in pure modules (adj-rib-in, adj-rib-out, loc-rib, collision,
// graceful-restart, filter, peer-config); the parts hold the timers and apply them. One
// process-wide listener accepts connections and hands them to their peer.
import type net from 'node:net';
import { type Logger, silentLogger } from '../log/index.js';
import { Decision } from './decision.js';
import { BgpConfigError } from './errors.js';
import { ExportPath } from './export-path.js';
import { ImportPath } from './import-path.js';
import { createMd5Listener } from './md5.js';
import { peerStatuses } from './peer-entry.js';
import { PeerTable } from './peer-table.js';
import { RestartWiring } from './restart-wiring.js';
import { LOCAL } from './rib.js';
import { SessionHub } from './session-host.js';
import { createSpeakerState } from './speaker-state.js';
import { createListener } from './transport.js';
import type { GracefulRestartOptions, LocalRoute, PeerStatus, RouteChange, SpeakerConfig } from './types.js';

export interface SpeakerOptions {
  routerId: string;
  localAsn: number;
  /** Where to accept connections (port 179 by default in production); null: outgoing only. */
  listen: { host: string; port: number } | null;
  logger?: Logger;
  gracefulRestart?: GracefulRestartOptions;
}

export interface SyncedInfo { peers: number; timedOut: boolean }

export interface Speaker {
  /** Resolves with the bound address once listening (port 0 picks one). */
  readonly listening: Promise<{ host: string; port: number } | null>;
  /** Applies a configuration: peers added, removed or changed in place. Returns refused peers. */
  configure(cfg: SpeakerConfig): { refused: { peer: string; error: BgpConfigError }[] };
  announce(routes: LocalRoute[]): void;
  withdraw(prefixes: string[]): void;
  on(event: 'routes', fn: (changes: RouteChange[]) => void): void;
  on(event: 'synced', fn: (info: SyncedInfo) => void): void;
  off(event: 'routes' | 'synced', fn: (...args: never[]) => void): void;
  /** Every current best route learned from a peer (what the kernel should hold). */
  learnedRoutes(): RouteChange[];
  status(): PeerStatus[];
  stop(opts?: { graceful?: boolean }): Promise<void>;
}

export function createSpeaker(opts: SpeakerOptions): Speaker {
  const logger = opts.logger ?? silentLogger();
  const st = createSpeakerState({ logger, localAsn: opts.localAsn, routerId: opts.routerId, ...(opts.gracefulRestart ? { gracefulRestart: opts.gracefulRestart } : {}) });
  const exports = new ExportPath(st);
  const decision = new Decision(st, exports);
  const imports = new ImportPath(st, decision);
  const restart = new RestartWiring(st, imports, exports, decision);
  const hub = new SessionHub(st, imports, exports, restart);
  const md5 = createMd5Listener();
  const table = new PeerTable(st, { md5, hub, imports, exports, decision, restart });

  let server: net.Server | null = null;
  const listening = new Promise<{ host: string; port: number } | null>((resolve, reject) => {
    if (!opts.listen) { resolve(null); return; }
    const l = opts.listen;
    const srv = createListener((sock) => hub.incoming(sock));
    server = srv;
    srv.once('error', (err) => reject(new BgpConfigError('INVALID_CONFIG', `cannot listen on ${l.host}:${l.port}: ${err.message}`)));
    md5.listen(srv, l.host, l.port, () => {
      const a = srv.address() as net.AddressInfo;
      logger.info({ host: a.address, port: a.port }, 'bgp: listening');
      resolve({ host: a.address, port: a.port });
    });
  });
  // Callers that never await listening still hear of a failed bind through the log.
  listening.catch((e: Error) => logger.error({ err: e.message }, 'bgp: cannot listen; only outgoing sessions will work'));

  async function stop(o: { graceful?: boolean } = {}): Promise<void> {
    if (st.stopped) return;
    st.stopped = true;
    restart.clearTimers();
    for (const p of st.peers.values()) {
      p.removed = true;
      p.gr.clearAll();
      hub.clearIdleTimer(p);
      for (const s of [...p.sessions]) s.fire(o.graceful ? 'StopGraceful' : 'Stop');
    }
    const srv = server as net.Server | null;
    if (srv) await new Promise<void>((r) => srv.close(() => r()));
    st.events.removeAllListeners();
  }

  return {
    listening,
    configure: (cfg) => table.configure(cfg),
    announce(routes) {
      for (const r of st.localRoutes.announce(routes, st.routerId)) decision.setCandidate(r.prefix, LOCAL, r);
    },
    withdraw(prefixes) {
      for (const prefix of st.localRoutes.withdraw(prefixes)) decision.setCandidate(prefix, LOCAL, null);
    },
    on: (ev: string, fn: (...args: never[]) => void) => { st.events.on(ev, fn as (...a: unknown[]) => void); },
    off: (ev: string, fn: (...args: never[]) => void) => { st.events.off(ev, fn as (...a: unknown[]) => void); },
    learnedRoutes: () => st.rib.learned(),
    status: () => peerStatuses(st.peers.values(), Date.now()),
    stop,
  } as Speaker;
}
