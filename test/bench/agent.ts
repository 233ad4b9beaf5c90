// npm run bench -- agent [--local 1000] [--remote 10000] [--policies 500] [--changes 20] [--log-level debug --log-to FILE] [--cpu-prof DIR]
// Needs `npm run build` first: it runs the built trellisd (dist/agent/main.js).
//
// etcd write -> kernel through trellisd as it really runs: its own process inside a
// throwaway namespace (`ip netns exec <ns> node dist/agent/main.js --config <file>`), so its
// dataplane commands pay no `ip netns exec` wrapper and nothing of the bench shares its event
// loop. At the dataplane bench's scale and with its resources: one policy rule edit and one
// endpoint add (median, p90; target 50 ms), each seen through netlink monitors started once
// beforehand rather than by polling the kernel, the apply durations trellisd reports on
// /status, and trellisd's RSS.
//
// etcd runs in the root namespace on loopback; trellisd reaches it through a socat bridge
// (TCP in the namespace -> unix socket -> TCP to etcd), as the CNI tests do, so that the root
// namespace's network is never touched.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { request } from 'node:http';
import { createInterface } from 'node:readline';
import { execa } from 'execa';
import { stringify } from 'yaml';
import type { ReadinessDoc, StatusDoc } from '../../src/api/index.js';
import { fromWlChain, policyChain, toWlChain } from '../../src/dataplane/iptables/index.js';
import { API_PORT, DIST, REPO_ROOT } from '../../src/lab/cluster.js';
import { createNetns, testNetnsPrefix, type Netns } from '../../src/lab/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { addr, build, iface, policy, wep } from './dataplane.js';
import { median, percentile } from './_stats.js';

const NODE = 'node0';
const TRELLISD = join(DIST, 'agent', 'main.js');
/** Where etcd appears inside the namespace (the bridge's listening end). */
const ETCD_IN_NS = 'http://127.0.0.1:2379';
/** No monitor line and no new apply for this long: trellisd has nothing left to do. */
const QUIET_MS = 300;
const EVENT_TIMEOUT_MS = 30_000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function applyAll(store: Store, resources: Parameters<Store['apply']>[0][], parallel = 32): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (next < resources.length) await store.apply(resources[next++]!);
  }));
}

/** A stale build would measure old code without saying so: warn when any source is newer than dist. */
function checkBuild(): void {
  if (!existsSync(TRELLISD)) {
    throw new Error(`${TRELLISD} is missing: this bench runs the built trellisd, run "npm run build" first`);
  }
  const built = statSync(TRELLISD).mtimeMs;
  const src = join(REPO_ROOT, 'src');
  const newer = readdirSync(src, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts') && statSync(join(src, f)).mtimeMs > built);
  if (newer.length) process.stderr.write(`bench agent: warning: dist/ is older than ${newer.length} source file(s) (e.g. src/${newer[0]}); run "npm run build"\n`);
}

interface Line { t: number; text: string }

/**
 * A long-running line-oriented process (nft monitor, ip monitor). Each line is stamped with
 * performance.now() as this process reads it: the bench does nothing else while it waits, so
 * the stamp is within a tick of the kernel event.
 */
class Monitor {
  readonly lines: Line[] = [];
  private waiters: Array<() => void> = [];
  private exited: string | null = null;
  readonly child: ChildProcess;
  constructor(readonly name: string, argv: string[]) {
    this.child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.on('error', (err) => { this.exited = `${name}: ${err.message}`; this.wake(); });
    createInterface({ input: this.child.stdout! }).on('line', (text) => {
      this.lines.push({ t: performance.now(), text });
      this.wake();
    });
    let stderr = '';
    this.child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
    this.child.on('exit', (code, sig) => {
      this.exited = `${name} exited (${code ?? sig}): ${stderr.trim()}`;
      this.wake();
    });
  }
  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
  get lastAt(): number { return this.lines.at(-1)?.t ?? 0; }
  /** The first line at or after index `from` that matches, waiting for it if need be. */
  async first(match: (text: string) => boolean, from: number, what: string, timeoutMs = EVENT_TIMEOUT_MS): Promise<Line> {
    const deadline = performance.now() + timeoutMs;
    let i = from;
    for (;;) {
      for (; i < this.lines.length; i++) if (match(this.lines[i]!.text)) return this.lines[i]!;
      if (this.exited) throw new Error(`waiting for ${what}: ${this.exited}`);
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`no ${what} on ${this.name} within ${timeoutMs} ms`);
      await new Promise<void>((r) => {
        const timer = setTimeout(r, left);
        this.waiters.push(() => { clearTimeout(timer); r(); });
      });
    }
  }
  stop(): Promise<void> { return stopPid(this.child, 1000); }
}

