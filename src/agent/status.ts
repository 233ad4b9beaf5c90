// What the agent knows about itself: the store's connection and sync, the invalid values it
// skipped, what the last apply programmed and how it went, BGP's last error. Plain data the
// other components write and /status, /readyz and the metrics read; a test reads `state`.
import type { DesiredState } from '../calc/index.js';
import type { ApplyDoc, ErrorDoc, ReadinessDoc } from '../api/index.js';
import type { WatchStatus } from '../store/index.js';

export interface Counts { rules: number; sets: number; routes: number }

export interface AgentState {
  store: {
    status: WatchStatus | 'connecting';
    synced: boolean;
    revision: string | null;
    /** etcd key -> why its value was skipped; a fixed or deleted key leaves it. */
    invalid: Map<string, string>;
  };
  dataplane: {
    /** True once an apply from a full snapshot has gone through. */
    programmed: boolean;
    /** What the last successful apply programmed. */
    desired: DesiredState | null;
    counts: Counts;
    lastApply: ApplyDoc | null;
    lastError: ErrorDoc | null;
    /** Kernel drift not yet repaired (oldest first), and how much has been repaired so far. */
    drift: { outstanding: Array<{ seq: number; at: string; what: string }>; repaired: number; lastRepairedAt: string | null };
  };
  bgp: { error: string | null };
}

export interface AgentStatus {
  readonly state: Readonly<AgentState>;
  storeStatus(s: WatchStatus): void;
  synced(revision: string): void;
  revision(revision: string): void;
  invalid(etcdKey: string, error: string): void;
  valid(etcdKey: string): void;
  programmed(desired: DesiredState, counts: Counts): void;
  applied(doc: ApplyDoc): void;
  applyFailed(doc: ErrorDoc): void;
  bgpResult(error: string | null): void;
  /** Notes drift the kernel reported; returns its sequence number. */
  drifted(what: string[]): number;
  /** The sequence number of the latest drift noted (an apply that began after it repairs it). */
  readonly driftSeq: number;
  /** An apply that began when driftSeq was `upTo` succeeded: drift up to there is repaired. Returns what it repaired. */
  driftRepaired(upTo: number): string[];
}

export function createAgentStatus(): AgentStatus {
  const state: AgentState = {
    store: { status: 'connecting', synced: false, revision: null, invalid: new Map() },
    dataplane: {
      programmed: false, desired: null, counts: { rules: 0, sets: 0, routes: 0 }, lastApply: null, lastError: null,
      drift: { outstanding: [], repaired: 0, lastRepairedAt: null },
    },
    bgp: { error: null },
  };
  let seq = 0;
  /** Outstanding drift is bounded: a fight with another tool must not grow it without end. */
  const MAX_OUTSTANDING = 50;
  return {
    drifted(what) {
      const at = new Date().toISOString();
      const out = state.dataplane.drift.outstanding;
      for (const w of what) out.push({ seq: ++seq, at, what: w });
      if (out.length > MAX_OUTSTANDING) out.splice(0, out.length - MAX_OUTSTANDING);
      return seq;
    },
    get driftSeq() { return seq; },
    driftRepaired(upTo) {
      const d = state.dataplane.drift;
      const done = d.outstanding.filter((x) => x.seq <= upTo);
      if (!done.length) return [];
      d.outstanding = d.outstanding.filter((x) => x.seq > upTo);
      d.repaired += done.length;
      d.lastRepairedAt = new Date().toISOString();
      return done.map((x) => x.what);
    },
    state,
    storeStatus(s) { state.store.status = s; },
    synced(revision) { state.store.synced = true; state.store.revision = revision; },
    revision(revision) { state.store.revision = revision; },
    invalid(key, error) { state.store.invalid.set(key, error); },
    valid(key) { state.store.invalid.delete(key); },
    programmed(desired, counts) {
      state.dataplane.programmed = true;
      state.dataplane.desired = desired;
      state.dataplane.counts = counts;
    },
    applied(doc) { state.dataplane.lastApply = doc; state.dataplane.lastError = null; },
    applyFailed(doc) { state.dataplane.lastError = doc; },
    bgpResult(error) { state.bgp.error = error; },
  };
}

/** Rules in force when the dataplane does not count them itself. */
export function countsOf(d: DesiredState, reported: { rules?: number; sets?: number; routes?: number }): Counts {
  const rules = (xs: DesiredState['policies'] | DesiredState['profiles']) => xs.reduce((n, p) => n + p.ingress.length + p.egress.length, 0);
  return {
    rules: reported.rules ?? rules(d.policies) + rules(d.profiles),
    sets: reported.sets ?? d.ipsets.length,
    routes: reported.routes ?? d.routes.length,
  };
}

/** The error /status shows: the dataplane's, else BGP's (which never holds back policy). */
export function lastErrorOf(state: Readonly<AgentState>, now: Date): ErrorDoc | null {
  if (state.dataplane.lastError) return state.dataplane.lastError;
  return state.bgp.error ? { at: now.toISOString(), message: `BGP: ${state.bgp.error}`, consecutive: 1 } : null;
}

function dataplaneReadiness(dataplane: AgentState['dataplane'], consecutiveFailures: number): { ok: boolean; detail: string } {
  const drift = dataplane.drift.outstanding;
  if (!dataplane.programmed || consecutiveFailures > 0) {
    return { ok: false, detail: dataplane.lastError ? `last apply failed: ${dataplane.lastError.message}` : 'not programmed yet' };
  }
  // The kernel disagrees with what we programmed until the repair went through.
  if (drift.length) {
    const shown = drift.slice(0, 3).map((x) => x.what).join('; ');
    return { ok: false, detail: `kernel drift since ${drift[0]!.at} not repaired yet: ${shown}${drift.length > 3 ? ` (and ${drift.length - 3} more)` : ''}` };
  }
  return { ok: true, detail: `programmed${dataplane.lastApply ? ` at ${dataplane.lastApply.at}` : ''}` };
}

export interface BgpReadiness { configured: boolean; established: number }

export function readinessOf(state: Readonly<AgentState>, consecutiveFailures: number, bgp: BgpReadiness | null): ReadinessDoc {
  const { store, dataplane } = state;
  const checks: ReadinessDoc['checks'] = {
    store: store.synced
      ? { ok: true, detail: `synced at revision ${store.revision}; watch ${store.status}` }
      : { ok: false, detail: `no snapshot from etcd yet (watch ${store.status})` },
    dataplane: dataplaneReadiness(dataplane, consecutiveFailures),
  };
  if (bgp) {
    const err = state.bgp.error;
    checks.bgp = bgp.configured && !err
      ? { ok: true, detail: `configured; ${bgp.established} sessions established` }
      : { ok: false, detail: err ? `BGP configuration failed: ${err}` : 'not configured yet' };
  }
  return { ready: Object.values(checks).every((c) => c.ok), checks };
}
