// trellis-cni handing its calls to trellisd over the CNI socket: the same answers as when it
// does the work itself, a garbage request refused without taking the server down, and the
// in-process fallback when nobody listens.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { hostVethName } from '../../src/workload/index.js';
import { ipamUsage } from '../../src/ipam/index.js';
import type { Netns } from '../../src/lab/index.js';
import { ROOT, containerId, netConf, runPlugin, setupHarness, type Harness, type PluginResult } from './_harness.js';

let h: Harness;
let server: ChildProcess;
let sock: string;
let serverLog: string;
const sandbox = (tag: string): Promise<Netns> => h.sandbox(tag);

async function usedAddresses(): Promise<number> {
  return (await ipamUsage(h.store)).pools.reduce((n, p) => n + p.used, 0);
}

/** Which way the call went, from the plugin's TRELLIS_CNI_TIMING line. */
function via(r: PluginResult): 'agent' | 'in-process' {
  return /"viaAgent"/.test(r.stderr) ? 'agent' : 'in-process';
}

function rawRequest(text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = createConnection(sock);
    let out = '';
    c.on('connect', () => c.end(text));
    c.on('data', (d: Buffer) => { out += d.toString(); });
    c.on('close', () => resolve(out));
    c.on('error', reject);
  });
}

test.before(async () => {
  h = await setupHarness('cnis', [{ name: 'p1', cidr: '10.61.0.0/24' }]);
  sock = join(h.dir, 'run', 'cni.sock');
  serverLog = join(h.dir, 'agent-socket.log');
  server = spawn('ip', ['netns', 'exec', h.host.name, process.execPath, '--import', 'tsx', join(ROOT, 'test/cni/_agent-socket.ts'), sock, serverLog], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    server.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('serving')) resolve(); });
    server.on('exit', (code) => reject(new Error(`CNI socket server exited ${code}`)));
  });
});
test.after(async () => {
  if (server?.exitCode === null) {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
  }
  await h?.stop();
});

test('the socket is root-only and ADD, CHECK and DEL through trellisd do what the plugin does itself', async () => {
  assert.is((await import('node:fs')).statSync(sock).mode & 0o777, 0o600, 'socket mode 0600');
  const viaAgent = { TRELLIS_CNI_SOCKET: sock, TRELLIS_CNI_TIMING: '1' };
  const alone = { TRELLIS_CNI_SOCKET: '', TRELLIS_CNI_TIMING: '1' };
  const [c1, c2] = [await sandbox('sa1'), await sandbox('sa2')];
  const call = (n: number, ns: Netns, command: 'ADD' | 'CHECK' | 'DEL', env: Record<string, string>, conf = netConf(h)) =>
    runPlugin(h, { command, containerID: containerId(n), netns: `/run/netns/${ns.name}`, ifname: 'eth0', env }, conf);
  const a = await call(1, c1, 'ADD', viaAgent);
  const b = await call(2, c2, 'ADD', alone);
  assert.equal([a.code, via(a), b.code, via(b)], [0, 'agent', 0, 'in-process'], `${a.stdout} ${a.stderr} ${b.stdout}`);
  const shape = (r: PluginResult) => JSON.stringify(r.json, (k, v: unknown) => (['address', 'mac', 'name', 'sandbox'].includes(k) ? typeof v : v));
  assert.is(shape(a), shape(b), 'the same result shape either way');
  assert.ok((await h.host.run(['ip', '-o', 'link', 'show'])).includes(hostVethName(containerId(1), 'eth0')), 'the daemon created the host veth in the host namespace');
  const check = await call(1, c1, 'CHECK', viaAgent, netConf(h, { prevResult: a.json }));
  assert.equal([check.code, via(check)], [0, 'agent'], check.stdout);
  for (const [n, ns] of [[1, c1], [2, c2]] as const) {
    const d = await call(n, ns, 'DEL', viaAgent);
    assert.equal([d.code, via(d)], [0, 'agent'], d.stdout);
  }
  assert.is((await h.store.list('WorkloadEndpoint')).length, 0, 'both endpoints gone');
  assert.not.ok((await h.host.run(['ip', '-o', 'link', 'show'])).includes(hostVethName(containerId(1), 'eth0')), 'host veth gone');
});

