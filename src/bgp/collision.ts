// Connection collision (RFC 4271 6.8) and which connection may exist at all, as pure rules
// over the states of one peer's connections. The speaker applies the verdicts; the
// sessions own their sockets and timers.
import { ipNumber } from '../model/index.js';
import type { State } from './fsm.js';

/** Another connection to the same peer, as the rules see it. */
export interface OtherConnection {
  state: State;
  /** Graceful restart was negotiated on it (the peer sent the capability in its OPEN). */
  peerGr: boolean;
}

/** The connection whose OPEN just arrived. */
export interface ArrivingOpen {
  /** We made this connection (false: the peer connected to us). */
  initiatedLocally: boolean;
  /** The OPEN carries the graceful restart capability. */
  hasGr: boolean;
}

export type CollisionVerdict =
  /** No collision with that connection. */
  | 'none'
  /** Close the connection whose OPEN arrived (Cease/7). */
  | 'close-new'
  /** Close the other connection (Cease/7); the arriving one goes on. */
  | 'close-other'
  /** The peer restarted (RFC 4724): the other session ends as if its TCP connection failed. */
  | 'peer-restarted';

/** BGP identifiers compare as unsigned 32-bit numbers. */
export function bgpIdNumber(id: string): bigint {
  return ipNumber(id);
}

/**
 * What an OPEN on one connection means for another connection to the same peer.
 * - Established: RFC 4271 6.8 keeps the established one and closes the new one. The one
 *   exception is a real restart under RFC 4724: the peer itself connected again, graceful
 *   restart was negotiated on the old session and the new OPEN carries the capability.
 *   A connection we opened can never be the peer's restart.
 * - OpenSent / OpenConfirm: the connection opened by the side with the higher BGP
 *   identifier survives.
 * - Idle, Connect, Active: nothing was exchanged there; no collision.
 */
export function resolveCollision(other: OtherConnection, arriving: ArrivingOpen, localId: string, peerId: string): CollisionVerdict {
  switch (other.state) {
    case 'Established':
      return !arriving.initiatedLocally && other.peerGr && arriving.hasGr ? 'peer-restarted' : 'close-new';
    case 'OpenSent':
    case 'OpenConfirm': {
      const keepLocal = bgpIdNumber(localId) > bgpIdNumber(peerId);
      return arriving.initiatedLocally === keepLocal ? 'close-other' : 'close-new';
    }
    case 'Idle':
    case 'Connect':
    case 'Active':
      return 'none';
  }
}

/**
 * RFC 4271 8 / 6.8: a connection attempt (from a connect-retry or idle-hold timer) is only
 * made while no other connection to the peer has got as far as OpenConfirm; an ended or
 * superseded session's timers start nothing.
 */
export function mayConnect(others: readonly State[]): boolean {
  return !others.some((s) => s === 'OpenConfirm' || s === 'Established');
}

/** Once a session is Established, other connections that never exchanged an OPEN are stopped. */
export function supersededBy(state: State): boolean {
  return state === 'Idle' || state === 'Connect' || state === 'Active';
}
