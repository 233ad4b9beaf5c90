// One BGP peer that cannot be configured (its TCP-MD5 key is in a secret that cannot be read)
// is that peer's problem alone: configure() does not fail (so /readyz stays true), the peer
// shows the reason in status once (no "peer X: peer X:"), and another peer's session and
// learned routes are untouched. On loopback in the root namespace: sockets only, no routes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBgpPort, nodeBgpFromCalc, type NodeBgp } from '../../src/agent/bgp.js';
import type { LearnedRoute } from '../../src/agent/ports.js';
import { createSpeaker, type Speaker } from '../../src/bgp/index.js';
import { silentLogger } from '../../src/log/index.js';
import { schemas, type Resource } from '../../src/model/index.js';
import { freePort, waitFor } from '../bgp/_helpers.js';

const api = 'projectcalico.org/v3';
const BAD = '127.0.0.4';
const GOOD = '127.0.0.3';

test('a peer whose key secret cannot be read is reported on that peer alone; the others keep their session and routes', async () => {
  const secrets = mkdtempSync(join(tmpdir(), 'trellis-secrets-'));
  const [p1, p2] = [await freePort(), await freePort(GOOD)];
  const resources: Resource[] = [
    schemas.BGPConfiguration.parse({ apiVersion: api, kind: 'BGPConfiguration', metadata: { name: 'default' }, spec: { nodeToNodeMeshEnabled: false, listenPort: p1 } }),
    schemas.Node.parse({ apiVersion: api, kind: 'Node', metadata: { name: 'n1' }, spec: { bgp: { ipv4Address: '127.0.0.1/32' } } }),
    schemas.BGPPeer.parse({ apiVersion: api, kind: 'BGPPeer', metadata: { name: 'good' }, spec: { peerIP: `${GOOD}:${p2}`, asNumber: 64512 } }),
    schemas.BGPPeer.parse({ apiVersion: api, kind: 'BGPPeer', metadata: { name: 'tor' }, spec: { peerIP: BAD, asNumber: 64512, password: { secretKeyRef: { name: 'tor', key: 'md5' } } } }),
  ];
  const remote: Speaker = createSpeaker({ routerId: GOOD, localAsn: 64512, listen: { host: GOOD, port: p2 }, logger: silentLogger() });
  const port = createBgpPort({ nodeName: 'n1', logger: silentLogger(), calc: nodeBgpFromCalc(silentLogger()), restarting: false, listenHost: '127.0.0.1', secretsDir: secrets });
  let routes: LearnedRoute[] = [];
  port.onRoutes((s) => { routes = [...s.table.values()]; });
  try {
    await remote.listening;
    remote.configure({ peers: [{ address: '127.0.0.1', port: p1, asn: 64512, localAddress: GOOD, connectRetrySec: 1 }] });
    remote.announce([{ prefix: '10.61.0.0/24' }]);

    await port.configure(resources); // must not throw: that is what made the node unready
    assert.ok(port.configured, 'the port counts as configured despite the bad peer');
    const bad = () => port.status().find((s) => s.peer === BAD);
    assert.ok(bad(), `the unconfigurable peer ${BAD} is listed in status`);
    assert.is(bad()!.state, 'Idle', 'the unconfigurable peer is Idle');
    assert.match(String(bad()!.lastError), /secretKeyRef "tor"\/"md5": cannot read .*tor\/md5 \(ENOENT\).*peer not started/, `reason names the secret file: ${bad()!.lastError}`);
    assert.not.match(String(bad()!.lastError), /peer 127\.0\.0\.4/, 'the message does not repeat the peer prefix (status carries the peer)');
    assert.is(bad()!.name, 'BGPPeer tor', 'the status names the BGPPeer resource');

    await waitFor(`session with ${GOOD} Established`, () => port.status().find((s) => s.peer === GOOD)?.state === 'Established');
    await waitFor('route 10.61.0.0/24 learned from the good peer', () => routes.some((r) => r.dst === '10.61.0.0/24'));

    // The key appears: the peer starts with it, the problem is gone.
    mkdirSync(join(secrets, 'tor'));
    writeFileSync(join(secrets, 'tor', 'md5'), 'k3y-from-secret\n', { mode: 0o600 });
    await port.configure(resources);
    assert.not.match(String(bad()?.lastError ?? ''), /secretKeyRef/, `once the secret is readable the problem is cleared: ${bad()?.lastError}`);
    assert.is.not(bad()?.state, undefined, 'the peer is configured in the speaker');

    // The secret goes away again: the peer keeps the key it had, nothing else moves.
    rmSync(join(secrets, 'tor'), { recursive: true });
    await port.configure(resources);
    assert.match(String(bad()?.lastError), /cannot read .*keeping the key read before/, `a vanished secret keeps the last key: ${bad()?.lastError}`);
    assert.is(port.status().find((s) => s.peer === GOOD)?.state, 'Established', 'the good session stayed up throughout');
    assert.ok(routes.some((r) => r.dst === '10.61.0.0/24'), 'the good peer\'s route is still learned');
  } finally {
    await port.stop();
    await remote.stop();
    rmSync(secrets, { recursive: true, force: true });
  }
});

