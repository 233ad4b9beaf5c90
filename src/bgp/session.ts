// One BGP connection driven by the FSM table: socket, framing, timers, and the actions
// the table names. What the session means for routes (Adj-RIB-In, export) belongs to the
// speaker, reached through SessionHost; a session only knows its own connection.
import type net from 'node:net';
import type { Logger } from '../log/index.js';
import { BgpError, CeaseSub, ErrorCode, describeNotification, isValidNotification } from './errors.js';
import { type Action, type FsmEvent, type State, fsmErrorSubcode, transition } from './fsm.js';
import {
  type Capabilities, type Message, type OpenMessage, type UpdateMessage, type RouteRefreshMessage, Framer, decodeMessage,
  encodeKeepalive, encodeNotification, encodeOpen, emptyCapabilities,
} from './messages.js';
import { AS_TRANS } from './attributes.js';
import { type AfiFamily, afiOf, familyOfAfi, SAFI_UNICAST } from './prefix.js';
import { openConnection } from './transport.js';
import type { PeerConfig } from './types.js';

export interface Negotiated {
  holdTimeSec: number;
  keepaliveSec: number;
  fourOctetAs: boolean;
  families: AfiFamily[];
  routeRefresh: boolean;
  peerGr: OpenMessage['capabilities']['gracefulRestart'];
  peerAsn: number;
  peerRouterId: string;
}

export interface SessionHost {
  readonly logger: Logger;
  localAsn(): number;
  routerId(): string;
  openCapabilities(peer: PeerConfig): Capabilities;
  /** Validates a received OPEN: a BgpError to send, 'dump' when collision resolution closes this connection, or null. */
  checkOpen(s: Session, open: OpenMessage): BgpError | 'dump' | null;
  established(s: Session): void;
  /** The session left Established. hard: a NOTIFICATION was sent or received (no graceful restart). */
  down(s: Session, hard: boolean): void;
  update(s: Session, u: UpdateMessage): void;
  routeRefresh(s: Session, r: RouteRefreshMessage): void;
  stateChanged(s: Session): void;
  /** The session went Idle and holds no connection any more. */
  idle(s: Session): void;
  /** Whether this session may start an outgoing connection now (no other connection to the peer got further). */
  mayConnect(s: Session): boolean;
}

let nextId = 1;

/**
 * Received messages are handled in slices of about this many ms, with the event loop's
 * other work (timers, other sessions, the API) between slices: a full table from a
 * top-of-rack is hundreds of UPDATEs per socket read, and handling a read at once held
 * the loop for seconds (#11). While more than INBOX_PAUSE frames wait, the socket stops
 * reading, so TCP flow control slows the sender instead of our memory growing.
 */
const SLICE_MS = 10;
const INBOX_PAUSE = 256;

export class Session {
  readonly id = nextId++;
  state: State = 'Idle';
  since = Date.now();
  peer: PeerConfig;
  socket: net.Socket | null = null;
  initiatedLocally = false;
  peerOpen: OpenMessage | null = null;
  negotiated: Negotiated | null = null;
  lastError: string | null = null;
  private framer = new Framer();
  private pendingError: BgpError | null = null;
  private pendingMessage: Message | null = null;
  private timers: Partial<Record<'connectRetry' | 'hold' | 'keepalive', NodeJS.Timeout>> = {};
  private busy = false;
  private queue: FsmEvent[] = [];
  /** Frames read and not yet handled (a framing error last, when one ended the read). */
  private inbox: (Buffer | BgpError)[] = [];
  private inboxHead = 0;
  private draining = false;
  private drainScheduled = false;
  private readonly host: SessionHost;

  constructor(peer: PeerConfig, host: SessionHost) {
    this.peer = peer;
    this.host = host;
  }

  get label(): string { return `${this.peer.name ?? this.peer.address}#${this.id}`; }

  /** Feeds one event through the table; events raised by actions queue behind it. */
  fire(event: FsmEvent): void {
    this.queue.push(event);
    if (this.busy) return;
    this.busy = true;
    try {
      while (this.queue.length) {
        const ev = this.queue.shift()!;
        const from = this.state;
        const tr = transition(from, ev);
        for (const a of tr.actions) this.act(a, from);
        if (tr.next !== from) {
          this.state = tr.next;
          this.since = Date.now();
          this.host.logger.debug({ peer: this.label, from, to: tr.next, event: ev }, 'bgp fsm transition');
          this.host.stateChanged(this);
          if (tr.next === 'Idle') this.host.idle(this);
        }
      }
    } catch (e) {
      // A bug in handling one peer's input must cost that session only, never the process.
      this.queue = [];
      this.abort(e);
    } finally {
      this.busy = false;
    }
  }

