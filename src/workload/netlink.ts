// The attach path's changes to the kernel, made with ip(8) in batches: the veth pair, the
// container's address and routes (through nsenter into its sandbox), and the host side.
// The host side lives in whatever namespace the caller runs in (the runtime's).
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { TrellisError, ROUTE_PROTO_WORKLOAD } from '../model/index.js';
import { GATEWAY_V4, GATEWAY_V6, HOST_VETH_MAC } from './names.js';

// The dataplane owns these routes too: one number, the model's.
export { ROUTE_PROTO_WORKLOAD };

export interface RunResult { code: number; stdout: string; stderr: string }

export function run(argv: string[], input?: string): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('error', (e) => resolve({ code: -1, stdout, stderr: stderr + e.message }));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    if (child.stdin) {
      // A command that exits before reading its input must not crash the plugin with EPIPE.
      child.stdin.on('error', () => undefined);
      child.stdin.end(input);
    }
  });
}

export class NetlinkError extends TrellisError<'NETLINK'> {
  constructor(readonly step: string, readonly stderr: string) {
    super('NETLINK', `${step}: ${stderr.trim() || 'failed'}`);
  }
}

async function must(step: string, argv: string[], input?: string): Promise<string> {
  const r = await run(argv, input);
  if (r.code !== 0) throw new NetlinkError(step, r.stderr);
  return r.stdout;
}

const nsenter = (netns: string, argv: string[]) => ['nsenter', `--net=${netns}`, ...argv];

const prefixLen = (address: string) => (address.includes(':') ? 128 : 32);

export interface VethSpec {
  host: string;
  ifname: string;
  /** The sandbox to create the container end in; absent: it stays here for the runtime to move (Docker). */
  netns?: string;
  mac: string;
  mtu?: number;
}

/**
 * Creates the pair, the container end directly inside the sandbox (fails if the name is
 * taken there), and sets up the host end, in one ip(8) batch (every process spawned costs
 * trellisd ≈ 3 ms of its event loop): up, the /32 (/128) route to the container, so it is
 * reachable as soon as ADD returns, and with IPv6 the containers' gateway fe80::1 (nodad:
 * usable at once). Then proxy ARP, so the container's ARP for 169.254.1.1 gets this end's
 * MAC (proxy_delay 0: answered at once; the container has a permanent entry for it anyway).
 * The dataplane keeps the same routes (same protocol) and owns forwarding and policy. A
 * batch stops at its first failure: the caller deletes the host end whatever happened.
 */
export async function createVethAndHostSide(o: VethSpec, addresses: string[]): Promise<void> {
  const mtu = o.mtu ? ` mtu ${o.mtu}` : '';
  const v6 = addresses.some((a) => a.includes(':'));
  const where = o.netns ? ` netns ${o.netns}` : '';
  await must(`creating veth ${o.host} / ${o.ifname}${o.netns ? ` in ${o.netns}` : ''}`, ['ip', '-batch', '-'], [
    `link add ${o.host} address ${HOST_VETH_MAC}${mtu} type veth peer name ${o.ifname} address ${o.mac}${mtu}${where}`,
    ...(v6 ? [`addr add ${GATEWAY_V6}/64 dev ${o.host} nodad`] : []),
    `link set ${o.host} up`,
    ...addresses.map((a) => `route replace ${a}/${prefixLen(a)} dev ${o.host} scope link proto ${ROUTE_PROTO_WORKLOAD}`),
  ].join('\n') + '\n');
  try {
    await writeFile(`/proc/sys/net/ipv4/conf/${o.host}/proxy_arp`, '1');
    await writeFile(`/proc/sys/net/ipv4/neigh/${o.host}/proxy_delay`, '0');
  } catch (e) {
    throw new NetlinkError(`enabling proxy ARP on ${o.host}`, (e as Error).message);
  }
}

/**
 * Container side: its /32 (and /128), up, and per family a permanent neighbour entry for
 * the gateway (the host end's fixed MAC: the container does not depend on the host
 * answering ARP or ND), a link route to it where needed, and the default route through it.
 */
