// Graceful restart as the speaker applies it: the helper side (a peer's routes kept as
// stale while it restarts, purged by End-of-RIB or a timer) and our own restart's deferral
// (routes held back from the kernel and the peers until the initial exchange is done). The
// rules are graceful-restart.ts's (pure); this part holds their timers and applies them.
import type { Decision } from './decision.js';
import type { ExportPath } from './export-path.js';
import { endOfRibComplete, familiesNotPreserved, helperRetention, initialSyncDone } from './graceful-restart.js';
import type { ImportPath } from './import-path.js';
import type { PeerEntry } from './peer-entry.js';
import type { AfiFamily } from './prefix.js';
import type { Session } from './session.js';
import type { SpeakerState } from './speaker-state.js';

export class RestartWiring {
  private syncTimer: NodeJS.Timeout | null = null;
  private downCheckTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly st: SpeakerState,
    private readonly imports: ImportPath,
    private readonly exports: ExportPath,
    private readonly decision: Decision,
  ) {}

  readonly onEndOfRib = (p: PeerEntry, f: AfiFamily): void => {
    p.gr.eor.add(f);
    if (p.gr.stale) this.imports.purge(p, true, f);
    if (endOfRibComplete(p.established?.families() ?? [], p.gr.eor)) {
      if (p.gr.stale) { p.gr.stale = false; this.st.logger.info({ peer: p.key }, 'bgp: End-of-RIB from restarting peer, stale routes removed'); }
      p.gr.clear('eor');
    }
    this.checkSynced();
  };

  /** The restarted peer is back: purge what it did not preserve, then wait for its End-of-RIB. */
  reestablished(p: PeerEntry, s: Session): void {
    if (!p.gr.stale) return;
    p.gr.clear('restart');
    for (const f of familiesNotPreserved(s.negotiated?.peerGr ?? null)) this.imports.purge(p, true, f);
    p.gr.arm('eor', this.st.eorTimeoutSec, () => {
      if (p.gr.stale) this.dropStale(p, 'bgp: no End-of-RIB from restarting peer in time, removing its stale routes');
    });
  }

  /** The session ended: keep the peer's routes as stale when graceful restart says so, else drop them. */
  down(p: PeerEntry, s: Session, hard: boolean): void {
    const keep = !p.removed && !this.st.stopped ? helperRetention(s.negotiated?.peerGr ?? null, hard, p.cfg.maxRestartTimeSec) : null;
    if (keep) {
      for (const f of [4, 6] as const) if (!keep.families.includes(f)) this.imports.purge(p, false, f);
      if (keep.keepSec > 0 && p.adjIn.size > 0) {
        p.adjIn.markStale();
        p.gr.stale = true;
        this.st.logger.info({ peer: p.key, keepSec: keep.keepSec }, 'bgp: peer session lost; keeping its routes as stale (graceful restart helper)');
        p.gr.arm('restart', keep.keepSec, () => this.dropStale(p, 'bgp: restarting peer did not come back in time, removing its routes'));
        return;
      }
    }
    p.gr.stale = false;
    this.imports.purge(p, false);
  }

  /** A restarting peer's time is up: its stale routes go. */
  private dropStale(p: PeerEntry, why: string): void {
    this.st.logger.warn({ peer: p.key }, why);
    this.imports.purge(p, true);
    p.gr.stale = false;
  }

  /** The first configuration: the deferral's deadline, and the moment unreachable peers count as down. */
  armInitialSync(): void {
    const { st } = this;
    this.syncTimer = setTimeout(() => this.checkSynced(true), st.eorTimeoutSec * 1000);
    this.syncTimer.unref();
    // When the unreachable peers count as down, the ones that are up may already be done.
    this.downCheckTimer = setTimeout(() => { this.downCheckTimer = null; this.checkSynced(); }, st.peerDownAfterSec * 1000 + 50);
    this.downCheckTimer.unref();
  }

  checkSynced(timedOut = false): void {
    const { st } = this;
    if (st.synced || !st.configured) return;
    const live = [...st.peers.values()].filter((p) => !p.refused);
    const now = Date.now();
    const done = initialSyncDone(live.map((p) => ({
      established: p.established !== null, families: p.established?.families() ?? [], eor: p.gr.eor,
      opening: [...p.sessions].some((x) => x.state === 'OpenSent' || x.state === 'OpenConfirm'),
      waitedSec: (now - p.configuredAt) / 1000,
    })), st.peerDownAfterSec);
    if (!done && !timedOut) return;
    st.synced = true;
    this.clearTimers();
    if (st.deferring) {
      st.deferring = false;
      this.decision.flush(Infinity);
      this.decision.emitRouteChanges(st.rib.prefixes());
      for (const p of st.peers.values()) if (p.established) this.exports.resync(p, true);
    }
    st.logger.info({ peers: live.length, timedOut }, 'bgp: initial routing exchange complete');
    st.events.emit('synced', { peers: live.length, timedOut });
  }

  clearTimers(): void {
    if (this.syncTimer) { clearTimeout(this.syncTimer); this.syncTimer = null; }
    if (this.downCheckTimer) { clearTimeout(this.downCheckTimer); this.downCheckTimer = null; }
  }
}