  private abort(e: unknown): void {
    const was = this.state;
    this.lastError = `internal error: ${(e as Error).message}`;
    this.host.logger.error({ peer: this.label, err: e }, 'bgp: internal error in session; resetting it');
    try {
      this.send(encodeNotification(ErrorCode.Cease, CeaseSub.OutOfResources));
      this.detachSocket();
      for (const k of ['connectRetry', 'hold', 'keepalive'] as const) this.clearTimer(k);
      this.state = 'Idle';
      this.since = Date.now();
      if (was === 'Established') this.host.down(this, true);
      this.host.stateChanged(this);
      this.host.idle(this);
    } catch (e2) {
      this.host.logger.error({ peer: this.label, err: e2 }, 'bgp: error while resetting a failed session');
    }
  }

  /** Takes an accepted TCP connection (a passive open) and confirms it to the FSM. */
  attachIncoming(sock: net.Socket): void {
    this.detachSocket();
    this.initiatedLocally = false;
    this.bindSocket(sock);
    this.fire('TcpConnectionConfirmed');
  }

  send(buf: Buffer): void {
    if (this.socket && !this.socket.destroyed) this.socket.write(buf);
  }

  sendError(e: BgpError): void {
    const subcode = isValidNotification(e.code, e.subcode) ? e.subcode : 0;
    this.send(encodeNotification(e.code, subcode, e.data));
  }

  /** Ends the connection with a Cease NOTIFICATION of the given subcode (e.g. deconfigured). */
  cease(subcode: number, reason: string): void {
    this.lastError = `${describeNotification(ErrorCode.Cease, subcode)} sent: ${reason}`;
    if (this.state === 'OpenSent' || this.state === 'OpenConfirm' || this.state === 'Established') {
      this.send(encodeNotification(ErrorCode.Cease, subcode));
    }
    this.fire('StopGraceful');
  }

  /** A connection closed by a peer restart (RFC 4724): like losing TCP, routes stay stale. */
  replacedByRestart(): void {
    this.lastError = 'peer restarted (new OPEN with graceful restart)';
    this.fire('TcpConnectionFails');
  }

  private codecContext() { return { fourOctetAs: this.negotiated?.fourOctetAs ?? false, ebgp: this.peer.asn !== this.host.localAsn() }; }

  private bindSocket(sock: net.Socket): void {
    this.socket = sock;
    this.framer = new Framer();
    this.clearInbox();
    sock.setNoDelay(true);
    sock.on('data', (chunk: Buffer) => this.onData(sock, chunk));
    sock.on('error', (err) => {
      if (this.socket !== sock) return;
      this.lastError = `TCP: ${err.message}`;
    });
    sock.on('close', () => {
      if (this.socket !== sock) return;
      this.socket = null;
      this.fire('TcpConnectionFails');
    });
  }

  private detachSocket(): void {
    const s = this.socket;
    this.socket = null;
    this.clearInbox();
    if (s) {
      s.removeAllListeners('data');
      s.on('error', () => {});
      // end() lets a queued NOTIFICATION reach the peer; destroy follows if it never drains.
      s.end();
      setTimeout(() => s.destroy(), 2000).unref();
    }
  }

  private onData(sock: net.Socket, chunk: Buffer): void {
    if (this.socket !== sock) return;
    try {
      for (const f of this.framer.push(chunk)) this.inbox.push(f);
    } catch (e) {
      // Handled after the whole frames that came before it, as the peer sent them.
      this.inbox.push(e instanceof BgpError ? e : new BgpError(ErrorCode.Cease, CeaseSub.OutOfResources, `internal error: ${(e as Error).message}`));
    }
    this.drain(sock);
  }

  private clearInbox(): void {
    this.inbox = [];
    this.inboxHead = 0;
  }

  /** Handles waiting frames for one slice; schedules the rest for a later turn. */
  private drain(sock: net.Socket): void {
    if (this.draining) return;
    this.draining = true;
    const end = performance.now() + SLICE_MS;
    try {
      while (this.inboxHead < this.inbox.length && this.socket === sock) {
        const f = this.inbox[this.inboxHead++]!;
        if (f instanceof BgpError) { this.clearInbox(); this.failWith(f, 'BGPHeaderErr'); return; }
        let msg: Message;
        try {
          msg = decodeMessage(f, this.codecContext());
        } catch (e) {
          const code = e instanceof BgpError ? e.code : 0;
          this.clearInbox();
          this.failWith(e, code === ErrorCode.OpenMessage ? 'BGPOpenMsgErr' : code === ErrorCode.UpdateMessage ? 'UpdateMsgErr' : 'BGPHeaderErr');
          return;
        }
        this.dispatch(msg);
        if (performance.now() >= end) break;
      }
    } finally {
      this.draining = false;
    }
    if (this.socket !== sock) return;
    const waiting = this.inbox.length - this.inboxHead;
    if (waiting === 0) {
      this.clearInbox();
      if (sock.isPaused()) sock.resume();
      return;
    }
    if (waiting > INBOX_PAUSE && !sock.isPaused()) sock.pause();
    if (this.drainScheduled) return;
    this.drainScheduled = true;
    setImmediate(() => { this.drainScheduled = false; this.drain(sock); });
  }