export async function configureContainer(netns: string, ifname: string, addresses: string[]): Promise<void> {
  const lines = [...addresses.map((a) => `addr add ${a}/${prefixLen(a)} dev ${ifname}${a.includes(':') ? ' nodad' : ''}`), `link set ${ifname} up`];
  if (addresses.some((a) => !a.includes(':'))) {
    lines.push(
      `neigh replace ${GATEWAY_V4} lladdr ${HOST_VETH_MAC} dev ${ifname} nud permanent`,
      `route add ${GATEWAY_V4} dev ${ifname} scope link`,
      `route add default via ${GATEWAY_V4} dev ${ifname}`,
    );
  }
  if (addresses.some((a) => a.includes(':'))) {
    lines.push(
      `neigh replace ${GATEWAY_V6} lladdr ${HOST_VETH_MAC} dev ${ifname} nud permanent`,
      `route add default via ${GATEWAY_V6} dev ${ifname}`,
    );
  }
  await must(`configuring ${ifname} in ${netns}`, nsenter(netns, ['ip', '-batch', '-']), `${lines.join('\n')}\n`);
}

/** Deletes the host end (the kernel removes the peer and the routes with it). Absent: fine. */
export async function deleteHostVeth(host: string): Promise<void> {
  const r = await run(['ip', 'link', 'del', host]);
  if (r.code !== 0 && !/Cannot find device|does not exist/i.test(r.stderr)) throw new NetlinkError(`deleting ${host}`, r.stderr);
}

/** Removes an interface inside a sandbox, if the sandbox and the interface still exist. */
export async function deleteContainerLink(netns: string, ifname: string): Promise<void> {
  await run(nsenter(netns, ['ip', 'link', 'del', ifname]));
}

interface IpLink { ifname: string; operstate?: string; flags?: string[]; address?: string }
interface IpAddr { ifname: string; addr_info?: Array<{ local: string; prefixlen: number; family: string }> }
interface IpRoute { dst: string; gateway?: string; dev?: string }

/** What CHECK compares against: problems found, as sentences; empty when all is as ADD left it. */
export async function inspect(o: { host: string; ifname: string; netns: string; address: string; mac: string }): Promise<string[]> {
  const problems: string[] = [];
  const host = await run(['ip', '-j', 'link', 'show', 'dev', o.host]);
  if (host.code !== 0) problems.push(`host interface ${o.host} is missing`);
  else {
    const l = (JSON.parse(host.stdout) as IpLink[])[0];
    if (!l?.flags?.includes('UP')) problems.push(`host interface ${o.host} is down`);
  }
  const addr = await run(nsenter(o.netns, ['ip', '-j', 'addr', 'show', 'dev', o.ifname]));
  if (addr.code !== 0) {
    problems.push(`interface ${o.ifname} is missing in ${o.netns}`);
    return problems;
  }
  const a = (JSON.parse(addr.stdout) as Array<IpAddr & IpLink>)[0];
  if (!a?.addr_info?.some((i) => i.local === o.address && i.prefixlen === prefixLen(o.address))) problems.push(`${o.ifname} lacks ${o.address}/${prefixLen(o.address)}`);
  if (a?.address && a.address.toLowerCase() !== o.mac) problems.push(`${o.ifname} has MAC ${a.address}, expected ${o.mac}`);
  const v6 = o.address.includes(':');
  const gateway = v6 ? GATEWAY_V6 : GATEWAY_V4;
  const routes = await run(nsenter(o.netns, ['ip', '-j', v6 ? '-6' : '-4', 'route', 'show', 'dev', o.ifname]));
  const rs = routes.code === 0 ? (JSON.parse(routes.stdout) as IpRoute[]) : [];
  if (!rs.some((r) => r.dst === 'default' && r.gateway === gateway)) problems.push(`${o.ifname} lacks the default route via ${gateway}`);
  return problems;
}
