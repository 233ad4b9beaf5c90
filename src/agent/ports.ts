// What the agent needs from the dataplane, the BGP speaker and IPAM, as narrow
// interfaces: agent.ts is written against these, wiring.ts adapts the real subsystems.
import type { DesiredState, VxlanState } from '../calc/index.js';
import type { Resource } from '../model/index.js';
import type { PeerStatusDoc } from '../api/index.js';
import type { DaemonConfig } from '../config/index.js';
import type { Logger } from '../log/index.js';
import type { Store } from '../store/index.js';
import type { LearnedRoute, LearnedTable, LearnedWant } from '../dataplane/index.js';

export type { LearnedRoute, LearnedTable, LearnedWant };

/**
 * The speaker's best learned routes: the table (live: it is the speaker's own, read it when
 * needed, never keep it expecting it to stay) and the destinations that changed since the
 * previous set (null: any may have), which is the receiver's to keep and extend.
 */
export interface LearnedSet { table: LearnedTable; changed: Set<string> | null }

export function learnedCount(want: LearnedWant): number {
  return 'table' in want ? want.table.size : want.length;
}

/** What one apply changed, as far as the agent reports it. */
export interface ApplySummary {
  /** True when anything was written to the kernel. */
  changed: boolean;
  /** Counts of what is in force after the apply. */
  rules?: number;
  sets?: number;
  routes?: number;
  detail?: unknown;
}

/** A change someone else made to what the dataplane programmed, as the kernel reported it. */
export interface DriftNote { part: 'routes' | 'policy' | 'vxlan'; what: string }

export interface DataplanePort {
  /**
   * `resync`: read the kernel back and repair drift (the periodic job), instead of trusting
   * the last write; `repair`: read back and repair only these parts (drift was seen in them).
   */
  reconcile(desired: DesiredState, opts?: { resync?: boolean; repair?: ReadonlyArray<'routes' | 'policy'> }): Promise<ApplySummary>;
  /** Reports drift from the kernel's change notifications (absent: only the periodic resync finds it). */
  watch?(onDrift: (drift: DriftNote[]) => void): { stop(): Promise<void>; readonly started: Promise<void> };
  syncLearnedRoutes(want: LearnedWant, opts?: { resync?: boolean }): Promise<ApplySummary>;
  /** The VXLAN device, neighbours, FDB and routes (absent: this dataplane has no VXLAN). */
  syncVxlan?(state: VxlanState, opts?: { resync?: boolean }): Promise<ApplySummary>;
}

export interface BgpPort {
  /** Applies the BGP configuration the resources describe for this node (throws on bad input). */
  configure(resources: Resource[]): Promise<void>;
  /**
   * The local prefixes to announce (replaces the previous set); `interfaces` gives the
   * interface a prefix leaves by, where it has one (BGPFilter rules match on it).
   */
  setLocalPrefixes(prefixes: string[], interfaces?: ReadonlyMap<string, string>): Promise<void>;
  status(): PeerStatusDoc[];
  /** True once the speaker has been configured at least once. */
  readonly configured: boolean;
  /** Called with the best learned routes and what changed in them, whenever they change. */
  onRoutes(cb: (set: LearnedSet) => void): void;
  /** Resolves when every configured peer has sent End-of-RIB (or it is not restarting). */
  endOfRib(): Promise<void>;
  stop(): Promise<void>;
}

export interface IpamPort {
  /** Blocks affine to the node and addresses it borrows from others' blocks. */
  advertisements(node: string): Promise<{ blocks: string[]; borrowed: string[] }>;
  /** Gives back this node's blocks that have been empty for graceMs; returns them. */
  releaseEmpty(node: string, graceMs: number): Promise<string[]>;
}

/** The subsystems behind the ports, as the composition root builds them. */
export interface AgentParts {
  dataplane: DataplanePort;
  bgp: BgpPort | null;
  ipam: IpamPort | null;
}

export interface PartsContext {
  config: DaemonConfig;
  logger: Logger;
  /** Run every dataplane command in this namespace (tests and benches). */
  netns?: string;
  /** Whether to run a BGP speaker. */
  bgp: boolean;
  store: Store;
}

export type PartsFactory = (ctx: PartsContext) => Promise<AgentParts>;
