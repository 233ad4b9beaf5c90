// Network namespaces that Trellis's tests and lab create for themselves. Everything that
// touches routes, iptables, ipsets or sysctls happens inside one of these, never in the
// root namespace; each namespace is deleted after use, with the processes inside it.
import { execa } from 'execa';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';

export interface ExecResult { stdout: string; stderr: string; exitCode: number }

export interface Netns {
  readonly name: string;
  /** Runs argv inside the namespace; throws with stderr when it exits non-zero. */
  run(argv: string[], opts?: { input?: string; timeoutMs?: number }): Promise<string>;
  /** Runs argv inside the namespace and returns its result whatever the exit code. */
  exec(argv: string[], opts?: { input?: string; timeoutMs?: number }): Promise<ExecResult>;
  /** Deletes the namespace and kills every process in it. Idempotent. */
  destroy(): Promise<void>;
}

const live = new Set<string>();

/** The prefix test namespaces get: set per test file by test/run.ts, so leftovers can be swept. */
export function testNetnsPrefix(): string {
  return process.env.TRELLIS_NETNS_PREFIX ?? `tt${process.pid.toString(36)}-`;
}

/** argv that runs a command inside a namespace (for spawning long-lived daemons). */
export function inNetns(name: string, argv: string[]): string[] {
  return ['ip', 'netns', 'exec', name, ...argv];
}

/** Runs argv inside a namespace and returns its result whatever the exit code (default timeout 30 s). */
export async function execIn(name: string, argv: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<ExecResult> {
  const r = await execa('ip', ['netns', 'exec', name, ...argv], {
    input: opts.input,
    timeout: opts.timeoutMs ?? 30_000,
    reject: false,
  });
  return { stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? ''), exitCode: r.exitCode ?? -1 };
}

export async function netnsPids(name: string): Promise<number[]> {
  const r = await execa('ip', ['netns', 'pids', name], { reject: false });
  return String(r.stdout ?? '').split(/\s+/).filter(Boolean).map(Number);
}

export async function deleteNetns(name: string): Promise<void> {
  if (!existsSync(`/run/netns/${name}`)) { live.delete(name); return; }
  for (let round = 0; round < 20; round++) {
    const pids = await netnsPids(name);
    if (pids.length === 0) break;
    for (const pid of pids) {
      try { process.kill(pid, round < 5 ? 'SIGTERM' : 'SIGKILL'); } catch { /* gone */ }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await execa('ip', ['netns', 'del', name], { reject: false });
  live.delete(name);
}

/**
 * Creates a namespace with loopback up. The name must be free; it is deleted at process exit
 * if still alive, unless `persist` is set (the lab's namespaces outlive `npm run lab up`
 * and are removed by `lab down` from its records).
 */
export async function createNetns(name: string, opts: { persist?: boolean } = {}): Promise<Netns> {
  if (existsSync(`/run/netns/${name}`)) await deleteNetns(name);
  await execa('ip', ['netns', 'add', name]);
  if (!opts.persist) {
    live.add(name);
    installExitHook();
  }
  await execa('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  const exec = (argv: string[], opts?: { input?: string; timeoutMs?: number }) => execIn(name, argv, opts);
  return {
    name,
    exec,
    async run(argv, opts) {
      const r = await exec(argv, opts);
      if (r.exitCode !== 0) throw new Error(`[netns ${name}] ${argv.join(' ')} exited ${r.exitCode}: ${r.stderr.trim() || r.stdout.trim()}`);
      return r.stdout;
    },
    destroy: () => deleteNetns(name),
  };
}

/** Joins two namespaces with a veth pair, optionally addressing and raising both ends. */
export async function connectNetns(
  a: { ns: string; ifname: string; address?: string },
  b: { ns: string; ifname: string; address?: string },
): Promise<void> {
  const tmpA = `v${Math.random().toString(36).slice(2, 10)}a`;
  const tmpB = tmpA.slice(0, -1) + 'b';
  await execa('ip', ['link', 'add', tmpA, 'type', 'veth', 'peer', 'name', tmpB]);
  try {
    for (const [tmp, end] of [[tmpA, a], [tmpB, b]] as const) {
      await execa('ip', ['link', 'set', tmp, 'netns', end.ns]);
      await execa('ip', ['-n', end.ns, 'link', 'set', tmp, 'name', end.ifname]);
      if (end.address) await execa('ip', ['-n', end.ns, 'addr', 'add', end.address, 'dev', end.ifname]);
      await execa('ip', ['-n', end.ns, 'link', 'set', end.ifname, 'up']);
    }
  } catch (err) {
    await execa('ip', ['link', 'del', tmpA], { reject: false });
    throw err;
  }
}

export function listNetns(): string[] {
  try { return readdirSync('/run/netns'); } catch { return []; }
}

/** Deletes every namespace whose name starts with prefix (the runner's safety net). */
export async function cleanupNetnsWithPrefix(prefix: string): Promise<string[]> {
  const gone = listNetns().filter((n) => n.startsWith(prefix));
  for (const n of gone) await deleteNetns(n);
  return gone;
}

let hooked = false;
function installExitHook(): void {
  if (hooked) return;
  hooked = true;
  const sweepSync = () => {
    // Synchronous: 'exit' handlers cannot await. Kill the processes, then delete.
    for (const name of live) {
      try {
        const pids = String(execFileSync('ip', ['netns', 'pids', name])).split(/\s+/).filter(Boolean).map(Number);
        for (const pid of pids) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
        execFileSync('ip', ['netns', 'del', name]);
      } catch { /* best effort */ }
    }
    live.clear();
  };
  process.on('exit', sweepSync);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => { sweepSync(); process.exit(130); });
  }
}
