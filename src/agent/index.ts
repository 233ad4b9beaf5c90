// The agent face: trellisd's core, for main.ts and for in-process tests and benches.
export { startAgent, VERSION } from './agent.js';
export type { Agent, AgentParts, StartAgentOptions } from './agent.js';
export type { BgpPort, DataplanePort, IpamPort, LearnedRoute, ApplySummary } from './ports.js';
export { createApplyLoop, backoffMs } from './loop.js';
export { resyncCron } from './schedule.js';
