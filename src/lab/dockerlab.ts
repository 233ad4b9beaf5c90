// The lab's `--runtime docker`: a dockerd in every host namespace (dockerd.ts), each
// tenant a Docker network of Trellis's driver on every host (`docker network create -d
// trellis --ipam-driver trellis`, its options naming the tenant's namespace and profile),
// and the containers started with `docker run --net`, under the same names as the CNI
// lab's. Each container's network namespace gets the plan's name (`ip netns attach`), so
// the matrix, exec and status reach it exactly as they reach a CNI container's.
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { deleteNetns } from './netns.js';
import { containerLabels, type ContainerPlan, type HostPlan, type LabPlan } from './plan.js';
import { isAlive, spawnDetached } from './procs.js';
import type { RecordBook } from './records.js';
import {
  BUSYBOX_IMAGE, busyboxTarball, dockerCli, dockerdArgv, importBusybox, labDockerdPaths, prepareDockerd, waitDockerd, type DockerOut,
} from './dockerd.js';
import { OPT_NAMESPACE, OPT_PROFILES } from '../docker/index.js';

/** The cgroup parent a host's dockerd puts its containers under (swept by down). */
export function dockerCgroup(plan: LabPlan, host: HostPlan): string {
  return `${plan.prefix}docker-${host.name}`;
}

export function dockerdLog(stateDir: string, host: string): string {
  return join(stateDir, 'logs', `dockerd-${host}.log`);
}

/**
 * `docker network create` for a namespace: named after it, on the pool's CIDR (so that
 * `--ip` works, which Docker allows only with --subnet), in that Namespace, with the
 * Profile named after it, as trellis-cni gives a container of that namespace by default.
 */
export function networkCreateArgs(plan: LabPlan, namespace: string): string[] {
  return [
    'network', 'create', '-d', 'trellis', '--ipam-driver', 'trellis', '--subnet', plan.pool,
    '-o', `${OPT_NAMESPACE}=${namespace}`, '-o', `${OPT_PROFILES}=${namespace}`, namespace,
  ];
}

/**
 * busybox nc's listen backlog is the number of -l it is given (-ll: 2). The matrix sends a
 * container up to one connection from every other at once, and a full accept queue drops
 * a SYN, whose retransmission comes after the probe's 1 s: so 32 of them.
 */
export const LISTEN_FLAGS = `-${'l'.repeat(32)}`;

/** `docker run` for a lab container: its labels as Docker labels, busybox's nc answering "ok" on TCP/80. */
export function dockerRunArgs(c: ContainerPlan): string[] {
  return [
    // nc as PID 1 ignores SIGTERM: a short stop timeout keeps docker rm and dockerd's shutdown quick.
    'run', '-d', '--stop-timeout', '1', '--name', c.name, '--net', c.namespace,
    ...Object.entries(containerLabels(c)).flatMap(([k, v]) => ['--label', `${k}=${v}`]),
    ...(c.ip ? ['--ip', c.ip] : []),
    BUSYBOX_IMAGE, 'nc', LISTEN_FLAGS, '-p', '80', '-e', 'echo', 'ok',
  ];
}

/** Starts a host's dockerd (recorded: its directory and cgroup before, its pid right after). */
export function startHostDockerd(plan: LabPlan, host: HostPlan, book: RecordBook, stateDir: string): number {
  const paths = labDockerdPaths(stateDir, host.name);
  const cgroup = dockerCgroup(plan, host);
  book.dir(paths.dir);
  book.cgroup(cgroup);
  rmSync(paths.dir, { recursive: true, force: true });
  prepareDockerd(paths.dir, cgroup);
  return spawnDetached(book, `dockerd ${host.name}`, host.netns, dockerdArgv(host.netns, paths), dockerdLog(stateDir, host.name), undefined, true);
}