/** Stops one process by pid: SIGTERM, then SIGKILL if it lingers. Nothing else is signalled. */
async function stopPid(child: ChildProcess, graceMs: number): Promise<void> {
  const pid = child.pid;
  if (!pid || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  try { process.kill(pid, 'SIGTERM'); } catch { return; }
  if (await Promise.race([exited.then(() => true), sleep(graceMs).then(() => false)])) return;
  try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  await Promise.race([exited, sleep(2000)]);
}

/**
 * The node process of trellisd. `ip netns exec` without -b execs the program in place, so it
 * is normally the spawned pid itself; should an `ip` stay in between, its child is the node.
 */
function nodePid(pid: number): number {
  const comm = (p: number) => { try { return readFileSync(`/proc/${p}/comm`, 'utf8').trim(); } catch { return ''; } };
  if (comm(pid) === 'ip') {
    const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    const node = kids.find((k) => comm(k) === 'node' || comm(k) === 'MainThread');
    if (node !== undefined) return node;
  }
  return pid;
}

function procStatusMiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Math.round((Number(m[1]) / 1024) * 10) / 10;
}

/** etcd (root namespace, loopback) as 127.0.0.1:2379 inside `ns`, through a unix socket. */
function unixGet(socketPath: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path}: timed out`)));
    req.on('error', reject);
    req.end();
  });
}

async function etcdBridge(etcd: TestEtcd, ns: Netns, dir: string): Promise<ChildProcess[]> {
  const sock = join(dir, 'etcd.sock');
  const port = new URL(etcd.endpoints[0]!).port;
  const quiet = { stdio: 'ignore' as const };
  // nodelay on both TCP legs: gRPC's small HTTP/2 frames otherwise wait out Nagle and delayed
  // ACKs at the bridge, about 30-40 ms per etcd request that a direct client never pays.
  const outside = spawn('socat', [`UNIX-LISTEN:${sock},fork`, `TCP:127.0.0.1:${port},nodelay`], quiet);
  const procs = [outside];
  for (let i = 0; !existsSync(sock); i++) {
    if (i > 200) throw new Error('the unix side of the etcd bridge did not appear');
    await sleep(25);
  }
  procs.push(spawn('ip', ['netns', 'exec', ns.name, 'socat', 'TCP-LISTEN:2379,bind=127.0.0.1,fork,reuseaddr,nodelay', `UNIX-CONNECT:${sock}`], quiet));
  for (let i = 0; (await ns.exec(['bash', '-c', 'exec 3<>/dev/tcp/127.0.0.1/2379'])).exitCode !== 0; i++) {
    if (i > 200) throw new Error('the etcd bridge in the namespace did not start listening');
    await sleep(25);
  }
  return procs;
}

export async function run(params: Record<string, string>): Promise<Record<string, unknown>> {
  const local = Number(params.local ?? 1000);
  const remote = Number(params.remote ?? 10000);
  const policies = Number(params.policies ?? 500);
  const changes = Number(params.changes ?? 20);
  checkBuild();

  const dir = mkdtempSync(join(tmpdir(), 'trellis-bench-agent-'));
  const logFile = join(dir, 'trellisd.log');
  // --log-to keeps trellisd's log (with --log-level debug: every command and its duration).
  const stops: Array<() => Promise<void> | void> = [() => {
    if (params['log-to'] && existsSync(logFile)) copyFileSync(logFile, params['log-to']);
    rmSync(dir, { recursive: true, force: true });
  }];
  const trellisdLogTail = () => { try { return readFileSync(logFile, 'utf8').slice(-2000).trim(); } catch { return ''; } };
  try {
    const etcd = await startTestEtcd();
    stops.push(() => etcd.stop());
    const store = openStore({ endpoints: etcd.endpoints });
    stops.push(() => store.close());
    const ns = await createNetns(`${testNetnsPrefix()}bag`);
    stops.push(() => ns.destroy());
    for (const p of await etcdBridge(etcd, ns, dir)) stops.push(() => stopPid(p, 1000));

    // A veth per local endpoint, plus the ones added during the bench (routes need their devices).
    const extra = Array.from({ length: changes }, (_, k) => local + remote + k);
    const lines = [...Array.from({ length: local }, (_, i) => i), ...extra]
      .flatMap((i) => [`link add ${iface(i)} type veth peer name trlp${i}`, `link set ${iface(i)} up`]);
    await execa('ip', ['-n', ns.name, '-batch', '-'], { input: `${lines.join('\n')}\n` });
    const t0 = performance.now();
    await applyAll(store, build(local, remote, policies));
    const loadMs = performance.now() - t0;

    const configFile = join(dir, 'trellisd.yaml');
    writeFileSync(configFile, stringify({
      nodeName: NODE,
      etcdEndpoints: [ETCD_IN_NS],
      apiListen: `127.0.0.1:${API_PORT}`,
      logLevel: params['log-level'] ?? 'warn',
      resyncIntervalSeconds: 0,
      cniSocket: '',
      embeddedEtcdDir: join(dir, 'etcd-unused'),
    }));
    // The bench's own TRELLIS_* (e.g. the runner's netns prefix) must not reach trellisd's settings.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TRELLIS_')));
    const logFd = openSync(logFile, 'a');
    const t1 = performance.now();
    const profile = params['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${params['cpu-prof']}`] : [];
    const trellisd = spawn('ip', ['netns', 'exec', ns.name, process.execPath, ...profile, TRELLISD, '--config', configFile], { stdio: ['ignore', logFd, logFd], env });
    closeSync(logFd);
    stops.push(() => stopPid(trellisd, 10_000));
    let spawnError = '';
    trellisd.on('error', (err) => { spawnError = err.message; });
    if (!trellisd.pid) throw new Error(`could not start trellisd: ${spawnError}`);

    // The API inside the namespace through a unix socket bridge: one socat for the whole run,
    // where a fetch per request from inside the namespace would start a node process each time,
    // beside the trellisd being measured.
    const apiSock = join(dir, 'api.sock');
    const apiBridge = spawn('ip', ['netns', 'exec', ns.name, 'socat', `UNIX-LISTEN:${apiSock},fork`, `TCP:127.0.0.1:${API_PORT},nodelay`], { stdio: 'ignore' });
    stops.push(() => stopPid(apiBridge, 1000));
    const api = async <T>(path: string): Promise<{ status: number; doc: T | null; body: string }> => {
      const r = await unixGet(apiSock, path).catch((e: Error) => ({ status: 0, body: e.message }));
      let doc: T | null = null;
      try { doc = JSON.parse(r.body) as T; } catch { /* not JSON: connection refused, or /metrics */ }
      return { status: r.status, doc, body: r.body };
    };
    /** Successful change applies so far and their summed duration (trellisd's own histogram). */
    const applies = async (): Promise<{ count: number; sumMs: number; failures: number }> => {
      const r = await api('/metrics');
      if (r.status !== 200) throw new Error(`GET /metrics: ${r.status} ${r.body}\n${trellisdLogTail()}`);
      const num = (re: RegExp) => Number(re.exec(r.body)?.[1] ?? 0);
      return {
        count: num(/^trellis_dataplane_apply_duration_seconds_count\{trigger="change"\} (\S+)$/m),
        sumMs: num(/^trellis_dataplane_apply_duration_seconds_sum\{trigger="change"\} (\S+)$/m) * 1000,
        failures: num(/^trellis_dataplane_apply_failures_total (\S+)$/m),
      };
    };
    const alive = () => trellisd.exitCode === null && trellisd.signalCode === null;

    for (let last = '';;) {
      if (!alive()) throw new Error(`trellisd exited (${trellisd.exitCode ?? trellisd.signalCode}${spawnError}) before it was ready:\n${trellisdLogTail()}`);
      const r = await api<ReadinessDoc>('/readyz');
      if (r.status === 200) break;
      last = `${r.status} ${r.body}`;
      if (performance.now() - t1 > 300_000) throw new Error(`trellisd not ready after 300 s: ${last}\n${trellisdLogTail()}`);
      await sleep(100);
    }
    const coldStartMs = performance.now() - t1;
    const cold = await api<StatusDoc>('/status');
    const coldApply = cold.doc?.lastApply ?? null;
    const pid = nodePid(trellisd.pid);

    // Started once, after the cold start (whose 30 000-odd rules would only fill the buffers).
    const rules = new Monitor('nft monitor rules', ['ip', 'netns', 'exec', ns.name, 'nft', 'monitor', 'rules']);
    const routes = new Monitor('ip monitor route', ['ip', '-n', ns.name, 'monitor', 'route']);
    stops.push(() => rules.stop(), () => routes.stop());
    // Until a monitor has subscribed, kernel events pass it by unseen: probe both with changes
    // trellisd does not own (an inet table, which iptables-nft never reads; a route on lo)
    // until each shows up, so that no measured event can fall before a subscription.
    const probe = async (m: Monitor, make: () => Promise<unknown>, undo: () => Promise<unknown>, seen: (s: string) => boolean) => {
      for (let attempt = 0; ; attempt++) {
        const from = m.lines.length;
        await make();
        const ok = await m.first(seen, from, 'the probe', 500).then(() => true, (e: Error) => { if (attempt >= 40) throw e; return false; });
        await undo();
        if (ok) return;
      }
    };
    await probe(rules,
      () => ns.run(['nft', 'add table inet trlbench; add chain inet trlbench probe; add rule inet trlbench probe counter']),
      () => ns.run(['nft', 'delete table inet trlbench']),
      (s) => s.startsWith('add rule inet trlbench probe '));
    await probe(routes,
      () => ns.run(['ip', 'route', 'add', '192.0.2.1/32', 'dev', 'lo']),
      () => ns.run(['ip', 'route', 'del', '192.0.2.1/32', 'dev', 'lo']),
      (s) => s.startsWith('192.0.2.1 dev lo'));

    /**
     * trellisd is idle once it has applied `want` changes in all and neither its counters nor
     * the monitors have moved for QUIET_MS. Polls /metrics, which costs trellisd little, unlike
     * /status and its list of every endpoint in the cluster. Returns the counters.
     */
    const idle = async (want: number): Promise<{ count: number; sumMs: number }> => {
      const deadline = performance.now() + 60_000;
      let prev = await applies();
      for (;;) {
        await sleep(QUIET_MS);
        const now = await applies();
        if (now.failures > 0) throw new Error(`trellisd failed an apply:\n${trellisdLogTail()}`);
        const quiet = performance.now() - Math.max(rules.lastAt, routes.lastAt) >= QUIET_MS;
        if (now.count >= want && quiet && now.count === prev.count) return now;
        if (performance.now() > deadline) throw new Error(`trellisd not idle after 60 s (${now.count} of ${want} applies)`);
        prev = now;
      }
    };
    const addRule = (chain: string) => (s: string) => s.startsWith(`add rule ip filter ${chain} `);

    // With --log-to: when each etcd write returned (epoch ms), to line up with trellisd's log.
    const writesAt: Array<{ change: string; at: number }> = [];
    const ruleEdit: number[] = [];
    const ruleEditApply: number[] = [];
    const writeMs: number[] = [];
    const edited: Array<{ chain: string; port: number }> = [];
    let before = await idle(0);
    for (let k = 0; k < changes; k++) {
      const j = 2 * (k % Math.max(1, Math.floor(policies / 2))); // namespaced policies: np<even>
      const chain = policyChain(`NetworkPolicy/ns${j % 50}/np${j}`, 'ingress');
      const from = rules.lines.length;
      const w = performance.now();
      await store.apply(policy(j, 1 + k));
      const s = performance.now();
      writesAt.push({ change: `policy np${j}`, at: Date.now() });
      const seen = await rules.first(addRule(chain), from, `a rule added to ${chain} (np${j})`);
      writeMs.push(s - w);
      ruleEdit.push(seen.t - s);
      const applied = await idle(before.count + 1);
      ruleEditApply.push(applied.count === before.count + 1 ? applied.sumMs - before.sumMs : NaN);
      before = applied;
      edited.push({ chain, port: 80 + 1 + k });
    }

    const epAdd: number[] = [];
    const epRoute: number[] = [];
    const epChains: number[] = [];
    const epAddApply: number[] = [];
    for (const i of extra) {
      const fromRule = rules.lines.length;
      const fromRoute = routes.lines.length;
      const w = performance.now();
      await store.apply(wep(i, NODE));
      const s = performance.now();
      writesAt.push({ change: `endpoint ep${i}`, at: Date.now() });
      const routeRe = new RegExp(`^${addr(i).replace(/\./g, '\\.')}(/32)? dev ${iface(i)} `);
      const [route, tw, fw] = await Promise.all([
        routes.first((x) => routeRe.test(x), fromRoute, `the route to ${addr(i)}`),
        rules.first(addRule(toWlChain(iface(i))), fromRule, `a rule in ${toWlChain(iface(i))}`),
        rules.first(addRule(fromWlChain(iface(i))), fromRule, `a rule in ${fromWlChain(iface(i))}`),
      ]);
      writeMs.push(s - w);
      const chains = Math.max(tw.t, fw.t) - s;
      epRoute.push(route.t - s);
      epChains.push(chains);
      epAdd.push(Math.max(route.t - s, chains));
      const applied = await idle(before.count + 1);
      epAddApply.push(applied.count === before.count + 1 ? applied.sumMs - before.sumMs : NaN);
      before = applied;
    }
    const rssMiB = procStatusMiB(pid, 'VmRSS');
    const peakRssMiB = procStatusMiB(pid, 'VmHWM');

    // Outside the timed part: the events were the edits themselves, not some other rewrite of
    // those chains. Each chain's last edit is what the kernel must hold now.
    const lastEdit = new Map(edited.map((e) => [e.chain, e.port]));
    for (const [chain, port] of lastEdit) {
      const text = await ns.run(['iptables', '-t', 'filter', '-S', chain]);
      if (!new RegExp(`--dports? ([\\d:]+,)*${port}(,|\\s|$)`, 'm').test(text)) throw new Error(`${chain} does not hold the edited port ${port}:\n${text}`);
    }
    const negative = [...ruleEdit, ...epRoute, ...epChains].filter((x) => x < 0).length;

    const r = (xs: number[]) => ({ median: Math.round(median(xs) * 10) / 10, p90: Math.round(percentile(xs, 90) * 10) / 10 });
    return {
      scale: { local, remote, policies, changes },
      etcdLoadMs: Math.round(loadMs),
      coldStartMs: Math.round(coldStartMs),
      coldStartApplyMs: coldApply?.durationMs ?? null,
      etcdWriteMs: r(writeMs),
      ...(params['log-to'] ? { writesAt } : {}),
      policyRuleEditMs: r(ruleEdit),
      endpointAddMs: r(epAdd),
      endpointAddRouteMs: r(epRoute),
      endpointAddChainsMs: r(epChains),
      policyRuleEditApplyMs: r(ruleEditApply),
      endpointAddApplyMs: r(epAddApply),
      targetMs: 50,
      ...(negative ? { eventsBeforeWriteReturned: negative } : {}),
      agentProcessRssMiB: rssMiB,
      agentProcessPeakRssMiB: peakRssMiB,
      note: 'trellisd from dist/ as its own process inside a throwaway namespace (ip netns exec <ns> node dist/agent/main.js), etcd reached through a socat bridge with TCP_NODELAY. '
        + '*Ms (not Apply): from the etcd write returning (store.apply, whose own round trip is etcdWriteMs) to the kernel event, stamped as the bench reads it from `nft monitor rules` and `ip monitor route` started once beforehand. '
        + 'policyRuleEditMs: first rule added to the edited policy\'s ingress chain (the chain is checked afterwards to hold the edited port). '
        + 'endpointAddMs: the later of its /32 route (endpointAddRouteMs) and a rule in both its to- and from-workload chains (endpointAddChainsMs). '
        + 'coldStartMs: spawn to GET /readyz 200. Changes are one at a time, each after trellisd is idle (one more apply counted on /metrics, then quiet). '
        + 'No no-drift resync figure: resyncIntervalSeconds is 0 and trellisd offers no way (API or signal) to trigger a resync from outside. '
        + 'RSS: VmRSS/VmHWM of the trellisd node process from /proc at the end.',
      applyNote: '*ApplyMs: trellisd\'s own apply for that change (calc + dataplane reconcile), from its trellis_dataplane_apply_duration_seconds histogram on /metrics',
    };
  } catch (err) {
    const tail = trellisdLogTail();
    if (tail && err instanceof Error && !err.message.includes(tail)) err.message += `\ntrellisd log:\n${tail}`;
    throw err;
  } finally {
    for (const stop of stops.reverse()) {
      try { await stop(); } catch (e) { process.stderr.write(`bench agent: cleanup: ${(e as Error).message}\n`); }
    }
  }
}
