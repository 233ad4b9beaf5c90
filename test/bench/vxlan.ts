// npm run bench -- vxlan [--hosts 1000] [--blocks 1] [--rounds 9] [--throughput true] [--seconds 5] [--pairs 3]
// In throwaway namespaces:
//  - programming: calc's VxlanState for `hosts` remote hosts (`blocks` blocks each, pool
//    vxlanMode Always) brought to a fresh namespace by the dataplane (read, plan, device,
//    FDB, neighbours, routes) vs. the raw floor: one `ip -batch` of the same device,
//    neighbours and routes and one `bridge -batch` of the same FDB entries, text rendered
//    beforehand (ratio of medians; goal <= 1.25), `rounds` pairs alternating which goes
//    first; then, on the programmed namespace, a resync (kernel read back, 0 writes), one
//    host joining and one host leaving (the incremental sync), 5 times each, 300 ms apart;
//  - throughput: iperf3 (TCP, one stream) between containers on two hosts over VXLAN
//    (vxlanMode Always, container MTU 1450) and routed natively (CrossSubnet on one
//    subnet, MTU 1500), `pairs` runs of each alternating, ratio of the medians.
import { performance } from 'node:perf_hooks';
import { computeVxlanState, type HostBlock, type VxlanState } from '../../src/calc/index.js';
import { createDataplane, renderVxlan, type Dataplane } from '../../src/dataplane/index.js';
import { connectNetns, createNetns, testNetnsPrefix, type Netns } from '../../src/lab/index.js';
import { createLogger, silentLogger } from '../../src/log/index.js';
import { schemas, type Resource } from '../../src/model/index.js';
import { median, percentile, rssMiB } from './_stats.js';

const API = 'projectcalico.org/v3';
const POOL = '10.128.0.0/9';
const SETTINGS = { vni: 4096, port: 4789, mtu: 0 };
const UNDERLAY_MTU = 1500;

const ip4 = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
/** Host k's underlay address (k = 0 is this host): 172.16.0.0/12, one subnet for all (Always encapsulates anyway). */
const underlay = (k: number) => ip4(((172 << 24) | (16 << 16)) + 1 + k);
/** Block b of host k: /26s from the pool; the host's VTEP address is the first of its first block. */
const block = (k: number, b: number, per: number) => ip4((10 << 24) + (128 << 16) + (k * per + b) * 64);
const mac = (k: number) => `66:${[k >>> 24, (k >>> 16) & 255, (k >>> 8) & 255, k & 255, 1].map((x) => x.toString(16).padStart(2, '0')).join(':')}`;

function node(k: number, prefixLen: number, per: number): Resource {
  return schemas.Node.parse({
    apiVersion: API, kind: 'Node', metadata: { name: `h${k}` },
    spec: { bgp: { ipv4Address: `${underlay(k)}/${prefixLen}` }, ipv4VXLANTunnelAddr: block(k, 0, per), vxlanTunnelMACAddr: mac(k) },
  });
}

function cluster(hosts: number, per: number, mode: 'Always' | 'CrossSubnet', prefixLen = 12): { resources: Resource[]; blocks: HostBlock[] } {
  const resources: Resource[] = [schemas.IPPool.parse({ apiVersion: API, kind: 'IPPool', metadata: { name: 'vx' }, spec: { cidr: POOL, blockSize: 26, vxlanMode: mode } })];
  const blocks: HostBlock[] = [];
  for (let k = 0; k <= hosts; k++) {
    resources.push(node(k, prefixLen, per));
    for (let b = 0; b < per; b++) blocks.push({ cidr: `${block(k, b, per)}/26`, node: `h${k}` });
  }
  return { resources, blocks };
}

const stateOf = (c: { resources: Resource[]; blocks: HostBlock[] }, self = 'h0'): VxlanState =>
  computeVxlanState({ nodeName: self, resources: c.resources, blocks: c.blocks, settings: SETTINGS });

