// Who may run at the same time. Calls for one container run one after another (a runtime
// that times out an ADD and sends DEL must not have them interleave), and IPAM changes on
// one host queue instead of racing: parallel allocations on one host all read the same
// block, so all but one would lose the compare-and-swap and retry, again and again under
// a burst of 20. The CAS stays the guarantee of correctness (across hosts, and when a
// plugin process stops waiting for the IPAM lock); the locks only remove wasted work.
//
// trellisd holds the locks in memory (every call it runs is in its process). Separate
// plugin processes use abstract unix sockets as locks: binding the name is atomic, and
// the kernel frees it when the holder exits, however it exits, so a crashed plugin
// never leaves a stale lock behind (lock files would, and Node has no flock). The
// abstract namespace belongs to the network namespace, which is exactly the host a
// plugin works for (a runtime runs its plugins in the host's namespace; in the lab and
// the tests each host is its own namespace, and each gets its own locks).
import { createHash } from 'node:crypto';
import { createConnection, createServer, type Socket } from 'node:net';
import { CNI_ERR, CniError } from './spec.js';

export interface CallLocks {
  /** Runs fn when no other call for this container is running on this host. */
  container<T>(containerID: string, fn: () => Promise<T>): Promise<T>;
  /** Runs fn when no other IPAM change (allocate, release) is running on this host. */
  ipam<T>(fn: () => Promise<T>): Promise<T>;
}

/** Runs fn after every earlier call with the same key has settled. */
function keyedQueue(): <T>(key: string, fn: () => Promise<T>) => Promise<T> {
  const tails = new Map<string, Promise<unknown>>();
  return async (key, fn) => {
    const run = (tails.get(key) ?? Promise.resolve()).catch(() => undefined).then(fn);
    tails.set(key, run);
    try {
      return await run;
    } finally {
      if (tails.get(key) === run) tails.delete(key);
    }
  };
}

/** The locks trellisd uses: every call it runs shares one process. */
export function processLocks(): CallLocks {
  const queue = keyedQueue();
  return {
    container: (id, fn) => queue(`container/${id}`, fn),
    ipam: (fn) => queue('ipam', fn),
  };
}

/** Abstract socket names are limited to 107 bytes; long container IDs are hashed. */
function lockName(what: string): string {
  const name = `trellis-cni/${what}`;
  return name.length <= 100 ? name : `trellis-cni/h/${createHash('sha256').update(what).digest('hex')}`;
}

/** Resolves when the holder of `name` lets go (its listener goes away), or after at most maxMs. */
function released(name: string, maxMs: number): Promise<void> {
  return new Promise((resolve) => {
    const c = createConnection({ path: `\0${name}` });
    const done = () => { clearTimeout(timer); c.destroy(); resolve(); };
    // A holder that was slow to accept, or a release missed between bind and connect: look again.
    const timer = setTimeout(done, Math.max(1, Math.min(maxMs, 1000)));
    c.on('error', done);
    c.on('close', done);
  });
}

/** Holds the host-wide lock `what` until the returned function is called (or the process ends). */
export async function holdHostLock(what: string, timeoutMs: number): Promise<() => void> {
  const release = await tryHostLock(what, timeoutMs);
  if (!release) throw new CniError(CNI_ERR.TRY_AGAIN_LATER, `another trellis-cni on this host held the ${what} lock for more than ${timeoutMs} ms`);
  return release;
}

/** As holdHostLock, but null when the lock was not free within waitMs. */
export async function tryHostLock(what: string, waitMs: number): Promise<(() => void) | null> {
  const name = lockName(what);
  const deadline = Date.now() + waitMs;
  for (;;) {
    const server = createServer();
    // Waiters connect to learn when the lock is let go: closing their connections tells them.
    const waiters = new Set<Socket>();
    server.on('connection', (s) => {
      waiters.add(s);
      s.on('error', () => undefined);
      s.on('close', () => waiters.delete(s));
    });
    const err = await new Promise<NodeJS.ErrnoException | null>((resolve) => {
      server.once('error', resolve);
      server.listen({ path: `\0${name}` }, () => resolve(null));
    });
    if (!err) {
      return () => {
        server.close();
        for (const s of waiters) s.destroy();
      };
    }
    // Not "taken" but "impossible here" (a sandbox refusing abstract sockets): the locks only
    // spare wasted work (IPAM's CAS and handles keep calls correct), so go on without.
    if (err.code !== 'EADDRINUSE') return () => undefined;
    const left = deadline - Date.now();
    if (left <= 0) return null;
    await released(name, left);
  }
}

/**
 * How long a plugin process waits for the IPAM lock before it goes ahead without it. The
 * lock only saves wasted CAS rounds, so waiting has a limit: under a burst on a busy host a
 * holder starved of CPU would otherwise make every process behind it wait (the bench saw
 * ADDs of 13 s at p99 with 20 plugin processes on 2 cores and an unbounded wait).
 */
export const IPAM_LOCK_PATIENCE_MS = 1000;

/** The locks separate plugin processes on one host share. */
export function hostLocks(timeoutMs: number, ipamPatienceMs = IPAM_LOCK_PATIENCE_MS): CallLocks {
  const hold = async <T>(release: (() => void) | null, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } finally {
      release?.();
    }
  };
  return {
    // Strict: two calls for one container must never overlap.
    container: async (id, fn) => hold(await holdHostLock(`container/${id}`, timeoutMs), fn),
    ipam: async (fn) => hold(await tryHostLock('ipam', Math.min(ipamPatienceMs, timeoutMs)), fn),
  };
}
