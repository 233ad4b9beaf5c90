// The VXLAN device, its static neighbours and FDB entries, and the routes of calc's
// VxlanState (proto 80), brought to the kernel: read (only the device and proto 80
// routes), diff, write the difference in order: the device first (ip -batch), then FDB
// entries (bridge -batch: ip has no FDB command), then neighbours and routes (ip -batch),
// then FDB entries nothing uses any more. An in-sync kernel gets no command at all.
//
// Which route wins a prefix: VXLAN's. A block of a VXLAN pool is routed from the store
// (the host that owns it in IPAM), so a proto 79 (BGP) route to the same prefix is
// replaced; any other protocol's route (a local workload's /32, a static route) is left
// alone and the prefix reported as skipped.
import { ROUTE_PROTO_BGP, ROUTE_PROTO_VXLAN, VXLAN_DEVICE, VXLAN_OVERHEAD, type VxlanState } from '../calc/index.js';
import { DataplaneError } from './errors.js';
import type { Exec } from './exec.js';
import type { Logger } from '../log/index.js';
import { emptyCounts, type ApplyReport } from './report.js';
import { byCodePoint } from './names.js';
import { canonicalCidr } from '../model/index.js';
import { parseIpRoutes, type KernelRoute } from './routes.js';

export interface VxlanDeviceKernel {
  vni: number;
  port: number;
  local: string;
  learning: boolean;
  mac: string;
  mtu: number;
  up: boolean;
  /** IPv4 addresses as CIDRs. */
  addrs: string[];
}

export interface VxlanKernel {
  device: VxlanDeviceKernel | null;
  /** MTU of the interface holding the wanted local address (for the automatic MTU); absent when unknown. */
  parentMtu?: number;
  /** FDB: MAC -> remote underlay address (entries with a dst only). */
  fdb: Map<string, string>;
  /** Permanent neighbours on the device: address -> MAC. */
  neigh: Map<string, string>;
  /** Our proto 80 routes by destination. */
  routes: Map<string, KernelRoute>;
  /** Everybody else's main-table routes by destination (protocol kept). */
  foreign: Map<string, KernelRoute>;
}

export interface VxlanPlan {
  /** ip -batch: device creation or change. */
  link: string[];
  /** bridge -batch: FDB entries added or changed. */
  fdbAdd: string[];
  /** ip -batch: neighbours and routes. */
  ip: string[];
  /** bridge -batch: stale FDB entries removed. */
  fdbDel: string[];
  skipped: string[];
  counts: { routesAdded: number; routesReplaced: number; routesDeleted: number; neighbours: number; fdb: number };
  /** The device is created by this plan (none was there, or it could not be changed in place). */
  creates: boolean;
  after: VxlanKernel;
}

/** The device's MTU: as configured, else the underlying interface's less the VXLAN overhead (1500 assumed when unknown). */
export function vxlanMtu(configured: number, parentMtu: number | undefined): number {
  return configured > 0 ? configured : (parentMtu ?? 1500) - VXLAN_OVERHEAD;
}

function routeLine(r: { dst: string; encap: boolean; via: string }): string {
  return r.encap
    ? `route replace ${r.dst} via ${r.via} dev ${VXLAN_DEVICE} onlink proto ${ROUTE_PROTO_VXLAN}`
    : `route replace ${r.dst} via ${r.via} proto ${ROUTE_PROTO_VXLAN}`;
}

/** The whole desired state as batch text (the exact-text tests and the raw anchor of the bench). */
export function renderVxlan(state: VxlanState, parentMtu?: number): { ip: string[]; bridge: string[] } {
  const ip: string[] = [];
  const bridge: string[] = [];
  const d = state.device;
  if (!d) return { ip, bridge };
  ip.push(...deviceCreate(d, vxlanMtu(d.mtu, parentMtu)));
  for (const v of state.vteps) {
    bridge.push(`fdb replace ${v.mac} dev ${VXLAN_DEVICE} dst ${v.address} self permanent`);
    ip.push(`neigh replace ${v.tunnelAddr} lladdr ${v.mac} dev ${VXLAN_DEVICE} nud permanent`);
  }
  for (const r of state.routes) ip.push(routeLine(r));
  return { ip, bridge };
}

