// Reaching the lab from the root namespace without touching its network: for each
// service (etcd, every trellisd API) a socat inside the lab's namespace listens on a unix
// socket (the filesystem is shared across network namespaces) and a socat in the root
// namespace listens on a free loopback port and relays to that socket. The loopback URLs
// go into the context file trellisctl reads (.lab/context.json).
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { formatContext, type ClusterContext } from '../cli/index.js';
import { spawnDetached } from './procs.js';
import type { RecordBook } from './records.js';

export interface Forward { name: string; url: string }

/** A loopback port free right now (the kernel picks it; socat binds it a moment later). */
export async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** socat's argv for both halves (pure, so that it is tested as text). */
export function forwardArgv(sock: string, port: number, target: string): { inside: string[]; outside: string[] } {
  return {
    inside: ['socat', `UNIX-LISTEN:${sock},fork,unlink-early,mode=600`, `TCP:${target}`],
    outside: ['socat', `TCP-LISTEN:${port},bind=127.0.0.1,fork,reuseaddr`, `UNIX-CONNECT:${sock}`],
  };
}

/** The unix socket the inside half of forward NAME listens on. */
export function forwardSocket(stateDir: string, name: string): string {
  return join(stateDir, 'fwd', `${name}.sock`);
}

/** Starts the inside half of forward NAME ("etcd-e1", "api-h2"): from then on the lab
 *  itself reaches the target over the socket (httpOverSocket), with no process per request. */
export function startInsideForward(book: RecordBook, stateDir: string, name: string, netns: string, target: string): string {
  mkdirSync(join(stateDir, 'fwd'), { recursive: true });
  const sock = forwardSocket(stateDir, name);
  spawnDetached(book, `forward ${name} (in ${netns})`, netns, forwardArgv(sock, 0, target).inside, join(stateDir, 'logs', `fwd-${name}.log`));
  return sock;
}

/** Starts the loopback half of forward NAME (its inside half already running). */
export async function startOutsideForward(book: RecordBook, stateDir: string, name: string): Promise<Forward> {
  const sock = forwardSocket(stateDir, name);
  const port = await freeLoopbackPort();
  spawnDetached(book, `forward ${name} (127.0.0.1:${port})`, null, forwardArgv(sock, port, '').outside, join(stateDir, 'logs', `fwd-${name}.log`));
  return { name, url: `http://127.0.0.1:${port}` };
}

/** One HTTP GET over a unix socket; status 0 (and the error as body) when nothing answers
 *  or it takes longer than timeoutMs. */
export function httpOverSocket(sock: string, path: string, timeoutMs = 5000): Promise<{ status: number; body: string }> {
  return new Promise((done) => {
    const req = request({ socketPath: sock, path, method: 'GET', headers: { host: 'lab' }, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => done({ status: res.statusCode ?? 0, body }));
      res.on('error', (e) => done({ status: 0, body: e.message }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (e) => done({ status: 0, body: e.message }));
    req.end();
  });
}

export function contextPath(stateDir: string): string {
  return join(stateDir, 'context.json');
}

export function writeContext(stateDir: string, ctx: ClusterContext): string {
  const file = contextPath(stateDir);
  writeFileSync(file, formatContext(ctx));
  return file;
}

export function removeContext(stateDir: string): void {
  rmSync(contextPath(stateDir), { force: true });
  rmSync(join(stateDir, 'fwd'), { recursive: true, force: true });
}