  private failWith(e: unknown, event: FsmEvent): void {
    const err = e instanceof BgpError ? e : new BgpError(ErrorCode.Cease, CeaseSub.OutOfResources, `internal error: ${(e as Error).message}`);
    this.pendingError = err;
    this.lastError = `${describeNotification(err.code, err.subcode)} sent: ${err.message}`;
    this.host.logger.warn({ peer: this.label, code: err.code, subcode: err.subcode, error: err.message }, 'bgp: malformed message from peer, resetting session');
    this.fire(event);
  }

  private dispatch(msg: Message): void {
    switch (msg.type) {
      case 'open': {
        if (this.state !== 'OpenSent') { this.fire('BGPOpen'); return; }
        const verdict = this.host.checkOpen(this, msg);
        if (verdict === 'dump') { this.lastError = 'connection collision: closed this connection'; this.fire('OpenCollisionDump'); return; }
        if (verdict) { this.failWith(verdict, 'BGPOpenMsgErr'); return; }
        this.peerOpen = msg;
        this.negotiated = this.negotiate(msg);
        this.fire('BGPOpen');
        return;
      }
      case 'keepalive': this.fire('KeepAliveMsg'); return;
      case 'notification':
        this.lastError = `${describeNotification(msg.code, msg.subcode)} received${msg.data.length ? ` (data ${msg.data.subarray(0, 32).toString('hex')})` : ''}`;
        this.host.logger.warn({ peer: this.label, code: msg.code, subcode: msg.subcode }, 'bgp: NOTIFICATION received');
        this.receivedNotification = true;
        this.fire('NotifMsg');
        return;
      case 'update': this.pendingMessage = msg; this.fire('UpdateMsg'); return;
      case 'route-refresh': this.pendingMessage = msg; this.fire('RouteRefreshMsg'); return;
    }
  }

  private receivedNotification = false;
  private sentNotification = false;

  private negotiate(open: OpenMessage): Negotiated {
    const ours = this.host.openCapabilities(this.peer);
    const theirs = open.capabilities;
    const peerFamilies = theirs.multiprotocol.length === 0
      ? [4 as AfiFamily]
      : theirs.multiprotocol.filter((m) => m.safi === SAFI_UNICAST).map((m) => familyOfAfi(m.afi)).filter((f): f is AfiFamily => f !== null);
    const ourFamilies = ours.multiprotocol.map((m) => familyOfAfi(m.afi)).filter((f): f is AfiFamily => f !== null);
    const holdTimeSec = Math.min(this.peer.holdTimeSec ?? 90, open.holdTime);
    const keepaliveSec = holdTimeSec === 0 ? 0 : Math.max(1, Math.min(this.peer.keepaliveSec ?? Math.floor(holdTimeSec / 3), Math.floor(holdTimeSec / 3)));
    return {
      holdTimeSec,
      keepaliveSec,
      fourOctetAs: theirs.fourOctetAs !== null,
      families: ourFamilies.filter((f) => peerFamilies.includes(f)),
      routeRefresh: theirs.routeRefresh,
      peerGr: theirs.gracefulRestart,
      peerAsn: theirs.fourOctetAs ?? open.myAs,
      peerRouterId: open.bgpId,
    };
  }

  private setTimer(name: 'connectRetry' | 'hold' | 'keepalive', sec: number, event: FsmEvent): void {
    this.clearTimer(name);
    if (sec <= 0) return;
    const t = setTimeout(() => { delete this.timers[name]; this.fire(event); }, sec * 1000);
    t.unref();
    this.timers[name] = t;
  }
  private clearTimer(name: 'connectRetry' | 'hold' | 'keepalive'): void {
    const t = this.timers[name];
    if (t) clearTimeout(t);
    delete this.timers[name];
  }