function deviceCreate(d: NonNullable<VxlanState['device']>, mtu: number): string[] {
  return [
    `link add name ${VXLAN_DEVICE} address ${d.mac} mtu ${mtu} type vxlan id ${d.vni} local ${d.address} dstport ${d.port} nolearning`,
    // No IPv6 link-local on the tunnel: nothing speaks IPv6 over it, and it would send ND/MLD nobody answers.
    `link set ${VXLAN_DEVICE} addrgenmode none up`,
    `addr replace ${d.tunnelAddr}/32 dev ${VXLAN_DEVICE}`,
  ];
}

/** Plans the difference between calc's state and the kernel. Pure. */
export function planVxlan(state: VxlanState, kernel: VxlanKernel): VxlanPlan {
  const plan: VxlanPlan = {
    link: [], fdbAdd: [], ip: [], fdbDel: [], skipped: [], creates: false,
    counts: { routesAdded: 0, routesReplaced: 0, routesDeleted: 0, neighbours: 0, fdb: 0 },
    after: { device: null, fdb: new Map(), neigh: new Map(), routes: new Map(), foreign: kernel.foreign, ...(kernel.parentMtu !== undefined ? { parentMtu: kernel.parentMtu } : {}) },
  };
  const d = state.device;
  const cur = kernel.device;
  // What stays on the device: nothing when it is (re)created.
  let fdb = kernel.fdb;
  let neigh = kernel.neigh;
  let routes = kernel.routes;
  if (!d) {
    if (cur) plan.link.push(`link del ${VXLAN_DEVICE}`);
    for (const [dst, r] of [...routes].sort(([a], [b]) => byCodePoint(a, b))) {
      plan.counts.routesDeleted++;
      // Routes over the device go with it.
      if (!(cur && r.dev === VXLAN_DEVICE)) plan.ip.push(`route del ${dst} proto ${ROUTE_PROTO_VXLAN}`);
    }
    return plan;
  }
  const mtu = vxlanMtu(d.mtu, kernel.parentMtu);
  const want: VxlanDeviceKernel = { vni: d.vni, port: d.port, local: d.address, learning: false, mac: d.mac, mtu, up: true, addrs: [`${d.tunnelAddr}/32`] };
  if (!cur || cur.vni !== d.vni || cur.port !== d.port || cur.local !== d.address || cur.learning) {
    // VNI, port, local address and learning cannot be changed on a live device.
    if (cur) plan.link.push(`link del ${VXLAN_DEVICE}`);
    plan.link.push(...deviceCreate(d, mtu));
    plan.creates = true;
    fdb = new Map();
    neigh = new Map();
    routes = new Map([...routes].filter(([, r]) => r.dev !== VXLAN_DEVICE));
  } else {
    const set: string[] = [];
    if (cur.mac !== d.mac) set.push(`address ${d.mac}`);
    if (cur.mtu !== mtu) set.push(`mtu ${mtu}`);
    if (!cur.up) set.push('up');
    if (set.length) plan.link.push(`link set ${VXLAN_DEVICE} ${set.join(' ')}`);
    for (const a of cur.addrs) if (a !== want.addrs[0]) plan.link.push(`addr del ${a} dev ${VXLAN_DEVICE}`);
    if (!cur.addrs.includes(want.addrs[0]!)) plan.link.push(`addr replace ${want.addrs[0]} dev ${VXLAN_DEVICE}`);
  }
  plan.after.device = want;

  const wantFdb = new Map(state.vteps.map((v) => [v.mac, v.address]));
  const wantNeigh = new Map(state.vteps.map((v) => [v.tunnelAddr, v.mac]));
  for (const [mac, dst] of wantFdb) {
    plan.after.fdb.set(mac, dst);
    if (fdb.get(mac) === dst) continue;
    plan.fdbAdd.push(`fdb replace ${mac} dev ${VXLAN_DEVICE} dst ${dst} self permanent`);
    plan.counts.fdb++;
  }
  for (const [ip, mac] of wantNeigh) {
    plan.after.neigh.set(ip, mac);
    if (neigh.get(ip) === mac) continue;
    plan.ip.push(`neigh replace ${ip} lladdr ${mac} dev ${VXLAN_DEVICE} nud permanent`);
    plan.counts.neighbours++;
  }
  const wanted = new Set<string>();
  for (const r of state.routes) {
    const dst = canonicalCidr(r.dst);
    const other = kernel.foreign.get(dst);
    if (other && other.protocol !== String(ROUTE_PROTO_BGP)) {
      plan.skipped.push(`${dst}: kernel already routes it by protocol ${other.protocol}${other.dev ? ` on ${other.dev}` : ''}`);
      continue;
    }
    wanted.add(dst);
    const dev = r.encap ? VXLAN_DEVICE : undefined;
    const route: KernelRoute = { dst, family: 4, protocol: String(ROUTE_PROTO_VXLAN), via: r.via, ...(dev ? { dev } : {}) };
    plan.after.routes.set(dst, route);
    const have = routes.get(dst);
    if (have && have.via === r.via && (r.encap ? have.dev === VXLAN_DEVICE : have.dev !== VXLAN_DEVICE)) continue;
    plan.ip.push(routeLine({ ...r, dst }));
    if (have || other) plan.counts.routesReplaced++;
    else plan.counts.routesAdded++;
  }
  for (const [dst] of [...routes].sort(([a], [b]) => byCodePoint(a, b))) {
    if (wanted.has(dst)) continue;
    plan.ip.push(`route del ${dst} proto ${ROUTE_PROTO_VXLAN}`);
    plan.counts.routesDeleted++;
  }
  for (const [ip] of neigh) {
    if (wantNeigh.has(ip)) continue;
    plan.ip.push(`neigh del ${ip} dev ${VXLAN_DEVICE}`);
    plan.counts.neighbours++;
  }
  for (const [mac, dst] of fdb) {
    if (wantFdb.has(mac)) continue;
    plan.fdbDel.push(`fdb del ${mac} dev ${VXLAN_DEVICE} dst ${dst} self`);
    plan.counts.fdb++;
  }
  return plan;
}

