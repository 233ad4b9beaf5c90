// The lab's plan, ToR configuration and parsers (pure), and `down` working from the
// records alone after a crash.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNetns, testNetnsPrefix } from '../../src/lab/index.js';
import { birdConfig, planLab } from '../../src/lab/plan.js';
import { RecordBook, readRecords } from '../../src/lab/records.js';
import { spawnInNetns, isAlive } from '../../src/lab/procs.js';
import { labDown } from '../../src/lab/lab.js';
import { parseBirdProtocols, parseBirdRoutes } from '../../src/lab/topology.js';
import { renderMatrix } from '../../src/lab/matrix.js';

test('plan: hosts, AS per rack, addresses and two tenants with web and client on every host', () => {
  const p = planLab({ prefix: 'x-', hosts: 3, etcdMembers: 3 });
  assert.equal(p.hosts.map((h) => [h.name, h.netns, h.asn, h.address, h.torAddress]), [
    ['h1', 'x-h1', 65101, '10.10.1.2', '10.10.1.1'],
    ['h2', 'x-h2', 65102, '10.10.2.2', '10.10.2.1'],
    ['h3', 'x-h3', 65103, '10.10.3.2', '10.10.3.1'],
  ]);
  assert.equal(p.etcd.map((e) => e.clientUrl), ['http://10.10.0.2:2379', 'http://10.10.0.3:2379', 'http://10.10.0.4:2379']);
  assert.is(p.containers.length, 12);
  assert.equal(p.containers.filter((c) => c.host === 'h2').map((c) => c.name), ['h2-a-web', 'h2-a-client', 'h2-b-web', 'h2-b-client']);
  assert.ok(p.containers.every((c) => c.netns.startsWith('x-')), 'every namespace carries the prefix');
  assert.throws(() => planLab({ prefix: 'x-', hosts: 0, etcdMembers: 1 }), /--hosts 0/);
  assert.throws(() => planLab({ prefix: 'x-', hosts: 2, etcdMembers: 2 }), /--etcd 2/);
});

test('ToR configuration: one eBGP session per host with its rack AS', () => {
  const p = planLab({ prefix: 'x-', hosts: 2, etcdMembers: 1 });
  const conf = birdConfig(p, { holdTime: 9, keepalive: 3, logFile: '/tmp/b.log' });
  assert.match(conf, /local as 65000;/);
  assert.match(conf, /hold time 9;/);
  assert.match(conf, /protocol bgp h1 from rack \{ neighbor 10\.10\.1\.2 as 65101; source address 10\.10\.1\.1; \}/);
  assert.match(conf, /protocol bgp h2 from rack \{ neighbor 10\.10\.2\.2 as 65102; source address 10\.10\.2\.1; \}/);
});

test('birdc output parsers', () => {
  const protos = parseBirdProtocols([
    'BIRD 2.0.12 ready.',
    'Name       Proto      Table      State  Since         Info',
    'device1    Device     ---        up     22:40:37.461  ',
    'h1         BGP        ---        up     22:45:27.720  Established   ',
    'h2         BGP        ---        start  22:40:37.461  Active        Socket: Connection refused',
  ].join('\n'));
  assert.equal(protos, { h1: 'Established', h2: 'Active' });
  const routes = parseBirdRoutes([
    'Table master4:',
    '10.244.1.0/26        unicast [h1 22:45:28.000] * (100) [AS65101i]',
    '\tvia 10.10.1.2 on h1',
    '10.244.2.64/26       unicast [h2 22:45:28.000] * (100) [AS65102i]',
    '\tvia 10.10.2.2 on h2',
  ].join('\n'));
  assert.equal(routes, { '10.244.1.0/26': '10.10.1.2', '10.244.2.64/26': '10.10.2.2' });
});

test('matrix rendering ends with the one summary line; colour only when asked', () => {
  const m = {
    targets: [{ name: 'a', netns: 'n', address: '1' }, { name: 'b', netns: 'n', address: '2' }],
    cells: [{ from: 'a', to: 'b', observed: true, declared: true }, { from: 'b', to: 'a', observed: true, declared: false }],
    matching: 1, total: 2,
  };
  const plain = renderMatrix(m, false);
  assert.not.ok(plain.includes('\u001b['), 'no escape codes without colour');
  assert.match(plain, /!!/);
  assert.match(plain, /differs: b -> a: observed allowed, policies say denied/);
  assert.is(plain.split('\n').filter((l) => l.startsWith('matrix: ')).length, 1);
  assert.ok(plain.endsWith('matrix: 1/2 as declared'));
  assert.ok(renderMatrix(m, true).includes('\u001b[32m'), 'green with colour');
});

test('down removes what the records name even after a crash', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'trellis-lab-rec-'));
  const prefix = `${testNetnsPrefix()}lr`;
  try {
    const book = new RecordBook(dir, prefix);
    const name = `${prefix}a`;
    book.namespace(name);
    await createNetns(name, { persist: true });
    const pid = spawnInNetns(book, 'sleeper', name, ['sleep', '300'], join(dir, 'sleep.log'));
    // A namespace recorded but never created (a crash in between) must not trouble down.
    book.namespace(`${prefix}b`);
    const rec = readRecords(dir)!;
    assert.equal(rec.namespaces, [`${prefix}a`, `${prefix}b`]);
    assert.ok(isAlive(rec.processes[0]!), 'the recorded process runs');
    // "Crash": nothing of this process's state is used; down works from the file.
    const gone = await labDown(dir);
    assert.ok(gone.includes(`process ${pid} (sleeper)`), JSON.stringify(gone));
    assert.ok(gone.includes(`netns ${name}`), JSON.stringify(gone));
    assert.not.ok(existsSync(`/run/netns/${name}`), 'namespace deleted');
    assert.not.ok(isAlive(rec.processes[0]!), 'process stopped');
    assert.is(readRecords(dir), null, 'records cleared');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
