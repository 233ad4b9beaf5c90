// A TCP proxy on loopback between a store client and etcd, so a test can cut one
// client's connection (and keep it cut) while others still reach etcd, or silence it:
// bytes held back in both directions with every connection left open (a partition that
// drops packets and sends no reset), then delivered on heal() as TCP would retransmit them.
import { createServer, connect, type Socket, type Server } from 'node:net';
import { freePort } from '../../src/store/index.js';

export interface Proxy {
  url: string;
  /** Drops every open connection and refuses new ones until resume(). */
  cut(): void;
  resume(): void;
  silence(): void;
  heal(): void;
  close(): Promise<void>;
}

export async function startProxy(target: string): Promise<Proxy> {
  const t = new URL(target);
  const port = await freePort();
  const sockets = new Set<Socket>();
  let open = true;
  let silent = false;
  const held: Array<() => void> = [];
  const forward = (from: Socket, to: Socket) => {
    from.on('data', (chunk: Buffer) => {
      if (silent) held.push(() => to.write(chunk));
      else to.write(chunk);
    });
  };
  const server: Server = createServer((client) => {
    if (!open) { client.destroy(); return; }
    const upstream = connect(Number(t.port), t.hostname);
    sockets.add(client);
    sockets.add(upstream);
    const drop = () => { client.destroy(); upstream.destroy(); sockets.delete(client); sockets.delete(upstream); };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    forward(client, upstream);
    forward(upstream, client);
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${port}`,
    cut() {
      open = false;
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    resume() { open = true; },
    silence() { silent = true; },
    heal() {
      silent = false;
      for (const send of held.splice(0)) send();
    },
    async close() {
      open = false;
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