// ---- reading the kernel ----------------------------------------------------------

interface JLink { ifname: string; mtu: number; address?: string; flags?: string[]; linkinfo?: { info_kind?: string; info_data?: { id?: number; local?: string; port?: number; learning?: boolean } }; addr_info?: Array<{ family: string; local: string; prefixlen: number }> }

function parseJson<T>(text: string, what: string): T {
  try {
    return JSON.parse(text.trim() || '[]') as T;
  } catch (err) {
    throw new DataplaneError('PARSE_FAILED', `cannot parse ${what} output: ${(err as Error).message}`);
  }
}

/** Parses `ip -j -d addr show` (every link, with its details and addresses): our device and the MTU of the one holding `local`. */
export function parseVxlanLinks(json: string, local: string | undefined): { device: VxlanDeviceKernel | null; parentMtu?: number } {
  const links = parseJson<JLink[]>(json, 'ip -j -d addr show');
  let device: VxlanDeviceKernel | null = null;
  let parentMtu: number | undefined;
  for (const l of links) {
    const v4 = (l.addr_info ?? []).filter((a) => a.family === 'inet');
    if (l.ifname === VXLAN_DEVICE) {
      const i = l.linkinfo?.info_data ?? {};
      device = {
        vni: i.id ?? -1, port: i.port ?? -1, local: i.local ?? '', learning: i.learning !== false,
        mac: (l.address ?? '').toLowerCase(), mtu: l.mtu, up: (l.flags ?? []).includes('UP'),
        addrs: v4.map((a) => `${a.local}/${a.prefixlen}`).sort(),
      };
    } else if (local && v4.some((a) => a.local === local)) {
      parentMtu = l.mtu;
    }
  }
  return { device, ...(parentMtu !== undefined ? { parentMtu } : {}) };
}

/** What one `ip -j -d -4 -batch -` reads: links with addresses, the main table, permanent neighbours (every device: the VXLAN one may not exist). */
const READ_BATCH = 'addr show\nroute show table main\nneigh show nud permanent\n';

