// BIRD 2 and GoBGP started by tests: configs and control sockets in temp dirs, loopback
// or namespace addresses only, never their system units; stopped by pid.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { sleep, waitFor } from './_helpers.js';

export interface Daemon {
  dir: string;
  child: ChildProcess;
  pid: number;
  log(): string;
  signal(sig: NodeJS.Signals): void;
  stop(): Promise<void>;
}

export function startProcess(argv: string[], dir: string): Daemon {
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout!.on('data', (d: Buffer) => { log += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { log += d.toString(); });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    dir, child, pid: child.pid!,
    log: () => log,
    signal: (sig) => { try { child.kill(sig); } catch { /* gone */ } },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGCONT');
        child.kill('SIGTERM');
        await Promise.race([exited, sleep(3000)]);
        if (child.exitCode === null && child.signalCode === null) { child.kill('SIGKILL'); await exited; }
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Bird extends Daemon { sock: string; birdc(cmd: string): Promise<string> }

/** Starts bird in the foreground with the given config (in netns when given). No kernel protocol unless in a namespace. */
export async function startBird(config: string, netns?: string): Promise<Bird> {
  if (!netns && /protocol\s+kernel/.test(config)) throw new Error('refusing to run BIRD with a kernel protocol in the root namespace');
  const dir = mkdtempSync(join(tmpdir(), 'trellis-bird-'));
  const conf = join(dir, 'bird.conf');
  const sock = join(dir, 'bird.ctl');
  writeFileSync(conf, config);
  const argv = ['bird', '-f', '-c', conf, '-s', sock, '-P', join(dir, 'bird.pid')];
  const d = startProcess(netns ? ['ip', 'netns', 'exec', netns, ...argv] : argv, dir);
  const birdc = async (cmd: string) => {
    const r = await execa('birdc', ['-s', sock, ...cmd.split(' ')], { reject: false, timeout: 10_000 });
    return String(r.stdout);
  };
  await waitFor(`bird control socket ${sock}`, async () => {
    if (d.child.exitCode !== null) throw new Error(`bird exited: ${d.log()}`);
    return existsSync(sock) && (await birdc('show status')).includes('Daemon is up');
  }, 10_000);
  return { ...d, sock, birdc };
}

export interface GoBgp extends Daemon { apiPort: number; gobgp(args: string[]): Promise<string> }

export async function startGobgp(toml: string, apiPort: number, netns?: string): Promise<GoBgp> {
  const dir = mkdtempSync(join(tmpdir(), 'trellis-gobgp-'));
  const conf = join(dir, 'gobgpd.toml');
  writeFileSync(conf, toml);
  const ns = netns ? ['ip', 'netns', 'exec', netns] : [];
  const d = startProcess([...ns, 'gobgpd', '-f', conf, '-t', 'toml', '--api-hosts', `127.0.0.1:${apiPort}`, '--pprof-disable', '-l', 'info'], dir);
  const gobgp = async (args: string[]) => {
    const argv = [...ns, 'gobgp', '-u', '127.0.0.1', '-p', String(apiPort), ...args];
    const r = await execa(argv[0]!, argv.slice(1), { reject: false, timeout: 10_000 });
    if (r.exitCode !== 0) throw new Error(`gobgp ${args.join(' ')}: ${r.stderr}`);
    return String(r.stdout);
  };
  await waitFor(`gobgpd API on ${apiPort}`, async () => {
    if (d.child.exitCode !== null) throw new Error(`gobgpd exited: ${d.log()}`);
    return (await gobgp(['global'])).includes('AS');
  }, 10_000);
  return { ...d, apiPort, gobgp };
}

/** Parses `birdc show route all` text into {prefix -> attribute lines}. */
export function parseBirdRoutes(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let cur: string | null = null;
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f.:]+\/\d+)\s/.exec(line);
    if (m) { cur = m[1]!; out.set(cur, line + '\n'); continue; }
    if (cur && /^\s/.test(line)) out.set(cur, out.get(cur)! + line + '\n');
  }
  return out;
}
