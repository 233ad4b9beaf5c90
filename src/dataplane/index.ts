// The dataplane face: brings the kernel to DesiredState and reports what it wrote. Policy
// (sets and filtering rules) is a backend behind the contract in backend.ts, today ipset +
// iptables (iptables/, whose own face holds its text and names for tests and tools); the
// neutral parts are here: workload routes and sysctls (plumbing), learned BGP routes, the
// command helper, and the reconcile that orders them (reconcile.ts).
export { createDataplane, POLICY_BACKENDS } from './dataplane.js';
export type { Dataplane, DataplaneOptions, KernelState, PolicyBackendFactory } from './dataplane.js';
export { emptyPolicyCounts } from './backend.js';
export type { PolicyApplied, PolicyBackend, PolicyCommand, PolicyCounts, PolicyPlan, PolicyStage } from './backend.js';
export { runPolicyPlan } from './batch.js';
export type { Exec, ExecOutput, RunOptions } from './exec.js';
export type { ApplyCounts, ApplyReport } from './report.js';
export { DataplaneError } from './errors.js';
export type { KernelDrift } from './kernel-events.js';
export type { KernelWatch } from './kernel-watch.js';
export type { ReconcileHow } from './reconcile.js';
export type { DataplaneErrorCode } from './errors.js';
export type { LearnedRoute, LearnedTable, LearnedWant, KernelRoute } from './routes.js';
export { renderWorkloadRoutes } from './routes.js';
export { renderSysctls } from './sysctls.js';
export { WORKLOAD_IFACE_PREFIX } from './names.js';
export { renderVxlan, planVxlan, parseVxlanLinks, vxlanMtu, readVxlanKernel } from './vxlan.js';
export type { VxlanKernel, VxlanPlan } from './vxlan.js';
