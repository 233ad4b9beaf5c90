// trellisd's core: store watch -> resource cache -> calc -> dataplane, plus BGP and the
// HTTP API. The dataplane is only ever reconciled against a full snapshot from the store:
// before the first snapshot (a restart with etcd down) nothing is touched, and while
// the store is unreachable the dataplane keeps exactly what it has.
//
// startAgent only assembles components, each holding its own state: status.ts (what the
// agent knows), feed.ts (store watch -> cache), apply.ts (the apply loop), learned.ts (BGP
// routes to the kernel), advertise.ts (what this node announces), resync.ts (the timer).
import type { DaemonConfig, FieldName } from '../config/index.js';
import { storeConfigOf } from '../config/index.js';
import { createLogger, type Logger } from '../log/index.js';
import { connectStore, openStore, type WatchOptions, type Watcher } from '../store/index.js';
import { startCniServer, type CniServer } from '../cni/index.js';
import { startDockerPlugin, type DockerPluginServer } from '../docker/index.js';
import { startApiServer, type ApiServer, type ApiSource, type MatrixDoc, type ReadinessDoc, type StatusDoc } from '../api/index.js';
import { createAdvertiser, type Advertiser } from './advertise.js';
import { createAgentApplyLoop } from './apply.js';
import { watchDrift } from './drift.js';
import { createResourceCache, type ResourceCache } from './cache.js';
import { explainToHostForApi, hostConfigOf, isHostFlow, withHostEndpoints } from './host.js';
import { endpointView } from './endpoints.js';
import { explainForApi, matrixFor, stagedMatrix } from './explain.js';
import { storeFeed } from './feed.js';
import { createLearnedRoutes, type LearnedRoutes } from './learned.js';
import type { ApplyLoop } from './loop.js';
import { createAgentMetrics, recordBgpPeers, type AgentMetrics } from './metrics.js';
import type { AgentParts, PartsFactory } from './ports.js';
import { preflight } from './preflight.js';
import { scheduleResync } from './resync.js';
import { createAgentStatus, lastErrorOf, readinessOf, type AgentStatus } from './status.js';
import { realParts } from './wiring.js';
import { createVxlanComponent, type VxlanComponent } from './vxlan.js';
import { vxlanStatus } from './vxlan-status.js';

import { VERSION } from '../model/index.js';

export type { AgentParts } from './ports.js';

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
  parts?: PartsFactory;
  /** Serve trellis-cni on config.cniSocket (default true; never with `netns` set). */
  cni?: boolean;
  /** Serve Docker's network and IPAM driver on config.dockerSocket when set (default true; never with `netns` set). */
  docker?: boolean;
  /** Collect Node process metrics (default true). */
  defaultMetrics?: boolean;
  /** The store watch's liveness probe (see store/watch.ts; default every 5 s, 5 s to answer). */
  watch?: Pick<WatchOptions, 'probeIntervalMs' | 'probeTimeoutMs'>;
  /** Where each setting came from, so that a refused setting is named with its file:line. */
  sources?: Partial<Record<FieldName, string>>;
}

/** The agent's components, for tests (and debugging) to read their state directly. */
export interface AgentComponents {
  status: AgentStatus;
  cache: ResourceCache;
  loop: ApplyLoop;
  /** Null without a BGP speaker. */
  learned: LearnedRoutes | null;
  advertiser: Advertiser | null;
  watcher: Watcher;
  /** Null when the dataplane has no VXLAN. */
  vxlan: VxlanComponent | null;
}

