// A Calico-shaped topology in throwaway namespaces: a "host" namespace, one namespace
// per container joined to the host by a veth (host side trl*, container side eth0, a /32
// address and a default route via the link-local gateway 169.254.1.1 that the host veth
// answers by proxy ARP), and an "outside" namespace on the host's uplink.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connectNetns, createNetns, inNetns, testNetnsPrefix, type Netns } from '../../src/lab/index.js';
import type { EpSpec } from './_state.js';

export const HOST_UPLINK_IP = '192.168.77.1';
export const OUTSIDE_IP = '192.168.77.2';

export interface Lab {
  host: Netns;
  outside: Netns;
  containers: Map<string, Netns>;
  /** Starts a reply server (TCP and UDP) in a namespace: answers "ok <peer address>". */
  serve(ns: Netns, port: number, proto?: 'tcp' | 'udp' | 'tcp6'): void;
  destroy(): Promise<void>;
}

/** Answers every UDP datagram on the port given as argv[1] with "ok <peer address>". */
const UDP_ECHO = `
const s = require('node:dgram').createSocket('udp4');
s.on('message', (_m, peer) => s.send('ok ' + peer.address + '\\n', peer.port, peer.address));
s.bind(Number(process.argv[1]));`;

export async function createLab(tag: string, eps: Array<Pick<EpSpec, 'iface' | 'ip'>>): Promise<Lab> {
  const p = testNetnsPrefix();
  const made: Netns[] = [];
  const children: ChildProcess[] = [];
  const destroy = async () => {
    for (const c of children) if (c.pid && c.exitCode === null) { try { c.kill('SIGKILL'); } catch { /* gone */ } }
    for (const n of made.reverse()) await n.destroy();
  };
  try {
    const host = await createNetns(`${p}${tag}h`);
    made.push(host);
    const outside = await createNetns(`${p}${tag}o`);
    made.push(outside);
    await connectNetns({ ns: host.name, ifname: 'up0', address: `${HOST_UPLINK_IP}/24` }, { ns: outside.name, ifname: 'eth0', address: `${OUTSIDE_IP}/24` });
    // The host's default route leaves by the uplink, so 169.254.1.1 is "elsewhere" and proxy ARP answers for it.
    await host.run(['ip', 'route', 'add', 'default', 'via', OUTSIDE_IP]);
    const containers = new Map<string, Netns>();
    for (const e of eps) {
      const c = await createNetns(`${p}${tag}${e.iface.slice(3)}`);
      made.push(c);
      await plug(host, c, e);
      containers.set(e.iface, c);
    }
    return {
      host, outside, containers, destroy,
      serve(ns, port, proto = 'tcp') {
        // UDP: a plain echo loop in one process. With socat's UDP-RECVFROM,fork (a child per
        // datagram, sharing the bound socket) a probe went unanswered now and then in full-suite
        // runs, all its retries at once; a single reader has no such window.
        const argv = proto === 'udp'
          ? inNetns(ns.name, [process.execPath, '-e', UDP_ECHO, String(port)])
          : inNetns(ns.name, ['socat', proto === 'tcp' ? `TCP-LISTEN:${port},fork,reuseaddr` : `TCP6-LISTEN:${port},fork,reuseaddr,ipv6only=1`, 'SYSTEM:echo ok $SOCAT_PEERADDR']);
        children.push(spawn(argv[0]!, argv.slice(1), { stdio: 'ignore' }));
      },
    };
  } catch (err) {
    await destroy();
    throw err;
  }
}

/** Joins a container to the host by a veth: host side `iface`, container side eth0 with a /32 and a default route via 169.254.1.1. */
export async function plug(host: Netns, c: Netns, e: Pick<EpSpec, 'iface' | 'ip'>): Promise<void> {
  await connectNetns({ ns: host.name, ifname: e.iface }, { ns: c.name, ifname: 'eth0', address: `${e.ip}/32` });
  await c.run(['ip', 'route', 'add', '169.254.1.1', 'dev', 'eth0', 'scope', 'link']);
  await c.run(['ip', 'route', 'add', 'default', 'via', '169.254.1.1', 'dev', 'eth0']);
}

