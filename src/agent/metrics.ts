// trellisd's Prometheus metrics, in a registry of their own (no globals: tests run
// several agents in one process).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { PeerStatusDoc } from '../api/index.js';

export interface AgentMetrics {
  registry: Registry;
  storeSynced: Gauge;
  storeConnected: Gauge;
  storeErrors: Counter;
  storeInvalidValues: Gauge;
  storeWatchResyncs: Gauge;
  storeProbeFailures: Gauge;
  dataplaneProgrammed: Gauge;
  applyDuration: Histogram;
  applies: Counter;
  applyFailures: Counter;
  consecutiveFailures: Gauge;
  lastApplyTimestamp: Gauge;
  resyncs: Counter;
  resyncRepairs: Counter;
  driftEvents: Counter;
  driftRepairs: Counter;
  endpoints: Gauge;
  rules: Gauge;
  sets: Gauge;
  routes: Gauge;
  learnedRoutes: Gauge;
  bgpSessionState: Gauge;
  bgpSessionEstablished: Gauge;
  bgpPrefixesReceived: Gauge;
  bgpPrefixesAdvertised: Gauge;
  bgpPeerConfigError: Gauge;
  bgpAdvertisedLocal: Gauge;
  ipamBlocks: Gauge;
  ipamBorrowed: Gauge;
}

export const BGP_STATES = ['Idle', 'Connect', 'Active', 'OpenSent', 'OpenConfirm', 'Established'] as const;

export function createAgentMetrics(opts: { defaultMetrics?: boolean } = {}): AgentMetrics {
  const registry = new Registry();
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'trellisd_' });
  const reg = { registers: [registry] };
  return {
    registry,
    storeSynced: new Gauge({ name: 'trellis_store_synced', help: '1 once the resource cache holds a full snapshot from etcd', ...reg }),
    storeConnected: new Gauge({ name: 'trellis_store_connected', help: '1 while the etcd watch is connected', ...reg }),
    storeErrors: new Counter({ name: 'trellis_store_errors_total', help: 'etcd errors seen by the agent (watch losses, failed reads)', labelNames: ['kind'], ...reg }),
    storeInvalidValues: new Gauge({ name: 'trellis_store_invalid_values', help: 'values in etcd that did not parse or validate (skipped)', ...reg }),
    storeWatchResyncs: new Gauge({ name: 'trellis_store_watch_resyncs', help: 'full resyncs the watch did after falling behind a compaction', ...reg }),
    storeProbeFailures: new Gauge({ name: 'trellis_store_watch_probe_failures', help: 'liveness probes etcd did not answer in time (each counted as a lost watch: a silent partition)', ...reg }),
    dataplaneProgrammed: new Gauge({ name: 'trellis_dataplane_programmed', help: '1 when the last apply succeeded', ...reg }),
    applyDuration: new Histogram({
      name: 'trellis_dataplane_apply_duration_seconds', help: 'time from a change (or resync) to the dataplane applied', labelNames: ['trigger'],
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], ...reg,
    }),
    applies: new Counter({ name: 'trellis_dataplane_applies_total', help: 'dataplane applies that succeeded', ...reg }),
    applyFailures: new Counter({ name: 'trellis_dataplane_apply_failures_total', help: 'dataplane applies that failed (retried with backoff)', ...reg }),
    consecutiveFailures: new Gauge({ name: 'trellis_dataplane_consecutive_failures', help: 'failed applies since the last success', ...reg }),
    lastApplyTimestamp: new Gauge({ name: 'trellis_dataplane_last_apply_timestamp_seconds', help: 'when the dataplane was last applied successfully', ...reg }),
    resyncs: new Counter({ name: 'trellis_resyncs_total', help: 'periodic full resyncs', ...reg }),
    resyncRepairs: new Counter({ name: 'trellis_resync_repairs_total', help: 'periodic resyncs that found drift and repaired it', ...reg }),
    driftEvents: new Counter({ name: 'trellis_dataplane_drift_events_total', help: 'changes someone else made to our routes or iptables tables, as the kernel reported them', labelNames: ['part'], ...reg }),
    driftRepairs: new Counter({ name: 'trellis_dataplane_drift_repairs_total', help: 'applies that repaired drift the kernel reported', ...reg }),
    endpoints: new Gauge({ name: 'trellis_endpoints', help: 'workload endpoints on this node', ...reg }),
    rules: new Gauge({ name: 'trellis_dataplane_rules', help: 'compiled policy and profile rules in force on this node', ...reg }),
    sets: new Gauge({ name: 'trellis_dataplane_ipsets', help: 'ipsets in force on this node (logical sets)', ...reg }),
    routes: new Gauge({ name: 'trellis_dataplane_routes', help: 'workload routes on this node', ...reg }),
    learnedRoutes: new Gauge({ name: 'trellis_bgp_learned_routes', help: 'BGP-learned routes installed in the kernel', ...reg }),
    bgpSessionState: new Gauge({ name: 'trellis_bgp_session_state', help: '1 for the state each BGP session is in', labelNames: ['peer', 'state'], ...reg }),
    bgpSessionEstablished: new Gauge({ name: 'trellis_bgp_sessions_established', help: 'BGP sessions in state Established', ...reg }),
    bgpPrefixesReceived: new Gauge({ name: 'trellis_bgp_prefixes_received', help: 'prefixes received from each peer', labelNames: ['peer'], ...reg }),
    bgpPrefixesAdvertised: new Gauge({ name: 'trellis_bgp_prefixes_advertised', help: 'prefixes advertised to each peer', labelNames: ['peer'], ...reg }),
    bgpPeerConfigError: new Gauge({ name: 'trellis_bgp_peer_config_error', help: '1 for a BGP peer that cannot be configured (its status says why), else 0', labelNames: ['peer'], ...reg }),
    bgpAdvertisedLocal: new Gauge({ name: 'trellis_bgp_local_prefixes', help: 'local prefixes (IPAM blocks and borrowed addresses) this node announces', ...reg }),
    ipamBlocks: new Gauge({ name: 'trellis_ipam_affine_blocks', help: 'IPAM blocks affine to this node', ...reg }),
    ipamBorrowed: new Gauge({ name: 'trellis_ipam_borrowed_addresses', help: 'addresses this node uses from other nodes\' blocks', ...reg }),
  };
}

/** The per-peer BGP gauges, replaced whole from the speaker's current view. */
export function recordBgpPeers(metrics: AgentMetrics, peers: PeerStatusDoc[]): void {
  metrics.bgpSessionState.reset();
  metrics.bgpPrefixesReceived.reset();
  metrics.bgpPrefixesAdvertised.reset();
  metrics.bgpPeerConfigError.reset();
  for (const p of peers) {
    metrics.bgpPeerConfigError.set({ peer: p.peer }, p.configError === true ? 1 : 0);
    for (const s of BGP_STATES) metrics.bgpSessionState.set({ peer: p.peer, state: s }, p.state === s ? 1 : 0);
    metrics.bgpPrefixesReceived.set({ peer: p.peer }, p.received);
    metrics.bgpPrefixesAdvertised.set({ peer: p.peer }, p.advertised);
  }
  metrics.bgpSessionEstablished.set(peers.filter((p) => p.state === 'Established').length);
}
