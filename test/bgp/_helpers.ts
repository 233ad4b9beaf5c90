// Shared test helpers for the BGP area: loopback ports, polling, a raw scripted peer.
import net from 'node:net';
import { decodeMessage, emptyCapabilities, encodeKeepalive, encodeOpen, Framer, type Message, type RouteChange, type Speaker } from '../../src/bgp/index.js';

export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls fn until it returns a truthy value; throws naming what did not happen. */
export async function waitFor<T>(what: string, fn: () => T | Promise<T>, timeoutMs = 15_000, everyMs = 100): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) { last = e; }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await sleep(everyMs);
  }
}

/** Keeps the learned table a speaker reports through its 'routes' events. */
export function learnedTable(s: Speaker): Map<string, string> {
  const t = new Map<string, string>();
  s.on('routes', (changes: RouteChange[]) => {
    for (const c of changes) if (c.withdrawn) t.delete(c.prefix); else t.set(c.prefix, c.nextHop);
  });
  return t;
}

export interface RawPeer {
  messages: Message[];
  socket: net.Socket;
  closed: Promise<void>;
  send(b: Buffer): void;
  close(): void;
}

/** A scripted peer on a raw socket: sends our OPEN and KEEPALIVE, records what arrives. */
export async function rawPeer(opts: { host: string; port: number; localAddress: string; asn: number; bgpId: string; holdTime?: number; keepalive?: boolean }): Promise<RawPeer> {
  const socket = net.connect({ host: opts.host, port: opts.port, localAddress: opts.localAddress });
  await new Promise<void>((res, rej) => { socket.once('connect', () => res()); socket.once('error', rej); });
  const messages: Message[] = [];
  const framer = new Framer();
  socket.on('data', (d: Buffer) => {
    for (const f of framer.push(d)) messages.push(decodeMessage(f, { fourOctetAs: true }));
  });
  socket.on('error', () => {});
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  socket.write(encodeOpen({
    version: 4, myAs: opts.asn > 0xffff ? 23456 : opts.asn, holdTime: opts.holdTime ?? 90, bgpId: opts.bgpId,
    capabilities: { ...emptyCapabilities(), multiprotocol: [{ afi: 1, safi: 1 }], fourOctetAs: opts.asn },
  }));
  if (opts.keepalive !== false) socket.write(encodeKeepalive());
  return { messages, socket, closed, send: (b) => socket.write(b), close: () => socket.destroy() };
}
