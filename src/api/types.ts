// What the API serves, as plain data: the agent fills these in, the API only reads them.
// `trellisctl node status` and the status page read the same /status document.
import type { Registry } from 'prom-client';
import { TrellisError } from '../model/index.js';

/** One BGP session as the speaker reports it (mirrors the bgp face's PeerStatus). */
export interface PeerStatusDoc {
  peer: string;
  asn: number | string;
  state: string;
  uptimeSec: number;
  received: number;
  advertised: number;
  lastError: string | null;
  [extra: string]: unknown;
}

export interface EndpointDoc {
  id: string;
  namespace: string;
  name: string;
  node: string;
  /** The namespace's tenant label when it has one, else the namespace. */
  tenant: string;
  labels: Record<string, string>;
  addresses: string[];
  interfaceName: string;
  local: boolean;
  /** Why calc refuses to program it (a conflicting or out-of-pool address); absent when it is not refused. */
  refused?: string[];
}

export interface ApplyDoc { at: string; durationMs: number; reasons: string[] }
export interface ErrorDoc { at: string; message: string; consecutive: number }

export interface StatusDoc {
  node: string;
  version: string;
  startedAt: string;
  uptimeSec: number;
  store: { status: string; synced: boolean; revision: string | null; invalid: Array<{ key: string; error: string }> };
  dataplane: {
    programmed: boolean; rules?: number; sets?: number; routes?: number;
    /** Changes someone else made to the kernel: those not repaired yet, and how many were. */
    drift?: { outstanding: Array<{ at: string; what: string }>; repaired: number; lastRepairedAt: string | null };
  };
  /** Every workload endpoint in the cluster; `local` marks this node's. */
  endpoints: EndpointDoc[];
  /** Policies and profiles in force on this node's endpoints, by id, in order. */
  policies: Array<{ id: string; order: number | null }>;
  profiles: string[];
  /** Host protection: the failsafes no policy can close, the workload-to-host action, this node's policed host endpoints. */
  host?: HostStatusDoc;
  bgp: { configured: boolean; peers: PeerStatusDoc[]; advertised: string[]; learned: number };
  /** Present once VXLAN was synced: this host's VTEP, the remote ones, the routes to remote blocks. */
  vxlan?: VxlanStatusDoc;
  lastApply: ApplyDoc | null;
  lastError: ErrorDoc | null;
}

export interface HostStatusDoc {
  failsafe: { inbound: Array<{ protocol: string; port: number; net?: string }>; outbound: Array<{ protocol: string; port: number; net?: string }> };
  defaultEndpointToHostAction: string;
  endpoints: Array<{
    id: string; interfaceName: string; ingress: string[]; egress: string[]; profiles: string[];
    forwardIngress: string[]; forwardEgress: string[]; preDnatIngress: string[]; untrackedIngress: string[]; untrackedEgress: string[];
  }>;
}

export interface ReadinessDoc {
  ready: boolean;
  checks: Record<string, { ok: boolean; detail: string }>;
}

export interface ExplainQuery { from: string; to: string; port?: number; protocol?: string }

/** The policy verdict for TCP/port between every pair of endpoints (ids in `endpoints` order). */
export interface MatrixDoc {
  port: number;
  protocol: string;
  endpoints: Array<{ id: string; tenant: string; node: string; address: string }>;
  /** allowed[i][j]: from endpoints[i] to endpoints[j]. */
  allowed: boolean[][];
  /** Present when the store holds staged policies (never enforced): what each would do, and
   *  the verdicts with them carried out, same endpoints and order (`policy preview`'s question). */
  staged?: { changes: string[]; allowed: boolean[][] };
}

export interface ApiSource {
  status(): StatusDoc;
  readiness(): ReadinessDoc;
  /** False until the first store snapshot: explain and the matrix would answer from an empty cluster. */
  storeSynced(): boolean;
  /** Same result as `trellisctl policy explain`; throws ApiInputError on unknown endpoints. */
  explain(q: ExplainQuery): { text: string; result: unknown };
  matrix(port: number, protocol: string): MatrixDoc;
  /** Prometheus registry to expose on /metrics. */
  registry: Registry;
  /** Brings gauges that are sampled rather than pushed (BGP sessions, store stats) up to date. */
  refreshMetrics?(): void;
}

export class ApiInputError extends TrellisError<'BAD_REQUEST'> {
  constructor(message: string) { super('BAD_REQUEST', message); }
}

export interface VtepDoc { node: string; address: string; tunnelAddr: string; mac: string }

export interface VxlanStatusDoc {
  /** This host's VTEP and device settings, or null without one. */
  device: (VtepDoc & { vni: number; port: number }) | null;
  vteps: VtepDoc[];
  routes: Array<{ dst: string; node: string; via: string; mode: 'vxlan' | 'native' }>;
  problems: string[];
}
