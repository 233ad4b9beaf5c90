// Starts and stops etcd server processes (Debian's etcd-server): the embedded
// single member trellisd runs when no endpoint is configured, and the members tests start.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';

export interface EtcdServerOptions {
  /** Data directory; created if missing. */
  dataDir: string;
  name?: string;
  /** Address to listen on for clients and peers (default 127.0.0.1). */
  host?: string;
  clientPort?: number;
  peerPort?: number;
  /** For a cluster: "n1=http://127.0.0.1:p1,n2=..." (default: this member alone). */
  initialCluster?: string;
  /** Wrap the command, e.g. ['ip','netns','exec','lab-etcd'] to run it in a namespace. */
  wrap?: string[];
  /** How long to wait for the member to answer /health. */
  startTimeoutMs?: number;
}

export interface EtcdServer {
  readonly name: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly pid: number;
  readonly options: EtcdServerOptions;
  /** Stops the process (SIGTERM, then SIGKILL after 5 s). */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** A free TCP port on the given loopback address, as the kernel hands it out. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function waitHealthy(url: string, child: ChildProcess, timeoutMs: number, log: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`etcd exited with ${child.exitCode} before becoming healthy:\n${log()}`);
    try {
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`etcd at ${url} not healthy after ${timeoutMs} ms:\n${log()}`);
}

export async function startEtcdServer(opts: EtcdServerOptions): Promise<EtcdServer> {
  const host = opts.host ?? '127.0.0.1';
  const name = opts.name ?? 'trellis';
  const clientPort = opts.clientPort ?? (await freePort(host === '0.0.0.0' ? '127.0.0.1' : host));
  const peerPort = opts.peerPort ?? (await freePort(host === '0.0.0.0' ? '127.0.0.1' : host));
  const clientUrl = `http://${host}:${clientPort}`;
  const peerUrl = `http://${host}:${peerPort}`;
  mkdirSync(opts.dataDir, { recursive: true });
  const args = [
    '--name', name,
    '--data-dir', opts.dataDir,
    '--listen-client-urls', clientUrl,
    '--advertise-client-urls', clientUrl,
    '--listen-peer-urls', peerUrl,
    '--initial-advertise-peer-urls', peerUrl,
    '--initial-cluster', opts.initialCluster ?? `${name}=${peerUrl}`,
    '--initial-cluster-state', 'new',
    // Every member of one cluster must share the token: derive it from the member list.
    '--initial-cluster-token', opts.initialCluster ? `trellis-${createHash('sha256').update(opts.initialCluster).digest('hex').slice(0, 12)}` : `trellis-${name}`,
    '--heartbeat-interval', '100',
    '--election-timeout', '1000',
    '--logger', 'zap',
    '--log-outputs', 'stderr',
  ];
  const argv = [...(opts.wrap ?? []), 'etcd', ...args];
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  let tail = '';
  child.stderr?.on('data', (b: Buffer) => { tail = (tail + b.toString()).slice(-4000); });
  const waitFor = opts.initialCluster ? Promise.resolve() : waitHealthy(clientUrl, child, opts.startTimeoutMs ?? 20_000, () => tail);
  try {
    await waitFor;
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    name, clientUrl, peerUrl, pid: child.pid!, options: { ...opts, name, host, clientPort, peerPort },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** Polls a member (or cluster member) until /health answers ok. */
export async function waitEtcdHealthy(clientUrl: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${clientUrl}/health`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
    } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`etcd at ${clientUrl} not healthy after ${timeoutMs} ms`);
}