/** A host namespace with an underlay interface holding this host's address (the VXLAN device's local address and MTU source). */
async function hostNs(name: string): Promise<Netns> {
  const ns = await createNetns(name);
  await ns.run(['ip', '-batch', '-'], {
    // A veth pair: this kernel has no dummy driver.
    input: [`link add up0 mtu ${UNDERLAY_MTU} type veth peer name up1 mtu ${UNDERLAY_MTU}`, 'link set up0 up', 'link set up1 up', `addr add ${underlay(0)}/12 dev up0`].join('\n') + '\n',
  });
  return ns;
}

/** The raw floor: the whole state in one ip -batch (device, neighbours, routes) and one bridge -batch (FDB), text rendered beforehand. */
async function rawApply(ns: Netns, state: VxlanState): Promise<number> {
  const text = renderVxlan(state, UNDERLAY_MTU);
  const ipText = `${text.ip.join('\n')}\n`;
  const bridgeText = `${text.bridge.join('\n')}\n`;
  const t0 = performance.now();
  await ns.run(['ip', '-batch', '-'], { input: ipText, timeoutMs: 300_000 });
  await ns.run(['bridge', '-batch', '-'], { input: bridgeText, timeoutMs: 300_000 });
  return performance.now() - t0;
}

const round = (x: number) => Math.round(x * 10) / 10;
const stats = (xs: number[]) => ({ medianMs: round(median(xs)), p90Ms: round(percentile(xs, 90)), runsMs: xs.map(round) });

async function programming(hosts: number, per: number, rounds: number, prefix: string, made: Netns[]): Promise<Record<string, unknown>> {
  const full = cluster(hosts, per, 'Always');
  const tc = performance.now();
  const state = stateOf(full);
  const calcMs = performance.now() - tc;
  const logger = process.env.DP_TRACE ? createLogger({ name: 'bench', level: 'debug' }) : silentLogger();
  const raw: number[] = [];
  const cold: number[] = [];
  let last: Netns | undefined;
  // A fresh name per namespace: the command helper keeps a warm `ip netns exec NAME ...`
  // ready after each write, bound to the namespace of that name when it started.
  let serial = 0;
  const measureRaw = async () => {
    const ns = await hostNs(`${prefix}r${serial++}`);
    made.push(ns);
    raw.push(await rawApply(ns, state));
    await ns.destroy();
  };
  let dp: Dataplane | undefined;
  const measureCold = async () => {
    if (last) await last.destroy();
    last = await hostNs(`${prefix}c${serial++}`);
    made.push(last);
    dp = createDataplane({ netns: last.name, logger });
    const t0 = performance.now();
    const r = await dp.syncVxlan(state);
    cold.push(performance.now() - t0);
    if (r.errors.length || r.skipped.length) throw new Error(`cold sync: ${JSON.stringify({ errors: r.errors, skipped: r.skipped.slice(0, 3) })}`);
  };
  // The command helper (a Node process) starts on first use: long before any VXLAN sync in
  // trellisd, so here too, with a sync that only reads.
  const warm = await hostNs(`${prefix}w`);
  made.push(warm);
  await createDataplane({ netns: warm.name, logger }).syncVxlan({ device: null, vteps: [], routes: [], problems: [] });
  await warm.destroy();
  for (let i = 0; i < rounds; i++) {
    if (i % 2 === 0) { await measureRaw(); await measureCold(); } else { await measureCold(); await measureRaw(); }
  }
  const ns = last!;
  const programmed = dp!;
  const counted = async (argv: string[]) => (await ns.run(argv, { timeoutMs: 60_000 })).split('\n').filter((l) => l.trim()).length;
  const kernel = {
    routes: await counted(['ip', 'route', 'show', 'proto', '80']),
    neighbours: await counted(['ip', 'neigh', 'show', 'dev', 'vxlan.trl', 'nud', 'permanent']),
    fdb: (await ns.run(['bridge', 'fdb', 'show', 'dev', 'vxlan.trl'])).split('\n').filter((l) => l.includes(' dst ')).length,
  };
  // Spaced as host changes and resyncs are in a cluster (the command helper has its warm ip
  // and bridge ready 100 ms after the last command); back to back, each command would pay a
  // process start under `ip netns exec`, 20-100 ms apiece on this shared machine.
  const pause = () => new Promise((res) => setTimeout(res, 300));
  // No drift: a resync reads everything back and writes nothing.
  const resyncs: number[] = [];
  let resyncWrites = 0;
  for (let i = 0; i < 5; i++) {
    await pause();
    const t = performance.now();
    const r = await programmed.syncVxlan(state, { resync: true });
    resyncs.push(performance.now() - t);
    resyncWrites += r.counts.writeCommands;
  }
  // One host joins, then leaves: the incremental sync writes only its entries.
  const grown = stateOf(cluster(hosts + 1, per, 'Always'));
  const joins: number[] = [];
  const leaves: number[] = [];
  for (let i = 0; i < 5; i++) {
    await pause();
    let t = performance.now();
    await programmed.syncVxlan(grown);
    joins.push(performance.now() - t);
    await pause();
    t = performance.now();
    await programmed.syncVxlan(state);
    leaves.push(performance.now() - t);
  }
  const coldMs = median(cold);
  const rawMs = median(raw);
  return {
    remoteHosts: hosts, blocksPerHost: per,
    state: { routes: state.routes.length, vteps: state.vteps.length },
    kernel,
    calcMs: round(calcMs),
    // Ratio of the medians, and the median of each round's own ratio (the pair ran back to back, under the same load).
    cold: {
      ...stats(cold), rawFloor: stats(raw), ratio: Math.round((coldMs / rawMs) * 100) / 100,
      pairRatioMedian: Math.round(median(cold.map((c, i) => c / raw[i]!)) * 100) / 100, goal: 1.25,
    },
    noDriftResync: { writeCommands: resyncWrites, ...stats(resyncs) },
    hostJoins: stats(joins),
    hostLeaves: stats(leaves),
  };
}

