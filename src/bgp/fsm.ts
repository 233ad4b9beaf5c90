// The session state machine of RFC 4271 section 8 as an explicit table of state x event
// -> (next state, actions). The table is pure data; session.ts performs the actions.
// Events not listed for a state are FSM errors there (RFC 4271 8.2.2: "any other event").

export const STATES = ['Idle', 'Connect', 'Active', 'OpenSent', 'OpenConfirm', 'Established'] as const;
export type State = (typeof STATES)[number];

export const EVENTS = [
  'Start', 'StartPassive', 'Stop', 'StopGraceful',
  'ConnectRetryTimerExpires', 'HoldTimerExpires', 'KeepaliveTimerExpires',
  'TcpCrAcked', 'TcpConnectionConfirmed', 'TcpConnectionFails',
  'BGPOpen', 'BGPHeaderErr', 'BGPOpenMsgErr', 'OpenCollisionDump', 'NotifMsg',
  'KeepAliveMsg', 'UpdateMsg', 'UpdateMsgErr', 'RouteRefreshMsg',
] as const;
export type FsmEvent = (typeof EVENTS)[number];

export type Action =
  | 'initiateConnect' | 'dropConnection' | 'sendOpen' | 'sendKeepalive'
  | 'sendNotificationError' | 'sendNotificationHoldExpired' | 'sendNotificationFsmError' | 'sendNotificationCease'
  | 'sendNotificationCollision'
  | 'startConnectRetryTimer' | 'stopConnectRetryTimer' | 'startLargeHoldTimer' | 'startNegotiatedTimers'
  | 'restartHoldTimer' | 'restartKeepaliveTimer' | 'stopTimers'
  | 'processUpdate' | 'processRouteRefresh' | 'sessionUp' | 'sessionDown';

export interface Transition { next: State; actions: readonly Action[] }

const t = (next: State, ...actions: Action[]): Transition => ({ next, actions });

const toIdle = (...pre: Action[]): Transition => t('Idle', ...pre, 'dropConnection', 'stopTimers');
const downToIdle = (...pre: Action[]): Transition => t('Idle', ...pre, 'dropConnection', 'stopTimers', 'sessionDown');

