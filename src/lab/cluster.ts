// The lab's Trellis side: the cluster resources (pool, nodes, BGP peers), trellisd on
// every host, trellisctl runs and containers plugged through trellis-cni exactly as a
// container runtime calls it (CNI_* environment, JSON config on stdin, from the host's
// namespace).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { createNetns, execIn } from './netns.js';
import { containerLabels, etcdEndpoints, runtimeOf, type ContainerPlan, type HostPlan, type LabPlan } from './plan.js';
import { labDockerdPaths, trellisPluginSocket } from './dockerd.js';
import { spawnInNetns } from './procs.js';
import { forwardSocket, httpOverSocket, startInsideForward } from './forward.js';
import type { RecordBook } from './records.js';

// yaml is loaded only by the commands that write configuration (up): every other lab
// command would pay ≈ 0.1-0.2 s of CPU loading it for nothing.
const stringify = (v: unknown): string => (createRequire(import.meta.url)('yaml') as typeof import('yaml')).stringify(v);

/** The repository root (dist/lab/ or src/lab/ -> ../..). */
export const REPO_ROOT = resolve(import.meta.dirname, '..', '..');
export const DIST = join(REPO_ROOT, 'dist');
export const API_PORT = 9099;

export interface LabTimers { holdTime: number; keepalive: number; resyncIntervalSeconds: number }
export const DEFAULT_TIMERS: LabTimers = { holdTime: 9, keepalive: 3, resyncIntervalSeconds: 30 };

export function trellisdConfigYaml(plan: LabPlan, host: HostPlan, stateDir: string, timers: LabTimers): string {
  // With --runtime docker, trellisd serves the network and IPAM driver in the plugin
  // directory its host's dockerd discovers, and reads that dockerd's API for labels.
  const docker = runtimeOf(plan) === 'docker' ? labDockerdPaths(stateDir, host.name) : null;
  return stringify({
    nodeName: host.name,
    etcdEndpoints: etcdEndpoints(plan),
    apiListen: `127.0.0.1:${API_PORT}`,
    logLevel: 'info',
    resyncIntervalSeconds: timers.resyncIntervalSeconds,
    embeddedEtcdDir: join(stateDir, host.name, 'etcd-unused'),
    cniSocket: labCniSocket(stateDir, host),
    ...(docker ? { dockerSocket: trellisPluginSocket(docker.pluginDir), dockerApiSocket: docker.apiSocket } : {}),
  });
}

/** Each lab host's trellisd serves trellis-cni on a socket of its own (they share one filesystem). */
export function labCniSocket(stateDir: string, host: HostPlan): string {
  return join(stateDir, host.name, 'cni.sock');
}

/** Cluster resources the lab adds to policies/: the pool, one Node and one ToR BGPPeer per host. */
export function clusterResources(plan: LabPlan, timers: LabTimers): unknown[] {
  const api = 'trellis.dev/v1';
  const out: unknown[] = [
    { apiVersion: api, kind: 'IPPool', metadata: { name: 'lab-pool' }, spec: { cidr: plan.pool, blockSize: plan.blockSize, natOutgoing: false } },
    {
      apiVersion: api, kind: 'BGPConfiguration', metadata: { name: 'default' },
      spec: { nodeToNodeMeshEnabled: false, ebgpImportPolicy: 'Accept', ebgpExportPolicy: 'LocalBlocks' },
    },
  ];
  for (const h of plan.hosts) {
    out.push({ apiVersion: api, kind: 'Node', metadata: { name: h.name, labels: { rack: h.name } }, spec: { bgp: { ipv4Address: `${h.address}/24`, asNumber: h.asn } } });
    out.push({
      apiVersion: api, kind: 'BGPPeer', metadata: { name: `tor-${h.name}` },
      spec: {
        node: h.name, peerIP: h.torAddress, asNumber: plan.tor.asn,
        importPolicy: 'Accept', exportPolicy: 'LocalBlocks',
        holdTime: `${timers.holdTime}s`, keepaliveTime: `${timers.keepalive}s`, maxRestartTime: `${timers.holdTime}s`,
      },
    });
  }
  return out;
}

export function writeClusterYaml(plan: LabPlan, stateDir: string, timers: LabTimers): string {
  const file = join(stateDir, 'cluster.yaml');
  writeFileSync(file, clusterResources(plan, timers).map((r) => stringify(r)).join('---\n'));
  return file;
}

/** Runs trellisctl inside the etcd namespace (where the fabric is reachable). */
export async function trellisctl(plan: LabPlan, args: string[], opts: { reject?: boolean } = {}): Promise<{ stdout: string; stderr: string; exitCode: number }> {
  const out = await execIn(plan.etcdNetns, [process.execPath, join(DIST, 'cli', 'main.js'), '--etcd-endpoints', etcdEndpoints(plan).join(','), ...args], { timeoutMs: 60_000 });
  if ((opts.reject ?? true) && out.exitCode !== 0) throw new Error(`trellisctl ${args.join(' ')} exited ${out.exitCode}: ${out.stderr.trim() || out.stdout.trim()}`);
  return out;
}

export function trellisdLog(stateDir: string, host: string): string {
  return join(stateDir, 'logs', `trellisd-${host}.log`);
}

