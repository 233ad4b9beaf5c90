// The BGP speaker's face: the agent configures peers, announces local prefixes and hears
// learned best routes; codecs and the FSM are exported for tests and tools.
export { createSpeaker, type Speaker, type SpeakerOptions, type SyncedInfo } from './speaker.js';
export type {
  PeerConfig, SpeakerConfig, PeerStatus, PeerState, LocalRoute, RouteChange, GracefulRestartOptions, ImportPolicy, ExportPolicy,
  RouteFilter, RouteFilterRule,
} from './types.js';
export { compileFilters, filterVerdict, ruleMatches, NO_FILTERS, type CompiledRule, type PeerFilters, type RouteFacts, type FilterVerdict } from './filter.js';
export { BgpError, BgpConfigError, ErrorCode, describeNotification, isValidNotification } from './errors.js';
export {
  decodeMessage, encodeOpen, encodeKeepalive, encodeNotification, encodeRouteRefresh, encodeUpdateRaw, encodeEndOfRib,
  encodePrefixes, endOfRibFamily, emptyCapabilities, Framer, type Message, type OpenMessage, type UpdateMessage, type Capabilities,
} from './messages.js';
export { encodeAttributes, type PathAttributes, type AsPathSegment, AS_TRANS } from './attributes.js';
export { packAnnouncements, packWithdrawals } from './pack.js';
export { FSM_TABLE, STATES, EVENTS, transition, type State, type FsmEvent } from './fsm.js';
export { classifyUpdate, classifyUpdateBytes, type UpdateVerdict, type Announced } from './adj-rib-in.js';
export { routeRefreshVerdict, type RefreshVerdict } from './adj-rib-out.js';
export { resolveCollision, mayConnect, supersededBy, bgpIdNumber, type CollisionVerdict } from './collision.js';
export { initialSyncDone, type SyncPeer } from './graceful-restart.js';
export { compareRoutes, selectBest, exportRoute, LOCAL, type RibRoute, type RouteSource, type ExportTarget } from './rib.js';
export { canonicalPrefix, type AfiFamily } from './prefix.js';
export { md5Support, passwordProblem, MD5_MAX_KEY_BYTES } from './md5.js';
