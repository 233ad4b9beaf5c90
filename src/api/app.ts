// The HTTP API as a hono app: read-only views of the agent (health, readiness, metrics,
// status, explanations, the policy matrix) and the status page. Nothing here changes state.
import { Hono, type Context } from 'hono';
import { statusPage } from './page.js';
import { tokenMatches } from './auth.js';
import { ApiInputError, type ApiSource } from './types.js';
import { PROTOCOL_NAMES, protocolByName } from '../model/index.js';

export interface ApiAppOptions {
  source: ApiSource;
  /** When set, every request must carry `Authorization: Bearer <token>`. */
  token?: string | null;
}

function parsePort(v: string | undefined): number | undefined | Error {
  if (v === undefined || v === '') return undefined;
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 65535) return new Error(`port "${v}" must be a number 1-65535`);
  return Number(v);
}

function parseProtocol(v: string | undefined): string | Error {
  if (v === undefined || v === '') return 'TCP';
  const p = protocolByName(v);
  return p?.name ?? new Error(`protocol "${v}" must be one of ${PROTOCOL_NAMES.join(', ')}`);
}

export function createApiApp(opts: ApiAppOptions): Hono {
  const app = new Hono();
  const { source } = opts;
  const token = opts.token ?? null;

  app.use('*', async (c, next) => {
    if (token && !tokenMatches(c.req.header('authorization'), token)) {
      c.header('WWW-Authenticate', 'Bearer realm="trellisd"');
      return c.json({ error: 'unauthorized: send Authorization: Bearer <token from apiTokenFile>' }, 401);
    }
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') {
      c.header('Allow', 'GET, HEAD');
      return c.json({ error: `method ${c.req.method} not allowed: the API is read-only` }, 405);
    }
    await next();
  });

  app.get('/', (c) => c.html(statusPage()));
  app.get('/healthz', (c) => c.json({ alive: true }));
  app.get('/readyz', (c) => {
    const r = source.readiness();
    return c.json(r, r.ready ? 200 : 503);
  });
  app.get('/metrics', async (c) => {
    source.refreshMetrics?.();
    const body = await source.registry.metrics();
    return c.body(body, 200, { 'Content-Type': source.registry.contentType });
  });
  app.get('/status', (c) => c.json(source.status()));
  // Before the first snapshot every flow would look denied (no endpoints): say so instead.
  const notSynced = (c: Context) => {
    c.header('Retry-After', '1');
    return c.json({ error: 'the store has not synced yet: explain and the matrix answer once trellisd has its first snapshot from etcd (see /readyz)' }, 503);
  };
  app.get('/explain', (c) => {
    if (!source.storeSynced()) return notSynced(c);
    const from = c.req.query('from');
    const to = c.req.query('to');
    if (!from || !to) return c.json({ error: 'explain needs ?from=<endpoint or address>&to=<endpoint or address>[&port=N][&protocol=TCP]' }, 400);
    const port = parsePort(c.req.query('port'));
    if (port instanceof Error) return c.json({ error: port.message }, 400);
    const protocol = parseProtocol(c.req.query('protocol'));
    if (protocol instanceof Error) return c.json({ error: protocol.message }, 400);
    try {
      const out = source.explain({ from, to, port, protocol });
      if (c.req.query('format') === 'text' || (c.req.header('accept') ?? '').startsWith('text/plain')) return c.text(out.text);
      return c.json(out.result);
    } catch (err) {
      if (err instanceof ApiInputError) return c.json({ error: err.message }, 400);
      throw err;
    }
  });
  app.get('/matrix', (c) => {
    if (!source.storeSynced()) return notSynced(c);
    const port = parsePort(c.req.query('port'));
    if (port instanceof Error) return c.json({ error: port.message }, 400);
    const protocol = parseProtocol(c.req.query('protocol'));
    if (protocol instanceof Error) return c.json({ error: protocol.message }, 400);
    return c.json(source.matrix(port ?? 80, protocol));
  });
  app.notFound((c) => c.json({ error: `no such endpoint ${c.req.path}; try /status, /readyz, /metrics, /explain, /matrix` }, 404));
  app.onError((err, c) => c.json({ error: err.message }, 500));
  return app;
}
