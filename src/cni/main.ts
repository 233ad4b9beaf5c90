#!/usr/bin/env node
// trellis-cni: the CNI plugin. The runtime passes CNI_* variables and the network
// configuration on stdin; the result (or the spec's error object) goes to stdout, logs to
// stderr or the configured logFile. Exit code 0 on success, 1 on error.
import { readFileSync } from 'node:fs';
import { pino, destination } from 'pino';
import { parseEnv, parseNetConf, type NetConf, type StoreSettings } from './config.js';
import { cmdAdd, cmdCheck, cmdDel, toCniError, type CniStore } from './commands.js';
import { CNI_ERR, CniError, encodeError, isSupported, versionResult } from './spec.js';

/** No CNI call may hang the runtime: past this, the call fails with "try again later". */
const DEADLINE_MS = Number(process.env.TRELLIS_CNI_TIMEOUT_MS ?? 60_000);

function out(obj: Record<string, unknown> | null): void {
  if (obj) process.stdout.write(JSON.stringify(obj) + '\n');
}

/** TRELLIS_CNI_TIMING=1: one JSON line on stderr with where the time went (for the benchmark). */
const timing: Record<string, number> = {};
const mark = (name: string) => { timing[name] = Math.round(performance.now() * 10) / 10; };

async function main(): Promise<number> {
  mark('modulesLoaded');
  let version = '1.0.0';
  try {
    const env = parseEnv(process.env);
    const stdin = readFileSync(0, 'utf8');
    if (env.command === 'VERSION') {
      let asked = '1.0.0';
      try { const v = (JSON.parse(stdin || '{}') as { cniVersion?: unknown }).cniVersion; if (typeof v === 'string' && isSupported(v)) asked = v; } catch { /* default */ }
      out(versionResult(asked));
      return 0;
    }
    const conf: NetConf = parseNetConf(stdin);
    version = conf.cniVersion;
    const log = pino(
      { name: 'trellis-cni', level: conf.logLevel ?? 'warn', base: { name: 'trellis-cni', command: env.command } },
      destination(conf.logFile ? { dest: conf.logFile, sync: true, mkdir: true } : { fd: 2, sync: true }),
    );
    // Loaded only when a command needs etcd: etcd3 and gRPC are most of the start-up cost.
    const { openStore } = await import('../store/index.js');
    mark('storeLoaded');
    const deps = {
      log,
      env: process.env,
      openStore: (s: StoreSettings): CniStore => openStore({ ...s, dialTimeoutMs: 5000 }),
    };
    const timer = setTimeout(() => {
      out(encodeError(version, new CniError(CNI_ERR.TRY_AGAIN_LATER, `${env.command} did not finish within ${DEADLINE_MS} ms (etcd unreachable?)`)));
      process.exit(1);
    }, DEADLINE_MS);
    timer.unref();
    if (env.command === 'ADD') out(await cmdAdd(env, conf, deps));
    else if (env.command === 'DEL') await cmdDel(env, conf, deps);
    else await cmdCheck(env, conf, deps);
    return 0;
  } catch (e) {
    out(encodeError(version, toCniError(e)));
    return 1;
  }
}

const code = await main();
mark('done');
if (process.env.TRELLIS_CNI_TIMING === '1') process.stderr.write(`${JSON.stringify({ timingMs: timing })}\n`);
// The etcd client keeps sockets open for a while after close: do not wait for them.
process.exit(code);
