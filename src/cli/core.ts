// The core faces the command files use. Files in commands/ cannot reach another
// subsystem directly (lint: faces are imported as ../<subsystem>/index.js only), so they
// import from here ('../core.js'); add a face here when a command needs one.
export * from '../model/index.js';
// The store is imported lazily (context.ts: withStore): etcd3 and gRPC take a third of a
// second to load, which commands that never touch etcd (validate, selector) need not pay.
export type { Store, Stored, StoreError, StoreErrorCode } from '../store/index.js';
export * from '../config/index.js';

/** A StoreError refusing the operation (conflict, not found, exists, invalid), not an outage. */
export function isStoreRefusal(err: unknown): err is Error & { code: string } {
  return err instanceof Error && err.name === 'StoreError' && (err as { code?: unknown }).code !== 'UNAVAILABLE';
}
export { computeDesiredState, endpointRefusals, explainFlow, explainHostFlow, formatExplanation, resourceView, ExplainError } from '../calc/index.js';
export { applyStaged, formatPreview, formatStagedChanges, previewStaged } from '../calc/index.js';
export type { ExplainInput, ExplainResult, Verdict } from '../calc/index.js';
export type { PeerStatus } from '../bgp/index.js';
export {
  checkLeaks, EMPTY_BLOCK_GRACE_MS, handleOfAddress, ipamUsage, IpamError, releaseByHandle,
} from '../ipam/index.js';
export type { BlockUsage, IpamUsage, Leak } from '../ipam/index.js';
