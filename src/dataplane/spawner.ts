// Kernel tools are started by a small helper process, not by trellisd itself. Node starts a
// process by forking the whole parent first: at trellisd's size (a few hundred MB) that
// held its event loop 4-10 ms per command, on the path from an etcd change to the kernel,
// and an endpoint add runs four. From a helper of a few tens of MB a start costs about
// 1.5 ms, and it holds nothing of trellisd's. One helper per process, started on first use,
// started again if it dies (the commands it was running fail, and the caller retries).
import { fork, type ChildProcess } from 'node:child_process';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface SpawnRequest {
  id: number;
  argv: string[];
  input: string;
  timeoutMs: number;
  /** A tool that reads all its stdin before acting: keep an instance started ahead of need. */
  warm: boolean;
}
export interface SpawnReply { id: number; stdout: string; stderr: string; exitCode: number }
export type SpawnResult = Omit<SpawnReply, 'id'>;
/** The child's note of a tool it started or that ended (see ownPid). */
export type SpawnPidNote = { started: number } | { exited: number };

/** How long an ended tool's pid still counts as ours: nft monitor's report of its write may trail its exit. */
const EXITED_PID_GRACE_MS = 5000;
/** Tools the helper runs (pid -> when it ended, 0 while it runs). */
const ownPids = new Map<number, number>();

function notePid(note: SpawnPidNote): void {
  if ('started' in note) {
    ownPids.set(note.started, 0);
    return;
  }
  const now = Date.now();
  ownPids.set(note.exited, now);
  for (const [pid, ended] of ownPids) if (ended !== 0 && now - ended > EXITED_PID_GRACE_MS) ownPids.delete(pid);
}

/** Whether a process is (or just was) a tool this process's command helper started: a kernel write of ours. */
export function ownPid(pid: number): boolean {
  return ownPids.has(pid);
}

export interface Spawner {
  run(argv: string[], input: string, timeoutMs: number, warm?: boolean): Promise<SpawnResult>;
}

const here = fileURLToPath(import.meta.url);
// spawner-child.js next to this file in dist/, spawner-child.ts under tsx (tests).
const CHILD = fileURLToPath(new URL(`./spawner-child${extname(here)}`, import.meta.url));

/** The loader flags the child needs to load its module the way this one was (tsx in tests), nothing else. */
function loaderArgs(execArgv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const a = execArgv[i]!;
    if (/^--(import|require|loader|experimental-loader)$/.test(a) && i + 1 < execArgv.length) out.push(a, execArgv[++i]!);
    else if (/^--(import|require|loader|experimental-loader)=/.test(a)) out.push(a);
  }
  return out;
}

function startHelper(): Spawner & { child: ChildProcess } {
  const child = fork(CHILD, [], { execArgv: loaderArgs(process.execArgv), serialization: 'advanced', stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const pending = new Map<number, { resolve: (r: SpawnResult) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  // The channel keeps a process alive only while a command is out: an idle helper must not
  // keep trellisctl (or a test) from exiting.
  const settle = () => {
    if (pending.size > 0) return;
    child.channel?.unref();
    child.unref();
  };
  settle();
  child.on('message', (msg: SpawnReply | SpawnPidNote) => {
    if (!('id' in msg)) {
      notePid(msg);
      return;
    }
    const reply = msg;
    const p = pending.get(reply.id);
    if (!p) return;
    pending.delete(reply.id);
    settle();
    p.resolve({ stdout: reply.stdout, stderr: reply.stderr, exitCode: reply.exitCode });
  });
  const fail = (why: string) => {
    if (helper === self) helper = null;
    for (const p of pending.values()) p.reject(new Error(`command helper ${why}`));
    pending.clear();
  };
  child.on('exit', (code, signal) => fail(`exited (${code ?? signal})`));
  child.on('disconnect', () => fail('exited (its channel closed)'));
  child.on('error', (err) => fail(`failed: ${err.message}`));
  const self = {
    child,
    run(argv: string[], input: string, timeoutMs: number, warm = false): Promise<SpawnResult> {
      return new Promise((resolve, reject) => {
        const id = nextId++;
        pending.set(id, { resolve, reject });
        child.ref();
        child.channel?.ref();
        const req: SpawnRequest = { id, argv, input, timeoutMs, warm };
        child.send(req, (err) => {
          if (!err) return;
          pending.delete(id);
          settle();
          reject(new Error(`command helper unreachable: ${err.message}`));
        });
      });
    },
  };
  return self;
}

let helper: (Spawner & { child: ChildProcess }) | null = null;

/** The process's command helper (started now if it is not running). */
export function sharedSpawner(): Spawner {
  helper ??= startHelper();
  return helper;
}

/** The helper's pid while it runs (tests: to stop it, and to find the tools it holds ready). */
export function spawnerPid(): number | undefined {
  return helper?.child.pid;
}
