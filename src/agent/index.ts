// The agent face: trellisd's core, for main.ts and for in-process tests and benches.
export { startAgent } from './agent.js';
export type { Agent, AgentComponents, AgentParts, StartAgentOptions } from './agent.js';
export type { BgpPort, DataplanePort, IpamPort, LearnedRoute, LearnedSet, LearnedTable, LearnedWant, ApplySummary, PartsContext, PartsFactory } from './ports.js';
export { learnedCount } from './ports.js';
export { realParts } from './wiring.js';
export { createApplyLoop, backoffMs } from './loop.js';
export type { ApplyLoop, ApplyLoopState } from './loop.js';
export { resyncCron } from './schedule.js';
export { createAgentStatus, countsOf, readinessOf } from './status.js';
export type { AgentState, AgentStatus } from './status.js';
export { createLearnedRoutes } from './learned.js';
export type { LearnedRoutes, LearnedState } from './learned.js';
export { createAdvertiser, localPrefixes } from './advertise.js';
export type { Advertiser, AdvertiserState } from './advertise.js';
export { endpointDocs } from './endpoints.js';
export { preflight } from './preflight.js';
