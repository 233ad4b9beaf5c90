// Settings that can only be judged together, checked before anything starts: a daemon
// that would refuse its API must say so at once, not after it has dialled etcd (which,
// when etcd is away, takes the whole dial timeout).
import { ApiConfigError, parseListen, requiredToken } from '../api/index.js';
import { ConfigError, type DaemonConfig, type FieldName } from '../config/index.js';

/**
 * Throws ConfigError naming the setting (and, given `sources`, the file:line or variable it
 * came from) when trellisd could not serve as configured.
 */
export function preflight(config: DaemonConfig, opts: { api: boolean; sources?: Partial<Record<FieldName, string>> }): void {
  if (!opts.api) return;
  const from = (f: FieldName) => opts.sources?.[f] ?? 'settings';
  let host: string;
  try {
    host = parseListen(config.apiListen).host;
  } catch (err) {
    throw new ConfigError('apiListen', from('apiListen'), (err as Error).message);
  }
  try {
    requiredToken(host, config.apiTokenFile);
  } catch (err) {
    const field: FieldName = config.apiTokenFile ? 'apiTokenFile' : 'apiListen';
    if (err instanceof ApiConfigError) throw new ConfigError(field, from(field), err.message);
    throw err;
  }
}