export interface Agent {
  readonly config: DaemonConfig;
  readonly metrics: AgentMetrics;
  readonly api: ApiServer | null;
  readonly components: AgentComponents;
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

export async function startAgent(config: DaemonConfig, opts: StartAgentOptions = {}): Promise<Agent> {
  const serveApi = opts.api ?? true;
  // Before anything connects: a setting that would stop the daemon later stops it now.
  preflight(config, { api: serveApi, sources: opts.sources });
  const log = opts.logger ?? createLogger({ name: 'trellisd', level: config.logLevel });
  const metrics = createAgentMetrics({ defaultMetrics: opts.defaultMetrics });
  const startedAt = new Date();
  const node = config.nodeName;
  const bgpEnabled = opts.bgp ?? (opts.netns === undefined && config.bgpEnabled);

  // Invalid values are tracked by the watcher, which also sees them fixed or deleted.
  const connected = await connectStore({ ...storeConfigOf(config), logger: log.child({ sub: 'store' }) });
  const { store } = connected;
  const parts: AgentParts = await (opts.parts ?? realParts)({ config, logger: log, netns: opts.netns, bgp: bgpEnabled, store });

  const status = createAgentStatus();
  const hostConfig = hostConfigOf(config);
  const cache = createResourceCache(node, hostConfig);
  const vxlan = parts.dataplane.syncVxlan
    ? createVxlanComponent({ node, store, dataplane: parts.dataplane, settings: { vni: config.vxlanVni, port: config.vxlanPort, mtu: config.vxlanMtu }, log: log.child({ sub: 'vxlan' }) })
    : null;
  const learned = parts.bgp
    ? createLearnedRoutes({ dataplane: parts.dataplane, log, onInstalled: (n) => metrics.learnedRoutes.set(n), ...(vxlan ? { owned: vxlan.owned } : {}) })
    : null;
  const advertiser = parts.bgp ? createAdvertiser({ node, bgp: parts.bgp, ipam: parts.ipam, metrics }) : null;
  const loop = createAgentApplyLoop({ cache, status, dataplane: parts.dataplane, bgp: parts.bgp, advertiser, learned, vxlan, metrics, log });
  // Watching the kernel starts before the first apply, so no foreign change after it goes unseen.
  const drift = watchDrift({ dataplane: parts.dataplane, status, loop, metrics, log });
  await drift?.started;
  const watcher = await store.watch(storeFeed({ cache, status, loop, metrics, log }), opts.watch).catch(async (err: unknown) => {
    await drift?.stop();
    throw err;
  });

  if (parts.bgp && learned) {
    parts.bgp.onRoutes((set) => learned.set(set));
    learned.openAfter(parts.bgp.endOfRib(), opts.gracefulRestartTimeoutMs ?? 60_000);
  }
  const resync = scheduleResync({ node, intervalSeconds: config.resyncIntervalSeconds, status, loop, learned, ipam: parts.ipam, metrics, log });

  const endpointsDoc = endpointView(cache, node);
  const staged = stagedMatrix(() => cache.stagedView(), () => cache.generation);
  const refreshMetrics = () => {
    if (parts.bgp) recordBgpPeers(metrics, parts.bgp.status());
    metrics.storeInvalidValues.set(status.state.store.invalid.size);
    const stats = store.stats();
    metrics.storeWatchResyncs.set(stats.watchResyncs);
    metrics.storeProbeFailures.set(stats.watchProbeFailures);
  };
  const readiness = (): ReadinessDoc => readinessOf(status.state, loop.consecutiveFailures, parts.bgp
    ? { configured: parts.bgp.configured, established: parts.bgp.status().filter((p) => p.state === 'Established').length }
    : null);
  const statusDoc = (): StatusDoc => {
    refreshMetrics();
    const s = status.state;
    const now = new Date();
    return {
      node,
      version: VERSION,
      startedAt: startedAt.toISOString(),
      uptimeSec: Math.round((now.getTime() - startedAt.getTime()) / 1000),
      store: { status: s.store.status, synced: s.store.synced, revision: s.store.revision, invalid: [...s.store.invalid].map(([key, error]) => ({ key, error })) },
      dataplane: {
        programmed: s.dataplane.programmed, ...s.dataplane.counts,
        drift: { ...s.dataplane.drift, outstanding: s.dataplane.drift.outstanding.map(({ at, what }) => ({ at, what })) },
      },
      endpoints: endpointsDoc(),
      policies: (s.dataplane.desired?.policies ?? []).map((p) => ({ id: p.id, order: p.order })),
      profiles: (s.dataplane.desired?.profiles ?? []).map((p) => p.id),
      host: {
        failsafe: { inbound: hostConfig.failsafeInbound, outbound: hostConfig.failsafeOutbound },
        defaultEndpointToHostAction: hostConfig.endpointToHost,
        endpoints: (s.dataplane.desired?.host?.endpoints ?? []).map((e) => ({
          id: e.id, interfaceName: e.interfaceName, ingress: e.ingress.policies, egress: e.egress.policies, profiles: e.ingress.profiles,
          forwardIngress: e.forwardIngress, forwardEgress: e.forwardEgress, preDnatIngress: e.preDnatIngress,
          untrackedIngress: e.untrackedIngress, untrackedEgress: e.untrackedEgress,
        })),
      },
      bgp: {
        configured: parts.bgp?.configured ?? false, peers: parts.bgp?.status() ?? [],
        advertised: advertiser?.state.advertised ?? [], learned: learned?.state.table.size ?? 0,
      },
      ...(vxlan?.state.last ? { vxlan: vxlanStatus(vxlan.state.last) } : {}),
      lastApply: s.dataplane.lastApply,
      lastError: lastErrorOf(s, now),
    };
  };

  const source: ApiSource = {
    status: statusDoc,
    readiness,
    storeSynced: () => status.state.store.synced,
    explain: (q) => (isHostFlow(cache.desired(), q) ? explainToHostForApi(cache.desired(), q, cache.explainView()) : explainForApi(cache.explainView(), q)),
    matrix: (port, protocol): MatrixDoc => withHostEndpoints(matrixFor(cache.explainView(), endpointsDoc(), port, protocol, staged), cache.desired(), cache.explainView()),
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

  /** True once the watch has delivered `revision` and the apply it triggered has finished cleanly. */
  const programmed = async (revision: string, timeoutMs: number): Promise<boolean> => {
    const until = Date.now() + timeoutMs;
    const want = BigInt(revision);
    while (BigInt(status.state.store.revision ?? '0') < want) {
      if (Date.now() > until) return false;
      await new Promise((r) => setTimeout(r, 2));
    }
    const timeout = new Promise<false>((r) => setTimeout(() => r(false), Math.max(0, until - Date.now())).unref());
    const idle = await Promise.race([loop.idle().then(() => true as const), timeout]);
    return idle && loop.consecutiveFailures === 0 && status.state.dataplane.programmed;
  };

  // Docker's remote network and IPAM driver: like the CNI calls, it makes veths, which must
  // land in this process's namespace, the one dockerd runs in.
  let dockerPlugin: DockerPluginServer | null = null;
  if (config.dockerSocket && opts.netns === undefined && (opts.docker ?? true)) {
    try {
      dockerPlugin = await startDockerPlugin({ path: config.dockerSocket, store, node, log, apiSocket: config.dockerApiSocket, programmed });
    } catch (err) {
      log.error({ err: (err as Error).message, path: config.dockerSocket }, 'not serving Docker plugin calls');
    }
  }

  let api: ApiServer | null = null;
  if (serveApi) {
    try {
      api = await startApiServer({ source, listen: config.apiListen, tokenFile: config.apiTokenFile });
      log.info({ url: api.url, token: Boolean(config.apiTokenFile) }, 'HTTP API listening');
    } catch (err) {
      resync.stop();
      await watcher.close().catch(() => undefined);
      await drift?.stop();
      await loop.stop();
      await learned?.stop();
      await cniServer?.close().catch(() => undefined);
      await dockerPlugin?.close().catch(() => undefined);
      await parts.bgp?.stop().catch(() => undefined);
      await connected.stop().catch(() => undefined);
      throw err;
    }
  }

  let stopped = false;
  return {
    config, metrics, api,
    components: { status, cache, loop, learned, advertiser, watcher, vxlan },
    status: statusDoc,
    readiness,
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
      resync.stop();
      await api?.close();
      await cniServer?.close().catch(() => undefined);
      await dockerPlugin?.close().catch(() => undefined);
      await watcher.close().catch(() => undefined);
      await drift?.stop();
      await loop.stop();
      await learned?.stop();
      await parts.bgp?.stop().catch(() => undefined);
      await connected.stop().catch(() => undefined);
      log.info('stopped; the dataplane is left as it is');
    },
  };
}
