// One CNI call from its inputs (CNI_* environment and the configuration on stdin) to its
// outputs (exit code and stdout: a result or the spec's error object). The same function
// serves the plugin process (the fallback when no trellisd answers) and trellisd's socket,
// so both give byte-identical answers.
import type { Logger } from 'pino';
import { parseEnv, parseNetConf, type NetConf, type StoreSettings } from './config.js';
import { cmdAdd, cmdCheck, cmdDel, cmdGc, cmdStatus, toCniError, type CniStore } from './commands.js';
import type { CallLocks } from './locks.js';
import { CNI_ERR, CniError, encodeError, isSupported, versionResult } from './spec.js';

export interface CniOutput { code: number; stdout: string }

export interface RunDeps {
  /** The logger for this call (the plugin makes one from the configuration's logLevel/logFile). */
  logger(conf: NetConf, command: string): Logger;
  openStore(s: StoreSettings): CniStore | Promise<CniStore>;
  /** No CNI call may hang the runtime: past this, the call fails with "try again later". */
  deadlineMs: number;
  /** One call per container at a time, one IPAM change per host at a time (see locks.ts). */
  locks: CallLocks;
}

const line = (obj: Record<string, unknown>) => `${JSON.stringify(obj)}\n`;

export async function runCni(env: NodeJS.ProcessEnv, stdin: string, deps: RunDeps): Promise<CniOutput> {
  let version = '1.0.0';
  try {
    const cniEnv = parseEnv(env);
    if (cniEnv.command === 'VERSION') {
      let asked = '1.0.0';
      try { const v = (JSON.parse(stdin || '{}') as { cniVersion?: unknown }).cniVersion; if (typeof v === 'string' && isSupported(v)) asked = v; } catch { /* default */ }
      return { code: 0, stdout: line(versionResult(asked)) };
    }
    const conf = parseNetConf(stdin);
    version = conf.cniVersion;
    const log = deps.logger(conf, cniEnv.command);
    const commandDeps = { log, env, openStore: deps.openStore, ipamLock: deps.locks.ipam };
    let expired = false;
    // A call that waited past its deadline behind another for the same container has already
    // been answered "try again later": it must not then start changing things.
    const forContainer = <T>(fn: () => Promise<T>) => deps.locks.container(cniEnv.containerID, async () => {
      if (expired) throw new CniError(CNI_ERR.TRY_AGAIN_LATER, `${cniEnv.command} gave up waiting for an earlier call for this container`);
      return fn();
    });
    const work = (async () => {
      switch (cniEnv.command) {
        case 'ADD': return line(await forContainer(() => cmdAdd(cniEnv, conf, commandDeps)));
        case 'DEL': await forContainer(() => cmdDel(cniEnv, conf, commandDeps)); break;
        case 'CHECK': await forContainer(() => cmdCheck(cniEnv, conf, commandDeps)); break;
        case 'GC': await cmdGc(conf, commandDeps); break;
        case 'STATUS': await cmdStatus(conf, commandDeps); break;
      }
      return '';
    })();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => { expired = true; reject(new CniError(CNI_ERR.TRY_AGAIN_LATER, `${cniEnv.command} did not finish within ${deps.deadlineMs} ms (etcd unreachable?)`)); }, deps.deadlineMs);
      timer.unref();
    });
    try {
      return { code: 0, stdout: await Promise.race([work, deadline]) };
    } finally {
      clearTimeout(timer);
      work.catch(() => undefined);
    }
  } catch (e) {
    return { code: 1, stdout: line(encodeError(version, toCniError(e))) };
  }
}