/** Waits for every host's dockerd and gives each the busybox image. */
export async function readyDockerds(plan: LabPlan, book: RecordBook, stateDir: string): Promise<void> {
  const image = join(stateDir, 'image');
  book.dir(image);
  const tarball = await busyboxTarball(image);
  await Promise.all(plan.hosts.map(async (h) => {
    const paths = labDockerdPaths(stateDir, h.name);
    const rec = book.records.processes.find((p) => p.role === `dockerd ${h.name}`);
    await waitDockerd(paths, () => (rec && !isAlive(rec) ? `dockerd on ${h.name} exited (${dockerdLog(stateDir, h.name)})` : null), 60_000);
    await importBusybox(paths.apiSocket, tarball);
  }));
}

/** The Docker CLI against a host's dockerd. */
export function hostDocker(stateDir: string, host: string, args: string[], timeoutMs = 90_000): Promise<DockerOut> {
  return dockerCli(labDockerdPaths(stateDir, host).apiSocket, args, timeoutMs);
}

/** DOCKER_HOST for commands run in a host (`lab exec h1 docker ps`). */
export function dockerHostEnv(stateDir: string, host: string): string {
  return `unix://${labDockerdPaths(stateDir, host).apiSocket}`;
}

/** Creates the namespace's network on a host unless it is there. */
export async function ensureNetwork(plan: LabPlan, stateDir: string, host: string, namespace: string): Promise<void> {
  if ((await hostDocker(stateDir, host, ['network', 'inspect', '--format', '{{.Driver}}', namespace])).code === 0) return;
  const r = await hostDocker(stateDir, host, networkCreateArgs(plan, namespace));
  // Another `lab add` may have made it meanwhile: that one is as good.
  if (r.code !== 0 && /already exists/.test(r.stderr)) return;
  if (r.code !== 0) throw new Error(`docker network create ${namespace} on ${host}: ${r.stderr.trim()}`);
}

/** Every namespace's network on every host, before any container (one `network create` at a time per dockerd). */
export async function createNetworks(plan: LabPlan, stateDir: string): Promise<void> {
  const namespaces = [...new Set(plan.containers.map((c) => c.namespace))];
  await Promise.all(plan.hosts.map(async (h) => {
    for (const ns of namespaces) await ensureNetwork(plan, stateDir, h.name, ns);
  }));
}

/** `docker run --net` on the container's host; its network namespace gets the plan's name. Returns its address. */
export async function startDockerContainer(plan: LabPlan, c: ContainerPlan, book: RecordBook, stateDir: string): Promise<string> {
  await ensureNetwork(plan, stateDir, c.host, c.namespace);
  const run = await hostDocker(stateDir, c.host, dockerRunArgs(c));
  if (run.code !== 0) throw new Error(`docker run ${c.name} on ${c.host}: ${run.stderr.trim()}`);
  const fmt = `{{.State.Pid}} {{(index .NetworkSettings.Networks "${c.namespace}").IPAddress}}`;
  const insp = await hostDocker(stateDir, c.host, ['inspect', '--format', fmt, c.name]);
  const [pid, address] = insp.stdout.trim().split(' ');
  if (insp.code !== 0 || !Number(pid) || !address) throw new Error(`docker inspect ${c.name} on ${c.host}: ${insp.stderr.trim() || insp.stdout.trim()}`);
  book.namespace(c.netns);
  if (existsSync(`/run/netns/${c.netns}`)) await deleteNetns(c.netns);
  await execa('ip', ['netns', 'attach', c.netns, pid!]);
  return address;
}

/** `docker rm -f` (Docker calls Leave, DeleteEndpoint and ReleaseAddress); a container already gone is fine. */
export async function stopDockerContainer(c: ContainerPlan, stateDir: string): Promise<void> {
  const r = await hostDocker(stateDir, c.host, ['rm', '-f', c.name]);
  if (r.code !== 0 && !/No such container/i.test(r.stderr)) throw new Error(`docker rm -f ${c.name} on ${c.host}: ${r.stderr.trim()}`);
}
