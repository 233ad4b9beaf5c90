// The command helper: commands run with their stdin, output and exit code intact; warm tools
// are started ahead of need yet see the kernel as it is when they are fed; a helper that dies
// fails only the commands it held, is started again on the next, and takes its idle tools along.
// And sysctls, which in the dataplane's own namespace are written without any command.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync } from 'node:fs';
import { createExec } from '../../src/dataplane/exec.js';
import { sharedSpawner, spawnerPid } from '../../src/dataplane/spawner.js';
import { createNetns, testNetnsPrefix, type Netns } from '../../src/lab/index.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Pids whose parent is `ppid`. */
function childrenOf(ppid: number): number[] {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).flatMap((d) => {
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === ppid ? [Number(d)] : [];
    } catch { return []; }
  });
}

test('runs a command with its stdin; stdout, stderr and exit code come back as they were', async () => {
  const exec = createExec();
  const r = await exec.tryRun(['sh', '-c', 'tr a-z A-Z; echo oops >&2; exit 3'], 'hello\n');
  assert.equal(r, { stdout: 'HELLO', stderr: 'oops', exitCode: 3 });
  const missing = await exec.tryRun(['/nonexistent/tool']);
  assert.is.not(missing.exitCode, 0, 'a command that cannot start fails');
  try {
    await exec.run(['false']);
    assert.unreachable('run() throws on a non-zero exit');
  } catch (err) {
    assert.match((err as Error).message, /false exited 1/);
  }
});

test('a warm command is started ahead of need: the next call finds it already running', async () => {
  const argv = ['sh', '-c', 'echo started $(date +%s%N); cat'];
  const first = await sharedSpawner().run(argv, 'one', 10_000, true);
  assert.match(first.stdout, /^started \d+\none$/);
  await sleep(300);
  const asked = BigInt(Date.now()) * 1_000_000n;
  const second = await sharedSpawner().run(argv, 'two', 10_000, true);
  const started = BigInt(/^started (\d+)/.exec(second.stdout)![1]!);
  assert.ok(started < asked, `the second instance was running before it was asked for (${started} < ${asked})`);
  assert.match(second.stdout, /\ntwo$/, 'and it got its own input');
});

test('a warm iptables-restore started before a chain existed still sees it when fed', async () => {
  const ns: Netns = await createNetns(`${testNetnsPrefix()}spw`);
  try {
    const exec = createExec(ns.name);
    const restore = ['iptables-restore', '-w', '5', '--noflush'];
    await exec.run(restore, '*filter\n:trl-first - [0:0]\nCOMMIT\n', { warm: true }); // leaves one waiting
    await exec.run(['iptables', '-N', 'trl-late']);
    await exec.run(restore, '*filter\n-A trl-late -j ACCEPT\nCOMMIT\n', { warm: true });
    assert.match(await exec.run(['iptables', '-S', 'trl-late']), /-A trl-late -j ACCEPT/);
  } finally {
    await ns.destroy();
  }
});

test('a helper that dies fails what it held, comes back for the next command, and its idle tools go with it', async () => {
  await sharedSpawner().run(['sh', '-c', 'cat'], '', 10_000, true);
  await sleep(300); // the helper starts the next instance once it has been idle a moment
  const pid = spawnerPid()!;
  const idle = childrenOf(pid);
  assert.ok(idle.length >= 1, 'the helper holds an idle tool');
  const held = createExec().tryRun(['sleep', '5']);
  await sleep(200);
  process.kill(pid, 'SIGKILL');
  const r = await held;
  assert.is(r.exitCode, -1, 'the command the helper held failed');
  assert.match(r.stderr, /command helper exited/);
  const again = await createExec().tryRun(['echo', 'back']);
  assert.equal([again.exitCode, again.stdout], [0, 'back'], 'the next command starts a new helper');
  assert.is.not(spawnerPid(), pid);
  for (let i = 0; i < 50 && idle.some(existsPid); i++) await sleep(100);
  assert.equal(idle.filter(existsPid), [], 'idle tools exit once their stdin (the helper) is gone');
});

test('in its own namespace the dataplane writes sysctls straight to /proc/sys, skipping missing interfaces only when asked', async () => {
  const ns: Netns = await createNetns(`${testNetnsPrefix()}sys`);
  try {
    await ns.run(['ip', 'link', 'add', 'trla1', 'type', 'veth', 'peer', 'name', 'trlq1']);
    const child = ['node', '--import', 'tsx', 'test/dataplane/_sysctl-child.ts'];
    const strict = JSON.parse(await ns.run(child)) as { exitCode: number; stderr: string };
    assert.is(strict.exitCode, 1, 'a key of a missing interface fails without ignoreMissing');
    assert.match(strict.stderr, /trla2/);
    const lenient = JSON.parse(await ns.run([...child, 'ignore-missing'])) as { exitCode: number; stderr: string };
    assert.equal([lenient.exitCode, lenient.stderr], [0, ''], 'missing interfaces skipped');
    const read = await ns.run(['sysctl', '-n', 'net.ipv4.conf.trla1.proxy_arp', 'net.ipv4.conf.trla1.rp_filter', 'net.ipv4.ip_forward']);
    assert.equal(read.trim().split('\n'), ['1', '1', '1'], 'written in the namespace it runs in');
  } finally {
    await ns.destroy();
  }
});

function existsPid(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test.run();