test('errors through trellisd are the spec\'s error objects, with the same code and message', async () => {
  const c = await sandbox('se');
  const bad = netConf(h, { mtu: 5 });
  const run = (env: Record<string, string>) => runPlugin(h, { command: 'ADD', containerID: containerId(9), netns: `/run/netns/${c.name}`, ifname: 'eth0', env }, bad);
  const [x, y] = [await run({ TRELLIS_CNI_SOCKET: sock }), await run({ TRELLIS_CNI_SOCKET: '' })];
  assert.equal([x.code, x.json?.code], [1, 7], x.stdout);
  assert.is(x.stdout, y.stdout, 'byte for byte the same error');
  // The daemon says it too: one warn line naming the call, its code and the runtime's message.
  const lines = readFileSync(serverLog, 'utf8').split('\n').filter((l) => l.includes(containerId(9)));
  assert.is(lines.length, 1, `one log line for the failed call, got:\n${lines.join('\n')}`);
  assert.is(lines[0]!.split('"containerID"').length - 1, 1, `containerID once in the line: ${lines[0]}`);
  const line = JSON.parse(lines[0]!) as Record<string, unknown>;
  assert.equal({ level: line.level, msg: line.msg, sub: line.sub, command: line.command, containerID: line.containerID, ifname: line.ifname, code: line.code, error: line.error },
    { level: 40, msg: 'CNI call failed', sub: 'cni-socket', command: 'ADD', containerID: containerId(9), ifname: 'eth0', code: 7, error: x.json?.msg }, `the failure's log line: ${lines[0]}`);
});

