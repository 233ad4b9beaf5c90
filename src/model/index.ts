// The model: resources, selectors, CIDRs. Pure: no I/O; imported by every subsystem.
export * from './resources.js';
export * from './cidr.js';
export * from './selector/index.js';
export * from './load.js';
export * from './staged.js';
export * from './protocols.js';
export * from './constants.js';
export * from './errors.js';
export { VXLAN_DEVICE } from './vxlan.js';
