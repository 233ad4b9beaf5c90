// The speaker: sessions per configured peer, Adj-RIB-In per peer, the Loc-RIB, Adj-RIB-Out
// per peer, graceful restart (restarting speaker and helper, RFC 4724), and the agent
// facing API. One process-wide listener accepts connections and hands them to their peer.
import net from 'node:net';
import { EventEmitter } from 'node:events';
import { type Logger, silentLogger } from '../log/index.js';
import { type PathAttributes } from './attributes.js';
import { BgpConfigError, BgpError, CeaseSub, ErrorCode, OpenSub } from './errors.js';
import { type Capabilities, type OpenMessage, type RouteRefreshMessage, type UpdateMessage, encodeEndOfRib, endOfRibFamily } from './messages.js';
import { packAnnouncements, packWithdrawals } from './pack.js';
import { type AfiFamily, addressBytes, addressFamily, afiOf, canonicalPrefix, familyOfAfi, formatAddress, parsePrefix, SAFI_UNICAST } from './prefix.js';
import { type Exported, type ExportTarget, type RibRoute, type RouteSource, LOCAL, exportRoute, selectBest } from './rib.js';
import { Session, type SessionHost, familyCaps } from './session.js';
import { createMd5Listener, md5Support } from './md5.js';
import type { GracefulRestartOptions, LocalRoute, PeerConfig, PeerState, PeerStatus, RouteChange, SpeakerConfig } from './types.js';

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

interface AdjInEntry { route: RibRoute; eligible: boolean }

interface PeerEntry {
  key: string;
  cfg: PeerConfig;
  refused: BgpConfigError | null;
  sessions: Set<Session>;
  established: Session | null;
  adjIn: Map<string, AdjInEntry>;
  adjOut: Map<string, Exported>;
  pendingOut: Set<string>;
  outSynced: boolean;
  eor: Set<AfiFamily>;
  stale: boolean;
  restartTimer: NodeJS.Timeout | null;
  eorTimer: NodeJS.Timeout | null;
  idleTimer: NodeJS.Timeout | null;
  lastError: string | null;
  since: number;
  removed: boolean;
}

const RESET_FIELDS: (keyof PeerConfig)[] = ['port', 'asn', 'localAddress', 'passive', 'families', 'holdTimeSec', 'keepaliveSec', 'password'];

function canonicalAddress(addr: string): string {
  const a = addr.startsWith('::ffff:') && addr.includes('.') ? addr.slice(7) : addr;
  return formatAddress(addressBytes(a));
}

function parseCommunity(text: string): { std?: number; large?: [number, number, number] } {
  const parts = text.split(':').map(Number);
  if (parts.some((n) => !Number.isInteger(n) || n < 0)) throw new BgpConfigError('INVALID_CONFIG', `community "${text}" is not numeric`);
  if (parts.length === 2 && parts[0]! <= 0xffff && parts[1]! <= 0xffff) return { std: ((parts[0]! << 16) | parts[1]!) >>> 0 };
  if (parts.length === 3 && parts.every((n) => n <= 0xffffffff)) return { large: [parts[0]!, parts[1]!, parts[2]!] };
  throw new BgpConfigError('INVALID_CONFIG', `community "${text}" is not "asn:value" (16-bit each) or large "a:b:c" (32-bit each)`);
}