  /** Performs one action of the table; a new Action without a case here does not compile. */
  private act(a: Action, from: State): void {
    switch (a) {
      case 'initiateConnect': this.connect(); break;
      case 'dropConnection': this.detachSocket(); break;
      case 'sendOpen': {
        const localAsn = this.host.localAsn();
        this.send(encodeOpen({
          version: 4, myAs: localAsn > 0xffff ? AS_TRANS : localAsn, holdTime: this.peer.holdTimeSec ?? 90,
          bgpId: this.host.routerId(), capabilities: this.host.openCapabilities(this.peer),
        }));
        break;
      }
      case 'sendKeepalive': this.send(encodeKeepalive()); break;
      case 'sendNotificationError':
        if (this.pendingError) { this.sendError(this.pendingError); this.sentNotification = true; }
        this.pendingError = null;
        break;
      case 'sendNotificationHoldExpired':
        this.lastError = 'Hold Timer Expired: no message from the peer within the hold time';
        this.host.logger.warn({ peer: this.label }, 'bgp: hold timer expired');
        this.send(encodeNotification(ErrorCode.HoldTimerExpired, 0));
        this.sentNotification = true;
        break;
      case 'sendNotificationFsmError':
        this.lastError = `${describeNotification(ErrorCode.Fsm, fsmErrorSubcode(from))} sent: unexpected message in ${from}`;
        this.send(encodeNotification(ErrorCode.Fsm, fsmErrorSubcode(from)));
        this.sentNotification = true;
        break;
      case 'sendNotificationCease':
        this.send(encodeNotification(ErrorCode.Cease, CeaseSub.AdministrativeShutdown));
        this.sentNotification = true;
        break;
      case 'sendNotificationCollision':
        this.send(encodeNotification(ErrorCode.Cease, CeaseSub.ConnectionCollision));
        this.sentNotification = true;
        break;
      case 'startConnectRetryTimer':
        if (!this.peer.passive) this.setTimer('connectRetry', jitter(this.peer.connectRetrySec ?? 10), 'ConnectRetryTimerExpires');
        break;
      case 'stopConnectRetryTimer': this.clearTimer('connectRetry'); break;
      case 'startLargeHoldTimer': this.setTimer('hold', 240, 'HoldTimerExpires'); break;
      case 'startNegotiatedTimers':
        this.setTimer('hold', this.negotiated?.holdTimeSec ?? 90, 'HoldTimerExpires');
        this.setTimer('keepalive', this.negotiated?.keepaliveSec ?? 30, 'KeepaliveTimerExpires');
        break;
      case 'restartHoldTimer': this.setTimer('hold', this.negotiated?.holdTimeSec ?? 90, 'HoldTimerExpires'); break;
      case 'restartKeepaliveTimer': this.setTimer('keepalive', this.negotiated?.keepaliveSec ?? 30, 'KeepaliveTimerExpires'); break;
      case 'stopTimers': this.clearTimer('connectRetry'); this.clearTimer('hold'); this.clearTimer('keepalive'); break;
      case 'processUpdate': {
        const m = this.pendingMessage; this.pendingMessage = null;
        if (m?.type === 'update') this.host.update(this, m);
        break;
      }
      case 'processRouteRefresh': {
        const m = this.pendingMessage; this.pendingMessage = null;
        if (m?.type === 'route-refresh') this.host.routeRefresh(this, m);
        break;
      }
      case 'sessionUp':
        this.lastError = null;
        this.host.logger.info({ peer: this.label, families: this.negotiated?.families }, 'bgp: session established');
        this.host.established(this);
        break;
      case 'sessionDown':
        this.host.logger.info({ peer: this.label, reason: this.lastError }, 'bgp: session down');
        this.host.down(this, this.sentNotification || this.receivedNotification);
        break;
      default: {
        const unhandled: never = a;
        throw new Error(`FSM action ${String(unhandled)} has no handler`);
      }
    }
  }

  private connect(): void {
    this.detachSocket();
    if (!this.host.mayConnect(this)) {
      // A timer of a superseded connection: the peer is reached over another one already.
      this.host.logger.debug({ peer: this.label }, 'bgp: not connecting: another connection to the peer is up');
      this.fire('Stop');
      return;
    }
    this.initiatedLocally = true;
    const sock = openConnection(this.peer);
    this.socket = sock;
    const onFail = (err: Error) => {
      if (this.socket !== sock) return;
      this.lastError = `connect: ${err.message}`;
      this.socket = null;
      sock.destroy();
      this.fire('TcpConnectionFails');
    };
    sock.once('error', onFail);
    sock.once('connect', () => {
      if (this.socket !== sock) { sock.destroy(); return; }
      sock.removeListener('error', onFail);
      this.bindSocket(sock);
      this.fire('TcpCrAcked');
    });
  }

  /** Families we both negotiated (IPv4 when nothing has been negotiated yet). */
  families(): AfiFamily[] { return this.negotiated?.families ?? []; }
}

function jitter(sec: number): number { return sec * (0.75 + Math.random() * 0.25); }

export function familyCaps(families: AfiFamily[]) {
  return families.map((f) => ({ afi: afiOf(f), safi: SAFI_UNICAST }));
}
export { emptyCapabilities };
