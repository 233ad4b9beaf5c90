// Builds the lab's fabric: the ToR, the etcd namespace and the hosts, joined by veths
// (hosts that share a subnet through a bridge in the ToR, their switch), with forwarding
// on and static routes only for the fabric itself (container routes come from BGP, or are
// the hosts' own VXLAN routes). Every namespace is recorded before it is created.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { connectNetns, createNetns, execIn } from './netns.js';
import { birdConfig, FABRIC_CIDR, type LabPlan } from './plan.js';
import { spawnInNetns } from './procs.js';
import { forwardSocket, httpOverSocket, startInsideForward } from './forward.js';
import type { RecordBook } from './records.js';

async function ns(book: RecordBook, name: string): Promise<void> {
  book.namespace(name);
  await createNetns(name, { persist: true });
}

async function sysctl(netns: string, key: string, value: string): Promise<void> {
  await execa('ip', ['netns', 'exec', netns, 'sysctl', '-qw', `${key}=${value}`]);
}

export async function buildFabric(plan: LabPlan, book: RecordBook): Promise<void> {
  await ns(book, plan.tor.netns);
  await sysctl(plan.tor.netns, 'net.ipv4.ip_forward', '1');
  await ns(book, plan.etcdNetns);
  const [first, ...more] = plan.etcd;
  await connectNetns({ ns: plan.tor.netns, ifname: 'etcd0', address: '10.10.0.1/24' }, { ns: plan.etcdNetns, ifname: 'eth0', address: `${first!.address}/24` });
  for (const m of more) await execa('ip', ['-n', plan.etcdNetns, 'addr', 'add', `${m.address}/24`, 'dev', 'eth0']);
  await execa('ip', ['-n', plan.etcdNetns, 'route', 'add', FABRIC_CIDR, 'via', '10.10.0.1']);
  const shared = new Set(plan.hosts.filter((h) => plan.hosts.some((o) => o !== h && o.subnet === h.subnet)).map((h) => h.subnet));
  for (const subnet of shared) {
    const gw = plan.hosts.find((h) => h.subnet === subnet)!.torAddress;
    await execa('ip', ['-n', plan.tor.netns, 'link', 'add', switchName(subnet), 'type', 'bridge']);
    await execa('ip', ['-n', plan.tor.netns, 'addr', 'add', `${gw}/24`, 'dev', switchName(subnet)]);
    await execa('ip', ['-n', plan.tor.netns, 'link', 'set', switchName(subnet), 'up']);
  }
  for (const h of plan.hosts) {
    await ns(book, h.netns);
    const onSwitch = shared.has(h.subnet);
    await connectNetns({ ns: plan.tor.netns, ifname: h.torIf, ...(onSwitch ? {} : { address: `${h.torAddress}/24` }) }, { ns: h.netns, ifname: 'eth0', address: `${h.address}/24` });
    if (onSwitch) await execa('ip', ['-n', plan.tor.netns, 'link', 'set', h.torIf, 'master', switchName(h.subnet)]);
    await sysctl(h.netns, 'net.ipv4.ip_forward', '1');
    // Like a real host: a default route to the ToR (proxy ARP answers the containers'
    // 169.254.1.1 gateway only for addresses the host has a route to). The ToR itself
    // knows container blocks only through BGP, and hosts install the blocks they learn.
    await execa('ip', ['-n', h.netns, 'route', 'add', FABRIC_CIDR, 'via', h.torAddress]);
    await execa('ip', ['-n', h.netns, 'route', 'add', 'default', 'via', h.torAddress]);
  }
}

/** The ToR's bridge for a subnet several hosts share. */
export function switchName(subnet: number): string {
  return `sw${subnet}`;
}

export function etcdArgv(plan: LabPlan, memberIndex: number, dataDir: string): string[] {
  const m = plan.etcd[memberIndex]!;
  const cluster = plan.etcd.map((e) => `${e.name}=${e.peerUrl}`).join(',');
  return [
    'etcd', '--name', m.name, '--data-dir', dataDir,
    '--listen-client-urls', `${m.clientUrl},http://127.0.0.1:${2379 + 10 * memberIndex + 10}`,
    '--advertise-client-urls', m.clientUrl,
    '--listen-peer-urls', m.peerUrl, '--initial-advertise-peer-urls', m.peerUrl,
    '--initial-cluster', cluster, '--initial-cluster-state', 'new', '--initial-cluster-token', `${plan.prefix}etcd`,
    '--heartbeat-interval', '100', '--election-timeout', '1000',
    '--logger', 'zap', '--log-outputs', 'stderr',
  ];
}

export async function startEtcd(plan: LabPlan, book: RecordBook, stateDir: string): Promise<number[]> {
  const pids = plan.etcd.map((m, i) =>
    spawnInNetns(book, `etcd ${m.name}`, plan.etcdNetns, etcdArgv(plan, i, join(stateDir, 'etcd', m.name)), join(stateDir, 'logs', `etcd-${m.name}.log`)));
  // Each member's inside forward: the lab's own health checks and, later, the loopback half.
  for (const m of plan.etcd) startInsideForward(book, stateDir, `etcd-${m.name}`, plan.etcdNetns, `${m.address}:2379`);
  await waitEtcd(plan, stateDir, 30_000);
  return pids;
}

export async function waitEtcd(plan: LabPlan, stateDir: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const r = await httpOverSocket(forwardSocket(stateDir, `etcd-${plan.etcd[0]!.name}`), '/health', 1000);
    if (r.status === 200 && r.body.includes('"true"')) return;
    last = `${r.status} ${r.body}`;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`etcd in ${plan.etcdNetns} not healthy after ${timeoutMs} ms (last answer: ${last}); see ${plan.etcdNetns} logs`);
}

export function birdSocket(stateDir: string): string {
  return join(stateDir, 'bird', 'bird.ctl');
}

export async function startBird(plan: LabPlan, book: RecordBook, stateDir: string, timers: { holdTime: number; keepalive: number }): Promise<number> {
  const dir = join(stateDir, 'bird');
  await execa('mkdir', ['-p', dir]);
  const conf = join(dir, 'bird.conf');
  writeFileSync(conf, birdConfig(plan, { ...timers, logFile: join(dir, 'bird.log') }));
  return spawnInNetns(book, 'bird tor', plan.tor.netns, ['bird', '-f', '-c', conf, '-s', birdSocket(stateDir)], join(stateDir, 'logs', 'bird.log'));
}

export async function birdc(plan: LabPlan, stateDir: string, cmd: string[]): Promise<string> {
  return (await execIn(plan.tor.netns, ['birdc', '-s', birdSocket(stateDir), ...cmd], { timeoutMs: 10_000 })).stdout;
}

/** BGP protocol name -> state ("Established", "Active", ...) from `birdc show protocols`. */
export function parseBirdProtocols(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    // "h1  BGP  ---  up  22:40:37.461  Established": name, proto, table, state, since, info.
    const m = /^(\S+)\s+BGP\s+\S+\s+(\S+)\s+\S+\s+(\S+)/.exec(line);
    if (m) out[m[1]!] = m[3]!;
  }
  return out;
}

/** Routes the ToR holds for a prefix set: "10.244.1.0/26" -> next hop, from `birdc show route`. */
export function parseBirdRoutes(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  let current: string | null = null;
  for (const line of text.split('\n')) {
    const dst = /^(\d+\.\d+\.\d+\.\d+\/\d+)\s/.exec(line);
    if (dst) current = dst[1]!;
    const via = /via (\d+\.\d+\.\d+\.\d+)/.exec(line);
    if (current && via && !(current in out)) out[current] = via[1]!;
  }
  return out;
}
