// The lab as an object: `up` builds the cluster from scratch and records everything;
// `openLab` re-attaches to a running one from its records (status, exec, tests);
// `labDown` removes it from the records alone.
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { cleanupNetnsWithPrefix, deleteNetns } from './netns.js';
import { etcdEndpoints, planAddedContainer, planLab, runtimeOf, type ContainerPlan, type HostPlan, type LabPlan, type Runtime } from './plan.js';
import { removeContext, startOutsideForward, writeContext } from './forward.js';
import { isAlive, spawnInNetns, stopProcess } from './procs.js';
import { readRecords, RecordBook, type ProcessRecord } from './records.js';
import { birdc, buildFabric, etcdArgv, parseBirdProtocols, parseBirdRoutes, startBird, startEtcd, waitEtcd } from './topology.js';
import {
  API_PORT, apiGet, DEFAULT_TIMERS, REPO_ROOT, startContainer, startTrellisd, stopContainer, trellisctl, waitReady, writeClusterYaml, type LabTimers,
} from './cluster.js';
import { birdSocket } from './topology.js';
import { declaredFrom, measureMatrix, type MatrixResult } from './matrix.js';
import { createNetworks, dockerHostEnv, readyDockerds, startDockerContainer, startHostDockerd, stopDockerContainer } from './dockerlab.js';
import { sweepCgroup } from './dockerd.js';
import type { MatrixDoc, StatusDoc } from '../api/index.js';
import { endpointName } from '../workload/index.js';

export interface LabOptions {
  prefix: string;
  stateDir: string;
  hosts?: number;
  etcdMembers?: 1 | 3;
  /** What plugs the containers (default 'cni'). */
  runtime?: Runtime;
  timers?: Partial<LabTimers>;
  /** Progress lines (default: none). */
  progress?: (line: string) => void;
  /** Policy files applied with trellisctl (default: the repository's policies/). */
  policiesDir?: string;
}

export interface LabTopology { plan: LabPlan; timers: LabTimers; addresses: Record<string, string> }

export interface Lab {
  readonly plan: LabPlan;
  readonly stateDir: string;
  readonly timers: LabTimers;
  /** Container name -> its IPv4 address. */
  readonly addresses: Record<string, string>;
  host(name: string): HostPlan;
  container(name: string): ContainerPlan;
  trellisd(host: string): ProcessRecord | undefined;
  /** A host's dockerd (--runtime docker). */
  dockerd(host: string): ProcessRecord | undefined;
  /** The name of a container's WorkloadEndpoint (in its namespace), as its runtime's face makes it. */
  endpointName(c: ContainerPlan): string;
  startTrellisd(host: string): number;
  stopTrellisd(host: string, signal?: NodeJS.Signals): Promise<void>;
  waitReady(host: string, timeoutMs?: number): Promise<void>;
  /** GET PATH from a host's trellisd API. */
  api(host: string, path: string): Promise<{ status: number; body: string }>;
  status(host: string): Promise<StatusDoc>;
  declaredMatrix(host?: string): Promise<MatrixDoc>;
  measureMatrix(): Promise<MatrixResult>;
  birdProtocols(): Promise<Record<string, string>>;
  birdRoutes(): Promise<Record<string, string>>;
  birdc(args: string[]): Promise<string>;
  trellisctl(args: string[], opts?: { reject?: boolean }): Promise<{ stdout: string; stderr: string; exitCode: number }>;
  stopEtcdMember(index: number, signal?: NodeJS.Signals): Promise<void>;
  startEtcdMember(index: number): Promise<void>;
  /** Runs argv in a host or container namespace (with TRELLIS_* set for the fabric; birdc on tor gets the lab's socket). */
  exec(target: string, argv: string[], opts?: { inherit?: boolean }): Promise<{ stdout: string; stderr: string; exitCode: number }>;
  /** Plugs one more container the way a runtime does (trellis-cni ADD); returns its address. */
  addContainer(opts: { name: string; host: string; namespace: string; labels: Record<string, string>; ip?: string }): Promise<ContainerPlan & { address: string }>;
  /** Unplugs a container (trellis-cni DEL) and removes its namespace and listener. */
  removeContainer(name: string): Promise<void>;
  down(): Promise<string[]>;
}

function resolveTimers(t?: Partial<LabTimers>): LabTimers {
  return { ...DEFAULT_TIMERS, ...(t ?? {}) };
}

