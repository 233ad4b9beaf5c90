// What every command needs: settings from the global flags and TRELLIS_* env, a store
// opened for the duration of one command, and output helpers (results on stdout,
// diagnostics on stderr).
import type { Command } from 'commander';
import { loadClientConfig, type ClientConfig } from '../config/index.js';
import type { Store } from '../store/index.js';
import { loadContext } from './lab-context.js';

export interface GlobalFlags { etcdEndpoints?: string; config?: string }

export function globalFlags(cmd: Command): GlobalFlags {
  const o = cmd.optsWithGlobals<GlobalFlags>();
  return {
    ...(o.etcdEndpoints !== undefined ? { etcdEndpoints: o.etcdEndpoints } : {}),
    ...(o.config !== undefined ? { config: o.config } : {}),
  };
}

/** Whether a context file may supply the endpoints: nothing more explicit set them. */
function contextApplies(flags: GlobalFlags, env: NodeJS.ProcessEnv): boolean {
  return flags.etcdEndpoints === undefined && flags.config === undefined && !env.TRELLIS_ETCD_ENDPOINTS && !env.TRELLIS_CONFIG;
}

/** trellisctl settings: --etcd-endpoints / --config flags, TRELLIS_* env, a lab context (lab-context.ts), settings file. */
export function clientConfig(cmd: Command): ClientConfig {
  const flags = globalFlags(cmd);
  if (contextApplies(flags, process.env)) {
    const ctx = loadContext();
    if (ctx) return loadClientConfig({ ...flags, etcdEndpoints: ctx.context.etcdEndpoints.join(',') }, process.env);
  }
  return loadClientConfig(flags, process.env);
}

/** Opens the store for one command and closes it afterwards, whatever happens. */
export async function withStore<T>(cmd: Command, fn: (store: Store) => Promise<T>): Promise<T> {
  const cfg = clientConfig(cmd);
  const { openStore } = await import('../store/index.js');
  const store = openStore({
    ...cfg.store,
    // A command should not sit for long on an unreachable cluster.
    dialTimeoutMs: cfg.store.dialTimeoutMs ?? 3000,
    onInvalid: (etcdKey, error) => warn(`skipping invalid value at ${etcdKey}: ${error}`),
  });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

export function print(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

export function warn(text: string): void {
  process.stderr.write(`trellisctl: warning: ${text}\n`);
}
