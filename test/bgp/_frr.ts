// FRR 8.4's bgpd started by tests as a top-of-rack peer: alone (-Z, so nothing it learns
// reaches a kernel) inside a namespace the test made, with its config, pid file and vty
// socket in a temp dir of its own; never the system's frr service. Stopped by pid.
import { chownSync, mkdtempSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { startProcess, type Daemon } from './_daemons.js';
import { waitFor } from './_helpers.js';

export const BGPD = '/usr/lib/frr/bgpd';

export interface FrrNeighbor {
  bgpState: string;
  connectionsEstablished?: number;
  connectionsDropped?: number;
  lastResetDueTo?: string;
}

export interface Frr extends Daemon {
  netns: string;
  /** One or more vtysh commands (each a -c); the text it printed. */
  vtysh(...cmds: string[]): Promise<string>;
  /** `show bgp neighbors ADDR json`, or null when FRR does not know the neighbor. */
  neighbor(addr: string): Promise<FrrNeighbor | null>;
  /** Prefixes in FRR's BGP table for a family (`show bgp ipv4|ipv6 unicast json`). */
  prefixes(family: 4 | 6): Promise<string[]>;
}

/** A bgpd.conf for one router with eBGP/iBGP neighbors (FRR 8 needs no policy with `no bgp ebgp-requires-policy`). */
export function frrConfig(o: {
  asn: number; routerId: string;
  neighbors: { address: string; asn: number; password?: string; port?: number; families?: (4 | 6)[]; updateSource?: string; passive?: boolean }[];
  networks?: string[];
  /** Extra `router bgp` lines, e.g. `bgp graceful-restart`. */
  globals?: string[];
}): string {
  const lines = [
    `router bgp ${o.asn}`,
    ` bgp router-id ${o.routerId}`,
    ' no bgp ebgp-requires-policy',
    ' no bgp network import-check',
    ' no bgp default ipv4-unicast',
    ...(o.globals ?? []).map((l) => ` ${l}`),
  ];
  for (const n of o.neighbors) {
    lines.push(` neighbor ${n.address} remote-as ${n.asn}`, ` neighbor ${n.address} timers 3 9`, ` neighbor ${n.address} timers connect 1`);
    if (n.port) lines.push(` neighbor ${n.address} port ${n.port}`);
    if (n.password && /\s/.test(n.password)) throw new Error(`frrConfig: FRR takes a password of one word, not "${n.password}"`);
    if (n.password) lines.push(` neighbor ${n.address} password ${n.password}`);
    // Sharing a namespace with the peer, the kernel would pick the peer's own address as source.
    if (n.updateSource) lines.push(` neighbor ${n.address} update-source ${n.updateSource}`);
    if (n.passive) lines.push(` neighbor ${n.address} passive`);
  }
  for (const f of [4, 6] as const) {
    const nets = (o.networks ?? []).filter((p) => (f === 6) === p.includes(':'));
    const nbrs = o.neighbors.filter((n) => (n.families ?? [n.address.includes(':') ? 6 : 4]).includes(f));
    if (!nets.length && !nbrs.length) continue;
    lines.push(` address-family ipv${f} unicast`);
    for (const p of nets) lines.push(`  network ${p}`);
    for (const n of nbrs) lines.push(`  neighbor ${n.address} activate`);
    lines.push(' exit-address-family');
  }
  return lines.join('\n') + '\n';
}

/** Starts bgpd in the foreground inside netns (required: bgpd binds port 179 on every address it sees). */
export async function startFrr(config: string, netns: string): Promise<Frr> {
  if (!netns) throw new Error('startFrr: FRR runs only inside a test namespace');
  const dir = mkdtempSync(join(tmpdir(), 'trellis-frr-'));
  const conf = join(dir, 'bgpd.conf');
  writeFileSync(conf, config);
  // bgpd drops to the frr user: it must be able to read its config and make its vty socket.
  chownSync(dir, await uid('frr'), await gid('frr'));
  chownSync(conf, await uid('frr'), await gid('frr'));
  const d = startProcess(['ip', 'netns', 'exec', netns, BGPD, '-Z', '-f', conf, '-i', join(dir, 'bgpd.pid'), '--vty_socket', dir, '-P', '0', '--log', 'stdout'], dir);
  const vtysh = async (...cmds: string[]) => {
    const r = await execa('ip', ['netns', 'exec', netns, 'vtysh', '--vty_socket', dir, ...cmds.flatMap((c) => ['-c', c])], { reject: false, timeout: 10_000 });
    if (r.exitCode !== 0) throw new Error(`vtysh ${cmds.join(' / ')}: exit ${r.exitCode}: ${r.stderr || r.stdout}`);
    return String(r.stdout);
  };
  await waitFor(`FRR bgpd vty in ${dir}`, async () => {
    if (d.child.exitCode !== null) throw new Error(`bgpd exited: ${d.log()}`);
    return existsSync(join(dir, 'bgpd.vty')) && (await vtysh('show bgp summary')).length > 0;
  }, 15_000);
  return {
    ...d, netns, vtysh,
    async neighbor(addr) {
      const j = JSON.parse(await vtysh(`show bgp neighbors ${addr} json`)) as Record<string, FrrNeighbor | undefined>;
      return j[addr] ?? null;
    },
    async prefixes(family) {
      const j = JSON.parse(await vtysh(`show bgp ipv${family} unicast json`)) as { routes?: Record<string, unknown> };
      return Object.keys(j.routes ?? {}).sort();
    },
  };
}

const ids = new Map<string, number>();
async function lookup(db: 'passwd' | 'group', name: string): Promise<number> {
  const k = `${db}:${name}`;
  const known = ids.get(k);
  if (known !== undefined) return known;
  const r = await execa('getent', [db, name], { reject: false });
  const n = Number(String(r.stdout).split(':')[2]);
  if (r.exitCode !== 0 || !Number.isInteger(n)) throw new Error(`FRR harness: no ${db === 'passwd' ? 'user' : 'group'} "${name}" (is the frr package installed? bash .ci/install)`);
  ids.set(k, n);
  return n;
}
const uid = (n: string) => lookup('passwd', n);
const gid = (n: string) => lookup('group', n);