test('a garbage or oversized request is refused with an error object, and the server keeps serving', async () => {
  const garbage = JSON.parse(await rawRequest('not json\n')) as { code: number; stdout: string };
  assert.is(garbage.code, 1);
  assert.is((JSON.parse(garbage.stdout) as { code: number }).code, 6, garbage.stdout);
  const wrongShape = JSON.parse(await rawRequest('{"env": {"CNI_COMMAND": 1}, "stdin": ""}\n')) as { stdout: string };
  assert.match((JSON.parse(wrongShape.stdout) as { msg: string }).msg, /must be \{"env"/);
  const huge = await rawRequest('x'.repeat(2 * 1024 * 1024)).catch(() => '');
  assert.ok(huge === '' || /exceeds/.test(huge), `oversized: ${huge.slice(0, 200)}`);
  const c = await sandbox('sg');
  const ok = await runPlugin(h, { command: 'ADD', containerID: containerId(20), netns: `/run/netns/${c.name}`, ifname: 'eth0', env: { TRELLIS_CNI_SOCKET: sock, TRELLIS_CNI_TIMING: '1' } }, netConf(h));
  assert.equal([ok.code, via(ok)], [0, 'agent'], `still serving: ${ok.stdout}`);
  await runPlugin(h, { command: 'DEL', containerID: containerId(20), netns: `/run/netns/${c.name}`, ifname: 'eth0', env: { TRELLIS_CNI_SOCKET: sock } }, netConf(h));
});

test('with no trellisd listening the plugin does the work itself', async () => {
  const gone = join(h.dir, 'nobody.sock');
  assert.not.ok(existsSync(gone));
  const c = await sandbox('sf');
  const r = await runPlugin(h, { command: 'ADD', containerID: containerId(30), netns: `/run/netns/${c.name}`, ifname: 'eth0', env: { TRELLIS_CNI_TIMING: '1' } }, netConf(h, { agentSocket: gone }));
  assert.equal([r.code, via(r)], [0, 'in-process'], r.stdout);
  const d = await runPlugin(h, { command: 'DEL', containerID: containerId(30), netns: `/run/netns/${c.name}`, ifname: 'eth0' }, netConf(h, { agentSocket: gone }));
  assert.is(d.code, 0, d.stdout);
});

test('12 ADDs at once, plugin processes alone and through trellisd: each its own address, all freed by DEL', async () => {
  const n = 12;
  const boxes = await Promise.all(Array.from({ length: n }, (_, i) => sandbox(`sp${i}`)));
  for (const [mode, env, base] of [['in-process', { TRELLIS_CNI_SOCKET: '' }, 100], ['agent', { TRELLIS_CNI_SOCKET: sock }, 200]] as const) {
    const call = (command: 'ADD' | 'DEL', i: number) => runPlugin(h, {
      command, containerID: containerId(base + i), netns: `/run/netns/${boxes[i]!.name}`, ifname: 'eth0', env: { ...env, TRELLIS_CNI_TIMING: '1' },
    }, netConf(h));
    const adds = await Promise.all(boxes.map((_, i) => call('ADD', i)));
    for (const r of adds) assert.equal([r.code, via(r)], [0, mode], `${mode} ADD: ${r.stdout} ${r.stderr.slice(0, 300)}`);
    const addresses = adds.map((r) => (r.json?.ips as Array<{ address: string }>)[0]!.address);
    assert.is(new Set(addresses).size, n, `${mode}: ${n} different addresses (${addresses.join(' ')})`);
    assert.is((await h.store.list('WorkloadEndpoint')).length, n, `${mode}: ${n} endpoints`);
    const dels = await Promise.all(boxes.map((_, i) => call('DEL', i)));
    for (const r of dels) assert.equal([r.code, via(r)], [0, mode], `${mode} DEL: ${r.stdout}`);
    assert.is((await h.store.list('WorkloadEndpoint')).length, 0, `${mode}: every endpoint gone after DEL`);
    const held = await usedAddresses();
    assert.is(held, 0, `${mode}: every address released after DEL`);
  }
});

test('two ADDs for one container at once: one wins, the other fails without undoing it', async () => {
  for (const [mode, env, id] of [['in-process', { TRELLIS_CNI_SOCKET: '' }, 300], ['agent', { TRELLIS_CNI_SOCKET: sock }, 301]] as const) {
    const c = await sandbox(`sr${id}`);
    const call = (command: 'ADD' | 'CHECK' | 'DEL', conf = netConf(h)) => runPlugin(h, { command, containerID: containerId(id), netns: `/run/netns/${c.name}`, ifname: 'eth0', env }, conf);
    const both = await Promise.all([call('ADD'), call('ADD')]);
    const won = both.filter((r) => r.code === 0);
    assert.is(won.length, 1, `${mode}: exactly one ADD succeeds: ${both.map((r) => r.stdout).join(' | ')}`);
    const lost = both.find((r) => r.code !== 0)!;
    assert.ok(typeof lost.json?.code === 'number' && typeof lost.json?.msg === 'string', `${mode}: the loser gets an error object: ${lost.stdout}`);
    const check = await call('CHECK', netConf(h, { prevResult: won[0]!.json }));
    assert.is(check.code, 0, `${mode}: the winner's interface, address and endpoint are intact: ${check.stdout}`);
    const d = await call('DEL');
    assert.is(d.code, 0, d.stdout);
  }
});

test('plugin processes: a call waits for another on the same container; a stuck IPAM lock holder only slows ADD down', async () => {
  const c = await sandbox('sl');
  const id = containerId(400);
  const call = (command: 'ADD' | 'DEL', env: Record<string, string> = {}) =>
    runPlugin(h, { command, containerID: id, netns: `/run/netns/${c.name}`, ifname: 'eth0', env: { TRELLIS_CNI_SOCKET: '', ...env } }, netConf(h));
  const hold = async (what: string) => {
    const p = spawn('ip', ['netns', 'exec', h.host.name, process.execPath, '--import', 'tsx', join(ROOT, 'test/cni/_hold-lock.ts'), what, '60000'], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
    const line = await new Promise<string>((resolve) => {
      p.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim()));
      p.once('exit', (code) => resolve(`exited ${code}`));
    });
    assert.is(line, 'held', `a stand-in process holds the ${what} lock in the host namespace`);
    return async () => { p.stdin!.end(); await new Promise((r) => { if (p.exitCode !== null) r(null); else p.once('exit', r); }); };
  };
  const releaseContainer = await hold(`container/${id}`);
  const blocked = await call('ADD', { TRELLIS_CNI_TIMEOUT_MS: '1500' });
  await releaseContainer();
  assert.equal([blocked.code, blocked.json?.code], [1, 11], `ADD behind another call for the container gives up with "try again later": ${blocked.stdout}`);
  assert.is((await h.store.list('WorkloadEndpoint')).length, 0, 'and has changed nothing');
  assert.is(await usedAddresses(), 0, 'no address was taken');
  const releaseIpam = await hold('ipam');
  try {
    const r = await call('ADD');
    assert.is(r.code, 0, `ADD goes ahead without the IPAM lock when its holder does not let go: ${r.stdout}`);
    const d = await call('DEL');
    assert.is(d.code, 0, `so does DEL: ${d.stdout}`);
  } finally {
    await releaseIpam();
  }
});

test.run();
