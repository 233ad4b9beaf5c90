// The FSM table: every state x event has a defined outcome, and the RFC 4271 paths hold.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { EVENTS, STATES, transition, FSM_TABLE, type State, type FsmEvent } from '../../src/bgp/index.js';

test('every state x event pair yields a transition to a known state', () => {
  for (const s of STATES) for (const e of EVENTS) {
    const t = transition(s, e);
    assert.ok(STATES.includes(t.next), `${s} x ${e} -> ${t.next}`);
  }
});

test('the active open path: Idle -> Connect -> OpenSent -> OpenConfirm -> Established', () => {
  const path: [State, FsmEvent, State, string[]][] = [
    ['Idle', 'Start', 'Connect', ['initiateConnect']],
    ['Connect', 'TcpCrAcked', 'OpenSent', ['sendOpen', 'startLargeHoldTimer']],
    ['OpenSent', 'BGPOpen', 'OpenConfirm', ['sendKeepalive', 'startNegotiatedTimers']],
    ['OpenConfirm', 'KeepAliveMsg', 'Established', ['sessionUp']],
    ['Established', 'UpdateMsg', 'Established', ['restartHoldTimer', 'processUpdate']],
  ];
  for (const [from, ev, to, acts] of path) {
    const t = transition(from, ev);
    assert.is(t.next, to, `${from} x ${ev}`);
    for (const a of acts) assert.ok(t.actions.includes(a as never), `${from} x ${ev} does ${a}`);
  }
});

test('passive start waits in Active; a failed connect goes to Active; errors reach Idle with the right NOTIFICATION', () => {
  assert.is(transition('Idle', 'StartPassive').next, 'Active');
  assert.is(transition('Connect', 'TcpConnectionFails').next, 'Active');
  assert.is(transition('Active', 'ConnectRetryTimerExpires').next, 'Connect');
  assert.ok(transition('Established', 'HoldTimerExpires').actions.includes('sendNotificationHoldExpired'));
  assert.ok(transition('Established', 'UpdateMsgErr').actions.includes('sendNotificationError'));
  assert.ok(transition('Established', 'UpdateMsgErr').actions.includes('sessionDown'));
  assert.ok(transition('OpenConfirm', 'OpenCollisionDump').actions.includes('sendNotificationCollision'));
  // Unexpected messages are FSM errors (RFC 6608), not silently accepted.
  const t = transition('OpenSent', 'UpdateMsg');
  assert.equal([t.next, t.actions.includes('sendNotificationFsmError')], ['Idle', true]);
  assert.ok(!('UpdateMsg' in FSM_TABLE.OpenConfirm), 'UPDATE before Established is not in the table');
  // A graceful stop closes without NOTIFICATION so helpers keep our routes.
  assert.not.ok(transition('Established', 'StopGraceful').actions.some((a) => a.startsWith('sendNotification')));
  assert.ok(transition('Established', 'Stop').actions.includes('sendNotificationCease'));
});

test.run();
