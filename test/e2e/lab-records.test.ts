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
import { renderMatrix, rowsInFlight } from '../../src/lab/matrix.js';
import { parseLabels, parseRuntime, planAddedContainer, runtimeOf } from '../../src/lab/plan.js';
import { parseFlags, UsageError } from '../../src/lab/flags.js';
import { forwardArgv } from '../../src/lab/forward.js';
import { clusterResources, cniEnv, DEFAULT_TIMERS, trellisdConfigYaml } from '../../src/lab/cluster.js';
import { dockerCgroup, dockerRunArgs, networkCreateArgs } from '../../src/lab/dockerlab.js';
import { processStat } from '../../src/lab/records.js';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';

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

test('plan --encap: vxlan keeps a subnet per host; crosssubnet puts hosts two to a subnet; resources without BGP; unknown refused with the list', () => {
  const vx = planLab({ prefix: 'x-', hosts: 3, etcdMembers: 1, encap: 'vxlan' });
  assert.equal(vx.hosts.map((h) => [h.name, h.address, h.torAddress, h.subnet]), [['h1', '10.10.1.2', '10.10.1.1', 1], ['h2', '10.10.2.2', '10.10.2.1', 2], ['h3', '10.10.3.2', '10.10.3.1', 3]]);
  const cs = planLab({ prefix: 'x-', hosts: 3, etcdMembers: 1, encap: 'crosssubnet' });
  assert.equal(cs.hosts.map((h) => [h.name, h.address, h.torAddress, h.subnet]), [['h1', '10.10.1.2', '10.10.1.1', 1], ['h2', '10.10.1.3', '10.10.1.1', 1], ['h3', '10.10.2.2', '10.10.2.1', 2]]);
  assert.is(planLab({ prefix: 'x-', hosts: 1, etcdMembers: 1 }).encap, 'none', 'routed with BGP by default');
  const kinds = (p: typeof vx) => clusterResources(p, DEFAULT_TIMERS).map((r) => {
    const x = r as { kind: string; spec: { vxlanMode?: string; nodeToNodeMeshEnabled?: boolean; bgp?: { asNumber?: number } } };
    return `${x.kind}${x.spec.vxlanMode ? ` ${x.spec.vxlanMode}` : ''}${x.spec.nodeToNodeMeshEnabled === false ? ' mesh off' : ''}${x.spec.bgp?.asNumber ? ' AS' : ''}`;
  });
  assert.equal(kinds(cs), ['IPPool CrossSubnet', 'BGPConfiguration mesh off', 'Node', 'Node', 'Node'], 'no BGPPeer, no AS, the mesh off');
  assert.equal(kinds(vx).slice(0, 2), ['IPPool Always', 'BGPConfiguration mesh off']);
  assert.ok(kinds(planLab({ prefix: 'x-', hosts: 1, etcdMembers: 1 })).includes('BGPPeer'), 'the routed lab peers with the ToR');
  assert.match(trellisdConfigYaml(vx, vx.hosts[0]!, '/s', DEFAULT_TIMERS), /^bgpEnabled: false$/m, 'trellisd runs no BGP speaker');
  const routed = planLab({ prefix: 'x-', hosts: 1, etcdMembers: 1 });
  assert.not.match(trellisdConfigYaml(routed, routed.hosts[0]!, '/s', DEFAULT_TIMERS), /bgpEnabled/, 'the routed lab\'s trellisd runs its speaker (the default)');
  assert.throws(() => planLab({ prefix: 'x-', hosts: 1, etcdMembers: 1, encap: 'ipip' as never }), /--encap ipip: must be one of none, vxlan, crosssubnet/);
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

test('matrix: the 3-host lab probes every row at once, the 30-host lab a few rows at a time', () => {
  assert.is(rowsInFlight(12), 12, '12 containers (132 cells) should be one round');
  assert.is(rowsInFlight(120), 4, '120 containers should probe 4 rows (476 connections) at a time');
  assert.is(rowsInFlight(1), 1, 'a single container still gets its (empty) row');
  assert.is(rowsInFlight(1000), 1, 'a row wider than the budget still runs, alone');
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

test('lab flags: known ones parsed, an unknown one refused with the list the command knows', () => {
  const f = parseFlags('up', ['--hosts', '2', '--etcd=3'], { '--hosts': 'value', '--etcd': 'value' }, 0);
  assert.equal(f.values, { '--hosts': '2', '--etcd': '3' });
  assert.throws(() => parseFlags('up', ['--host', '2'], { '--hosts': 'value', '--etcd': 'value' }, 0),
    (e: unknown) => e instanceof UsageError && e.message === 'up: unknown flag --host (up knows: --hosts, --etcd)');
  assert.throws(() => parseFlags('down', ['now'], {}, 0), /down: unexpected argument "now"/);
  assert.throws(() => parseFlags('add', ['x', '--host'], { '--host': 'value' }, 1), /add: --host needs a value/);
  assert.equal(parseFlags('add', ['x', '--host', 'h2'], { '--host': 'value' }, 1).positional, ['x']);
});

test('lab add: the container plan, its CNI call as a runtime makes it, and refusals', () => {
  const p = planLab({ prefix: 'x-', hosts: 2, etcdMembers: 1 });
  const c = planAddedContainer(p, { name: 'my-web', host: 'h2', namespace: 'tenant-a', labels: parseLabels('app=web,tier=front'), ip: '10.244.3.7' });
  assert.equal([c.name, c.netns, c.host, c.namespace, c.containerId, c.added], ['my-web', 'x-c-my-web', 'h2', 'tenant-a', 'my-web', true]);
  const env = cniEnv(c, 'ADD');
  assert.is(env.CNI_ARGS, 'K8S_POD_NAMESPACE=tenant-a;K8S_POD_NAME=my-web;TRELLIS_LABELS=app=web,tier=front;IP=10.244.3.7');
  assert.is(env.CNI_CONTAINERID, 'my-web', 'the container name is what the runtime passes');
  assert.is(cniEnv(p.containers[0]!, 'ADD').CNI_ARGS, 'K8S_POD_NAMESPACE=tenant-a;K8S_POD_NAME=h1-a-web;TRELLIS_LABELS=app=web', 'the built-in containers');
  assert.throws(() => planAddedContainer(p, { name: 'h1-a-web', host: 'h1', namespace: 'tenant-a', labels: {} }), /already in the lab/);
  assert.throws(() => planAddedContainer(p, { name: 'ok', host: 'h7', namespace: 'tenant-a', labels: {} }), /--host h7: no such host \(hosts: h1, h2\)/);
  assert.throws(() => planAddedContainer(p, { name: 'Bad_Name', host: 'h1', namespace: 'tenant-a', labels: {} }), /name "Bad_Name"/);
  assert.throws(() => parseLabels('app'), /--labels: "app" is not key=value/);
});

test('--runtime: cni (the default) or docker; a docker lab\'s trellisd serves the plugin its dockerd discovers; docker commands as the lab runs them', () => {
  assert.is(parseRuntime('docker'), 'docker');
  assert.throws(() => parseRuntime('podman'), /--runtime podman: unknown runtime \(runtimes: cni, docker\)/);
  assert.is(runtimeOf(planLab({ prefix: 'x-', hosts: 1, etcdMembers: 1 })), 'cni', 'the default runtime');
  const { runtime: _r, ...old } = planLab({ prefix: 'x-', hosts: 1, etcdMembers: 1 });
  assert.is(runtimeOf(old), 'cni', 'records from before runtimes are cni labs');
  const p = planLab({ prefix: 'x-', hosts: 2, etcdMembers: 1, runtime: 'docker' });
  assert.equal(p.containers.map((c) => c.name), planLab({ prefix: 'x-', hosts: 2, etcdMembers: 1 }).containers.map((c) => c.name), 'the same containers as the default lab');
  const conf = trellisdConfigYaml(p, p.hosts[1]!, '/l', DEFAULT_TIMERS);
  assert.match(conf, /^dockerSocket: \/l\/h2\/docker\/plugins\/trellis\.sock$/m, conf);
  assert.match(conf, /^dockerApiSocket: \/l\/h2\/docker\/docker\.sock$/m, conf);
  assert.not.match(trellisdConfigYaml(planLab({ prefix: 'x-', hosts: 1, etcdMembers: 1 }), p.hosts[0]!, '/l', DEFAULT_TIMERS), /docker/, 'a cni lab serves no Docker plugin');
  assert.equal(networkCreateArgs(p, 'tenant-a'), [
    'network', 'create', '-d', 'trellis', '--ipam-driver', 'trellis', '--subnet', '10.244.0.0/16',
    '-o', 'trellis.namespace=tenant-a', '-o', 'trellis.profiles=tenant-a', 'tenant-a',
  ]);
  const c = planAddedContainer(p, { name: 'my-web', host: 'h2', namespace: 'tenant-a', labels: parseLabels('app=web,tier=front'), ip: '10.244.3.7' });
  assert.equal(dockerRunArgs(c), [
    'run', '-d', '--stop-timeout', '1', '--name', 'my-web', '--net', 'tenant-a', '--label', 'app=web', '--label', 'tier=front', '--ip', '10.244.3.7',
    'local/busybox', 'nc', `-${'l'.repeat(32)}`, '-p', '80', '-e', 'echo', 'ok',
  ]);
  assert.is(dockerCgroup(p, p.hosts[0]!), 'x-docker-h1', 'the cgroup carries the lab\'s prefix');
});

test('forwards: socat on a unix socket inside, on a loopback port outside', () => {
  assert.equal(forwardArgv('/l/fwd/etcd-e1.sock', 40000, '10.10.0.2:2379'), {
    inside: ['socat', 'UNIX-LISTEN:/l/fwd/etcd-e1.sock,fork,unlink-early,mode=600', 'TCP:10.10.0.2:2379'],
    outside: ['socat', 'TCP-LISTEN:40000,bind=127.0.0.1,fork,reuseaddr', 'UNIX-CONNECT:/l/fwd/etcd-e1.sock'],
  });
});

test('prep.sh runs the install check and the build only when their inputs changed', () => {
  // A stand-in checkout: the real prep.sh, a .ci/install and an npm that only note they ran.
  const root = mkdtempSync(join(tmpdir(), 'trellis-prep-'));
  try {
    const ran = join(root, 'ran.txt');
    for (const d of ['src/lab', '.ci', 'bin']) mkdirSync(join(root, d), { recursive: true });
    copyFileSync(join(import.meta.dirname, '../../src/lab/prep.sh'), join(root, 'src/lab/prep.sh'));
    writeFileSync(join(root, '.ci/install'), `echo install >> ${ran}\n`);
    writeFileSync(join(root, 'bin/npm'), `#!/bin/sh\necho build >> ${ran}\n`, { mode: 0o755 });
    for (const f of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'src/a.ts']) writeFileSync(join(root, f), '{}');
    const old = new Date(Date.now() - 60_000);
    for (const f of ['.ci/install', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'src/a.ts']) utimesSync(join(root, f), old, old);
    const prep = (what: string, env: Record<string, string> = {}) => {
      const r = spawnSync('bash', [join(root, 'src/lab/prep.sh'), what], { env: { ...process.env, PATH: `${join(root, 'bin')}:${process.env.PATH ?? ''}`, TRELLIS_LAB_FORCE: '', ...env }, encoding: 'utf8' });
      assert.is(r.status, 0, `prep.sh ${what}: ${r.stderr}`);
    };
    const runs = () => (existsSync(ran) ? readFileSync(ran, 'utf8').trim().split('\n') : []);
    prep('install'); prep('build');
    assert.equal(runs(), ['install', 'build'], 'the first time both run');
    prep('install'); prep('build');
    assert.equal(runs(), ['install', 'build'], 'nothing changed: neither runs again');
    writeFileSync(join(root, 'src/a.ts'), '{"changed":1}');
    prep('install'); prep('build');
    assert.equal(runs(), ['install', 'build', 'build'], 'a source changed: only the build runs');
    writeFileSync(join(root, 'package-lock.json'), '{"changed":1}');
    prep('install'); prep('build');
    assert.equal(runs(), ['install', 'build', 'build', 'install'], 'the lock file changed: only the install runs');
    prep('build', { TRELLIS_LAB_FORCE: '1' });
    assert.equal(runs().at(-1), 'build', 'TRELLIS_LAB_FORCE=1 builds whatever the stamps say');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a zombie counts as gone (init may reap it late)', async () => {
  // bash starts a short sleep, then becomes a long one that never waits for it: a zombie.
  const parent = spawn('bash', ['-c', 'sleep 0.1 & echo $!; exec sleep 10'], { stdio: ['ignore', 'pipe', 'ignore'] });
  try {
    const pid = await new Promise<number>((r) => parent.stdout.once('data', (b: Buffer) => r(Number(String(b).trim()))));
    const start = processStat(pid)?.startTime ?? null;
    for (let i = 0; i < 50 && processStat(pid)?.state !== 'Z'; i++) await new Promise((r) => setTimeout(r, 50));
    assert.is(processStat(pid)?.state, 'Z', 'the child is a zombie');
    assert.not.ok(isAlive({ pid, startTime: start }), 'isAlive says a zombie is gone');
  } finally {
    parent.kill('SIGKILL');
  }
});

test.run();
