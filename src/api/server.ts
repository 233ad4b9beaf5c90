// Serves the API app on the configured address (127.0.0.1:9099 by default).
import { serve, type ServerType } from '@hono/node-server';
import { createApiApp } from './app.js';
import { requiredToken } from './auth.js';
import type { ApiSource } from './types.js';

export interface ApiServerOptions {
  source: ApiSource;
  /** "host:port", "[v6]:port" or ":port" (loopback). Default 127.0.0.1:9099. */
  listen?: string;
  tokenFile?: string;
}

export interface ApiServer { readonly host: string; readonly port: number; readonly url: string; close(): Promise<void> }

export const DEFAULT_API_LISTEN = '127.0.0.1:9099';

export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(listen);
  if (!m) throw new Error(`api listen address "${listen}" must be host:port (e.g. 127.0.0.1:9099 or [::1]:9099)`);
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`api listen port ${port} is out of range`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

export async function startApiServer(opts: ApiServerOptions): Promise<ApiServer> {
  const { host, port } = parseListen(opts.listen ?? DEFAULT_API_LISTEN);
  // Refuses before binding anything when a non-loopback address has no token file.
  const token = requiredToken(host, opts.tokenFile);
  const app = createApiApp({ source: opts.source, token });
  const server: ServerType = await new Promise((resolve, reject) => {
    const s = serve({ fetch: app.fetch, hostname: host, port }, () => resolve(s));
    s.once('error', reject);
  });
  const addr = server.address();
  const boundPort = typeof addr === 'object' && addr ? addr.port : port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    host, port: boundPort, url: `http://${urlHost}:${boundPort}`,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
    }),
  };
}