test('an inline password longer than Linux takes is refused on that peer with the reason', async () => {
  const resources: Resource[] = [
    schemas.BGPConfiguration.parse({ apiVersion: api, kind: 'BGPConfiguration', metadata: { name: 'default' }, spec: { nodeToNodeMeshEnabled: false, listenPort: await freePort() } }),
    schemas.Node.parse({ apiVersion: api, kind: 'Node', metadata: { name: 'n1' }, spec: { bgp: { ipv4Address: '127.0.0.1/32' } } }),
    schemas.BGPPeer.parse({ apiVersion: api, kind: 'BGPPeer', metadata: { name: 'long' }, spec: { peerIP: BAD, asNumber: 64512, password: 'x'.repeat(81) } }),
  ];
  const port = createBgpPort({ nodeName: 'n1', logger: silentLogger(), calc: nodeBgpFromCalc(silentLogger()), restarting: false, listenHost: '127.0.0.1' });
  try {
    await port.configure(resources);
    const st = port.status().find((s) => s.peer === BAD);
    assert.match(String(st?.lastError), /^password: TCP-MD5 password is 81 bytes; Linux takes at most 80; peer not started$/, `reason: ${st?.lastError}`);
  } finally {
    await port.stop();
  }
});

test('a peer the speaker itself refuses (hold time 1 s) fails alone; a running peer made invalid keeps its last good session', async () => {
  const [lp, rp] = [await freePort('127.0.55.1'), await freePort('127.0.55.2')];
  const remote: Speaker = createSpeaker({ routerId: '127.0.55.2', localAsn: 64512, listen: { host: '127.0.55.2', port: rp }, logger: silentLogger() });
  let peers: NodeBgp['speaker']['peers'] = [];
  const port = createBgpPort({
    nodeName: 'n1', logger: silentLogger(), restarting: false, listenHost: '127.0.55.1',
    calc: () => ({ localAsn: 64512, routerId: '127.0.55.1', listenPort: lp, speaker: { peers } }),
  });
  const good = { address: '127.0.55.2', port: rp, asn: 64512, localAddress: '127.0.55.1', connectRetrySec: 1 };
  try {
    await remote.listening;
    remote.configure({ peers: [{ address: '127.0.55.1', port: lp, asn: 64512, localAddress: '127.0.55.2', connectRetrySec: 1 }] });
    peers = [good, { address: '127.0.55.9', asn: 64512, holdTimeSec: 1 }];
    await port.configure([]); // must not throw for the one bad peer
    const row = (a: string) => port.status().find((s) => s.peer === a);
    assert.match(String(row('127.0.55.9')?.lastError), /hold time 1 must be 0 or 3-65535 s/, `the bad peer carries the reason: ${JSON.stringify(row('127.0.55.9'))}`);
    assert.is(row('127.0.55.9')?.configError, true, 'marked as a configuration error (the per-peer metric reads it)');
    await waitFor('the good peer Established', () => row('127.0.55.2')?.state === 'Established');
    assert.is(row('127.0.55.2')?.configError, undefined, 'the good peer has no configuration error');
    const since = row('127.0.55.2')!.uptimeSec;
    peers = [{ ...good, holdTimeSec: 2 }];
    await port.configure([]);
    assert.match(String(row('127.0.55.2')?.lastError), /hold time 2/, 'the now invalid peer reports why');
    assert.is(row('127.0.55.2')?.state, 'Established', 'and keeps its last good session');
    assert.ok(row('127.0.55.2')!.uptimeSec >= since, 'not restarted');
    assert.is(row('127.0.55.9'), undefined, 'a peer no longer configured is gone');
  } finally {
    await port.stop();
    await remote.stop();
  }
});

test.run();