export async function labUp(opts: LabOptions): Promise<Lab> {
  const say = opts.progress ?? (() => undefined);
  const timers = resolveTimers(opts.timers);
  const plan = planLab({ prefix: opts.prefix, hosts: opts.hosts ?? 3, etcdMembers: opts.etcdMembers ?? 1, runtime: opts.runtime ?? 'cni' });
  const docker = runtimeOf(plan) === 'docker';
  if (readRecords(opts.stateDir)?.namespaces.length) {
    say('an earlier lab is still recorded: taking it down first');
    await labDown(opts.stateDir);
  }
  rmSync(join(opts.stateDir, 'etcd'), { recursive: true, force: true });
  const book = new RecordBook(opts.stateDir, opts.prefix);
  book.clear();
  const topo: LabTopology = { plan, timers, addresses: {} };
  book.topology(topo);
  say(`fabric: ToR ${plan.tor.netns}, etcd ${plan.etcdNetns}, ${plan.hosts.length} hosts`);
  await buildFabric(plan, book);
  say(`etcd: ${plan.etcd.length} member(s) at ${plan.etcd.map((e) => e.clientUrl).join(', ')}`);
  await startEtcd(plan, book, opts.stateDir);
  say(`ToR: BIRD 2, AS ${plan.tor.asn}, hold time ${timers.holdTime} s`);
  await startBird(plan, book, opts.stateDir, timers);
  const clusterFile = writeClusterYaml(plan, opts.stateDir, timers);
  const policies = opts.policiesDir ?? join(REPO_ROOT, 'policies');
  say(`trellisctl apply -f ${policies} and the lab's pool, nodes and BGP peers`);
  // One trellisctl for both (a process start is ≈ 0.6 s of CPU); all files are validated together.
  await trellisctl(plan, ['apply', '-f', clusterFile, '-f', policies]);
  for (const h of plan.hosts) startTrellisd(plan, h, book, opts.stateDir, timers);
  say(`trellisd on ${plan.hosts.map((h) => h.name).join(', ')}`);
  // trellisd and dockerd start side by side: dockerd finds the plugin socket on first use.
  if (docker) {
    for (const h of plan.hosts) startHostDockerd(plan, h, book, opts.stateDir);
    say(`dockerd on ${plan.hosts.map((h) => h.name).join(', ')} (data under ${join(opts.stateDir, '<host>', 'docker')}), image local/busybox`);
  }
  await Promise.all([
    ...plan.hosts.map((h) => waitReady(opts.stateDir, h, 60_000)),
    ...(docker ? [readyDockerds(plan, book, opts.stateDir)] : []),
  ]);
  say(docker
    ? `containers: ${plan.containers.length} (two tenants on every host), docker run --net tenant-a|tenant-b (Trellis's network and IPAM driver)`
    : `containers: ${plan.containers.length} (two tenants on every host), plugged by trellis-cni`);
  if (docker) await createNetworks(plan, opts.stateDir);
  // Every container at once, as independent runtimes would: trellisd takes one call per
  // container at a time and one IPAM change per host at a time, and IPAM's compare-and-swap
  // sorts out concurrent block claims between hosts.
  await Promise.all(plan.containers.map(async (c) => {
    topo.addresses[c.name] = await (docker ? startDockerContainer : startContainer)(plan, c, book, opts.stateDir);
    book.topology(topo);
  }));
  await startForwards(plan, book, opts.stateDir);
  return attach(opts.stateDir, book, topo);
}

/** Loopback halves of the forwards into etcd and every trellisd API (their inside halves
 *  started with etcd and trellisd), and the context file naming them. */
async function startForwards(plan: LabPlan, book: RecordBook, stateDir: string): Promise<void> {
  const etcd = await Promise.all(plan.etcd.map((m) => startOutsideForward(book, stateDir, `etcd-${m.name}`)));
  const apis = await Promise.all(plan.hosts.map((h) => startOutsideForward(book, stateDir, `api-${h.name}`)));
  writeContext(stateDir, {
    source: `npm run lab (${stateDir})`,
    etcdEndpoints: etcd.map((f) => f.url),
    nodes: Object.fromEntries(plan.hosts.map((h, i) => [h.name, { api: apis[i]!.url }])),
  });
}

export function openLab(stateDir: string): Lab {
  const rec = readRecords(stateDir);
  if (!rec || !rec.topology) throw new Error(`no lab recorded in ${stateDir}: run "npm run lab -- up" first`);
  const book = new RecordBook(stateDir, rec.prefix);
  return attach(stateDir, book, rec.topology as LabTopology);
}

