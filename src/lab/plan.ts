// The lab's topology as plain data: which namespaces, addresses, AS numbers and
// containers a cluster of N hosts gets. Pure, so it is tested without a kernel.
//
//   etcd ns (10.10.0.2[-4]) ──┐
//   h1 (10.10.1.2, AS 65101) ─┤
//   h2 (10.10.2.2, AS 65102) ─┼── ToR (AS 65000, BIRD 2; 10.10.<i>.1 towards each)
//   hN (10.10.N.2, AS 651NN) ─┘
// Each host is its own rack (one AS per rack); containers get addresses from 10.244.0.0/16.
export const TOR_ASN = 65000;
export const POOL_CIDR = '10.244.0.0/16';
export const POOL_BLOCK_SIZE = 26;
export const FABRIC_CIDR = '10.10.0.0/16';
export const TENANTS = ['a', 'b'] as const;
export const APPS = ['web', 'client'] as const;
/** What plugs the lab's containers: trellis-cni called as a runtime calls it (the default),
 *  or a dockerd per host with `docker run --net` through Trellis's network and IPAM driver. */
export const RUNTIMES = ['cni', 'docker'] as const;
export type Runtime = (typeof RUNTIMES)[number];

export interface HostPlan {
  name: string;
  netns: string;
  asn: number;
  address: string;
  torAddress: string;
  /** The ToR's interface towards this host. */
  torIf: string;
}
export interface EtcdMemberPlan { name: string; address: string; clientUrl: string; peerUrl: string }
export interface ContainerPlan {
  /** "h1-a-web": host, tenant, app (or the name `lab add` was given). */
  name: string;
  netns: string;
  host: string;
  tenant: string;
  namespace: string;
  app: string;
  /** The workload name its WorkloadEndpoint gets. */
  workload: string;
  /** What the runtime passes as CNI_CONTAINERID: the container's name, so that the
   *  endpoint reads "h1-cni-h1-a-web-eth0" rather than a hash. */
  containerId: string;
  /** Every label (default: app=<app>). */
  labels?: Record<string, string>;
  /** The address asked for (CNI_ARGS IP=), for `lab add --ip`. */
  ip?: string;
  /** Plugged by `lab add` rather than by `up`. */
  added?: boolean;
}

/** Labels a container's endpoint carries. */
export function containerLabels(c: ContainerPlan): Record<string, string> {
  return c.labels ?? { app: c.app };
}

