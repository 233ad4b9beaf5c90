// Drives test/bgp/fixtures/speaker-host.ts in a child process (optionally inside a namespace).
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';

export interface SpeakerHost {
  child: ChildProcess;
  events: { event: string; [k: string]: unknown }[];
  call<T = unknown>(cmd: string, arg?: unknown): Promise<T>;
  kill(): void;
  exited: Promise<void>;
}

/** Starts a fixture from test/bgp/fixtures (default: the bare speaker) with opts as its argument. */
export function startSpeakerHost(opts: Record<string, unknown>, netns?: string, nodeArgs: string[] = [], fixtureName = 'speaker-host.ts'): SpeakerHost {
  const fixture = resolve(import.meta.dirname, 'fixtures', fixtureName);
  const argv = [process.execPath, ...nodeArgs, '--import', 'tsx', fixture, JSON.stringify(opts)];
  const child = spawn(netns ? 'ip' : argv[0]!, netns ? ['netns', 'exec', netns, ...argv] : argv.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] });
  const events: SpeakerHost['events'] = [];
  const waiting = new Map<number, { res: (v: unknown) => void; rej: (e: Error) => void }>();
  let next = 1;
  createInterface({ input: child.stdout! }).on('line', (line) => {
    let m: { id?: number; result?: unknown; error?: string; event?: string };
    try { m = JSON.parse(line); } catch { return; }
    if (m.id !== undefined) {
      const w = waiting.get(m.id); waiting.delete(m.id);
      if (m.error) w?.rej(new Error(m.error)); else w?.res(m.result);
    } else if (m.event) events.push(m as SpeakerHost['events'][number]);
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    child, events, exited,
    call: <T>(cmd: string, arg?: unknown) => new Promise<T>((res, rej) => {
      const id = next++;
      waiting.set(id, { res: res as (v: unknown) => void, rej });
      child.stdin!.write(JSON.stringify({ id, cmd, arg }) + '\n');
    }),
    kill: () => { try { child.kill('SIGKILL'); } catch { /* gone */ } },
  };
}