export const FSM_TABLE: Record<State, Partial<Record<FsmEvent, Transition>>> = {
  Idle: {
    Start: t('Connect', 'startConnectRetryTimer', 'initiateConnect'),
    StartPassive: t('Active', 'startConnectRetryTimer'),
    Stop: t('Idle'),
    StopGraceful: t('Idle'),
    // An Idle session ignores everything but start events (RFC 4271 8.2.2, Idle state).
    ConnectRetryTimerExpires: t('Idle'), HoldTimerExpires: t('Idle'), KeepaliveTimerExpires: t('Idle'),
    TcpCrAcked: t('Idle', 'dropConnection'), TcpConnectionConfirmed: t('Idle', 'dropConnection'), TcpConnectionFails: t('Idle'),
    BGPOpen: t('Idle'), BGPHeaderErr: t('Idle'), BGPOpenMsgErr: t('Idle'), OpenCollisionDump: t('Idle'), NotifMsg: t('Idle'),
    KeepAliveMsg: t('Idle'), UpdateMsg: t('Idle'), UpdateMsgErr: t('Idle'), RouteRefreshMsg: t('Idle'),
  },
  Connect: {
    Start: t('Connect'), StartPassive: t('Connect'),
    Stop: t('Idle', 'dropConnection', 'stopConnectRetryTimer'),
    StopGraceful: t('Idle', 'dropConnection', 'stopConnectRetryTimer'),
    ConnectRetryTimerExpires: t('Connect', 'dropConnection', 'startConnectRetryTimer', 'initiateConnect'),
    TcpCrAcked: t('OpenSent', 'stopConnectRetryTimer', 'sendOpen', 'startLargeHoldTimer'),
    TcpConnectionConfirmed: t('OpenSent', 'stopConnectRetryTimer', 'sendOpen', 'startLargeHoldTimer'),
    TcpConnectionFails: t('Active', 'dropConnection', 'startConnectRetryTimer'),
    BGPHeaderErr: toIdle('sendNotificationError'), BGPOpenMsgErr: toIdle('sendNotificationError'),
  },
  Active: {
    Start: t('Active'), StartPassive: t('Active'),
    Stop: t('Idle', 'dropConnection', 'stopConnectRetryTimer'),
    StopGraceful: t('Idle', 'dropConnection', 'stopConnectRetryTimer'),
    ConnectRetryTimerExpires: t('Connect', 'startConnectRetryTimer', 'initiateConnect'),
    TcpCrAcked: t('OpenSent', 'stopConnectRetryTimer', 'sendOpen', 'startLargeHoldTimer'),
    TcpConnectionConfirmed: t('OpenSent', 'stopConnectRetryTimer', 'sendOpen', 'startLargeHoldTimer'),
    TcpConnectionFails: t('Idle', 'dropConnection', 'stopConnectRetryTimer'),
    BGPHeaderErr: toIdle('sendNotificationError'), BGPOpenMsgErr: toIdle('sendNotificationError'),
  },
  OpenSent: {
    Start: t('OpenSent'), StartPassive: t('OpenSent'),
    Stop: toIdle('sendNotificationCease'),
    StopGraceful: toIdle(),
    HoldTimerExpires: toIdle('sendNotificationHoldExpired'),
    // RFC 4271: connection lost in OpenSent -> back to Active and wait for the peer.
    TcpConnectionFails: t('Active', 'dropConnection', 'stopTimers', 'startConnectRetryTimer'),
    BGPOpen: t('OpenConfirm', 'sendKeepalive', 'startNegotiatedTimers'),
    BGPHeaderErr: toIdle('sendNotificationError'), BGPOpenMsgErr: toIdle('sendNotificationError'),
    OpenCollisionDump: toIdle('sendNotificationCollision'),
    NotifMsg: toIdle(),
  },
  OpenConfirm: {
    Start: t('OpenConfirm'), StartPassive: t('OpenConfirm'),
    Stop: toIdle('sendNotificationCease'),
    StopGraceful: toIdle(),
    HoldTimerExpires: toIdle('sendNotificationHoldExpired'),
    KeepaliveTimerExpires: t('OpenConfirm', 'sendKeepalive', 'restartKeepaliveTimer'),
    TcpConnectionFails: toIdle(),
    BGPHeaderErr: toIdle('sendNotificationError'), BGPOpenMsgErr: toIdle('sendNotificationError'),
    OpenCollisionDump: toIdle('sendNotificationCollision'),
    NotifMsg: toIdle(),
    KeepAliveMsg: t('Established', 'restartHoldTimer', 'sessionUp'),
  },
  Established: {
    Start: t('Established'), StartPassive: t('Established'),
    Stop: downToIdle('sendNotificationCease'),
    // Graceful stop: close without NOTIFICATION so that helpers keep our routes (RFC 4724).
    StopGraceful: downToIdle(),
    HoldTimerExpires: downToIdle('sendNotificationHoldExpired'),
    KeepaliveTimerExpires: t('Established', 'sendKeepalive', 'restartKeepaliveTimer'),
    TcpConnectionFails: downToIdle(),
    BGPHeaderErr: downToIdle('sendNotificationError'),
    UpdateMsgErr: downToIdle('sendNotificationError'),
    OpenCollisionDump: downToIdle('sendNotificationCollision'),
    NotifMsg: downToIdle(),
    KeepAliveMsg: t('Established', 'restartHoldTimer'),
    UpdateMsg: t('Established', 'restartHoldTimer', 'processUpdate'),
    RouteRefreshMsg: t('Established', 'restartHoldTimer', 'processRouteRefresh'),
  },
};

/** Anything a state does not list is an FSM error: NOTIFICATION 5/x where a session exists, then Idle. */
export function transition(state: State, event: FsmEvent): Transition {
  const hit = FSM_TABLE[state][event];
  if (hit) return hit;
  if (state === 'Established') return downToIdle('sendNotificationFsmError');
  if (state === 'OpenSent' || state === 'OpenConfirm') return toIdle('sendNotificationFsmError');
  return t('Idle', 'dropConnection', 'stopConnectRetryTimer');
}

/** RFC 6608 FSM error subcodes by the state the unexpected message arrived in. */
export function fsmErrorSubcode(state: State): number {
  return state === 'OpenSent' ? 1 : state === 'OpenConfirm' ? 2 : state === 'Established' ? 3 : 0;
}
