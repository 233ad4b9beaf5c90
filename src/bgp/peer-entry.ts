// One configured peer as the speaker holds it (its sessions, RIBs, graceful-restart state
// and timers), and the pure views the speaker derives from it: the export target of its
// established session and its status row.
import type { AdjRibIn } from './adj-rib-in.js';
import type { AdjRibOut } from './adj-rib-out.js';
import type { BgpConfigError } from './errors.js';
import type { PeerFilters } from './filter.js';
import type { HelperState } from './graceful-restart.js';
import { canonicalAddress } from './peer-config.js';
import { addressFamily } from './prefix.js';
import type { ExportTarget } from './rib.js';
import type { Session } from './session.js';
import type { PeerConfig, PeerState, PeerStatus, SpeakerConfig } from './types.js';

/** One configured peer: its sessions (more than one only during a collision) and its RIBs. */
export interface PeerEntry {
  key: string;
  cfg: PeerConfig;
  /** cfg.filters compiled. */
  filters: PeerFilters;
  refused: BgpConfigError | null;
  sessions: Set<Session>;
  established: Session | null;
  adjIn: AdjRibIn;
  adjOut: AdjRibOut;
  /** Export target of the established session, computed once per session and policy. */
  target: ExportTarget | null | undefined;
  /** The running re-evaluation of the Adj-RIB-In after a change, as a token (null: none). */
  reimport: object | null;
  /** The running re-evaluation of what the peer is sent after a change, as a token (null: none). */
  reexport: object | null;
  gr: HelperState;
  idleTimer: NodeJS.Timeout | null;
  /** When it was configured (the restarting speaker's deferral counts from here). */
  configuredAt: number;
  lastError: string | null;
  since: number;
  removed: boolean;
}

/** How the export rules see the peer's established session (null: not established). */
export function exportTargetOf(p: PeerEntry, localAsn: number, la: NonNullable<SpeakerConfig['localAddresses']>): ExportTarget | null {
  const s = p.established;
  if (!s) return null;
  const ebgp = p.cfg.asn !== localAsn;
  // NEXT_HOP self: the address this session runs from, else the configured ones.
  const local = s.socket?.localAddress ? canonicalAddress(s.socket.localAddress) : p.cfg.localAddress;
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

const RANK: Record<PeerState, number> = { Idle: 0, Connect: 1, Active: 1, OpenSent: 2, OpenConfirm: 3, Established: 4 };

/** Status rows, by peer: the furthest-along session of each peer speaks for it. */
export function peerStatuses(peers: Iterable<PeerEntry>, now: number): PeerStatus[] {
  return [...peers].map((p) => {
    let state: PeerState = 'Idle';
    let since = p.since;
    for (const s of p.sessions) if (RANK[s.state] >= RANK[state]) { state = s.state; since = s.since; }
    const st: PeerStatus = {
      peer: p.key, asn: p.cfg.asn, state, uptimeSec: Math.floor((now - since) / 1000),
      received: p.adjIn.size, advertised: p.adjOut.size, lastError: p.lastError,
    };
    if (p.cfg.name) st.name = p.cfg.name;
    if (p.gr.stale) st.stale = true;
    return st;
  }).sort((a, b) => a.peer.localeCompare(b.peer));
}
