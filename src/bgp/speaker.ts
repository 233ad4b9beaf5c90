// The speaker: wires sessions per configured peer to the Loc-RIB (loc-rib.ts), each
// peer's Adj-RIB-In (adj-rib-in.ts) and Adj-RIB-Out (adj-rib-out.ts), graceful restart
// (graceful-restart.ts), and the agent-facing API. One process-wide listener accepts
// connections and hands them to their peer. Decisions live in those modules; this file
// holds the timers and sockets and applies what they decide.
import type net from 'node:net';
import { EventEmitter } from 'node:events';
import { type Logger, silentLogger } from '../log/index.js';
import { type PathAttributes } from './attributes.js';
import { AdjRibIn, importAllowed, importSource, classifyUpdate } from './adj-rib-in.js';
import { AdjRibOut, ExportMemo, routeRefreshVerdict } from './adj-rib-out.js';
import { BgpConfigError, BgpError, CeaseSub, ErrorCode, OpenSub } from './errors.js';
import { HelperState, endOfRibComplete, familiesNotPreserved, helperRetention, initialSyncDone } from './graceful-restart.js';
import { mayConnect, resolveCollision, supersededBy } from './collision.js';
import { LocRib } from './loc-rib.js';
import { type PeerEntry, exportTargetOf, peerStatuses } from './peer-entry.js';
import { type Capabilities, type OpenMessage, type RouteRefreshMessage, type UpdateMessage, encodeEndOfRib } from './messages.js';
import { LocalRoutes } from './local-routes.js';
import { canonicalAddress, needsReset, validatePeer } from './peer-config.js';
import { type AfiFamily, type ParsedPrefix, addressFamily, afiOf, canonicalPrefix, parsePrefix, SAFI_UNICAST } from './prefix.js';
import { type ExportTarget, type RibRoute, LOCAL } from './rib.js';
import { Session, type SessionHost, familyCaps } from './session.js';
import { createListener } from './transport.js';
import { createMd5Listener, md5Support } from './md5.js';
import type { GracefulRestartOptions, LocalRoute, PeerConfig, PeerStatus, RouteChange, SpeakerConfig } from './types.js';

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

/** Prefixes settled per turn of the event loop (decision process, kernel changes, exports). */
const FLUSH_MAX = 4000;
/** ...and the time their decision process may take in one turn. */
const FLUSH_SLICE_MS = 5;

