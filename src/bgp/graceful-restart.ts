// Graceful restart (RFC 4724) in both roles. As helper we keep a peer's routes, marked
// stale, while it restarts, and drop what it did not re-announce once its End-of-RIB
// arrives (or a timer runs out). As restarting speaker we defer route selection and our
// own End-of-RIB until every peer has sent its End-of-RIB (or eorTimeoutSec passes).
// The decisions are pure functions; HelperState only owns the two per-peer timers.
import type { GracefulRestartCap } from './messages.js';
import { type AfiFamily, familyOfAfi } from './prefix.js';

/** What to keep of a peer's routes when its session ends, or null: drop everything now. */
export interface Retention {
  /** Families whose routes stay (as stale); routes of other families go at once. */
  families: AfiFamily[];
  /** How long the stale routes wait for the peer to come back. */
  keepSec: number;
}

/**
 * RFC 4724 4.2: a session that ended without NOTIFICATION, with a peer that advertised
 * graceful restart, keeps that peer's routes for min(its restart time, our cap).
 */
export function helperRetention(peerGr: GracefulRestartCap | null, hard: boolean, maxRestartTimeSec: number | undefined): Retention | null {
  if (hard || !peerGr) return null;
  const families = [...new Set(peerGr.families.map((f) => familyOfAfi(f.afi)).filter((f): f is AfiFamily => f !== null))];
  return { families, keepSec: Math.min(peerGr.restartTimeSec, maxRestartTimeSec ?? 120) };
}

/** The restarted peer's new OPEN: stale routes of families it did not keep forwarding for go now. */
export function familiesNotPreserved(peerGr: GracefulRestartCap | null): AfiFamily[] {
  const keep = new Set((peerGr?.families ?? []).filter((f) => f.forwardingPreserved).map((f) => familyOfAfi(f.afi)));
  return ([4, 6] as const).filter((f) => !keep.has(f));
}

/** Whether End-of-RIB has arrived for every negotiated family. */
export function endOfRibComplete(families: readonly AfiFamily[], eor: ReadonlySet<AfiFamily>): boolean {
  return families.every((f) => eor.has(f));
}

/** One configured peer as the restarting speaker's deferral sees it. */
export interface SyncPeer {
  established: boolean;
  families: readonly AfiFamily[];
  eor: ReadonlySet<AfiFamily>;
  /** A connection to it is exchanging OPENs (OpenSent/OpenConfirm): it is coming up. */
  opening: boolean;
  /** Seconds since it was configured. */
  waitedSec: number;
}

/**
 * Whether the restarting speaker's deferral (RFC 4724 4.1) may end: the rule is "the
 * peers that are up have sent their End-of-RIB". A peer is up when Established; it is
 * down when it is not Established, no connection to it is exchanging OPENs, and it has
 * had downAfterSec to get there. At least one peer must be up with its End-of-RIB (with
 * none up nothing bounds the wait but eorTimeoutSec); a peer that is neither up nor down
 * yet holds the deferral. So one unreachable peer costs downAfterSec, not eorTimeoutSec.
 */
export function initialSyncDone(peers: readonly SyncPeer[], downAfterSec: number): boolean {
  if (peers.length === 0) return true;
  let up = 0;
  for (const p of peers) {
    if (p.established) {
      if (!endOfRibComplete(p.families, p.eor)) return false;
      up++;
    } else if (p.opening || p.waitedSec < downAfterSec) {
      return false;
    }
  }
  return up > 0;
}

type HelperTimer = 'restart' | 'eor';

/** Helper-side state of one peer: stale flag, End-of-RIBs seen this session, and its timers. */
export class HelperState {
  /** The peer's routes are held as stale (status shows it). */
  stale = false;
  /** Families whose End-of-RIB arrived on the current session. */
  eor = new Set<AfiFamily>();
  private readonly timers: Partial<Record<HelperTimer, NodeJS.Timeout>> = {};

  arm(t: HelperTimer, sec: number, fn: () => void): void {
    this.clear(t);
    const h = setTimeout(() => { delete this.timers[t]; fn(); }, sec * 1000);
    h.unref();
    this.timers[t] = h;
  }
  clear(t: HelperTimer): void {
    const h = this.timers[t];
    if (h) clearTimeout(h);
    delete this.timers[t];
  }
  clearAll(): void { this.clear('restart'); this.clear('eor'); }
}
