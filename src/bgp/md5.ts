// TCP-MD5 (RFC 2385) for BGP sessions through Linux's TCP_MD5SIG. Node's net module cannot
// set that option, so a small Node-API helper (native/tcp-md5, built by .ci/install) makes
// the sockets and installs keys; net then takes them over by fd (documented options), and
// libuv does all I/O as for any other session. The helper is loaded lazily: a speaker whose
// peers have no password never needs it, and a missing helper refuses only the peers that do.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import net from 'node:net';
import { BgpConfigError } from './errors.js';

/** Linux's TCP_MD5SIG_MAXKEYLEN. */
export const MD5_MAX_KEY_BYTES = 80;

interface Md5Native {
  socket(family: 4 | 6): number;
  bindListener(host: string, port: number): number;
  setKey(fd: number, peer: string, key: string): void;
}

// src/bgp/md5.ts and dist/bgp/md5.js both sit two folders below the repository root.
const HELPER = fileURLToPath(new URL('../../native/tcp-md5/build/tcp_md5.node', import.meta.url));

let loaded: { native: Md5Native } | { error: string } | null = null;

function load(): { native: Md5Native } | { error: string } {
  if (loaded) return loaded;
  try {
    const native = createRequire(import.meta.url)(HELPER) as Md5Native;
    loaded = { native };
  } catch (e) {
    loaded = { error: `the TCP-MD5 helper ${HELPER} cannot be loaded (${(e as Error).message.split('\n')[0]}); build it with \`bash .ci/install\` or \`sh native/tcp-md5/build.sh\`` };
  }
  return loaded;
}

/** Whether TCP-MD5 can be used here; the reason when not. */
export function md5Support(): { ok: true } | { ok: false; reason: string } {
  const l = load();
  return 'native' in l ? { ok: true } : { ok: false, reason: l.error };
}

/** Why a password cannot be a TCP-MD5 key (null: it can). The message has no peer prefix: callers add it. */
export function passwordProblem(password: string): string | null {
  if (password.length === 0) return 'TCP-MD5 password is empty';
  const bytes = Buffer.byteLength(password, 'utf8');
  if (bytes > MD5_MAX_KEY_BYTES) return `TCP-MD5 password is ${bytes} bytes; Linux takes at most ${MD5_MAX_KEY_BYTES}`;
  if (password.includes('\0')) return 'TCP-MD5 password contains a NUL byte';
  return null;
}

function errText(e: unknown): string { return e instanceof Error ? e.message : String(e); }

export interface ConnectOptions { host: string; port: number; localAddress?: string; password?: string }

/**
 * An outgoing TCP connection; with a password, the key is on the socket before its SYN.
 * Never throws: a failure to make the socket arrives as the socket's 'error', like a refused connect.
 */
export function connectTcp(o: ConnectOptions): net.Socket {
  const target = { host: o.host, port: o.port, ...(o.localAddress ? { localAddress: o.localAddress } : {}) };
  if (!o.password) return net.connect(target);
  let fd = -1;
  try {
    const l = load();
    if (!('native' in l)) throw new BgpConfigError('MD5_UNSUPPORTED', l.error);
    const bad = passwordProblem(o.password);
    if (bad) throw new BgpConfigError('INVALID_CONFIG', bad);
    fd = l.native.socket(net.isIPv6(o.host) ? 6 : 4);
    l.native.setKey(fd, o.host, o.password);
    // net takes the fd over (and closes it); connect() reuses it rather than making its own.
    const sock = new net.Socket({ fd });
    fd = -1;
    return sock.connect(target);
  } catch (e) {
    if (fd >= 0) closeFd(fd);
    const sock = new net.Socket();
    const err = new Error(`TCP-MD5 socket: ${errText(e)}`);
    process.nextTick(() => sock.destroy(err));
    return sock;
  }
}

function closeFd(fd: number): void {
  // A socket net never took over: wrapping it and destroying it closes it through libuv.
  try { new net.Socket({ fd }).destroy(); } catch { /* already gone */ }
}

/**
 * The listener's side: the speaker's net.Server listens on a socket made here, so that a key
 * per peer address can be installed on it; the kernel then drops any segment from that
 * address without the right signature (accepted connections inherit the keys).
 */
export interface Md5Listener {
  /** Binds host:port and starts server on it; the plain net listen when the helper is missing. */
  listen(server: net.Server, host: string, port: number, cb: () => void): void;
  /** Installs the key for a peer address; the error text (no peer prefix) when it cannot. */
  setKey(peer: string, password: string): string | null;
  /** Removes a peer's key (nothing when it had none). */
  removeKey(peer: string): void;
}

export function createMd5Listener(): Md5Listener {
  let fd = -1;
  const keys = new Map<string, string>();
  const install = (peer: string, password: string): string | null => {
    const l = load();
    if (!('native' in l)) return `TCP-MD5 is not available: ${l.error}`;
    const bad = passwordProblem(password);
    if (bad) return bad;
    if (fd >= 0) {
      try { l.native.setKey(fd, peer, password); } catch (e) { return `TCP-MD5 key for the listener: ${errText(e)}`; }
    }
    return null;
  };
  return {
    listen(server, host, port, cb) {
      const l = load();
      if (!('native' in l)) { server.listen(port, host, cb); return; }
      try {
        fd = l.native.bindListener(host, port);
      } catch (e) {
        // Same path as a failed net listen: the server's 'error' names the address.
        process.nextTick(() => server.emit('error', new Error(`bind ${host}:${port}: ${errText(e)}`)));
        return;
      }
      for (const [peer, pw] of keys) {
        try { l.native.setKey(fd, peer, pw); } catch { /* reported when the key was set; the peer stays refused */ }
      }
      const mine = fd;
      // libuv closes the fd with the server: never set keys on a number the kernel may reuse.
      server.once('close', () => { if (fd === mine) fd = -1; });
      server.listen({ fd }, cb);
    },
    setKey(peer, password) {
      const err = install(peer, password);
      if (!err) keys.set(peer, password);
      return err;
    },
    removeKey(peer) {
      if (!keys.delete(peer)) return;
      const l = load();
      if (fd >= 0 && 'native' in l) {
        try { l.native.setKey(fd, peer, ''); } catch { /* the listener is closing */ }
      }
    },
  };
}
