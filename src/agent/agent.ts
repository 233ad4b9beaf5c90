// trellisd's core: store watch -> resource cache -> calc -> dataplane, plus BGP and the
// HTTP API. The dataplane is only ever reconciled against a full snapshot from the store:
// before the first snapshot (a restart with etcd down) nothing is touched, and while
// the store is unreachable the dataplane keeps exactly what it has.
import cron from 'node-cron';
import type { DesiredState } from '../calc/index.js';
import type { DaemonConfig } from '../config/index.js';
import { storeConfigOf } from '../config/index.js';
import { createLogger, type Logger } from '../log/index.js';
import type { Resource, WorkloadEndpoint } from '../model/index.js';
import { connectStore, openStore, type ConnectedStore, type Watcher, type WatchStatus } from '../store/index.js';
import { startCniServer, type CniServer } from '../cni/index.js';
import {
  startApiServer, type ApiServer, type ApiSource, type ApplyDoc, type EndpointDoc, type ErrorDoc, type MatrixDoc,
  type ReadinessDoc, type StatusDoc,
} from '../api/index.js';
import { createResourceCache } from './cache.js';
import { createApplyLoop, type ApplyLoop } from './loop.js';
import { BGP_STATES, createAgentMetrics, type AgentMetrics } from './metrics.js';
import type { BgpPort, DataplanePort, IpamPort, LearnedRoute } from './ports.js';
import { resyncCron } from './schedule.js';
import { explainForApi, matrixFor } from './explain.js';

export const VERSION = '0.1.0';
const EMPTY_BLOCK_GRACE_MS = 5 * 60_000;

export interface AgentParts {
  dataplane: DataplanePort;
  bgp: BgpPort | null;
  ipam: IpamPort | null;
}

export interface StartAgentOptions {
  /** Run every dataplane command in this namespace (tests and benches); trellisd itself leaves it unset. */
  netns?: string;
  logger?: Logger;
  /** Serve the HTTP API (default true); tests may turn it off or pick a free port via config.apiListen. */
  api?: boolean;
  /** Run the BGP speaker (default: on when netns is unset; a speaker binds sockets in this process's namespace). */
  bgp?: boolean;
  /** Longest wait for End-of-RIB before stale learned routes are replaced (graceful restart), default 60 s. */
  gracefulRestartTimeoutMs?: number;
  /** Builds the dataplane, speaker and IPAM (default: the real ones, see wiring.ts). */
  parts?: (ctx: { config: DaemonConfig; logger: Logger; netns?: string; bgp: boolean; store: ConnectedStore['store'] }) => Promise<AgentParts>;
  /** Serve trellis-cni on config.cniSocket (default true; never with `netns` set). */
  cni?: boolean;
  /** Collect Node process metrics (default true). */
  defaultMetrics?: boolean;
}

export interface Agent {
  readonly config: DaemonConfig;
  readonly metrics: AgentMetrics;
  readonly api: ApiServer | null;
  status(): StatusDoc;
  readiness(): ReadinessDoc;
  /** Resolves once the agent is ready (store synced, dataplane programmed, BGP configured). */
  ready(timeoutMs?: number): Promise<void>;
  /** Resolves when no apply is pending or running. */
  idle(): Promise<void>;
  /** Forces a full resync now (what the periodic job does). */
  resync(): Promise<void>;
  /** Stops watching, serving and speaking; leaves the dataplane as it is. */
  stop(): Promise<void>;
}

function tenantOf(ns: string, namespaces: Map<string, Resource>): string {
  const n = namespaces.get(ns);
  return n?.metadata.labels?.tenant ?? ns;
}

