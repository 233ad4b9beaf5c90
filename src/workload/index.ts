// The workload-attach path every runtime face shares (trellis-cni, the Docker driver):
// IPAM allocation, the veth pair, addresses and routes, the WorkloadEndpoint record, and
// the undo stack that keeps a failed attach from leaving anything behind.
export { attach, detach, endpointKey, endpointKeyOf, endpointPorts, gatewayOf, tunnelMtu, withPrefix } from './attach.js';
export type { AttachDeps, AttachRequest, AttachStep, Attachment, DetachRequest, WorkloadStore } from './attach.js';
export { containerMac, endpointName, GATEWAY_V4, GATEWAY_V6, HOST_VETH_MAC, hostVethName, ipamHandle } from './names.js';
export { deleteContainerLink, deleteHostVeth, inspect, NetlinkError, ROUTE_PROTO_WORKLOAD, run } from './netlink.js';
export type { RunResult, VethSpec } from './netlink.js';
