// Reaching the lab from the root namespace without touching its network: for each
// service (etcd, every trellisd API) a socat inside the lab's namespace listens on a unix
// socket (the filesystem is shared across network namespaces) and a socat in the root
// namespace listens on a free loopback port and relays to that socket. The loopback URLs
// go into the context file trellisctl reads (.lab/context.json).
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
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

/** Starts both halves of one forward; name is what it serves ("etcd-e1", "api-h2"). */
export async function startForward(book: RecordBook, stateDir: string, name: string, netns: string, target: string): Promise<Forward> {
  mkdirSync(join(stateDir, 'fwd'), { recursive: true });
  const sock = join(stateDir, 'fwd', `${name}.sock`);
  const port = await freeLoopbackPort();
  const argv = forwardArgv(sock, port, target);
  const log = join(stateDir, 'logs', `fwd-${name}.log`);
  spawnDetached(book, `forward ${name} (in ${netns})`, netns, argv.inside, log);
  spawnDetached(book, `forward ${name} (127.0.0.1:${port})`, null, argv.outside, log);
  return { name, url: `http://127.0.0.1:${port}` };
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