const NAME_RE = /^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/;
const LABEL_KEY_RE = /^([a-z0-9.-]+\/)?[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE_RE = /^([A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?)?$/;

/** "app=web,tier=front" -> labels; throws naming the pair that is wrong. */
export function parseLabels(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of text.split(',').filter((x) => x !== '')) {
    const eq = kv.indexOf('=');
    const k = kv.slice(0, eq);
    const v = kv.slice(eq + 1);
    if (eq <= 0 || !LABEL_KEY_RE.test(k) || !LABEL_VALUE_RE.test(v)) throw new RangeError(`--labels: "${kv}" is not key=value (e.g. app=web,tier=front)`);
    out[k] = v;
  }
  return out;
}

/** The plan of a container `lab add` plugs (pure; throws RangeError on bad input). */
export function planAddedContainer(plan: LabPlan, opts: { name: string; host: string; namespace: string; labels: Record<string, string>; ip?: string }): ContainerPlan {
  if (!NAME_RE.test(opts.name)) throw new RangeError(`name "${opts.name}": lower-case letters, digits and '-', at most 32, starting and ending with a letter or digit`);
  if (plan.containers.some((c) => c.name === opts.name)) throw new RangeError(`a container "${opts.name}" is already in the lab ("lab rm ${opts.name}" first)`);
  if (!plan.hosts.some((h) => h.name === opts.host)) throw new RangeError(`--host ${opts.host}: no such host (hosts: ${plan.hosts.map((h) => h.name).join(', ')})`);
  if (!NAME_RE.test(opts.namespace)) throw new RangeError(`--namespace "${opts.namespace}": not a valid namespace name`);
  if (opts.ip !== undefined && !/^\d{1,3}(\.\d{1,3}){3}$/.test(opts.ip)) throw new RangeError(`--ip ${opts.ip}: expected an IPv4 address from ${plan.pool}`);
  const c: ContainerPlan = {
    name: opts.name, netns: `${plan.prefix}c-${opts.name}`, host: opts.host, tenant: opts.namespace.replace(/^tenant-/, ''),
    namespace: opts.namespace, app: opts.labels.app ?? '-', workload: opts.name, containerId: opts.name,
    labels: opts.labels, added: true,
  };
  if (opts.ip !== undefined) c.ip = opts.ip;
  return c;
}
export interface LabPlan {
  prefix: string;
  /** Absent in records of labs from before runtimes: those are 'cni'. */
  runtime?: Runtime;
  tor: { netns: string; asn: number; routerId: string };
  etcdNetns: string;
  etcd: EtcdMemberPlan[];
  hosts: HostPlan[];
  containers: ContainerPlan[];
  pool: string;
  blockSize: number;
}

/** The plan's runtime ('cni' for records that predate the field). */
export function runtimeOf(plan: LabPlan): Runtime {
  return plan.runtime ?? 'cni';
}

/** --runtime's value, or a RangeError naming the runtimes there are. */
export function parseRuntime(value: string): Runtime {
  if (!(RUNTIMES as readonly string[]).includes(value)) throw new RangeError(`--runtime ${value}: unknown runtime (runtimes: ${RUNTIMES.join(', ')})`);
  return value as Runtime;
}

export function planLab(opts: { prefix: string; hosts: number; etcdMembers: number; runtime?: Runtime }): LabPlan {
  if (!Number.isInteger(opts.hosts) || opts.hosts < 1 || opts.hosts > 50) throw new RangeError(`--hosts ${opts.hosts}: must be 1-50`);
  if (opts.etcdMembers !== 1 && opts.etcdMembers !== 3) throw new RangeError(`--etcd ${opts.etcdMembers}: must be 1 or 3`);
  const p = opts.prefix;
  const etcd: EtcdMemberPlan[] = Array.from({ length: opts.etcdMembers }, (_, i) => {
    const address = `10.10.0.${i + 2}`;
    return { name: `e${i + 1}`, address, clientUrl: `http://${address}:2379`, peerUrl: `http://${address}:2380` };
  });
  const hosts: HostPlan[] = Array.from({ length: opts.hosts }, (_, k) => {
    const i = k + 1;
    return { name: `h${i}`, netns: `${p}h${i}`, asn: 65100 + i, address: `10.10.${i}.2`, torAddress: `10.10.${i}.1`, torIf: `h${i}` };
  });
  const containers: ContainerPlan[] = [];
  for (const h of hosts) {
    for (const tenant of TENANTS) {
      for (const app of APPS) {
        const name = `${h.name}-${tenant}-${app}`;
        containers.push({
          name, netns: `${p}${h.name}${tenant}${app.slice(0, 3)}`, host: h.name, tenant, namespace: `tenant-${tenant}`,
          app, workload: name, containerId: name,
        });
      }
    }
  }
  return {
    prefix: p,
    runtime: opts.runtime ?? 'cni',
    tor: { netns: `${p}tor`, asn: TOR_ASN, routerId: '10.10.0.1' },
    etcdNetns: `${p}etcd`,
    etcd, hosts, containers, pool: POOL_CIDR, blockSize: POOL_BLOCK_SIZE,
  };
}

export function etcdEndpoints(plan: LabPlan): string[] {
  return plan.etcd.map((e) => e.clientUrl);
}

/** BIRD 2 configuration for the ToR: eBGP to every host, learning their blocks and re-advertising them. */
export function birdConfig(plan: LabPlan, opts: { holdTime: number; keepalive: number; logFile: string }): string {
  const lines = [
    `# Trellis lab ToR: eBGP (AS ${plan.tor.asn}) to every host; one AS per rack.`,
    `log "${opts.logFile}" all;`,
    `router id ${plan.tor.routerId};`,
    'protocol device { scan time 5; }',
    // Learned host blocks go into the ToR's own kernel table so that it forwards between hosts.
    'protocol kernel { ipv4 { import none; export all; }; merge paths on; }',
    'template bgp rack {',
    `  local as ${plan.tor.asn};`,
    `  hold time ${opts.holdTime};`,
    `  keepalive time ${opts.keepalive};`,
    '  connect retry time 2;',
    '  error wait time 1, 10;',
    '  graceful restart on;',
    '  ipv4 { import all; export all; };',
    '}',
  ];
  for (const h of plan.hosts) {
    lines.push(`protocol bgp ${h.name} from rack { neighbor ${h.address} as ${h.asn}; source address ${h.torAddress}; }`);
  }
  return lines.join('\n') + '\n';
}
