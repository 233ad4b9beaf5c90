// The CNI face: trellis-cni's work as trellisd runs it on its socket (main.ts is the plugin
// binary, and the only other way in).
export { startCniServer } from './server.js';
export type { CniServer, CniServerOptions } from './server.js';
export { DEFAULT_AGENT_SOCKET } from './client.js';
