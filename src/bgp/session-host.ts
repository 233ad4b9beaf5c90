// What a session asks of the speaker (session.ts's SessionHost): the OPEN we send and the
// checks on the peer's (AS, identifier, connection collisions per RFC 4271 §6.8), and what
// follows Established, down, an UPDATE or ROUTE-REFRESH, and the idle hold before the next
// attempt. Also where a new connection, outgoing or accepted, becomes a session of its peer.
import type net from 'node:net';
import { routeRefreshVerdict } from './adj-rib-out.js';
import { mayConnect, resolveCollision, supersededBy } from './collision.js';
import { BgpError, CeaseSub, ErrorCode, OpenSub } from './errors.js';
import type { ExportPath } from './export-path.js';
import type { ImportPath } from './import-path.js';
import type { Capabilities, OpenMessage, RouteRefreshMessage, UpdateMessage } from './messages.js';
import { canonicalAddress } from './peer-config.js';
import type { PeerEntry } from './peer-entry.js';
import { addressFamily, afiOf, SAFI_UNICAST } from './prefix.js';
import type { RestartWiring } from './restart-wiring.js';
import { Session, type SessionHost, familyCaps } from './session.js';
import type { SpeakerState } from './speaker-state.js';
import type { PeerConfig } from './types.js';

export class SessionHub {
  readonly host: SessionHost;

  constructor(
    private readonly st: SpeakerState,
    private readonly imports: ImportPath,
    private readonly exports: ExportPath,
    private readonly restart: RestartWiring,
  ) {
    this.host = this.makeHost();
  }

  private entryOf(s: Session): PeerEntry | undefined {
    const p = this.st.peers.get(canonicalAddress(s.peer.address));
    return p && p.sessions.has(s) ? p : undefined;
  }

  clearIdleTimer(p: PeerEntry): void {
    if (p.idleTimer) clearTimeout(p.idleTimer);
    p.idleTimer = null;
  }

  /** A new session of the peer; `passive` (default: as configured) waits for the peer to connect. */
  start(p: PeerEntry, passive = p.cfg.passive === true): Session {
    this.clearIdleTimer(p);
    const s = new Session(p.cfg, this.host);
    p.sessions.add(s);
    s.fire(passive ? 'StartPassive' : 'Start');
    return s;
  }

  /** A connection accepted by the listener: handed to its peer's waiting session, or a new passive one. */
  incoming(sock: net.Socket): void {
    const { st } = this;
    sock.on('error', () => {});
    let key: string;
    try { key = canonicalAddress(sock.remoteAddress ?? ''); } catch { sock.destroy(); return; }
    const p = st.peers.get(key);
    if (!p || p.refused || st.stopped) {
      st.logger.info({ from: key }, 'bgp: connection from an unconfigured address refused');
      sock.destroy();
      return;
    }
    for (const s of p.sessions) {
      if (s.state === 'Connect' || s.state === 'Active') { s.attachIncoming(sock); return; }
    }
    this.start(p, true).attachIncoming(sock);
  }

  private makeHost(): SessionHost {
    const { st, imports, exports, restart } = this;
    const logger = st.logger;
    return {
      logger,
      localAsn: () => st.localAsn,
      routerId: () => st.routerId,
      openCapabilities(peer: PeerConfig): Capabilities {
        const fams = peer.families ?? [addressFamily(peer.address)];
        return {
          multiprotocol: familyCaps(fams),
          routeRefresh: true,
          fourOctetAs: st.localAsn,
          gracefulRestart: {
            restarting: st.deferring,
            restartTimeSec: st.restartTimeSec,
            families: fams.map((f) => ({ afi: afiOf(f), safi: SAFI_UNICAST, forwardingPreserved: st.gr.restarting === true })),
          },
          other: [],
        };
      },
      checkOpen: (s: Session, open: OpenMessage) => {
        const p = this.entryOf(s);
        if (!p) return new BgpError(ErrorCode.Cease, CeaseSub.PeerDeconfigured, 'peer is no longer configured');
        const peerAsn = open.capabilities.fourOctetAs ?? open.myAs;
        if (peerAsn !== p.cfg.asn) {
          const data = Buffer.alloc(2); data.writeUInt16BE(open.myAs);
          return new BgpError(ErrorCode.OpenMessage, OpenSub.BadPeerAs, `peer AS ${peerAsn} is not the configured ${p.cfg.asn}`, data);
        }
        if (open.bgpId === st.routerId) return new BgpError(ErrorCode.OpenMessage, OpenSub.BadBgpIdentifier, `peer BGP identifier ${open.bgpId} equals ours`);
        for (const other of [...p.sessions]) {
          if (other === s) continue;
          const v = resolveCollision(
            { state: other.state, peerGr: (other.negotiated?.peerGr ?? null) !== null },
            { initiatedLocally: s.initiatedLocally, hasGr: open.capabilities.gracefulRestart !== null },
            st.routerId, open.bgpId,
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
      established: (s: Session) => {
        const p = this.entryOf(s);
        if (!p) return;
        p.established = s;
        // Connections that never exchanged an OPEN are superseded: their timers must not reconnect.
        for (const o of [...p.sessions]) if (o !== s && supersededBy(o.state)) o.fire('Stop');
        p.since = Date.now();
        p.lastError = null;
        p.gr.eor = new Set();
        p.target = undefined;
        restart.reestablished(p, s);
        if (!st.deferring) exports.resync(p, true);
      },
      down: (s: Session, hard: boolean) => {
        const p = this.entryOf(s);
        if (!p || p.established !== s) return;
        p.established = null;
        p.adjOut.reset();
        p.target = undefined;
        p.lastError = s.lastError;
        restart.down(p, s, hard);
      },
      update: (s: Session, u: UpdateMessage) => {
        const p = this.entryOf(s);
        if (p) imports.update(p, s, u, restart.onEndOfRib);
      },
      routeRefresh: (s: Session, r: RouteRefreshMessage) => {
        const p = this.entryOf(s);
        if (!p || p.established !== s) return;
        const v = routeRefreshVerdict(r, s.families());
        if (v.kind === 'ignore') { logger.info({ peer: p.key, reason: v.reason }, 'bgp: ROUTE-REFRESH ignored'); return; }
        p.adjOut.requeueFamily(v.family);
        exports.flush(p);
      },
      stateChanged: (s: Session) => {
        const p = this.entryOf(s);
        if (p && s.lastError) p.lastError = s.lastError;
        // A peer that stopped coming up (back to Active/Idle) may be what the deferral waited for.
        if (p && !st.synced) restart.checkSynced();
      },
      idle: (s: Session) => {
        const p = this.entryOf(s);
        if (!p) return;
        if (s.lastError) p.lastError = s.lastError;
        p.sessions.delete(s);
        if (p.removed || st.stopped || p.sessions.size > 0) return;
        // Idle hold: a pause before the next attempt so a failing peer is not hammered.
        this.clearIdleTimer(p);
        p.idleTimer = setTimeout(() => {
          p.idleTimer = null;
          // The peer may have connected to us meanwhile: that session owns the peer now.
          if (p.removed || st.stopped || p.sessions.size > 0) return;
          this.start(p);
        }, Math.min(p.cfg.connectRetrySec ?? 10, 5) * 1000);
        p.idleTimer.unref();
      },
      mayConnect: (s: Session) => {
        const p = this.entryOf(s);
        return p !== undefined && !p.removed && !st.stopped && mayConnect([...p.sessions].filter((o) => o !== s).map((o) => o.state));
      },
    };
  }
}
