// The only two places BGP's TCP sockets are made: the outgoing connection of a session and
// the speaker's listener. A per-socket option (e.g. TCP-MD5 for a peer) hooks in here.
import net from 'node:net';
import type { PeerConfig } from './types.js';
import { connectTcp } from './md5.js';

/** Starts an outgoing connection to a peer (port 179 unless configured). */
export function openConnection(peer: PeerConfig): net.Socket {
  // connectTcp sets the peer's TCP-MD5 key (RFC 2385) on the socket before its SYN.
  return connectTcp({ host: peer.address, port: peer.port ?? 179, ...(peer.localAddress ? { localAddress: peer.localAddress } : {}), ...(peer.password ? { password: peer.password } : {}) });
}

/** The process-wide listener; onSocket gets every accepted connection. */
export function createListener(onSocket: (sock: net.Socket) => void): net.Server {
  return net.createServer(onSocket);
}
