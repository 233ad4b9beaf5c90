// A 3-member etcd cluster on loopback: the store keeps working, and its watcher keeps
// delivering, with one member killed. Also the embedded single member of connectStore.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectStore, freePort, openStore, startEtcdServer, waitEtcdHealthy, type EtcdServer, type WatchEvent } from '../../src/store/index.js';
import { namespace, until } from './_fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'trellis-cluster-'));
const members: EtcdServer[] = [];

test.after(async () => {
  await Promise.all(members.map((m) => m.stop('SIGKILL')));
  rmSync(dir, { recursive: true, force: true });
});

async function retry<T>(fn: () => Promise<T>, attempts = 60): Promise<T> {
  for (let i = 0; ; i++) {
    try { return await fn(); } catch (err) {
      if (i >= attempts) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

test('three members, one killed: writes, reads and the watch go on', async () => {
  const names = ['m0', 'm1', 'm2'];
  const ports = await Promise.all(names.map(async () => ({ client: await freePort(), peer: await freePort() })));
  const initialCluster = names.map((n, i) => `${n}=http://127.0.0.1:${ports[i]!.peer}`).join(',');
  for (const [i, name] of names.entries()) {
    members.push(await startEtcdServer({ dataDir: join(dir, name), name, clientPort: ports[i]!.client, peerPort: ports[i]!.peer, initialCluster }));
  }
  await Promise.all(members.map((m) => waitEtcdHealthy(m.clientUrl, 30_000)));
  const store = openStore({ endpoints: members.map((m) => m.clientUrl), prefix: '/c/' });
  const events: WatchEvent[] = [];
  try {
    await store.create(namespace('before'));
    const w = await store.watch({ onSync: () => undefined, onEvent: (e) => { events.push(e); } });
    await w.synced;
    await store.create(namespace('one'));
    await until('first event', () => events.length === 1);
    // Kill the member serving the watch stream, so the watcher has to move.
    const watching = await Promise.all(members.map(async (m) => {
      const text = await (await fetch(`${m.clientUrl}/metrics`)).text();
      return Number(/^etcd_debugging_mvcc_watcher_total (\d+)/m.exec(text)?.[1] ?? 0);
    }));
    const victim = watching.findIndex((count) => count > 0);
    assert.ok(victim >= 0, `one member serves the watch (watchers per member: ${watching.join(',')})`);
    await members[victim]!.stop('SIGKILL');
    // Calls that were bound to the dead member fail over to the others.
    for (let i = 0; i < 5; i++) await retry(() => store.apply(namespace(`after-kill-${i}`)));
    const names2 = (await retry(() => store.list('Namespace'))).map((s) => s.resource.metadata.name).sort();
    assert.equal(names2, ['after-kill-0', 'after-kill-1', 'after-kill-2', 'after-kill-3', 'after-kill-4', 'before', 'one']);
    await until('the watch delivering the writes made after the kill', () => events.length >= 6, 30_000);
    const after = events.slice(1).map((e) => e.key.name);
    assert.equal(after, ['after-kill-0', 'after-kill-1', 'after-kill-2', 'after-kill-3', 'after-kill-4'], 'each once, in order');
    await w.close();
  } finally {
    await store.close();
  }
});

test('connectStore without endpoints runs an embedded etcd and stops it on stop()', async () => {
  const dataDir = join(dir, 'embedded');
  const c = await connectStore({ endpoints: [], embeddedEtcdDir: dataDir });
  assert.ok(c.embedded, 'an embedded etcd was started');
  const pid = c.embedded!.pid;
  await c.store.create(namespace('embedded'));
  assert.is((await c.store.get({ kind: 'Namespace', name: 'embedded' }))?.resource.metadata.name, 'embedded');
  assert.ok(existsSync(join(dataDir, 'member')), 'data lives in embeddedEtcdDir');
  await c.stop();
  let alive = true;
  try { process.kill(pid, 0); } catch { alive = false; }
  assert.not.ok(alive, 'the embedded etcd process is gone after stop()');
});

test.run();
