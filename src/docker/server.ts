// Docker's plugin discovery finds a unix socket (by default /run/docker/plugins/trellis.sock)
// and POSTs JSON to it. The server is HTTP on that socket; all meaning is in driver.ts.
import { createServer, type Server } from 'node:http';
import { mkdir, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createDriver, type DriverDeps } from './driver.js';
import { PLUGIN_CONTENT_TYPE } from './protocol.js';

export const DEFAULT_DOCKER_SOCKET = '/run/docker/plugins/trellis.sock';

export interface DockerPluginServer {
  readonly path: string;
  close(): Promise<void>;
}

/** Largest request body accepted: the biggest Docker sends is a few kB. */
const MAX_BODY = 1 << 20;

export async function startDockerPlugin(path: string, deps: DriverDeps): Promise<DockerPluginServer> {
  const driver = createDriver(deps);
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) req.destroy();
      else chunks.push(c);
    });
    req.on('end', () => {
      void (async () => {
        let body: unknown = {};
        const text = Buffer.concat(chunks).toString();
        try { if (text.trim()) body = JSON.parse(text); } catch {
          res.writeHead(400, { 'Content-Type': PLUGIN_CONTENT_TYPE }).end(JSON.stringify({ Err: 'trellis: request body is not JSON' }));
          return;
        }
        const started = process.hrtime.bigint();
        const reply = await driver.handle(req.url ?? '/', body);
        deps.log.debug({ call: req.url, status: reply.status, ms: Number(process.hrtime.bigint() - started) / 1e6 }, 'docker plugin call');
        res.writeHead(reply.status, { 'Content-Type': PLUGIN_CONTENT_TYPE }).end(JSON.stringify(reply.body));
      })();
    });
  });
  await mkdir(dirname(path), { recursive: true });
  // A socket left by an earlier run would make listen fail with EADDRINUSE.
  await rm(path, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => { server.off('error', reject); resolve(); });
  });
  return {
    path,
    close: () => new Promise<void>((resolve) => {
      server.close(() => { void rm(path, { force: true }).then(() => resolve()); });
      server.closeAllConnections();
    }),
  };
}
