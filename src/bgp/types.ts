// The speaker's interface with the agent: configuration in, learned routes and peer
// status out. Plain data; nothing here knows of etcd or the store.
import type { AfiFamily } from './prefix.js';

export type ImportPolicy = 'Accept' | 'Reject';
export type ExportPolicy = 'Reject' | 'LocalBlocks' | 'All';

/**
 * One rule of a route filter (Calico's BGPFilter rule): every condition given must hold;
 * a rule with none matches every route.
 */
export interface RouteFilterRule {
  /** With matchOperator: In (inside cidr, cidr itself included), NotIn, Equal, NotEqual. */
  cidr?: string;
  matchOperator?: 'Equal' | 'NotEqual' | 'In' | 'NotIn';
  /** Narrows cidr to prefixes of these lengths (bounded by cidr's own length and the family's). */
  prefixLength?: { min?: number; max?: number };
  /** RemotePeers: routes learned from a BGP peer (not the node's own). */
  source?: 'RemotePeers';
  /** The route's interface name, "*" any run of characters; only the node's own routes have one. */
  interface?: string;
  /** The session the filter is applied to: eBGP (other AS) or iBGP (same AS). */
  peerType?: 'eBGP' | 'iBGP';
  /** The route carries this community ("aa:nn" or large "aa:nn:mm"). */
  community?: string;
  /** AS_PATH starts with these AS numbers (as received; ours is prepended after export filters). */
  asPathPrefix?: number[];
  action: 'Accept' | 'Reject';
}

/** A named filter (Calico's BGPFilter) as the speaker takes it. */
export interface RouteFilter {
  name: string;
  importV4?: RouteFilterRule[];
  importV6?: RouteFilterRule[];
  exportV4?: RouteFilterRule[];
  exportV6?: RouteFilterRule[];
}

export interface PeerConfig {
  /** Peer address (IPv4 or IPv6); one session per address. */
  address: string;
  /** TCP port to connect to (default 179). */
  port?: number;
  asn: number;
  /** A label for status and logs (e.g. "Node node-2" or "BGPPeer tor-1"). */
  name?: string;
  /** Source address for outgoing connections and the default NEXT_HOP self. */
  localAddress?: string;
  /** Never connect; only accept the peer's connection. */
  passive?: boolean;
  /** Address families to negotiate (default: the family of address). */
  families?: AfiFamily[];
  holdTimeSec?: number;
  keepaliveSec?: number;
  connectRetrySec?: number;
  /** TCP-MD5 (RFC 2385) key for this peer, both directions; see src/bgp/md5.ts. */
  password?: string;
  /** This peer is our route reflector client (needs a cluster id on the speaker). */
  routeReflectorClient?: boolean;
  /** RFC 8212 for eBGP peers; iBGP peers always import and export. */
  importPolicy?: ImportPolicy;
  exportPolicy?: ExportPolicy;
  /** eBGP: leave NEXT_HOP as learned instead of next-hop-self for re-advertised routes. */
  keepOriginalNextHop?: boolean;
  /** Helper: keep this peer's routes at most this long after its session drops (caps its restart time). */
  maxRestartTimeSec?: number;
  /**
   * Route filters in order: the first rule that matches decides, before importPolicy and
   * exportPolicy (which decide the routes no rule matches). A change re-evaluates the
   * peer's Adj-RIB-In and Adj-RIB-Out in place, without a new session.
   */
  filters?: RouteFilter[];
}

export interface SpeakerConfig {
  /** When set, these override createSpeaker's values; a change resets every session. */
  localAsn?: number;
  routerId?: string;
  /** Route reflector cluster id: set makes this speaker a reflector for routeReflectorClient peers. */
  clusterId?: string;
  /** NEXT_HOP self per family when a session's local address is of the other family. */
  localAddresses?: { ipv4?: string; ipv6?: string };
  /** Learned routes for these prefixes, or inside them with a longer mask when `within` is set, are never accepted. */
  rejectPrefixes?: string[];
  peers: PeerConfig[];
}

export interface LocalRoute {
  prefix: string;
  /** RFC 1997 communities as "asn:value" text, or large "a:b:c". */
  communities?: string[];
  med?: number;
  /** The interface the route leaves by (a workload's veth), for filter rules on `interface`. */
  interface?: string;
}

export interface RouteChange {
  prefix: string;
  nextHop: string;
  family: AfiFamily;
  withdrawn: boolean;
}

export type PeerState = 'Idle' | 'Connect' | 'Active' | 'OpenSent' | 'OpenConfirm' | 'Established';

export interface PeerStatus {
  peer: string;
  name?: string;
  asn: number;
  state: PeerState;
  /** Seconds in the current state. */
  uptimeSec: number;
  /** Prefixes in the peer's Adj-RIB-In (accepted or not). */
  received: number;
  /** Prefixes in the peer's Adj-RIB-Out. */
  advertised: number;
  lastError: string | null;
  /** True while the peer's routes are kept as stale (graceful restart helper). */
  stale?: boolean;
}

export interface GracefulRestartOptions {
  /** Restart time we ask peers to wait for us (seconds, <= 4095; default 120). */
  restartTimeSec?: number;
  /** This speaker is restarting: set the R bit and F bits, defer selection until End-of-RIB. */
  restarting?: boolean;
  /** Longest wait for End-of-RIB from a peer (seconds; default 120). */
  eorTimeoutSec?: number;
  /**
   * Restarting: a peer not Established and not exchanging OPENs this long after it was
   * configured counts as down and does not hold back the others (seconds; default 10).
   */
  peerDownAfterSec?: number;
}