export async function readVxlanKernel(exec: Exec, local: string | undefined): Promise<VxlanKernel> {
  // One process for the three dumps (each prints one line of JSON), and the FDB only when
  // there is a device: a process start under `ip netns exec` costs as much as a dump. Both
  // read the kernel only once fed, so warm instances wait ready for the next resync.
  const out = (await exec.run(['ip', '-j', '-d', '-4', '-batch', '-'], READ_BATCH, { warm: true })).trim().split('\n');
  if (out.length !== 3) throw new DataplaneError('PARSE_FAILED', `ip -j -batch printed ${out.length} lines of JSON for 3 dumps`);
  const [links, table, neigh] = out as [string, string, string];
  const { device, parentMtu } = parseVxlanLinks(links, local);
  const k: VxlanKernel = { device, fdb: new Map(), neigh: new Map(), routes: new Map(), foreign: new Map(), ...(parentMtu !== undefined ? { parentMtu } : {}) };
  for (const r of parseIpRoutes(table, 4)) {
    if (r.protocol === String(ROUTE_PROTO_VXLAN)) k.routes.set(r.dst, r);
    else if (!k.foreign.has(r.dst)) k.foreign.set(r.dst, r);
  }
  if (device) {
    const fdb = await exec.run(['bridge', '-j', '-batch', '-'], `fdb show dev ${VXLAN_DEVICE}\n`, { warm: true });
    for (const e of parseJson<Array<{ mac: string; dst?: string }>>(fdb, 'bridge -j fdb')) if (e.dst) k.fdb.set(e.mac.toLowerCase(), e.dst);
    for (const n of parseJson<Array<{ dst: string; dev?: string; lladdr?: string }>>(neigh, 'ip -j neigh')) {
      if (n.dev === VXLAN_DEVICE && n.lladdr) k.neigh.set(n.dst, n.lladdr.toLowerCase());
    }
  }
  return k;
}

// ---- applying --------------------------------------------------------------------

export interface VxlanApplied { writeCommands: number; plan: VxlanPlan }

/** Runs the plan's batches in order; throws on the first that fails (the next sync re-reads). */
export async function applyVxlanPlan(exec: Exec, plan: VxlanPlan): Promise<VxlanApplied> {
  let writeCommands = 0;
  const batch = async (tool: 'ip' | 'bridge', lines: string[]) => {
    if (!lines.length) return;
    // Warm: both read all their input before acting, so an instance waits ready for the next change.
    await exec.run([tool, '-batch', '-'], `${lines.join('\n')}\n`, { warm: true });
    writeCommands++;
  };
  // FDB entries need the device; neighbours and routes are only useful once the FDB knows
  // where to send, so a route that replaces another (BGP's, or ours moved to a new VTEP)
  // waits for them. A device created now with routes that replace nothing is the
  // exception: what they carry had no route before (the underlay's default route leads
  // nowhere for the pool), so one batch less costs nothing that worked.
  if (plan.fdbAdd.length && !(plan.creates && plan.counts.routesReplaced === 0)) {
    await batch('ip', plan.link);
    await batch('bridge', plan.fdbAdd);
    await batch('ip', plan.ip);
  } else {
    await batch('ip', [...plan.link, ...plan.ip]);
    await batch('bridge', plan.fdbAdd);
  }
  await batch('bridge', plan.fdbDel);
  return { writeCommands, plan };
}

export interface VxlanSync {
  sync(state: VxlanState, how: { resync?: boolean }): Promise<ApplyReport>;
}

/**
 * Between resyncs the last write stands in for a kernel read, as for learned routes; a
 * failed write, a resync or the interval makes the next sync read the kernel again (so a
 * deleted FDB entry or neighbour is put back by the periodic resync).
 */
export function createVxlanSync(exec: Exec, log: Logger, resyncIntervalMs: number): VxlanSync {
  let last: { readAt: number; kernel: VxlanKernel } | null = null;
  async function sync(state: VxlanState, how: { resync?: boolean }): Promise<ApplyReport> {
    const started = Date.now();
    const counts = emptyCounts();
    const cached = last;
    const resync = !cached || how.resync === true || started - cached.readAt >= resyncIntervalMs
      // The automatic MTU follows the underlying interface, which only a read shows.
      || (state.device !== null && cached.kernel.device?.local !== state.device.address);
    last = null;
    const kernel = resync || !cached ? await readVxlanKernel(exec, state.device?.address) : cached.kernel;
    const plan = planVxlan(state, kernel);
    const applied = await applyVxlanPlan(exec, plan);
    last = { readAt: resync || !cached ? started : cached.readAt, kernel: plan.after };
    counts.writeCommands = applied.writeCommands;
    counts.routesAdded = plan.counts.routesAdded;
    counts.routesReplaced = plan.counts.routesReplaced;
    counts.routesDeleted = plan.counts.routesDeleted;
    if (applied.writeCommands) log.info({ counts: plan.counts, skipped: plan.skipped.length }, 'vxlan reconciled');
    return { wrote: applied.writeCommands > 0, resynced: resync, counts, skipped: [...plan.skipped, ...state.problems], errors: [], durationMs: Date.now() - started };
  }
  return { sync };
}
