// Docker's plugin discovery finds a unix socket (by default /run/docker/plugins/trellis.sock)
// and POSTs JSON to it. The server is HTTP on that socket; all meaning is in driver.ts.
// It must run in the network namespace dockerd runs in: the veth made at Join is looked
// up there by Docker and moved into the container.
import { createServer, type Server } from 'node:http';
import { chmodSync, mkdirSync, unlinkSync } from 'node:fs';
import { createConnection } from 'node:net';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { createDriver, type DockerStore } from './driver.js';
import { dockerEngine } from './engine.js';
import { DockerPluginError, PLUGIN_CONTENT_TYPE } from './protocol.js';

export const DEFAULT_DOCKER_SOCKET = '/run/docker/plugins/trellis.sock';

export interface DockerPluginOptions {
  path: string;
  store: DockerStore;
  node: string;
  log: Logger;
  /** Docker's API socket (container names and labels); "" or absent: not read. */
  apiSocket?: string;
  /** See DriverDeps.programmed. */
  programmed?(revision: string, timeoutMs: number): Promise<boolean>;
}

export interface DockerPluginServer {
  readonly path: string;
  close(): Promise<void>;
}

/** Largest request body accepted: the biggest Docker sends is a few kB. */
const MAX_BODY = 1 << 20;

/** True when something already answers on the path (another trellisd): it is not ours to take. */
function inUse(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    s.on('connect', () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
  });
}

/** One IPAM change at a time in this process: parallel allocations on a host would all lose the CAS but one. */
function serialLock(): <T>(fn: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return (fn) => {
    const run = tail.catch(() => undefined).then(fn);
    tail = run;
    return run;
  };
}

export async function startDockerPlugin(opts: DockerPluginOptions): Promise<DockerPluginServer> {
  const log = opts.log.child({ sub: 'docker-plugin' });
  const driver = createDriver({
    store: opts.store, node: opts.node, log, ipamLock: serialLock(),
    engine: opts.apiSocket ? dockerEngine(opts.apiSocket) : null,
    ...(opts.programmed ? { programmed: opts.programmed } : {}),
  });
  const reply = (res: import('node:http').ServerResponse, status: number, body: unknown) =>
    res.writeHead(status, { 'Content-Type': PLUGIN_CONTENT_TYPE }).end(JSON.stringify(body));
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) { reply(res, 413, { Err: `trellis: request body over ${MAX_BODY} bytes` }); req.destroy(); } else chunks.push(c);
    });
    req.on('end', () => {
      void (async () => {
        if (req.method !== 'POST') { reply(res, 405, { Err: 'trellis: plugin calls are POSTs' }); return; }
        let body: unknown = {};
        const text = Buffer.concat(chunks).toString();
        try { if (text.trim()) body = JSON.parse(text); } catch {
          reply(res, 400, { Err: `trellis: ${new DockerPluginError('INVALID_REQUEST', `${req.url}: request body is not JSON`).message}` });
          return;
        }
        const started = process.hrtime.bigint();
        const r = await driver.handle(req.url ?? '/', body);
        log.debug({ call: req.url, request: body, status: r.status, reply: r.body, ms: Number(process.hrtime.bigint() - started) / 1e6 }, 'docker plugin call');
        reply(res, r.status, r.body);
      })();
    });
  });
  mkdirSync(dirname(opts.path), { recursive: true, mode: 0o755 });
  if (await inUse(opts.path)) throw new DockerPluginError('INTERNAL', `${opts.path}: another process already serves Docker plugin calls there (another trellisd?)`);
  // A socket left by an earlier run would make listen fail with EADDRINUSE.
  try { unlinkSync(opts.path); } catch { /* not there: fine */ }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.path, () => { server.off('error', reject); resolve(); });
  });
  // Only root (dockerd) may call it: the calls make interfaces and hand out addresses.
  chmodSync(opts.path, 0o600);
  server.on('error', (err) => log.error({ err: err.message }, 'Docker plugin socket error'));
  log.info({ path: opts.path, dockerApi: opts.apiSocket || null }, 'serving Docker network and IPAM driver calls');
  return {
    path: opts.path,
    close: () => new Promise<void>((resolve) => {
      server.close(() => { try { unlinkSync(opts.path); } catch { /* gone */ } resolve(); });
      server.closeAllConnections();
    }),
  };
}