export function startTrellisd(plan: LabPlan, host: HostPlan, book: RecordBook, stateDir: string, timers: LabTimers): number {
  const dir = join(stateDir, host.name);
  mkdirSync(dir, { recursive: true });
  const cfg = join(dir, 'trellisd.yaml');
  writeFileSync(cfg, trellisdConfigYaml(plan, host, stateDir, timers));
  const pid = spawnInNetns(book, `trellisd ${host.name}`, host.netns, [process.execPath, join(DIST, 'agent', 'main.js'), '--config', cfg], trellisdLog(stateDir, host.name));
  // The API's inside forward outlives trellisd restarts (it connects per request).
  if (!book.records.processes.some((p) => p.role.startsWith(`forward api-${host.name} (in `))) {
    startInsideForward(book, stateDir, `api-${host.name}`, host.netns, `127.0.0.1:${API_PORT}`);
  }
  return pid;
}

/** GET from a host's trellisd API over the lab's forward socket (forward.ts): no process
 *  per request, so polling it costs next to nothing (a node per request did: ≈ 0.15 s of CPU). */
export async function apiGet(stateDir: string, host: HostPlan, path: string, timeoutMs = 10_000): Promise<{ status: number; body: string }> {
  return httpOverSocket(forwardSocket(stateDir, `api-${host.name}`), path, timeoutMs);
}

export async function waitReady(stateDir: string, host: HostPlan, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const r = await apiGet(stateDir, host, '/readyz', 2000);
    if (r.status === 200) return;
    last = `${r.status} ${r.body}`;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`trellisd on ${host.name} not ready after ${timeoutMs} ms: ${last}`);
}

/** The network config a runtime would hand trellis-cni on stdin. */
export function cniNetConf(plan: LabPlan, host: HostPlan, stateDir: string): Record<string, unknown> {
  return {
    cniVersion: '1.0.0',
    name: 'trellis',
    type: 'trellis-cni',
    nodeName: host.name,
    etcdEndpoints: etcdEndpoints(plan),
    agentSocket: labCniSocket(stateDir, host),
    ipam: { type: 'trellis' },
  };
}

export function cniEnv(c: ContainerPlan, command: 'ADD' | 'DEL' | 'CHECK'): Record<string, string> {
  return {
    CNI_COMMAND: command,
    CNI_CONTAINERID: c.containerId,
    CNI_NETNS: `/run/netns/${c.netns}`,
    CNI_IFNAME: 'eth0',
    CNI_PATH: join(DIST, 'cni'),
    // The runtime's metadata: where the endpoint lives and what it is (Calico reads the same K8S_* args).
    CNI_ARGS: [
      `K8S_POD_NAMESPACE=${c.namespace}`, `K8S_POD_NAME=${c.workload}`,
      `TRELLIS_LABELS=${Object.entries(containerLabels(c)).map(([k, v]) => `${k}=${v}`).join(',')}`,
      ...(c.ip ? [`IP=${c.ip}`] : []),
    ].join(';'),
  };
}

export async function cni(plan: LabPlan, c: ContainerPlan, command: 'ADD' | 'DEL' | 'CHECK', stateDir: string): Promise<unknown> {
  const host = plan.hosts.find((h) => h.name === c.host)!;
  const conf = cniNetConf(plan, host, stateDir);
  const r = await execIn(host.netns, ['env', ...Object.entries(cniEnv(c, command)).map(([k, v]) => `${k}=${v}`), process.execPath, join(DIST, 'cni', 'main.js')], {
    input: JSON.stringify(conf), timeoutMs: 60_000,
  });
  if (r.exitCode !== 0) throw new Error(`trellis-cni ${command} for ${c.name} exited ${r.exitCode}: ${String(r.stdout).trim()} ${String(r.stderr).trim()}`);
  try { return JSON.parse(String(r.stdout) || 'null'); } catch { return String(r.stdout); }
}

/** First IPv4 address in a CNI result. */
export function cniAddress(result: unknown): string | null {
  const ips = (result as { ips?: Array<{ address?: string }> } | null)?.ips ?? [];
  const v4 = ips.map((i) => i.address ?? '').find((a) => /^\d+\.\d+\.\d+\.\d+\//.test(a));
  return v4 ? v4.split('/')[0]! : null;
}

/** Unplugs a container as the runtime would (CNI DEL), then removes its namespace. */
export async function stopContainer(plan: LabPlan, c: ContainerPlan, stateDir: string): Promise<void> {
  await cni(plan, c, 'DEL', stateDir);
}

export async function startContainer(plan: LabPlan, c: ContainerPlan, book: RecordBook, stateDir: string): Promise<string> {
  book.namespace(c.netns);
  await createNetns(c.netns, { persist: true });
  spawnInNetns(book, `listener ${c.name}`, c.netns, ['socat', 'TCP-LISTEN:80,fork,reuseaddr', 'SYSTEM:echo ok'], join(stateDir, 'logs', `listener-${c.name}.log`));
  const result = await cni(plan, c, 'ADD', stateDir);
  const addr = cniAddress(result);
  if (!addr) throw new Error(`trellis-cni ADD for ${c.name} returned no IPv4 address: ${JSON.stringify(result)}`);
  return addr;
}
