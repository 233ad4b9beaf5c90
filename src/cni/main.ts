#!/usr/bin/env node
// trellis-cni: the CNI plugin. The runtime passes CNI_* variables and the network
// configuration on stdin; the result (or the spec's error object) goes to stdout, logs to
// stderr or the configured logFile. Exit code 0 on success, 1 on error.
//
// Fast path: when the local trellisd answers on its CNI socket, the call is handed to it
// (warm etcd connection, nothing to load). Only when nobody answers does this process do
// the work itself, loading zod, pino, etcd3 and gRPC, which is most of its cost.
import { readFileSync } from 'node:fs';
import { agentSocketOf, callAgent } from './client.js';

/** No CNI call may hang the runtime: past this, the call fails with "try again later". */
const DEADLINE_MS = Number(process.env.TRELLIS_CNI_TIMEOUT_MS ?? 60_000);

/** TRELLIS_CNI_TIMING=1: one JSON line on stderr with where the time went (for the benchmark). */
const timing: Record<string, number> = {};
const mark = (name: string) => { timing[name] = Math.round(performance.now() * 10) / 10; };

async function inProcess(stdin: string): Promise<{ code: number; stdout: string }> {
  const [{ pino, destination }, { runCni }, { openStore }, { hostLocks }] = await Promise.all([
    import('pino'), import('./run.js'), import('../store/index.js'), import('./locks.js'),
  ]);
  mark('modulesLoaded');
  return runCni(process.env, stdin, {
    deadlineMs: DEADLINE_MS,
    logger: (conf, command) => pino(
      { name: 'trellis-cni', level: conf.logLevel ?? 'warn', base: { name: 'trellis-cni', command } },
      destination(conf.logFile ? { dest: conf.logFile, sync: true, mkdir: true } : { fd: 2, sync: true }),
    ),
    openStore: (s) => openStore({ ...s, dialTimeoutMs: 5000 }),
    // Other plugin processes on this host: one call per container, one IPAM change at a time.
    locks: hostLocks(DEADLINE_MS),
  });
}

async function main(): Promise<number> {
  mark('started');
  const stdin = readFileSync(0, 'utf8');
  let out: { code: number; stdout: string } | null = null;
  if (process.env.CNI_COMMAND !== 'VERSION') {
    out = await callAgent(agentSocketOf(stdin, process.env), process.env, stdin, DEADLINE_MS);
    if (out) mark('viaAgent');
  }
  out ??= await inProcess(stdin);
  process.stdout.write(out.stdout);
  return out.code;
}

const code = await main();
mark('done');
if (process.env.TRELLIS_CNI_TIMING === '1') process.stderr.write(`${JSON.stringify({ timingMs: timing })}\n`);
// The etcd client keeps sockets open for a while after close: do not wait for them.
process.exit(code);