/** TCP request/response from a namespace: the server's answer ("ok <peer>") or null when blocked. */
export async function tcp(from: Netns, ip: string, port: number, bind?: string): Promise<string | null> {
  const [host, b] = ip.includes(':') ? [`[${ip}]`, bind && `[${bind}]`] : [ip, bind];
  // -t: after our (empty) stdin ends, wait this long for the answer (socat's default, 0.5 s, is short on a loaded host).
  const r = await from.exec(['socat', '-t', '3', '-T', '2', 'STDIO', `TCP:${host}:${port},connect-timeout=1${b ? `,bind=${b}` : ''}`], { input: '', timeoutMs: 5000 });
  return r.exitCode === 0 && r.stdout.startsWith('ok') ? r.stdout.trim() : null;
}

/**
 * UDP request/response. A datagram, unlike a SYN, is never retransmitted, and on a loaded
 * machine the server's fork + shell can take seconds: so three tries, each waiting 3 s.
 */
export async function udp(from: Netns, ip: string, port: number): Promise<string | null> {
  const host = ip.includes(':') ? `[${ip}]` : ip;
  for (let attempt = 0; attempt < 3; attempt++) {
    const r = await from.exec(['socat', '-t', '4', '-T', '3', 'STDIO', `UDP:${host}:${port}`], { input: 'ping\n', timeoutMs: 8000 });
    if (r.stdout.startsWith('ok')) return r.stdout.trim();
  }
  return null;
}

/** ICMP echo (busybox's ping: iputils is not installed on every test host). */
export async function ping(from: Netns, ip: string): Promise<boolean> {
  return (await from.exec(['busybox', 'ping', '-c', '1', '-W', '1', ip], { timeoutMs: 5000 })).exitCode === 0;
}

/** Waits until something listens on a TCP (or binds a UDP) port in a namespace. */
export async function waitListening(ns: Netns, port: number, proto: 'tcp' | 'udp' = 'tcp'): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if ((await ns.exec(['ss', proto === 'tcp' ? '-Hltn' : '-Hlun', `sport = :${port}`])).stdout.trim()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listens on ${port} in ${ns.name}`);
}

/** Waits until a server answers (socat needs a moment to bind). */
export async function waitServing(from: Netns, ip: string, port: number): Promise<void> {
  for (let i = 0; i < 50; i++) {
    if (await tcp(from, ip, port)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`server ${ip}:${port} never answered from ${from.name}`);
}

/**
 * Sends UDP to `target` from `spoofer` (bound to an address that is not its own) and from
 * `owner`, until the owner's datagram arrived, and returns everything the target received.
 * The sink must already be bound (see waitListening).
 */
export async function spoofTrial(o: { target: string; port: number; spoofer: Netns; stolen: string; owner: Netns; received: () => string }): Promise<string> {
  const fmt = (ip: string) => (ip.includes(':') ? `UDP6:[${ip}]` : `UDP:${ip}`);
  const bindTo = o.stolen.includes(':') ? `[${o.stolen}]` : o.stolen;
  for (let i = 0; i < 10 && !o.received().includes('legit'); i++) {
    await o.spoofer.exec(['socat', '-u', 'STDIO', `${fmt(o.target)}:${o.port},bind=${bindTo}`], { input: 'spoofed\n' });
    await o.owner.exec(['socat', '-u', 'STDIO', `${fmt(o.target)}:${o.port}`], { input: 'legit\n' });
    await new Promise((r) => setTimeout(r, 200 * (i + 1)));
  }
  return o.received();
}

/** A file's text, or "" while it does not exist yet. */
export function readText(file: string): string {
  try { return readFileSync(file, 'utf8'); } catch { return ''; }
}
