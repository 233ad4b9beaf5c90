// trellis-cni's locks. Host locks (abstract unix sockets, separate plugin processes): one
// holder at a time per network namespace, handed on when the holder lets go, freed by the
// kernel when the holder is killed (no stale lock), and independent between namespaces
// (each is its own host). Process locks (trellisd): calls with one key run in order.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { processLocks } from '../../src/cni/locks.js';
import { createNetns, testNetnsPrefix, type Netns } from '../../src/lab/index.js';

const ROOT = resolve(import.meta.dirname, '../..');
const namespaces: Netns[] = [];
const children: ChildProcess[] = [];

interface Holder { proc: ChildProcess; lines: string[]; next(): Promise<string> }

/** A process in `ns` that takes lock `what`; next() resolves with each line it prints. */
function holder(ns: Netns, what: string, waitMs: number): Holder {
  const proc = spawn('ip', ['netns', 'exec', ns.name, process.execPath, '--import', 'tsx', join(ROOT, 'test/cni/_hold-lock.ts'), what, String(waitMs)], {
    cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'],
  });
  children.push(proc);
  const lines: string[] = [];
  const waiting: Array<(l: string) => void> = [];
  let buf = '';
  let read = 0;
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
      while (waiting.length && read < lines.length) waiting.shift()!(lines[read++]!);
    }
  });
  proc.on('exit', (code, signal) => { while (waiting.length) waiting.shift()!(`exited ${code ?? signal}`); });
  return {
    proc, lines,
    next: () => new Promise((r) => {
      if (read < lines.length) r(lines[read++]!);
      else if (proc.exitCode !== null || proc.signalCode !== null) r(`exited ${proc.exitCode ?? proc.signalCode}`);
      else waiting.push(r);
    }),
  };
}

const exited = (p: ChildProcess) => new Promise((r) => { if (p.exitCode !== null || p.signalCode !== null) r(null); else p.once('exit', r); });

test.after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) { c.kill('SIGKILL'); await exited(c); }
  for (const ns of namespaces) await ns.destroy();
});

test('a host lock has one holder; it passes on at release, and a killed holder leaves no stale lock', async () => {
  const ns = await createNetns(`${testNetnsPrefix()}lk1`);
  namespaces.push(ns);
  const a = holder(ns, 'ipam', 60_000);
  assert.is(await a.next(), 'held', 'the first process takes the free lock');
  const impatient = holder(ns, 'ipam', 300);
  assert.match(await impatient.next(), /^refused 11 .*held the ipam lock/, 'a second process cannot take it while the first holds it, and gives up with "try again later" (11)');
  const b = holder(ns, 'ipam', 120_000);
  a.proc.stdin!.end();
  assert.is(await a.next(), 'released');
  assert.is(await b.next(), 'held', 'a waiting process gets the lock when the holder lets go');
  b.proc.kill('SIGKILL');
  await exited(b.proc);
  const c = holder(ns, 'ipam', 120_000);
  assert.is(await c.next(), 'held', 'the lock of a killed holder is free again');
  const other = holder(ns, 'container/abc', 300);
  assert.is(await other.next(), 'held', 'a lock of another name is independent');
  other.proc.stdin!.end();
  c.proc.stdin!.end();
  assert.is(await c.next(), 'released');
});

test('host locks belong to the network namespace: another host does not wait', async () => {
  const [n1, n2] = [await createNetns(`${testNetnsPrefix()}lk2`), await createNetns(`${testNetnsPrefix()}lk3`)];
  namespaces.push(n1, n2);
  const a = holder(n1, 'ipam', 60_000);
  assert.is(await a.next(), 'held');
  const b = holder(n2, 'ipam', 300);
  assert.is(await b.next(), 'held', 'the same lock name in another namespace is another lock');
  a.proc.stdin!.end();
  b.proc.stdin!.end();
  await Promise.all([exited(a.proc), exited(b.proc)]);
});

test('process locks run calls with one key in arrival order, and other keys alongside', async () => {
  const locks = processLocks();
  const log: string[] = [];
  let openFirst!: () => void;
  const firstMayEnd = new Promise<void>((r) => { openFirst = r; });
  const first = locks.container('c1', async () => { log.push('c1 first start'); await firstMayEnd; log.push('c1 first end'); });
  const second = locks.container('c1', async () => { log.push('c1 second'); });
  const failing = locks.ipam(async () => { throw new Error('boom'); });
  const afterFailure = locks.ipam(async () => 'ran');
  const other = locks.container('c2', async () => { log.push('c2'); });
  await other;
  assert.equal(log, ['c1 first start', 'c2'], 'c2 runs while c1 is busy; the second c1 call waits');
  openFirst();
  await Promise.all([first, second]);
  assert.equal(log, ['c1 first start', 'c2', 'c1 first end', 'c1 second'], 'the second c1 call ran after the first ended');
  assert.is(await failing.catch((e: Error) => e.message), 'boom');
  assert.is(await afterFailure, 'ran', 'a failed holder does not block the next');
});

test.run();