function attach(stateDir: string, book: RecordBook, topo: LabTopology): Lab {
  const { plan, timers } = topo;
  const host = (name: string) => {
    const h = plan.hosts.find((x) => x.name === name);
    if (!h) throw new Error(`no host ${name} in the lab (hosts: ${plan.hosts.map((x) => x.name).join(', ')})`);
    return h;
  };
  const container = (name: string) => {
    const c = plan.containers.find((x) => x.name === name);
    if (!c) throw new Error(`no container ${name} in the lab (containers: ${plan.containers.map((x) => x.name).join(', ')})`);
    return c;
  };
  const proc = (role: string) => book.records.processes.find((p) => p.role === role);
  const docker = runtimeOf(plan) === 'docker';
  const removeContainerNs = async (c: ContainerPlan) => {
    const listener = proc(`listener ${c.name}`);
    if (listener) { await stopProcess(listener, 'SIGTERM', 2000); book.forgetProcess(listener.pid); }
    await deleteNetns(c.netns);
    book.forgetNamespace(c.netns);
    plan.containers.splice(plan.containers.indexOf(c), 1);
    delete topo.addresses[c.name];
    book.topology(topo);
  };
  const lab: Lab = {
    plan, stateDir, timers,
    get addresses() { return topo.addresses; },
    host, container,
    trellisd: (h) => proc(`trellisd ${h}`),
    dockerd: (h) => proc(`dockerd ${h}`),
    // trellis-cni names it for the runtime's container ID and interface; the Docker driver for the container and its network.
    endpointName: (c) => (docker ? endpointName(c.host, 'docker', c.name, c.namespace) : endpointName(c.host, 'cni', c.containerId, 'eth0')),
    startTrellisd: (h) => startTrellisd(plan, host(h), book, stateDir, timers),
    async stopTrellisd(h, signal = 'SIGTERM') {
      const p = proc(`trellisd ${h}`);
      if (!p) return;
      await stopProcess(p, signal);
      book.forgetProcess(p.pid);
    },
    waitReady: (h, timeoutMs = 30_000) => waitReady(stateDir, host(h), timeoutMs),
    api: (h, path) => apiGet(stateDir, host(h), path),
    async status(h) {
      const r = await apiGet(stateDir, host(h), '/status');
      if (r.status !== 200) throw new Error(`GET /status on ${h}: ${r.status} ${r.body}`);
      return JSON.parse(r.body) as StatusDoc;
    },
    async declaredMatrix(h = plan.hosts[0]!.name) {
      const r = await apiGet(stateDir, host(h), '/matrix?port=80');
      if (r.status !== 200) throw new Error(`GET /matrix on ${h}: ${r.status} ${r.body}`);
      return JSON.parse(r.body) as MatrixDoc;
    },
    async measureMatrix() {
      const declared = declaredFrom(await lab.declaredMatrix());
      const targets = plan.containers.filter((c) => topo.addresses[c.name]).map((c) => ({ name: c.name, netns: c.netns, address: topo.addresses[c.name]! }));
      return measureMatrix(targets, declared);
    },
    birdProtocols: async () => parseBirdProtocols(await birdc(plan, stateDir, ['show', 'protocols'])),
    birdRoutes: async () => parseBirdRoutes(await birdc(plan, stateDir, ['show', 'route'])),
    birdc: (args) => birdc(plan, stateDir, args),
    trellisctl: (args, o) => trellisctl(plan, args, o),
    async stopEtcdMember(i, signal = 'SIGTERM') {
      const p = proc(`etcd ${plan.etcd[i]!.name}`);
      if (!p) return;
      await stopProcess(p, signal);
      book.forgetProcess(p.pid);
    },
    async startEtcdMember(i) {
      const m = plan.etcd[i]!;
      const argv = etcdArgv(plan, i, join(stateDir, 'etcd', m.name));
      // A member that already has data rejoins; --initial-cluster-state is then ignored.
      spawnInNetns(book, `etcd ${m.name}`, plan.etcdNetns, argv, join(stateDir, 'logs', `etcd-${m.name}.log`));
      await waitEtcd(plan, stateDir, 30_000);
    },
    async exec(target, argv, o = {}) {
      const isHost = plan.hosts.some((h) => h.name === target);
      const ns = plan.hosts.find((h) => h.name === target)?.netns
        ?? plan.containers.find((c) => c.name === target)?.netns
        ?? (target === 'tor' ? plan.tor.netns : target === 'etcd' ? plan.etcdNetns : null);
      if (!ns) throw new Error(`no host or container "${target}"; hosts: ${plan.hosts.map((h) => h.name).join(', ')}; containers: ${plan.containers.map((c) => c.name).join(', ')}; also tor, etcd`);
      // BIRD's default control socket is not the lab's.
      const cmd = target === 'tor' && argv[0] === 'birdc' && !argv.includes('-s') ? ['birdc', '-s', birdSocket(stateDir), ...argv.slice(1)] : argv;
      // Inside the fabric the context file's loopback forwards are out of reach: etcd and
      // the host's own trellisd are named directly instead.
      const env: Record<string, string> = { TRELLIS_CONTEXT: 'none', TRELLIS_ETCD_ENDPOINTS: etcdEndpoints(plan).join(',') };
      if (isHost) env.TRELLIS_API_LISTEN = `127.0.0.1:${API_PORT}`;
      if (isHost && docker) env.DOCKER_HOST = dockerHostEnv(stateDir, target);
      const r = await execa('ip', ['netns', 'exec', ns, ...cmd], {
        reject: false, stdin: 'inherit', env, ...(o.inherit ? { stdout: 'inherit' as const, stderr: 'inherit' as const } : {}),
      });
      return { stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? ''), exitCode: r.exitCode ?? -1 };
    },
    async addContainer(o) {
      const c = planAddedContainer(plan, o);
      plan.containers.push(c);
      book.topology(topo);
      try {
        topo.addresses[c.name] = await (docker ? startDockerContainer : startContainer)(plan, c, book, stateDir);
      } catch (err) {
        // Nothing half-plugged stays behind: the container, the namespace and its listener go, the record too.
        if (docker) await stopDockerContainer(c, stateDir).catch(() => undefined);
        await removeContainerNs(c).catch(() => undefined);
        throw err;
      }
      book.topology(topo);
      return { ...c, address: topo.addresses[c.name]! };
    },
    async removeContainer(name) {
      const c = container(name);
      await (docker ? stopDockerContainer(c, stateDir) : stopContainer(plan, c, stateDir));
      await removeContainerNs(c);
    },
    down: () => labDown(stateDir),
  };
  return lab;
}