export function createSpeaker(opts: SpeakerOptions): Speaker {
  const logger = opts.logger ?? silentLogger();
  const events = new EventEmitter();
  let localAsn = opts.localAsn;
  let routerId = opts.routerId;
  let config: SpeakerConfig = { peers: [] };
  const gr = opts.gracefulRestart ?? {};
  const restartTimeSec = Math.min(4095, gr.restartTimeSec ?? 120);
  const eorTimeoutSec = gr.eorTimeoutSec ?? 120;
  const peerDownAfterSec = Math.min(gr.peerDownAfterSec ?? 10, eorTimeoutSec);
  let downCheckTimer: NodeJS.Timeout | null = null;
  let deferring = gr.restarting === true;
  let synced = false;
  let syncTimer: NodeJS.Timeout | null = null;
  let configured = false;
  let stopped = false;

  const peers = new Map<string, PeerEntry>();
  const rib = new LocRib();
  const exportMemo = new ExportMemo();
  const localRoutes = new LocalRoutes();
  let rejectPrefixes: ParsedPrefix[] = [];
  let flushScheduled = false;

  // ---- Loc-RIB: batched selection, then kernel and peers ----------------------------

  function setCandidate(prefix: string, source: string, r: RibRoute | null): void {
    rib.set(prefix, source, r);
    if (flushScheduled) return;
    flushScheduled = true;
    setImmediate(() => flush());
  }

  function flush(max = FLUSH_MAX): void {
    flushScheduled = false;
    if (stopped) return;
    try {
      const changed = rib.select(max, max === Infinity ? Infinity : performance.now() + FLUSH_SLICE_MS);
      // The rest in a later turn: keepalives and other sessions go first.
      if (rib.dirtyCount > 0 && !flushScheduled) { flushScheduled = true; setImmediate(() => flush()); }
      if (deferring || changed.length === 0) return;
      emitRouteChanges(changed);
      for (const p of peers.values()) {
        if (!p.adjOut.synced) continue;
        for (const prefix of changed) queueExport(p, prefix);
        flushOut(p);
      }
    } catch (e) {
      logger.error({ err: e }, 'bgp: internal error while updating the Loc-RIB');
    }
  }

  function emitRouteChanges(prefixes: Iterable<string>): void {
    const out = rib.kernelChanges(prefixes);
    if (out.length) events.emit('routes', out);
  }

  // ---- Adj-RIB-Out --------------------------------------------------------------------

  function targetOf(p: PeerEntry): ExportTarget | null {
    if (p.target === undefined) p.target = exportTargetOf(p, localAsn, config.localAddresses ?? {});
    return p.target;
  }

  const exportContext = () => ({ localAsn, ...(config.clusterId ? { clusterId: config.clusterId } : {}) });

  function queueExport(p: PeerEntry, prefix: string): void {
    const b = rib.best(prefix);
    const t = targetOf(p);
    const e = b && t && p.established?.families().includes(b.family)
      ? exportMemo.get(b, t, exportContext)
      : null;
    p.adjOut.queue(prefix, e);
  }

  function flushOut(p: PeerEntry): void {
    const s = p.established;
    if (!s || !p.adjOut.hasPending) return;
    for (const m of p.adjOut.takeMessages(s.negotiated?.fourOctetAs ?? false)) s.send(m);
  }

  /** Brings a peer's Adj-RIB-Out in line with the whole Loc-RIB (session start, policy change). */
  function resyncOut(p: PeerEntry, sendEor: boolean): void {
    p.target = undefined;
    for (const prefix of rib.prefixes()) queueExport(p, prefix);
    for (const prefix of [...p.adjOut.prefixes()]) if (!rib.has(prefix)) queueExport(p, prefix);
    flushOut(p);
    if (sendEor && p.established) for (const f of p.established.families()) p.established.send(encodeEndOfRib(f));
    p.adjOut.synced = true;
  }

  // ---- Adj-RIB-In ---------------------------------------------------------------------

  function setAdjIn(p: PeerEntry, prefix: string, route: RibRoute | null): void {
    if (route) {
      const eligible = importAllowed(prefix, p.cfg.asn !== localAsn, p.cfg.importPolicy, rejectPrefixes);
      setCandidate(prefix, p.key, p.adjIn.set(prefix, route, eligible));
    } else if (p.adjIn.delete(prefix)) {
      setCandidate(prefix, p.key, null);
    }
  }

  function purge(p: PeerEntry, onlyStale: boolean, family?: AfiFamily): void {
    for (const prefix of p.adjIn.select(onlyStale, family)) setAdjIn(p, prefix, null);
  }

  function ownAddress(ip: string): boolean {
    if (ip === routerId) return true;
    const la = config.localAddresses ?? {};
    if (ip === la.ipv4 || ip === la.ipv6) return true;
    for (const q of peers.values()) if (q.cfg.localAddress === ip) return true;
    return false;
  }

  function onUpdate(p: PeerEntry, s: Session, u: UpdateMessage): void {
    const v = classifyUpdate(u, s.families());
    if (v.kind === 'end-of-rib') { onEndOfRib(p, v.family); return; }
    if (v.kind === 'session-reset') return; // decoding errors never reach here: the session resets on them
    for (const d of v.discarded) logger.info({ peer: p.key, reason: d }, 'bgp: attribute discarded (RFC 7606)');
    for (const f of v.ignoredFamilies) logger.info({ peer: p.key, afi: f.afi, safi: f.safi }, 'bgp: ignoring NLRI of an address family not negotiated');
    const w = v.treatAsWithdraw;
    if (w) logger.warn({ peer: p.key, code: w.code, subcode: w.subcode, error: w.message }, 'bgp: malformed UPDATE treated as withdraw (RFC 7606)');
    for (const prefix of v.withdrawn) setAdjIn(p, prefix, null);
    for (const a of v.announced) {
      const src = importSource({
        peerKey: p.key, peerAsn: p.cfg.asn, localAsn, routerId, ...(config.clusterId ? { clusterId: config.clusterId } : {}),
        fromClient: p.cfg.routeReflectorClient === true, peerRouterId: s.negotiated?.peerRouterId ?? p.key, ownAddress,
      }, u.attrs as PathAttributes, a.nextHop);
      if (typeof src === 'string') {
        logger.info({ peer: p.key, reason: src, prefixes: a.prefixes.length }, 'bgp: routes not accepted');
        for (const prefix of a.prefixes) setAdjIn(p, prefix, null);
        continue;
      }
      for (const prefix of a.prefixes) setAdjIn(p, prefix, { prefix, family: a.family, src, stale: false });
    }
  }

  // ---- graceful restart: helper and deferral ------------------------------------------

  function onEndOfRib(p: PeerEntry, f: AfiFamily): void {
    p.gr.eor.add(f);
    if (p.gr.stale) purge(p, true, f);
    if (endOfRibComplete(p.established?.families() ?? [], p.gr.eor)) {
      if (p.gr.stale) { p.gr.stale = false; logger.info({ peer: p.key }, 'bgp: End-of-RIB from restarting peer, stale routes removed'); }
      p.gr.clear('eor');
    }
    checkSynced();
  }

  /** The restarted peer is back: purge what it did not preserve, then wait for its End-of-RIB. */
  function helperReestablished(p: PeerEntry, s: Session): void {
    if (!p.gr.stale) return;
    p.gr.clear('restart');
    for (const f of familiesNotPreserved(s.negotiated?.peerGr ?? null)) purge(p, true, f);
    p.gr.arm('eor', eorTimeoutSec, () => {
      if (!p.gr.stale) return;
      logger.warn({ peer: p.key }, 'bgp: no End-of-RIB from restarting peer in time, removing its stale routes');
      purge(p, true);
      p.gr.stale = false;
    });
  }

  /** The session ended: keep the peer's routes as stale when graceful restart says so, else drop them. */
  function helperDown(p: PeerEntry, s: Session, hard: boolean): void {
    const keep = !p.removed && !stopped ? helperRetention(s.negotiated?.peerGr ?? null, hard, p.cfg.maxRestartTimeSec) : null;
    if (keep) {
      for (const f of [4, 6] as const) if (!keep.families.includes(f)) purge(p, false, f);
      if (keep.keepSec > 0 && p.adjIn.size > 0) {
        p.adjIn.markStale();
        p.gr.stale = true;
        logger.info({ peer: p.key, keepSec: keep.keepSec }, 'bgp: peer session lost; keeping its routes as stale (graceful restart helper)');
        p.gr.arm('restart', keep.keepSec, () => {
          logger.warn({ peer: p.key }, 'bgp: restarting peer did not come back in time, removing its routes');
          purge(p, true);
          p.gr.stale = false;
        });
        return;
      }
    }
    p.gr.stale = false;
    purge(p, false);
  }

  function checkSynced(timedOut = false): void {
    if (synced || !configured) return;
    const live = [...peers.values()].filter((p) => !p.refused);
    const now = Date.now();
    const done = initialSyncDone(live.map((p) => ({
      established: p.established !== null, families: p.established?.families() ?? [], eor: p.gr.eor,
      opening: [...p.sessions].some((x) => x.state === 'OpenSent' || x.state === 'OpenConfirm'),
      waitedSec: (now - p.configuredAt) / 1000,
    })), peerDownAfterSec);
    if (!done && !timedOut) return;
    synced = true;
    if (syncTimer) { clearTimeout(syncTimer); syncTimer = null; }
    if (downCheckTimer) { clearTimeout(downCheckTimer); downCheckTimer = null; }
    if (deferring) {
      deferring = false;
      flush(Infinity);
      emitRouteChanges(rib.prefixes());
      for (const p of peers.values()) if (p.established) resyncOut(p, true);
    }
    logger.info({ peers: live.length, timedOut }, 'bgp: initial routing exchange complete');
    events.emit('synced', { peers: live.length, timedOut });
  }

  // ---- sessions -----------------------------------------------------------------------

  function entryOf(s: Session): PeerEntry | undefined {
    const p = peers.get(canonicalAddress(s.peer.address));
    return p && p.sessions.has(s) ? p : undefined;
  }

  function clearIdleTimer(p: PeerEntry): void {
    if (p.idleTimer) clearTimeout(p.idleTimer);
    p.idleTimer = null;
  }

  const host: SessionHost = {
    logger,
    localAsn: () => localAsn,
    routerId: () => routerId,
    openCapabilities(peer: PeerConfig): Capabilities {
      const fams = peer.families ?? [addressFamily(peer.address)];
      return {
        multiprotocol: familyCaps(fams),
        routeRefresh: true,
        fourOctetAs: localAsn,
        gracefulRestart: {
          restarting: deferring,
          restartTimeSec,
          families: fams.map((f) => ({ afi: afiOf(f), safi: SAFI_UNICAST, forwardingPreserved: gr.restarting === true })),
        },
        other: [],
      };
    },
    checkOpen(s: Session, open: OpenMessage) {
      const p = entryOf(s);
      if (!p) return new BgpError(ErrorCode.Cease, CeaseSub.PeerDeconfigured, 'peer is no longer configured');
      const peerAsn = open.capabilities.fourOctetAs ?? open.myAs;
      if (peerAsn !== p.cfg.asn) {
        const data = Buffer.alloc(2); data.writeUInt16BE(open.myAs);
        return new BgpError(ErrorCode.OpenMessage, OpenSub.BadPeerAs, `peer AS ${peerAsn} is not the configured ${p.cfg.asn}`, data);
      }
      if (open.bgpId === routerId) return new BgpError(ErrorCode.OpenMessage, OpenSub.BadBgpIdentifier, `peer BGP identifier ${open.bgpId} equals ours`);
      for (const other of [...p.sessions]) {
        if (other === s) continue;
        const v = resolveCollision(
          { state: other.state, peerGr: (other.negotiated?.peerGr ?? null) !== null },
          { initiatedLocally: s.initiatedLocally, hasGr: open.capabilities.gracefulRestart !== null },
          routerId, open.bgpId,
        );
        switch (v) {
          case 'none': break;
          case 'close-new': return 'dump';
          case 'close-other': other.fire('OpenCollisionDump'); break;
          case 'peer-restarted':
            logger.info({ peer: p.key }, 'bgp: peer connected again with graceful restart: it restarted (RFC 4724)');
            other.replacedByRestart();
            break;
        }
      }
      return null;
    },
    established(s: Session) {
      const p = entryOf(s);
      if (!p) return;
      p.established = s;
      // Connections that never exchanged an OPEN are superseded: their timers must not reconnect.
      for (const o of [...p.sessions]) if (o !== s && supersededBy(o.state)) o.fire('Stop');
      p.since = Date.now();
      p.lastError = null;
      p.gr.eor = new Set();
      p.target = undefined;
      helperReestablished(p, s);
      if (!deferring) resyncOut(p, true);
    },
    down(s: Session, hard: boolean) {
      const p = entryOf(s);
      if (!p || p.established !== s) return;
      p.established = null;
      p.adjOut.reset();
      p.target = undefined;
      p.lastError = s.lastError;
      helperDown(p, s, hard);
    },
    update(s: Session, u: UpdateMessage) {
      const p = entryOf(s);
      if (p) onUpdate(p, s, u);
    },
    routeRefresh(s: Session, r: RouteRefreshMessage) {
      const p = entryOf(s);
      if (!p || p.established !== s) return;
      const v = routeRefreshVerdict(r, s.families());
      if (v.kind === 'ignore') { logger.info({ peer: p.key, reason: v.reason }, 'bgp: ROUTE-REFRESH ignored'); return; }
      p.adjOut.requeueFamily(v.family);
      flushOut(p);
    },
    stateChanged(s: Session) {
      const p = entryOf(s);
      if (p && s.lastError) p.lastError = s.lastError;
      // A peer that stopped coming up (back to Active/Idle) may be what the deferral waited for.
      if (p && !synced) checkSynced();
    },
    idle(s: Session) {
      const p = entryOf(s);
      if (!p) return;
      if (s.lastError) p.lastError = s.lastError;
      p.sessions.delete(s);
      if (p.removed || stopped || p.sessions.size > 0) return;
      // Idle hold: a pause before the next attempt so a failing peer is not hammered.
      clearIdleTimer(p);
      p.idleTimer = setTimeout(() => {
        p.idleTimer = null;
        // The peer may have connected to us meanwhile: that session owns the peer now.
        if (p.removed || stopped || p.sessions.size > 0) return;
        startSession(p);
      }, Math.min(p.cfg.connectRetrySec ?? 10, 5) * 1000);
      p.idleTimer.unref();
    },
    mayConnect(s: Session) {
      const p = entryOf(s);
      return p !== undefined && !p.removed && !stopped && mayConnect([...p.sessions].filter((o) => o !== s).map((o) => o.state));
    },
  };

  function startSession(p: PeerEntry): Session {
    clearIdleTimer(p);
    const s = new Session(p.cfg, host);
    p.sessions.add(s);
    s.fire(p.cfg.passive ? 'StartPassive' : 'Start');
    return s;
  }

  // ---- listener -----------------------------------------------------------------------

  let server: net.Server | null = null;
  const md5 = createMd5Listener();
  const listening = new Promise<{ host: string; port: number } | null>((resolve, reject) => {
    if (!opts.listen) { resolve(null); return; }
    const l = opts.listen;
    const srv = createListener((sock) => onIncoming(sock));
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

  function onIncoming(sock: net.Socket): void {
    sock.on('error', () => {});
    let key: string;
    try { key = canonicalAddress(sock.remoteAddress ?? ''); } catch { sock.destroy(); return; }
    const p = peers.get(key);
    if (!p || p.refused || stopped) {
      logger.info({ from: key }, 'bgp: connection from an unconfigured address refused');
      sock.destroy();
      return;
    }
    for (const s of p.sessions) {
      if (s.state === 'Connect' || s.state === 'Active') { s.attachIncoming(sock); return; }
    }
    clearIdleTimer(p);
    const s = new Session(p.cfg, host);
    p.sessions.add(s);
    s.fire('StartPassive');
    s.attachIncoming(sock);
  }

  // ---- configuration ------------------------------------------------------------------

  function removePeer(p: PeerEntry, subcode: number, why: string): void {
    p.removed = true;
    p.gr.clearAll();
    clearIdleTimer(p);
    for (const s of [...p.sessions]) s.cease(subcode, why);
    p.established = null;
    purge(p, false);
    peers.delete(p.key);
    md5.removeKey(p.key);
  }

  function addPeer(cfg: PeerConfig): PeerEntry {
    const key = canonicalAddress(cfg.address);
    const p: PeerEntry = {
      key, cfg, refused: null, sessions: new Set(), established: null, adjIn: new AdjRibIn(), adjOut: new AdjRibOut(),
      target: undefined, gr: new HelperState(), idleTimer: null, configuredAt: Date.now(), lastError: null, since: Date.now(), removed: false,
    };
    if (cfg.password) {
      const err = md5.setKey(key, cfg.password);
      if (err) { p.refused = new BgpConfigError(md5Support().ok ? 'INVALID_CONFIG' : 'MD5_UNSUPPORTED', err); p.lastError = err; }
    }
    peers.set(key, p);
    if (!p.refused) startSession(p);
    return p;
  }

  function configure(cfg: SpeakerConfig): { refused: { peer: string; error: BgpConfigError }[] } {
    if (stopped) throw new BgpConfigError('INVALID_CONFIG', 'speaker is stopped');
    const prev = config;
    // A peer the speaker cannot take fails alone: it is reported in `refused`, and a peer
    // that was running keeps its last good configuration (and its routes) meanwhile.
    const invalid = new Map<string, BgpConfigError>();
    const peersOk: PeerConfig[] = [];
    for (const c of cfg.peers) {
      try {
        validatePeer(c, cfg);
        peersOk.push(c);
      } catch (e) {
        const err = e instanceof BgpConfigError ? e : new BgpConfigError('INVALID_CONFIG', (e as Error).message);
        let key = c.address;
        try { key = canonicalAddress(c.address); } catch { /* reported under the text given */ }
        invalid.set(key, err);
        const old = peers.get(key);
        if (old) peersOk.push(old.cfg);
      }
    }
    config = { ...cfg, peers: peersOk };
    try {
      rejectPrefixes = (cfg.rejectPrefixes ?? []).map((x) => parsePrefix(canonicalPrefix(x)));
    } catch (e) {
      config = prev;
      throw e instanceof BgpConfigError ? e : new BgpConfigError('INVALID_CONFIG', (e as Error).message);
    }
    const identityChanged = (cfg.localAsn !== undefined && cfg.localAsn !== localAsn) || (cfg.routerId !== undefined && cfg.routerId !== routerId);
    if (identityChanged) {
      for (const p of [...peers.values()]) removePeer(p, CeaseSub.OtherConfigurationChange, 'local AS or router id changed');
      localAsn = cfg.localAsn ?? localAsn;
      routerId = cfg.routerId ?? routerId;
      for (const r of localRoutes.renumber(routerId)) setCandidate(r.prefix, LOCAL, r);
    }
    exportMemo.clear();
    for (const p of peers.values()) p.target = undefined;
    const wanted = new Map(peersOk.map((c) => [canonicalAddress(c.address), c]));
    for (const p of [...peers.values()]) if (!wanted.has(p.key)) removePeer(p, CeaseSub.PeerDeconfigured, 'peer removed from configuration');
    for (const [key, c] of wanted) {
      const p = peers.get(key);
      if (!p) { addPeer(c); continue; }
      if (needsReset(p.cfg, c)) {
        removePeer(p, CeaseSub.OtherConfigurationChange, 'peer configuration changed');
        addPeer(c);
        continue;
      }
      // In-place change: policies, reflection, names. Re-import and re-export.
      p.cfg = c;
      for (const s of p.sessions) s.peer = c;
      for (const [prefix, e] of [...p.adjIn]) setAdjIn(p, prefix, e.route);
    }
    for (const p of peers.values()) if (p.adjOut.synced) resyncOut(p, false);
    if (!configured) {
      configured = true;
      syncTimer = setTimeout(() => checkSynced(true), eorTimeoutSec * 1000);
      syncTimer.unref();
      // When the unreachable peers count as down, the ones that are up may already be done.
      downCheckTimer = setTimeout(() => { downCheckTimer = null; checkSynced(); }, peerDownAfterSec * 1000 + 50);
      downCheckTimer.unref();
    }
    checkSynced();
    const refused = [...peers.values()].filter((p) => p.refused && !invalid.has(p.key)).map((p) => ({ peer: p.key, error: p.refused! }));
    for (const [peer, error] of invalid) refused.push({ peer, error });
    return { refused };
  }

  // ---- local routes -------------------------------------------------------------------

  function announce(routes: LocalRoute[]): void {
    for (const r of localRoutes.announce(routes, routerId)) setCandidate(r.prefix, LOCAL, r);
  }

  function withdraw(prefixes: string[]): void {
    for (const prefix of localRoutes.withdraw(prefixes)) setCandidate(prefix, LOCAL, null);
  }

  // ---- status and stop ----------------------------------------------------------------

  function status(): PeerStatus[] {
    return peerStatuses(peers.values(), Date.now());
  }

  async function stop(o: { graceful?: boolean } = {}): Promise<void> {
    if (stopped) return;
    stopped = true;
    if (syncTimer) clearTimeout(syncTimer);
    if (downCheckTimer) clearTimeout(downCheckTimer);
    for (const p of peers.values()) {
      p.removed = true;
      p.gr.clearAll();
      clearIdleTimer(p);
      for (const s of [...p.sessions]) s.fire(o.graceful ? 'StopGraceful' : 'Stop');
    }
    const srv = server as net.Server | null;
    if (srv) await new Promise<void>((r) => srv.close(() => r()));
    events.removeAllListeners();
  }

  return {
    listening,
    configure,
    announce,
    withdraw,
    on: (ev: string, fn: (...args: never[]) => void) => { events.on(ev, fn as (...a: unknown[]) => void); },
    off: (ev: string, fn: (...args: never[]) => void) => { events.off(ev, fn as (...a: unknown[]) => void); },
    learnedRoutes: () => rib.learned(),
    status,
    stop,
  } as Speaker;
}
