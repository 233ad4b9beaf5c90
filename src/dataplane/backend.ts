// The policy backend contract: the part of the dataplane that turns DesiredState's
// policies, profiles and sets into kernel filtering (today ipset + iptables, in iptables/).
// A backend reads what the kernel holds of its own objects, plans the difference against
// DesiredState as plain commands, and has them applied as one ordered batch; routes,
// sysctls and the reconcile around it are backend-neutral and live outside it.
//
// The ordering rule every backend's plan keeps: a stage runs only after the one before it
// succeeded, and stages go (1) objects rules will refer to (sets, created or updated), (2)
// the rules themselves, (3) objects nothing refers to any more. So a rule never refers to
// something missing, and no packet meets a half-written policy.
import type { DesiredState } from '../calc/index.js';

/** What a policy write changed, counted as the report counts it. */
export interface PolicyCounts {
  setsCreated: number;
  setsUpdated: number;
  setsDeleted: number;
  membersAdded: number;
  membersDeleted: number;
  chainsWritten: number;
  chainsDeleted: number;
  jumpsFixed: number;
}

export function emptyPolicyCounts(): PolicyCounts {
  return { setsCreated: 0, setsUpdated: 0, setsDeleted: 0, membersAdded: 0, membersDeleted: 0, chainsWritten: 0, chainsDeleted: 0, jumpsFixed: 0 };
}

/** One kernel write of a plan, and what it changes once it succeeded. */
export interface PolicyCommand {
  argv: string[];
  /** Its stdin: the whole write (a restore file). */
  input: string;
  /** Added to the report once the command succeeded. */
  counts: Partial<PolicyCounts>;
  /**
   * A cleanup nothing depends on (removing unreferenced objects): retried once after a
   * pause, and a failure is reported in the errors rather than failing the reconcile.
   */
  bestEffort?: { label: string };
  /** On the way from a change to the kernel: its tool may be started ahead of need. */
  warm?: boolean;
}

/** Commands that may run side by side: the lanes run concurrently, each lane in order. */
export type PolicyStage = PolicyCommand[][];

export interface PolicyPlan<S> {
  /**
   * The write, in the order of the rule above. Iterated lazily: the runner starts a stage's
   * commands and only then asks for the next stage, so a plan may defer rendering the
   * rules until the set write is under way. Pure: iterating it writes nothing.
   */
  stages: Iterable<PolicyStage>;
  /** What the kernel holds once every stage succeeded: stands in for a read until the next resync. */
  after(): S;
}

/** The outcome of applying a plan. */
export interface PolicyApplied {
  counts: PolicyCounts;
  /** Commands that wrote to the kernel. */
  writeCommands: number;
  /** Best-effort commands that failed (the kernel then differs from `plan.after()`: re-read next time). */
  errors: string[];
}

/**
 * A policy backend. `S` is its snapshot of the kernel: what `read` returns, what `plan`
 * diffs against, and what `after` predicts. One instance per dataplane: whatever it caches
 * between renders is state of the instance, never of a module.
 */
export interface PolicyBackend<S = unknown> {
  /** Short name (tests and logs). */
  readonly name: string;
  /** Reads the backend's own objects from the kernel (and nothing else's). */
  read(): Promise<S>;
  plan(desired: DesiredState, kernel: S): PolicyPlan<S>;
  /** Runs the plan's stages in order (see runPolicyPlan); throws on the first failed write. */
  apply(plan: PolicyPlan<S>): Promise<PolicyApplied>;
}