interface Pair { h: Netns[]; c: Netns[]; ips: string[] }

/** Two hosts on one link (172.16.0.1, .2 /12), one container each, plugged as the dataplane's plumbing would. */
async function twoHosts(prefix: string, made: Netns[]): Promise<Pair> {
  const h: Netns[] = [];
  const c: Netns[] = [];
  const ips = [ip4((10 << 24) + (128 << 16) + 5), ip4((10 << 24) + (128 << 16) + 64 + 5)];
  for (let k = 0; k < 2; k++) {
    h.push(await createNetns(`${prefix}h${k}`));
    c.push(await createNetns(`${prefix}c${k}`));
    made.push(h[k]!, c[k]!);
  }
  await connectNetns({ ns: h[0]!.name, ifname: 'up0', address: `${underlay(0)}/12` }, { ns: h[1]!.name, ifname: 'up0', address: `${underlay(1)}/12` });
  for (let k = 0; k < 2; k++) {
    await connectNetns({ ns: h[k]!.name, ifname: 'trlc' }, { ns: c[k]!.name, ifname: 'eth0', address: `${ips[k]}/32` });
    await c[k]!.run(['ip', '-batch', '-'], { input: 'route add 169.254.1.1 dev eth0 scope link\nroute add default via 169.254.1.1 dev eth0\n' });
    await h[k]!.run(['ip', 'route', 'add', `${ips[k]}/32`, 'dev', 'trlc', 'scope', 'link']);
    // Proxy ARP answers the container's 169.254.1.1 only for an address the host routes elsewhere (as a real host's default route does).
    await h[k]!.run(['ip', 'route', 'add', 'default', 'via', underlay(1 - k)]);
    await h[k]!.run(['sysctl', '-qw', 'net.ipv4.ip_forward=1', 'net.ipv4.conf.trlc.proxy_arp=1', 'net.ipv4.neigh.trlc.proxy_delay=0']);
  }
  return { h, c, ips };
}

async function setMtu(p: Pair, mtu: number): Promise<void> {
  for (let k = 0; k < 2; k++) {
    await p.h[k]!.run(['ip', 'link', 'set', 'trlc', 'mtu', String(mtu)]);
    await p.c[k]!.run(['ip', 'link', 'set', 'eth0', 'mtu', String(mtu)]);
  }
}

