// The spawner's child: a small Node process that runs the commands trellisd asks for (over
// the IPC channel) and answers with what they printed and how they exited. Started by
// spawner.ts; it leaves as soon as its parent does.
//
// Commands asked for "warm" (tools that do nothing until stdin says what, and read the
// kernel only then) are started ahead of need: one idle instance per command line waits on its
// stdin, so a write pays neither the process start nor the loading of the tool's libraries.
// An idle instance that is never fed just sees its stdin close and exits having done nothing.
import { execa, type ResultPromise } from 'execa';
import type { SpawnPidNote, SpawnReply, SpawnRequest } from './spawner.js';

type Sub = ResultPromise<{ reject: false; stdin: 'pipe'; maxBuffer: number }>;

const MAX_BUFFER = 512 * 1024 * 1024;
/** Replacements start once nothing has run for this long: starting one beside a write slows it. */
const REFILL_AFTER_MS = 100;
const idle = new Map<string, Sub>();
const wanted = new Map<string, readonly string[]>();
let running = 0;
let refill: NodeJS.Timeout | null = null;

function scheduleRefill(): void {
  if (refill) clearTimeout(refill);
  refill = setTimeout(() => {
    refill = null;
    if (running > 0) return;
    for (const [key, argv] of wanted) if (!idle.has(key)) idle.set(key, start(argv));
  }, REFILL_AFTER_MS);
}

function start(argv: readonly string[]): Sub {
  const [cmd, ...args] = argv;
  const sub = execa(cmd!, args, { reject: false, stdin: 'pipe', maxBuffer: MAX_BUFFER });
  sub.stdin.on('error', () => undefined); // a tool that exited early: its result says why
  // The parent tells its own kernel writes from someone else's by the pid nft monitor names;
  // it hears of the pid before the tool has read its input, so before the tool can write.
  const pid = sub.pid;
  if (pid !== undefined) {
    process.send?.({ started: pid } satisfies SpawnPidNote);
    void sub.finally(() => process.send?.({ exited: pid } satisfies SpawnPidNote));
  }
  return sub;
}

function take(req: SpawnRequest): Sub {
  if (!req.warm) return start(req.argv);
  const key = req.argv.join('\0');
  const ready = idle.get(key);
  idle.delete(key);
  return ready && ready.exitCode === null && ready.signalCode === null ? ready : start(req.argv);
}

async function run(req: SpawnRequest): Promise<SpawnReply> {
  running++;
  try {
    const sub = take(req);
    const timer = setTimeout(() => sub.kill('SIGKILL'), req.timeoutMs);
    sub.stdin.end(req.input);
    const r = await sub;
    clearTimeout(timer);
    if (req.warm) wanted.set(req.argv.join('\0'), req.argv);
    const exitCode = r.exitCode ?? -1;
    const stderr = r.isTerminated && exitCode !== 0 ? `${String(r.stderr ?? '')}\n(killed after ${req.timeoutMs} ms)` : String(r.stderr ?? '');
    return { id: req.id, stdout: String(r.stdout ?? ''), stderr, exitCode };
  } catch (err) {
    return { id: req.id, stdout: '', stderr: (err as Error).message, exitCode: -1 };
  } finally {
    running--;
    if (wanted.size > 0) scheduleRefill();
  }
}

process.on('message', (req: SpawnRequest) => {
  void run(req).then((reply) => process.send?.(reply));
});
process.on('disconnect', () => process.exit(0));