export function createSpeaker(opts: SpeakerOptions): Speaker {
  const logger = opts.logger ?? silentLogger();
  const events = new EventEmitter();
  let localAsn = opts.localAsn;
  let routerId = opts.routerId;
  let config: SpeakerConfig = { peers: [] };
  const gr = opts.gracefulRestart ?? {};
  const restartTimeSec = Math.min(4095, gr.restartTimeSec ?? 120);
  const eorTimeoutSec = gr.eorTimeoutSec ?? 120;
  let deferring = gr.restarting === true;
  let synced = false;
  let syncTimer: NodeJS.Timeout | null = null;
  let configured = false;
  let stopped = false;

  const peers = new Map<string, PeerEntry>();
  const candidates = new Map<string, Map<string, RibRoute>>();
  const best = new Map<string, RibRoute>();
  const dirty = new Set<string>();
  const emitted = new Map<string, string>();
  const localRoutes = new Map<string, RibRoute>();
  const localSources = new Map<string, RouteSource>();
  let exportMemo = new WeakMap<RouteSource, Map<string, Exported | null>>();
  let rejectPrefixes: { family: AfiFamily; length: number; bytes: Buffer }[] = [];
  let flushScheduled = false;

  // ---- Loc-RIB ------------------------------------------------------------------

  function setCandidate(prefix: string, source: string, r: RibRoute | null): void {
    let m = candidates.get(prefix);
    if (r) {
      if (!m) candidates.set(prefix, (m = new Map()));
      m.set(source, r);
    } else if (m) {
      m.delete(source);
      if (m.size === 0) candidates.delete(prefix);
    }
    dirty.add(prefix);
    scheduleFlush();
  }

  function scheduleFlush(): void {
    if (flushScheduled) return;
    flushScheduled = true;
    setImmediate(flush);
  }

  function flush(): void {
    flushScheduled = false;
    if (stopped) return;
    try {
      flushRib();
    } catch (e) {
      logger.error({ err: e }, 'bgp: internal error while updating the Loc-RIB');
    }
  }

  function flushRib(): void {
    const changed: string[] = [];
    for (const prefix of dirty) {
      const m = candidates.get(prefix);
      const nb = m ? selectBest(m.values()) : null;
      const old = best.get(prefix) ?? null;
      if (nb === old) continue;
      if (nb) best.set(prefix, nb); else best.delete(prefix);
      changed.push(prefix);
    }
    dirty.clear();
    if (deferring || changed.length === 0) return;
    emitRouteChanges(changed);
    for (const p of peers.values()) {
      if (!p.outSynced) continue;
      for (const prefix of changed) queueExport(p, prefix);
      flushOut(p);
    }
  }

  function emitRouteChanges(prefixes: Iterable<string>): void {
    const out: RouteChange[] = [];
    for (const prefix of prefixes) {
      const b = best.get(prefix);
      const prev = emitted.get(prefix);
      if (b && b.src.peer !== LOCAL) {
        if (prev !== b.src.nextHop) {
          emitted.set(prefix, b.src.nextHop);
          out.push({ prefix, nextHop: b.src.nextHop, family: b.family, withdrawn: false });
        }
      } else if (prev !== undefined) {
        emitted.delete(prefix);
        out.push({ prefix, nextHop: prev, family: addressFamily(prefix) as AfiFamily, withdrawn: true });
      }
    }
    if (out.length) events.emit('routes', out);
  }

  // ---- Adj-RIB-Out ----------------------------------------------------------------

  function exportTarget(p: PeerEntry): ExportTarget | null {
    const s = p.established;
    if (!s) return null;
    const ebgp = p.cfg.asn !== localAsn;
    const local = s.socket?.localAddress ? canonicalAddress(s.socket.localAddress) : p.cfg.localAddress;
    const la = config.localAddresses ?? {};
    return {
      key: p.key,
      ebgp,
      rrClient: p.cfg.routeReflectorClient === true,
      exportPolicy: ebgp ? p.cfg.exportPolicy ?? 'Reject' : 'All',
      keepOriginalNextHop: p.cfg.keepOriginalNextHop === true,
      selfIpv4: local && addressFamily(local) === 4 ? local : la.ipv4,
      selfIpv6: local && addressFamily(local) === 6 ? local : la.ipv6,
    };
  }

  const targets = new Map<string, ExportTarget | null>();
  function targetOf(p: PeerEntry): ExportTarget | null {
    if (!targets.has(p.key)) targets.set(p.key, exportTarget(p));
    return targets.get(p.key)!;
  }

  function exportFor(p: PeerEntry, r: RibRoute): Exported | null {
    const t = targetOf(p);
    if (!t || !p.established?.families().includes(r.family)) return null;
    let m = exportMemo.get(r.src);
    if (!m) exportMemo.set(r.src, (m = new Map()));
    const k = `${p.key}|${r.family}`;
    if (m.has(k)) return m.get(k)!;
    const e = exportRoute(r, t, { localAsn, ...(config.clusterId ? { clusterId: config.clusterId } : {}) });
    m.set(k, e);
    return e;
  }

  function queueExport(p: PeerEntry, prefix: string): void {
    const b = best.get(prefix);
    const e = b ? exportFor(p, b) : null;
    const cur = p.adjOut.get(prefix);
    if (e === (cur ?? null)) return;
    if (e) p.adjOut.set(prefix, e); else if (cur) p.adjOut.delete(prefix); else return;
    p.pendingOut.add(prefix);
  }

  function flushOut(p: PeerEntry): void {
    const s = p.established;
    if (!s || p.pendingOut.size === 0) return;
    const fourOctetAs = s.negotiated?.fourOctetAs ?? false;
    const withdraws: Record<AfiFamily, string[]> = { 4: [], 6: [] };
    const groups = new Map<Exported, string[]>();
    for (const prefix of p.pendingOut) {
      const e = p.adjOut.get(prefix);
      if (!e) { withdraws[addressFamily(prefix)].push(prefix); continue; }
      let g = groups.get(e);
      if (!g) groups.set(e, (g = []));
      g.push(prefix);
    }
    p.pendingOut.clear();
    for (const f of [4, 6] as const) if (withdraws[f].length) for (const m of packWithdrawals(f, withdraws[f])) s.send(m);
    for (const [e, prefixes] of groups) {
      const f = addressFamily(prefixes[0]!);
      const msgs = f === 4
        ? packAnnouncements(4, { ...e.attrs, nextHop: e.nextHop }, prefixes, { fourOctetAs })
        : packAnnouncements(6, e.attrs, prefixes, { fourOctetAs }, e.nextHop);
      for (const m of msgs) s.send(m);
    }
  }

  /** Brings a peer's Adj-RIB-Out in line with the whole Loc-RIB (session start, policy change). */
  function resyncOut(p: PeerEntry, sendEor: boolean): void {
    targets.delete(p.key);
    for (const prefix of best.keys()) queueExport(p, prefix);
    for (const prefix of [...p.adjOut.keys()]) if (!best.has(prefix)) queueExport(p, prefix);
    flushOut(p);
    if (sendEor && p.established) for (const f of p.established.families()) p.established.send(encodeEndOfRib(f));
    p.outSynced = true;
  }

  // ---- Adj-RIB-In -----------------------------------------------------------------

  function eligibleFor(p: PeerEntry, prefix: string): boolean {
    if (p.cfg.asn !== localAsn && (p.cfg.importPolicy ?? 'Reject') !== 'Accept') return false;
    if (rejectPrefixes.length) {
      const pp = parsePrefix(prefix);
      for (const r of rejectPrefixes) {
        if (r.family !== pp.family || pp.length < r.length) continue;
        if (prefixCovers(r, pp)) return false;
      }
    }
    return true;
  }

  function setAdjIn(p: PeerEntry, prefix: string, route: RibRoute | null): void {
    if (route) {
      const eligible = eligibleFor(p, prefix);
      p.adjIn.set(prefix, { route, eligible });
      setCandidate(prefix, p.key, eligible ? route : null);
    } else if (p.adjIn.delete(prefix)) {
      setCandidate(prefix, p.key, null);
    }
  }

  function purge(p: PeerEntry, onlyStale: boolean, family?: AfiFamily): void {
    for (const [prefix, e] of p.adjIn) {
      if (onlyStale && !e.route.stale) continue;
      if (family && e.route.family !== family) continue;
      setAdjIn(p, prefix, null);
    }
  }

  function ownAddress(ip: string): boolean {
    if (ip === routerId) return true;
    const la = config.localAddresses ?? {};
    if (ip === la.ipv4 || ip === la.ipv6) return true;
    for (const q of peers.values()) if (q.cfg.localAddress === ip) return true;
    return false;
  }

  function importSource(p: PeerEntry, s: Session, attrs: PathAttributes, nextHop: string): RouteSource | string {
    const ebgp = p.cfg.asn !== localAsn;
    const a: PathAttributes = { ...attrs };
    if (ebgp) {
      // RFC 7606 7.5 / RFC 4456: these have no meaning from another AS.
      delete a.localPref; delete a.originatorId; delete a.clusterList;
      a.localPref = 100;
      const first = a.asPath[0];
      if (!first || first.type !== 2 || first.asns[0] !== p.cfg.asn) return `AS_PATH does not start with the peer's AS ${p.cfg.asn}`;
    }
    if (a.asPath.some((seg) => seg.asns.includes(localAsn))) return `AS_PATH contains our AS ${localAsn} (loop)`;
    if (a.originatorId === routerId) return 'ORIGINATOR_ID is our router id (reflection loop)';
    if (config.clusterId && a.clusterList?.includes(config.clusterId)) return 'CLUSTER_LIST contains our cluster id (reflection loop)';
    if (ownAddress(nextHop)) return `NEXT_HOP ${nextHop} is one of our addresses`;
    return {
      peer: p.key, attrs: a, nextHop, ebgp,
      fromClient: p.cfg.routeReflectorClient === true,
      peerRouterId: s.negotiated?.peerRouterId ?? p.key, peerAddress: p.key,
    };
  }

  function onUpdate(p: PeerEntry, s: Session, u: UpdateMessage): void {
    for (const d of u.discarded) logger.info({ peer: p.key, reason: d }, 'bgp: attribute discarded (RFC 7606)');
    const eor = endOfRibFamily(u);
    if (eor !== null) { onEndOfRib(p, eor); return; }
    const fams = s.families();
    const withdrawn: string[] = [];
    const announced: { family: AfiFamily; prefixes: string[]; nextHop: string }[] = [];
    if (fams.includes(4)) {
      withdrawn.push(...u.withdrawn);
      if (u.nlri.length && u.attrs?.nextHop) announced.push({ family: 4, prefixes: u.nlri, nextHop: u.attrs.nextHop });
      else if (u.nlri.length) withdrawn.push(...u.nlri);
    }
    for (const mp of [u.mpReach, u.mpUnreach]) {
      if (!mp) continue;
      const f = familyOfAfi(mp.afi);
      if (f === null || mp.safi !== SAFI_UNICAST || !fams.includes(f)) {
        logger.info({ peer: p.key, afi: mp.afi, safi: mp.safi }, 'bgp: ignoring NLRI of an address family not negotiated');
        continue;
      }
      if ('withdrawn' in mp) withdrawn.push(...mp.withdrawn);
      else if (mp.nlri.length) announced.push({ family: f, prefixes: mp.nlri, nextHop: mp.nextHop });
    }
    if (u.treatAsWithdraw || !u.attrs) {
      if (u.treatAsWithdraw) logger.warn({ peer: p.key, code: u.treatAsWithdraw.code, subcode: u.treatAsWithdraw.subcode, error: u.treatAsWithdraw.message }, 'bgp: malformed UPDATE treated as withdraw (RFC 7606)');
      for (const a of announced) withdrawn.push(...a.prefixes);
      announced.length = 0;
    }
    for (const prefix of withdrawn) setAdjIn(p, prefix, null);
    for (const a of announced) {
      const src = importSource(p, s, u.attrs!, a.nextHop);
      if (typeof src === 'string') {
        logger.info({ peer: p.key, reason: src, prefixes: a.prefixes.length }, 'bgp: routes not accepted');
        for (const prefix of a.prefixes) setAdjIn(p, prefix, null);
        continue;
      }
      for (const prefix of a.prefixes) setAdjIn(p, prefix, { prefix, family: a.family, src, stale: false });
    }
  }

  function onEndOfRib(p: PeerEntry, f: AfiFamily): void {
    p.eor.add(f);
    if (p.stale) purge(p, true, f);
    const fams = p.established?.families() ?? [];
    if (fams.every((x) => p.eor.has(x))) {
      if (p.stale) { p.stale = false; logger.info({ peer: p.key }, 'bgp: End-of-RIB from restarting peer, stale routes removed'); }
      clearTimer(p, 'eorTimer');
    }
    checkSynced();
  }

  // ---- graceful restart: deferral and synced ----------------------------------------

  function checkSynced(timedOut = false): void {
    if (synced || !configured) return;
    const live = [...peers.values()].filter((p) => !p.refused);
    const done = live.every((p) => p.established && p.established.families().every((f) => p.eor.has(f)));
    if (!done && !timedOut) return;
    synced = true;
    if (syncTimer) { clearTimeout(syncTimer); syncTimer = null; }
    if (deferring) {
      deferring = false;
      flush();
      emitRouteChanges(best.keys());
      for (const p of peers.values()) if (p.established) resyncOut(p, true);
    }
    logger.info({ peers: live.length, timedOut }, 'bgp: initial routing exchange complete');
    events.emit('synced', { peers: live.length, timedOut });
  }

  function clearTimer(p: PeerEntry, k: 'restartTimer' | 'eorTimer' | 'idleTimer'): void {
    const t = p[k];
    if (t) clearTimeout(t);
    p[k] = null;
  }

  // ---- sessions ---------------------------------------------------------------------

  function entryOf(s: Session): PeerEntry | undefined {
    const p = peers.get(canonicalAddress(s.peer.address));
    return p && p.sessions.has(s) ? p : undefined;
  }

  function ipNum(ip: string): number { return ip.split('.').reduce((n, o) => n * 256 + Number(o), 0); }

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
      for (const other of p.sessions) {
        if (other === s) continue;
        if (other.state === 'Established') {
          if (open.capabilities.gracefulRestart) { other.replacedByRestart(); continue; }
          return 'dump';
        }
        if (other.state === 'OpenSent' || other.state === 'OpenConfirm') {
          // RFC 4271 6.8: the connection opened by the speaker with the higher identifier survives.
          const keepLocal = ipNum(routerId) > ipNum(open.bgpId);
          if (s.initiatedLocally === keepLocal) other.fire('OpenCollisionDump');
          else return 'dump';
        }
      }
      return null;
    },
    established(s: Session) {
      const p = entryOf(s);
      if (!p) return;
      p.established = s;
      p.since = Date.now();
      p.lastError = null;
      p.eor = new Set();
      targets.delete(p.key);
      if (p.stale) {
        clearTimer(p, 'restartTimer');
        const keep = new Set((s.negotiated?.peerGr?.families ?? []).filter((f) => f.forwardingPreserved).map((f) => familyOfAfi(f.afi)));
        for (const f of [4, 6] as const) if (!keep.has(f)) purge(p, true, f);
        clearTimer(p, 'eorTimer');
        p.eorTimer = setTimeout(() => {
          p.eorTimer = null;
          if (!p.stale) return;
          logger.warn({ peer: p.key }, 'bgp: no End-of-RIB from restarting peer in time, removing its stale routes');
          purge(p, true);
          p.stale = false;
        }, eorTimeoutSec * 1000);
        p.eorTimer.unref();
      }
      if (!deferring) resyncOut(p, true);
    },
    down(s: Session, hard: boolean) {
      const p = entryOf(s);
      if (!p || p.established !== s) return;
      p.established = null;
      p.outSynced = false;
      p.adjOut.clear();
      p.pendingOut.clear();
      targets.delete(p.key);
      p.lastError = s.lastError;
      const peerGr = s.negotiated?.peerGr;
      if (!hard && peerGr && !p.removed && !stopped) {
        const fams = new Set(peerGr.families.map((f) => familyOfAfi(f.afi)));
        for (const f of [4, 6] as const) if (!fams.has(f)) purge(p, false, f);
        const keepSec = Math.min(peerGr.restartTimeSec, p.cfg.maxRestartTimeSec ?? 120);
        if (keepSec > 0 && p.adjIn.size > 0) {
          for (const e of p.adjIn.values()) e.route.stale = true;
          p.stale = true;
          logger.info({ peer: p.key, keepSec }, 'bgp: peer session lost; keeping its routes as stale (graceful restart helper)');
          clearTimer(p, 'restartTimer');
          p.restartTimer = setTimeout(() => {
            p.restartTimer = null;
            logger.warn({ peer: p.key }, 'bgp: restarting peer did not come back in time, removing its routes');
            purge(p, true);
            p.stale = false;
          }, keepSec * 1000);
          p.restartTimer.unref();
          return;
        }
      }
      p.stale = false;
      purge(p, false);
    },
    update(s: Session, u: UpdateMessage) {
      const p = entryOf(s);
      if (p) onUpdate(p, s, u);
    },
    routeRefresh(s: Session, r: RouteRefreshMessage) {
      const p = entryOf(s);
      const f = familyOfAfi(r.afi);
      if (!p || f === null || p.established !== s || !s.families().includes(f)) return;
      for (const prefix of p.adjOut.keys()) if (addressFamily(prefix) === f) p.pendingOut.add(prefix);
      flushOut(p);
    },
    stateChanged(s: Session) {
      const p = entryOf(s);
      if (p && s.lastError) p.lastError = s.lastError;
    },
    idle(s: Session) {
      const p = entryOf(s);
      if (!p) return;
      if (s.lastError) p.lastError = s.lastError;
      p.sessions.delete(s);
      if (p.removed || stopped || p.sessions.size > 0) return;
      // Idle hold: a pause before the next attempt so a failing peer is not hammered.
      clearTimer(p, 'idleTimer');
      p.idleTimer = setTimeout(() => { p.idleTimer = null; startSession(p); }, Math.min(p.cfg.connectRetrySec ?? 10, 5) * 1000);
      p.idleTimer.unref();
    },
  };

  function startSession(p: PeerEntry): Session {
    const s = new Session(p.cfg, host);
    p.sessions.add(s);
    s.fire(p.cfg.passive ? 'StartPassive' : 'Start');
    return s;
  }

  // ---- listener ---------------------------------------------------------------------

  let server: net.Server | null = null;
  const md5 = createMd5Listener();
  const listening = new Promise<{ host: string; port: number } | null>((resolve, reject) => {
    if (!opts.listen) { resolve(null); return; }
    const l = opts.listen;
    server = net.createServer((sock) => onIncoming(sock));
    server.once('error', (err) => reject(new BgpConfigError('INVALID_CONFIG', `cannot listen on ${l.host}:${l.port}: ${err.message}`)));
    md5.listen(server, l.host, l.port, () => {
      const a = server!.address() as net.AddressInfo;
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
    const s = new Session(p.cfg, host);
    p.sessions.add(s);
    s.fire('StartPassive');
    s.attachIncoming(sock);
  }

  // ---- configuration ----------------------------------------------------------------

  function removePeer(p: PeerEntry, subcode: number, why: string): void {
    p.removed = true;
    for (const k of ['restartTimer', 'eorTimer', 'idleTimer'] as const) clearTimer(p, k);
    for (const s of [...p.sessions]) s.cease(subcode, why);
    p.established = null;
    purge(p, false);
    peers.delete(p.key);
    md5.removeKey(p.key);
  }

  function addPeer(cfg: PeerConfig): PeerEntry {
    const key = canonicalAddress(cfg.address);
    const p: PeerEntry = {
      key, cfg, refused: null, sessions: new Set(), established: null, adjIn: new Map(), adjOut: new Map(),
      pendingOut: new Set(), outSynced: false, eor: new Set(), stale: false, restartTimer: null, eorTimer: null,
      idleTimer: null, lastError: null, since: Date.now(), removed: false,
    };
    if (cfg.password) {
      const err = md5.setKey(key, cfg.password);
      if (err) { p.refused = new BgpConfigError(md5Support().ok ? 'INVALID_CONFIG' : 'MD5_UNSUPPORTED', err); p.lastError = err; }
    }
    peers.set(key, p);
    if (!p.refused) startSession(p);
    return p;
  }

  function validatePeer(c: PeerConfig): void {
    try { canonicalAddress(c.address); } catch { throw new BgpConfigError('INVALID_CONFIG', `peer address "${c.address}" is not an IP address`); }
    if (!Number.isInteger(c.asn) || c.asn < 1 || c.asn > 0xffffffff) throw new BgpConfigError('INVALID_CONFIG', `peer ${c.address}: AS number ${c.asn} is out of range`);
    if (c.holdTimeSec !== undefined && c.holdTimeSec !== 0 && (c.holdTimeSec < 3 || c.holdTimeSec > 65535)) throw new BgpConfigError('INVALID_CONFIG', `peer ${c.address}: hold time ${c.holdTimeSec} must be 0 or 3-65535 s`);
    if (c.routeReflectorClient && !config.clusterId) throw new BgpConfigError('INVALID_CONFIG', `peer ${c.address} is a route reflector client but no cluster id is configured`);
  }

  function configure(cfg: SpeakerConfig): { refused: { peer: string; error: BgpConfigError }[] } {
    if (stopped) throw new BgpConfigError('INVALID_CONFIG', 'speaker is stopped');
    const prev = config;
    config = cfg;
    try {
      for (const c of cfg.peers) validatePeer(c);
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
      for (const [prefix, r] of localRoutes) { r.src.peerRouterId = routerId; setCandidate(prefix, LOCAL, r); }
    }
    exportMemo = new WeakMap();
    targets.clear();
    const wanted = new Map(cfg.peers.map((c) => [canonicalAddress(c.address), c]));
    for (const p of [...peers.values()]) if (!wanted.has(p.key)) removePeer(p, CeaseSub.PeerDeconfigured, 'peer removed from configuration');
    for (const [key, c] of wanted) {
      const p = peers.get(key);
      if (!p) { addPeer(c); continue; }
      const reset = RESET_FIELDS.some((f) => JSON.stringify(p.cfg[f]) !== JSON.stringify(c[f]));
      if (reset) {
        removePeer(p, CeaseSub.OtherConfigurationChange, 'peer configuration changed');
        addPeer(c);
        continue;
      }
      // In-place change: policies, reflection, names. Re-import and re-export.
      p.cfg = c;
      for (const s of p.sessions) s.peer = c;
      for (const [prefix, e] of p.adjIn) setAdjIn(p, prefix, e.route);
    }
    for (const p of peers.values()) if (p.outSynced) resyncOut(p, false);
    if (!configured) {
      configured = true;
      syncTimer = setTimeout(() => checkSynced(true), eorTimeoutSec * 1000);
      syncTimer.unref();
    }
    checkSynced();
    return { refused: [...peers.values()].filter((p) => p.refused).map((p) => ({ peer: p.key, error: p.refused! })) };
  }

  // ---- local routes -----------------------------------------------------------------

  function announce(routes: LocalRoute[]): void {
    const parsed = routes.map((r) => {
      let prefix: string;
      try { prefix = canonicalPrefix(r.prefix); } catch (e) { throw new BgpConfigError('INVALID_CONFIG', `announce: ${(e as Error).message}`); }
      const comms = (r.communities ?? []).map(parseCommunity);
      return { prefix, r, comms };
    });
    for (const { prefix, r, comms } of parsed) {
      const std = comms.flatMap((c) => (c.std !== undefined ? [c.std] : []));
      const large = comms.flatMap((c) => (c.large ? [c.large] : []));
      const key = JSON.stringify([std, large, r.med ?? null]);
      let src = localSources.get(key);
      if (!src) {
        const attrs: PathAttributes = { origin: 0, asPath: [] };
        if (std.length) attrs.communities = std;
        if (large.length) attrs.largeCommunities = large;
        if (r.med !== undefined) attrs.med = r.med;
        src = { peer: LOCAL, attrs, nextHop: '', ebgp: false, fromClient: false, peerRouterId: routerId, peerAddress: '0.0.0.0' };
        localSources.set(key, src);
      }
      const cur = localRoutes.get(prefix);
      if (cur && cur.src === src) continue;
      const route: RibRoute = { prefix, family: parsePrefix(prefix).family, src, stale: false };
      localRoutes.set(prefix, route);
      setCandidate(prefix, LOCAL, route);
    }
  }

  function withdraw(prefixes: string[]): void {
    for (const x of prefixes) {
      let prefix: string;
      try { prefix = canonicalPrefix(x); } catch (e) { throw new BgpConfigError('INVALID_CONFIG', `withdraw: ${(e as Error).message}`); }
      if (localRoutes.delete(prefix)) setCandidate(prefix, LOCAL, null);
    }
  }

  // ---- status and stop --------------------------------------------------------------

  const RANK: Record<PeerState, number> = { Idle: 0, Connect: 1, Active: 1, OpenSent: 2, OpenConfirm: 3, Established: 4 };

  function status(): PeerStatus[] {
    const now = Date.now();
    return [...peers.values()].map((p) => {
      let state: PeerState = 'Idle';
      let since = p.since;
      for (const s of p.sessions) if (RANK[s.state] >= RANK[state]) { state = s.state; since = s.since; }
      const st: PeerStatus = {
        peer: p.key, asn: p.cfg.asn, state, uptimeSec: Math.floor((now - since) / 1000),
        received: p.adjIn.size, advertised: p.adjOut.size, lastError: p.lastError,
      };
      if (p.cfg.name) st.name = p.cfg.name;
      if (p.stale) st.stale = true;
      return st;
    }).sort((a, b) => a.peer.localeCompare(b.peer));
  }

  async function stop(o: { graceful?: boolean } = {}): Promise<void> {
    if (stopped) return;
    stopped = true;
    if (syncTimer) clearTimeout(syncTimer);
    for (const p of peers.values()) {
      p.removed = true;
      for (const k of ['restartTimer', 'eorTimer', 'idleTimer'] as const) clearTimer(p, k);
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
    learnedRoutes: () => [...emitted].map(([prefix, nextHop]) => ({ prefix, nextHop, family: addressFamily(prefix), withdrawn: false })),
    status,
    stop,
  } as Speaker;
}

function prefixCovers(outer: { length: number; bytes: Buffer }, inner: { length: number; bytes: Buffer }): boolean {
  const full = outer.length >> 3;
  for (let i = 0; i < full; i++) if (outer.bytes[i] !== inner.bytes[i]) return false;
  const rem = outer.length % 8;
  if (rem === 0) return true;
  const mask = (0xff << (8 - rem)) & 0xff;
  return ((inner.bytes[full] ?? 0) & mask) === (outer.bytes[full] ?? 0);
}
