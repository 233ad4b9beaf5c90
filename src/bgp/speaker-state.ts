// What the speaker's parts share: its identity and configuration as they change, the
// peer table, the Loc-RIB, the local routes and the phase flags (deferring, synced,
// stopped). Plain data: each part (decision.ts, export-path.ts, import-path.ts,
// restart-wiring.ts, session-host.ts, peer-table.ts) reads and updates only its share, and a
// test can look at all of it.
import { EventEmitter } from 'node:events';
import type { Logger } from '../log/index.js';
import { LocalRoutes } from './local-routes.js';
import { LocRib } from './loc-rib.js';
import type { PeerEntry } from './peer-entry.js';
import type { ParsedPrefix } from './prefix.js';
import type { GracefulRestartOptions, SpeakerConfig } from './types.js';

export interface SpeakerState {
  readonly logger: Logger;
  /** 'routes' (RouteChange[]) and 'synced' (SyncedInfo) for the agent. */
  readonly events: EventEmitter;
  readonly gr: GracefulRestartOptions;
  /** Advertised in our graceful-restart capability (at most 4095, the field's size). */
  readonly restartTimeSec: number;
  /** Longest wait for End-of-RIB (from restarting peers, and for our own deferral). */
  readonly eorTimeoutSec: number;
  /** A configured peer not up after this long counts as down for the deferral. */
  readonly peerDownAfterSec: number;
  localAsn: number;
  routerId: string;
  config: SpeakerConfig;
  rejectPrefixes: ParsedPrefix[];
  /** A restarting speaker holds back routes to the kernel and to peers until the initial exchange (RFC 4724). */
  deferring: boolean;
  synced: boolean;
  configured: boolean;
  stopped: boolean;
  readonly peers: Map<string, PeerEntry>;
  readonly rib: LocRib;
  readonly localRoutes: LocalRoutes;
}

export function createSpeakerState(o: { logger: Logger; localAsn: number; routerId: string; gracefulRestart?: GracefulRestartOptions }): SpeakerState {
  const gr = o.gracefulRestart ?? {};
  const eorTimeoutSec = gr.eorTimeoutSec ?? 120;
  return {
    logger: o.logger,
    events: new EventEmitter(),
    gr,
    restartTimeSec: Math.min(4095, gr.restartTimeSec ?? 120),
    eorTimeoutSec,
    peerDownAfterSec: Math.min(gr.peerDownAfterSec ?? 10, eorTimeoutSec),
    localAsn: o.localAsn,
    routerId: o.routerId,
    config: { peers: [] },
    rejectPrefixes: [],
    deferring: gr.restarting === true,
    synced: false,
    configured: false,
    stopped: false,
    peers: new Map(),
    rib: new LocRib(),
    localRoutes: new LocalRoutes(),
  };
}