export async function startAgent(config: DaemonConfig, opts: StartAgentOptions = {}): Promise<Agent> {
  const log = opts.logger ?? createLogger({ name: 'trellisd', level: config.logLevel });
  const metrics = createAgentMetrics({ defaultMetrics: opts.defaultMetrics });
  const startedAt = new Date();
  const node = config.nodeName;
  const invalid = new Map<string, string>();
  const bgpEnabled = opts.bgp ?? opts.netns === undefined;

  const connected = await connectStore({
    ...storeConfigOf(config),
    logger: log.child({ sub: 'store' }),
    onInvalid: (key, error) => { invalid.set(key, error); },
  });
  const { store } = connected;
  const parts = await (opts.parts ?? (await import('./wiring.js')).realParts)({ config, logger: log, netns: opts.netns, bgp: bgpEnabled, store });

  const cache = createResourceCache(node);
  let storeStatus: WatchStatus | 'connecting' = 'connecting';
  let synced = false;
  let revision: string | null = null;
  let desired: DesiredState | null = null;
  let programmed = false;
  let lastApply: ApplyDoc | null = null;
  let lastError: ErrorDoc | null = null;
  let advertised: string[] = [];
  let learned: LearnedRoute[] = [];
  let learnedGateOpen = false;
  let counts = { rules: 0, sets: 0, routes: 0 };
  let stopped = false;
  let bgpError: string | null = null;
  const firstApply = { done: false };

  const applyDataplane = async (reasons: string[]): Promise<void> => {
    if (!synced) return;
    const t0 = performance.now();
    const next = cache.desired();
    const resync = reasons.includes('resync');
    const summary = await parts.dataplane.reconcile(next, { resync });
    if (resync) learnedChain = learnedChain.then(() => pushLearned({ resync: true }));
    desired = next;
    programmed = true;
    firstApply.done = true;
    counts = {
      rules: summary.rules ?? next.policies.reduce((n, p) => n + p.ingress.length + p.egress.length, 0) + next.profiles.reduce((n, p) => n + p.ingress.length + p.egress.length, 0),
      sets: summary.sets ?? next.ipsets.length,
      routes: summary.routes ?? next.routes.length,
    };
    const trigger = reasons.includes('resync') ? 'resync' : reasons.includes('sync') ? 'sync' : 'change';
    metrics.applyDuration.observe({ trigger }, (performance.now() - t0) / 1000);
    if (reasons.includes('resync') && summary.changed) {
      metrics.resyncRepairs.inc();
      log.warn({ reasons }, 'resync found the dataplane drifted from the desired state and repaired it');
    }
    if (summary.changed) log.info({ reasons, ms: Math.round(performance.now() - t0) }, 'dataplane applied');
    // BGP follows the dataplane: its failures are reported but never hold back policy.
    if (parts.bgp) {
      try {
        await parts.bgp.configure(cache.list());
        bgpError = null;
      } catch (err) {
        bgpError = (err as Error).message;
        log.error({ err: bgpError }, 'BGP configuration failed');
      }
      // IPAM unreachable: keep announcing what we announced (withdrawing would cut traffic).
      await refreshAdvertisements(next).catch((err: Error) => {
        metrics.storeErrors.inc({ kind: 'ipam' });
        log.warn({ err: err.message }, 'reading IPAM blocks failed; announcements unchanged');
      });
    }
  };

  const refreshAdvertisements = async (state: DesiredState): Promise<void> => {
    if (!parts.bgp) return;
    let prefixes: string[];
    if (parts.ipam) {
      const { blocks, borrowed } = await parts.ipam.advertisements(node);
      metrics.ipamBlocks.set(blocks.length);
      metrics.ipamBorrowed.set(borrowed.length);
      prefixes = [...blocks, ...borrowed];
    } else {
      // Without IPAM the node announces each local endpoint's own address.
      prefixes = state.routes.map((r) => r.dst);
    }
    prefixes = [...new Set(prefixes)].sort();
    if (prefixes.join(',') !== advertised.join(',')) {
      await parts.bgp.setLocalPrefixes(prefixes);
      advertised = prefixes;
      metrics.bgpAdvertisedLocal.set(prefixes.length);
    }
  };

  const loop: ApplyLoop = createApplyLoop({
    apply: applyDataplane,
    coalesceMs: 2,
    initialBackoffMs: 100,
    maxBackoffMs: 10_000,
    onSuccess: (ms, reasons) => {
      if (!synced) return;
      lastApply = { at: new Date().toISOString(), durationMs: Math.round(ms * 10) / 10, reasons };
      lastError = null;
      metrics.applies.inc();
      metrics.dataplaneProgrammed.set(1);
      metrics.consecutiveFailures.set(0);
      metrics.lastApplyTimestamp.set(Date.now() / 1000);
      metrics.endpoints.set(desired?.endpoints.length ?? 0);
      metrics.rules.set(counts.rules);
      metrics.sets.set(counts.sets);
      metrics.routes.set(counts.routes);
    },
    onFailure: (err, consecutive, retryInMs) => {
      const message = (err as Error).message ?? String(err);
      lastError = { at: new Date().toISOString(), message, consecutive };
      metrics.applyFailures.inc();
      metrics.dataplaneProgrammed.set(0);
      metrics.consecutiveFailures.set(consecutive);
      log.error({ err: message, consecutive, retryInMs }, 'dataplane apply failed; the kernel keeps its previous state; retrying');
    },
  });

  const watcher: Watcher = await store.watch({
    onSync(snapshot, rev) {
      const changed = cache.replaceAll(snapshot.map((s) => s.resource));
      revision = rev;
      const first = !synced;
      synced = true;
      metrics.storeSynced.set(1);
      if (first || changed) loop.trigger(first ? 'sync' : 'resync-store');
      log.info({ revision: rev, resources: snapshot.length, first }, 'store snapshot');
    },
    onEvent(ev) {
      revision = ev.revision;
      if (ev.type === 'put' && ev.resource) cache.put(ev.key, ev.resource);
      else cache.delete(ev.key);
      loop.trigger('change');
    },
    onInvalid(key, error) {
      invalid.set(key, error);
      log.warn({ key, error }, 'invalid value in etcd skipped');
    },
    onStatus(s) {
      if (s !== storeStatus) log.info({ status: s }, 'store watch');
      if (s === 'disconnected' && storeStatus !== 'disconnected') metrics.storeErrors.inc({ kind: 'watch' });
      storeStatus = s;
      metrics.storeConnected.set(s === 'connected' ? 1 : 0);
    },
  });

  // Learned routes go to the kernel only once the gate is open: after a restart the
  // previous run's routes stay until every peer has sent End-of-RIB (or the timeout).
  const pushLearned = async (opts: { resync?: boolean } = {}) => {
    if (!learnedGateOpen || stopped) return;
    try {
      await parts.dataplane.syncLearnedRoutes(learned, opts);
      metrics.learnedRoutes.set(learned.length);
    } catch (err) {
      log.error({ err: (err as Error).message }, 'installing BGP-learned routes failed; retrying in 1 s');
      setTimeout(() => void pushLearned(opts), 1000).unref();
    }
  };
  let learnedChain: Promise<void> = Promise.resolve();
  if (parts.bgp) {
    parts.bgp.onRoutes((routes) => {
      learned = routes;
      learnedChain = learnedChain.then(() => pushLearned());
    });
    const grTimeout = opts.gracefulRestartTimeoutMs ?? 60_000;
    const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), grTimeout).unref());
    void Promise.race([parts.bgp.endOfRib().then(() => 'eor' as const), timer]).then((why) => {
      learnedGateOpen = true;
      log.info({ why }, 'graceful restart over: learned routes now follow BGP');
      learnedChain = learnedChain.then(() => pushLearned());
    });
  }

  // Blocks this node no longer uses go back to the pool (after a grace period, so that a
  // container restarted right away keeps its block); their routes are then withdrawn.
  const releaseEmptyBlocks = async () => {
    if (!parts.ipam || storeStatus !== 'connected') return;
    try {
      const released = await parts.ipam.releaseEmpty(node, EMPTY_BLOCK_GRACE_MS);
      if (released.length) log.info({ released }, 'released empty IPAM blocks');
    } catch (err) {
      metrics.storeErrors.inc({ kind: 'ipam' });
      log.warn({ err: (err as Error).message }, 'releasing empty IPAM blocks failed; next resync tries again');
    }
  };

  const resyncTask = config.resyncIntervalSeconds > 0
    ? cron.schedule(resyncCron(config.resyncIntervalSeconds), () => {
      if (!synced || stopped) return;
      metrics.resyncs.inc();
      void releaseEmptyBlocks().finally(() => loop.trigger('resync'));
      if (learnedGateOpen) learnedChain = learnedChain.then(() => pushLearned());
    }, { name: `trellisd-resync-${node}-${process.pid}-${Math.random().toString(36).slice(2, 6)}`, noOverlap: true })
    : null;

  const refreshBgpMetrics = () => {
    if (!parts.bgp) return;
    const peers = parts.bgp.status();
    metrics.bgpSessionState.reset();
    metrics.bgpPrefixesReceived.reset();
    metrics.bgpPrefixesAdvertised.reset();
    for (const p of peers) {
      for (const s of BGP_STATES) metrics.bgpSessionState.set({ peer: p.peer, state: s }, p.state === s ? 1 : 0);
      metrics.bgpPrefixesReceived.set({ peer: p.peer }, p.received);
      metrics.bgpPrefixesAdvertised.set({ peer: p.peer }, p.advertised);
    }
    metrics.bgpSessionEstablished.set(peers.filter((p) => p.state === 'Established').length);
  };

  // Tens of thousands of endpoints cost tens of milliseconds to list, on the loop that
  // applies policy: a status page polling must not pay that again while nothing changed.
  let endpointsMemo: { generation: number; doc: EndpointDoc[] } | null = null;
  const endpointsDoc = (): EndpointDoc[] => {
    if (endpointsMemo?.generation !== cache.generation) endpointsMemo = { generation: cache.generation, doc: listEndpoints() };
    return endpointsMemo.doc;
  };
  const listEndpoints = (): EndpointDoc[] => {
    const resources = cache.list();
    const namespaces = new Map(resources.filter((r) => r.kind === 'Namespace').map((r) => [r.metadata.name, r]));
    return resources
      .filter((r): r is WorkloadEndpoint => r.kind === 'WorkloadEndpoint')
      .map((r) => {
        const ns = r.metadata.namespace ?? 'default';
        return {
          id: `WorkloadEndpoint/${ns}/${r.metadata.name}`,
          namespace: ns,
          name: r.metadata.name,
          node: r.spec.node,
          tenant: tenantOf(ns, namespaces),
          labels: r.metadata.labels ?? {},
          addresses: r.spec.ipNetworks,
          interfaceName: r.spec.interfaceName,
          local: r.spec.node === node,
        };
      })
      .sort((a, b) => a.id.localeCompare(b.id));
  };

  const refreshMetrics = () => {
    refreshBgpMetrics();
    metrics.storeInvalidValues.set(invalid.size);
    metrics.storeWatchResyncs.set(store.stats().watchResyncs);
  };

  const status = (): StatusDoc => {
    refreshMetrics();
    return {
      node,
      version: VERSION,
      startedAt: startedAt.toISOString(),
      uptimeSec: Math.round((Date.now() - startedAt.getTime()) / 1000),
      store: { status: storeStatus, synced, revision, invalid: [...invalid].map(([key, error]) => ({ key, error })) },
      dataplane: { programmed, ...counts },
      endpoints: endpointsDoc(),
      policies: (desired?.policies ?? []).map((p) => ({ id: p.id, order: p.order })),
      profiles: (desired?.profiles ?? []).map((p) => p.id),
      bgp: { configured: parts.bgp?.configured ?? false, peers: parts.bgp?.status() ?? [], advertised, learned: learned.length },
      lastApply,
      lastError: lastError ?? (bgpError ? { at: new Date().toISOString(), message: `BGP: ${bgpError}`, consecutive: 1 } : null),
    };
  };

  const readiness = (): ReadinessDoc => {
    const checks: ReadinessDoc['checks'] = {
      store: synced
        ? { ok: true, detail: `synced at revision ${revision}; watch ${storeStatus}` }
        : { ok: false, detail: `no snapshot from etcd yet (watch ${storeStatus})` },
      dataplane: programmed && loop.consecutiveFailures === 0
        ? { ok: true, detail: `programmed${lastApply ? ` at ${lastApply.at}` : ''}` }
        : { ok: false, detail: lastError ? `last apply failed: ${lastError.message}` : 'not programmed yet' },
    };
    if (parts.bgp) {
      checks.bgp = parts.bgp.configured && !bgpError
        ? { ok: true, detail: `configured; ${parts.bgp.status().filter((p) => p.state === 'Established').length} sessions established` }
        : { ok: false, detail: bgpError ? `BGP configuration failed: ${bgpError}` : 'not configured yet' };
    }
    return { ready: Object.values(checks).every((c) => c.ok), checks };
  };

  const source: ApiSource = {
    status,
    readiness,
    storeSynced: () => synced,
    explain: (q) => explainForApi(cache.explainView(), q),
    matrix: (port, protocol): MatrixDoc => matrixFor(cache.explainView(), endpointsDoc(), port, protocol),
    registry: metrics.registry,
    refreshMetrics,
  };

  // trellis-cni's calls, run here with the warm etcd connection. Only for a trellisd in its own
  // namespace: the plugin creates veths, which must land where this process is.
  let cniServer: CniServer | null = null;
  if (config.cniSocket && opts.netns === undefined && (opts.cni ?? true)) {
    try {
      cniServer = await startCniServer({ path: config.cniSocket, log, openStore: (s) => openStore({ ...s, dialTimeoutMs: 5000 }) });
    } catch (err) {
      // trellis-cni then does the work itself: slower, never wrong.
      log.error({ err: (err as Error).message, path: config.cniSocket }, 'not serving CNI calls');
    }
  }

  let api: ApiServer | null = null;
  if (opts.api ?? true) {
    try {
      api = await startApiServer({ source, listen: config.apiListen, tokenFile: config.apiTokenFile });
      log.info({ url: api.url, token: Boolean(config.apiTokenFile) }, 'HTTP API listening');
    } catch (err) {
      await watcher.close().catch(() => undefined);
      await cniServer?.close().catch(() => undefined);
      await parts.bgp?.stop().catch(() => undefined);
      await connected.stop().catch(() => undefined);
      resyncTask?.destroy();
      throw err;
    }
  }

  const agent: Agent = {
    config, metrics, api,
    status, readiness,
    async ready(timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      while (!readiness().ready) {
        if (Date.now() > deadline) throw new Error(`trellisd ${node} not ready after ${timeoutMs} ms: ${JSON.stringify(readiness().checks)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    idle: () => loop.idle(),
    async resync() {
      loop.trigger('resync');
      await loop.idle();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      resyncTask?.destroy();
      await api?.close();
      await cniServer?.close().catch(() => undefined);
      await watcher.close().catch(() => undefined);
      await loop.stop();
      await learnedChain.catch(() => undefined);
      await parts.bgp?.stop().catch(() => undefined);
      await connected.stop().catch(() => undefined);
      log.info('stopped; the dataplane is left as it is');
    },
  };
  return agent;
}