async function iperf(p: Pair, seconds: number): Promise<number> {
  const server = p.c[1]!.exec(['iperf3', '-s', '-1', '-B', p.ips[1]!], { timeoutMs: (seconds + 30) * 1000 });
  for (let i = 0; (await p.c[1]!.run(['ss', '-Htln', 'sport = :5201'])).trim() === ''; i++) {
    if (i > 100) throw new Error('iperf3 -s is not listening after 10 s');
    await new Promise((res) => setTimeout(res, 100));
  }
  const r = await p.c[0]!.exec(['iperf3', '-c', p.ips[1]!, '-t', String(seconds), '-J'], { timeoutMs: (seconds + 30) * 1000 });
  await server;
  // iperf3 -J may exit 0 with only an error in its JSON.
  const j = JSON.parse(r.stdout || '{}') as { end?: { sum_received?: { bits_per_second: number } }; error?: string };
  const bps = j.end?.sum_received?.bits_per_second;
  if (bps === undefined) throw new Error(`iperf3 client (exit ${r.exitCode}): no result: ${j.error ?? r.stderr}`);
  return bps / 1e9;
}

async function throughput(seconds: number, pairs: number, prefix: string, made: Netns[]): Promise<Record<string, unknown>> {
  const p = await twoHosts(prefix, made);
  const dps = p.h.map((h) => createDataplane({ netns: h.name, logger: silentLogger() }));
  // Both hosts on one subnet: Always encapsulates, CrossSubnet routes natively between them.
  const vx = cluster(1, 1, 'Always');
  const native = cluster(1, 1, 'CrossSubnet');
  const use = async (c: typeof vx, mtu: number) => {
    for (const [k, dp] of dps.entries()) await dp.syncVxlan(stateOf(c, `h${k}`));
    await setMtu(p, mtu);
  };
  const vxlanGbps: number[] = [];
  const nativeGbps: number[] = [];
  for (let i = 0; i < pairs; i++) {
    const order: Array<['vxlan' | 'native', () => Promise<void>]> = [
      ['vxlan', async () => { await use(vx, UNDERLAY_MTU - 50); vxlanGbps.push(await iperf(p, seconds)); }],
      ['native', async () => { await use(native, UNDERLAY_MTU); nativeGbps.push(await iperf(p, seconds)); }],
    ];
    if (i % 2 === 1) order.reverse();
    for (const [, fn] of order) await fn();
  }
  const tx = Number((await p.h[0]!.run(['cat', '/sys/class/net/vxlan.trl/statistics/tx_packets'])).trim());
  const r2 = (x: number) => Math.round(x * 100) / 100;
  return {
    tool: 'iperf3 -t ' + seconds + ' (TCP, one stream), container to container across two hosts on one link',
    vxlanGbps: { median: r2(median(vxlanGbps)), p90: r2(percentile(vxlanGbps, 90)), runs: vxlanGbps.map(r2), mtu: UNDERLAY_MTU - 50 },
    nativeGbps: { median: r2(median(nativeGbps)), p90: r2(percentile(nativeGbps, 90)), runs: nativeGbps.map(r2), mtu: UNDERLAY_MTU },
    ratio: r2(median(vxlanGbps) / median(nativeGbps)),
    vxlanDeviceTxPackets: tx,
  };
}

export async function run(params: Record<string, string>): Promise<Record<string, unknown>> {
  const hosts = Number(params.hosts ?? 1000);
  const per = Number(params.blocks ?? 1);
  const rounds = Number(params.rounds ?? 9);
  const seconds = Number(params.seconds ?? 5);
  const pairs = Number(params.pairs ?? 3);
  const prefix = `${testNetnsPrefix()}vxb`;
  const made: Netns[] = [];
  try {
    const prog = await programming(hosts, per, rounds, prefix, made);
    const tput = params.throughput === 'false' ? null : await throughput(seconds, pairs, `${prefix}t`, made);
    return { scale: { hosts, blocksPerHost: per, rounds }, programming: prog, throughput: tput, rssMiB: rssMiB() };
  } finally {
    for (const n of made) await n.destroy();
  }
}
