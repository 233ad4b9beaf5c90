// What a reconcile or a learned-route sync reports: counts of what it wrote, what it left
// out and why. Backend-neutral: a policy backend's counts are one part of it.
import type { PolicyCounts } from './backend.js';
import { emptyPolicyCounts } from './backend.js';

export interface ApplyCounts extends PolicyCounts {
  routesAdded: number;
  routesReplaced: number;
  routesDeleted: number;
  sysctlsWritten: number;
  /** Commands that wrote to the kernel (ipset restore, iptables-restore, ip -batch, sysctl -w). */
  writeCommands: number;
}

export interface ApplyReport {
  /** False when the kernel already matched: nothing was written. */
  wrote: boolean;
  /** True when the policy backend's objects were read back from the kernel (a resync), false when diffed against the last write. */
  resynced: boolean;
  counts: ApplyCounts;
  /** Things deliberately not applied (missing devices, prefixes owned by another protocol). */
  skipped: string[];
  /** Partial failures that did not abort the apply (e.g. one unreachable BGP next hop). */
  errors: string[];
  durationMs: number;
}

export function emptyCounts(): ApplyCounts {
  return { ...emptyPolicyCounts(), routesAdded: 0, routesReplaced: 0, routesDeleted: 0, sysctlsWritten: 0, writeCommands: 0 };
}
