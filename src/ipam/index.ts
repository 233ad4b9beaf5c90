// IPAM face: block-affinity address management in etcd. Pools (IPPool resources) carve
// into blocks; a node claims blocks by affinity and allocates from them, claims another
// when they are full, and borrows single addresses from other nodes' blocks only when the
// pools have no unclaimed block left. Every change is one compare-and-swap transaction.
export { allocate, releaseByHandle, handleOfAddress, addressesOf, handleInfo } from './allocate.js';
export type { HandleRecord } from './records.js';
export type { AllocateRequest, Allocation } from './allocate.js';
export {
  affineBlocks, borrowedAddresses, hostBlocks, VXLAN_TUNNEL_USE, releaseEmptyBlocks, EMPTY_BLOCK_GRACE_MS, releaseAffinities, ipamUsage, checkLeaks, listHandles,
} from './maintenance.js';
export type { BlockUsage, PoolUsage, IpamUsage, Leak } from './maintenance.js';
export { IpamError } from './errors.js';
export type { IpamErrorCode } from './errors.js';
export type { IpamStore } from './store.js';
export { keysFor } from './records.js';
export { DEFAULT_BLOCK_SIZE } from './addr.js';