/** Removes every process and namespace the records name (and any namespace left with the lab's prefix). */
export async function labDown(stateDir: string): Promise<string[]> {
  const rec = readRecords(stateDir);
  if (!rec) return [];
  const gone: string[] = [];
  // Every daemon at once, gently (trellisd and BIRD stop cleanly); etcd last so that a
  // trellisd shutting down still finds its store. Then every namespace at once.
  const stop = async (ps: ProcessRecord[]) => {
    await Promise.all(ps.filter((p) => isAlive(p)).map(async (p) => {
      await stopProcess(p, 'SIGTERM', 3000);
      gone.push(`process ${p.pid} (${p.role})`);
    }));
  };
  const isEtcd = (p: ProcessRecord) => p.role.startsWith('etcd ');
  const isDockerd = (p: ProcessRecord) => p.role.startsWith('dockerd ');
  // dockerd first, and alone (not its process group), while trellisd still answers the
  // Leave/DeleteEndpoint calls of the containers it stops; then whatever a dockerd that
  // had crashed left running in its cgroups.
  await Promise.all(rec.processes.filter((p) => isDockerd(p) && isAlive(p)).map(async (p) => {
    await stopProcess(p, 'SIGTERM', 20_000, false);
    gone.push(`process ${p.pid} (${p.role})`);
  }));
  for (const cg of rec.cgroups ?? []) {
    if (sweepCgroup(cg)) gone.push(`cgroup ${cg}`);
  }
  await stop(rec.processes.filter((p) => !isEtcd(p) && !isDockerd(p)));
  await stop(rec.processes.filter(isEtcd));
  await Promise.all(rec.namespaces.filter((ns) => existsSync(`/run/netns/${ns}`)).map(async (ns) => {
    await deleteNetns(ns);
    gone.push(`netns ${ns}`);
  }));
  removeContext(stateDir);
  // Namespaces created after a crash between record and create carry the prefix too.
  if (rec.prefix) for (const ns of await cleanupNetnsWithPrefix(rec.prefix)) gone.push(`netns ${ns}`);
  // A dockerd's data (its mounts lived in its own mount namespace, gone with it and its namespaces).
  for (const d of rec.dirs ?? []) {
    if (!existsSync(d)) continue;
    rmSync(d, { recursive: true, force: true });
    gone.push(`dir ${d}`);
  }
  rmSync(join(stateDir, 'state.json'), { force: true });
  return gone;
}

/** Waits until the ToR holds a route for every host's containers and every session is Established. */
export async function waitConverged(lab: Lab, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const protos = await lab.birdProtocols();
    const up = lab.plan.hosts.every((h) => protos[h.name] === 'Established');
    const statuses = await Promise.all(lab.plan.hosts.map((h) => lab.status(h.name).catch(() => null)));
    const allUp = statuses.every((s) => s && s.bgp.peers.length > 0 && s.bgp.peers.every((p) => p.state === 'Established'));
    const routes = await lab.birdRoutes();
    const blocks = statuses.flatMap((s) => s?.bgp.advertised ?? []);
    const carried = blocks.length > 0 && blocks.every((b) => b in routes);
    if (up && allUp && carried) return;
    if (Date.now() > deadline) {
      throw new Error(`lab: not converged after ${timeoutMs} ms (ToR sessions ${JSON.stringify(protos)}; advertised ${blocks.join(', ')})`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

