// The speaker's import side: what a peer sends. An UPDATE is classified (adj-rib-in.ts,
// pure: withdrawn, announced, treat-as-withdraw, End-of-RIB), each route is judged by the
// peer's BGPFilter import rules, then importPolicy and the rejected prefixes, and kept in
// the peer's Adj-RIB-In; the eligible ones become Loc-RIB candidates.
import type { PathAttributes } from './attributes.js';
import { classifyUpdate, importAllowed, importSource } from './adj-rib-in.js';
import type { Decision } from './decision.js';
import { filterVerdict } from './filter.js';
import type { UpdateMessage } from './messages.js';
import type { PeerEntry } from './peer-entry.js';
import { type AfiFamily, parsePrefix } from './prefix.js';
import type { RibRoute } from './rib.js';
import type { Session } from './session.js';
import type { SpeakerState } from './speaker-state.js';
import { runInTurns } from './turns.js';

/** Adj-RIB-In routes judged again per turn after a policy or filter change. */
export const REIMPORT_MAX = 4000;

export class ImportPath {
  constructor(private readonly st: SpeakerState, private readonly decision: Decision) {}

  set(p: PeerEntry, prefix: string, route: RibRoute | null): void {
    if (route) {
      const ebgp = p.cfg.asn !== this.st.localAsn;
      const rules = p.filters.import[route.family];
      // A filter rule decides first; the routes no rule matches are importPolicy's. A
      // rejected route stays in the Adj-RIB-In, so a filter change can take it back.
      const v = rules.length === 0 ? null : filterVerdict(rules, { prefix: parsePrefix(prefix), learned: true, ebgp, attrs: route.src.attrs });
      const eligible = v !== 'Reject' && importAllowed(prefix, ebgp, v === 'Accept' ? 'Accept' : p.cfg.importPolicy, this.st.rejectPrefixes);
      this.decision.setCandidate(prefix, p.key, p.adjIn.set(prefix, route, eligible));
    } else if (p.adjIn.delete(prefix)) {
      this.decision.setCandidate(prefix, p.key, null);
    }
  }

  /**
   * Runs import policy and filters again over the peer's whole Adj-RIB-In, a slice per turn
   * so that a full table does not hold the event loop (keepalives go out between slices).
   * A newer change restarts it; routes that arrive meanwhile are judged by the new rules.
   */
  reimport(p: PeerEntry): void {
    const job = {};
    p.reimport = job;
    runInTurns([...p.adjIn.prefixes()], REIMPORT_MAX, {
      current: () => p.reimport === job && !p.removed && !this.st.stopped,
      each: (prefix) => {
        const r = p.adjIn.get(prefix);
        if (r) this.set(p, prefix, r);
      },
      done: () => { p.reimport = null; },
    });
  }

  purge(p: PeerEntry, onlyStale: boolean, family?: AfiFamily): void {
    for (const prefix of p.adjIn.select(onlyStale, family)) this.set(p, prefix, null);
  }

  /** One of our own addresses (a route with it as next hop or originator is refused). */
  private ownAddress = (ip: string): boolean => {
    const { st } = this;
    if (ip === st.routerId) return true;
    const la = st.config.localAddresses ?? {};
    if (ip === la.ipv4 || ip === la.ipv6) return true;
    for (const q of st.peers.values()) if (q.cfg.localAddress === ip) return true;
    return false;
  };

  /** An UPDATE from the peer's session; End-of-RIB goes to `onEndOfRib`. */
  update(p: PeerEntry, s: Session, u: UpdateMessage, onEndOfRib: (p: PeerEntry, f: AfiFamily) => void): void {
    const { st } = this;
    const log = st.logger;
    const v = classifyUpdate(u, s.families());
    if (v.kind === 'end-of-rib') { onEndOfRib(p, v.family); return; }
    if (v.kind === 'session-reset') return; // decoding errors never reach here: the session resets on them
    for (const d of v.discarded) log.info({ peer: p.key, reason: d }, 'bgp: attribute discarded (RFC 7606)');
    for (const f of v.ignoredFamilies) log.info({ peer: p.key, afi: f.afi, safi: f.safi }, 'bgp: ignoring NLRI of an address family not negotiated');
    const w = v.treatAsWithdraw;
    if (w) log.warn({ peer: p.key, code: w.code, subcode: w.subcode, error: w.message }, 'bgp: malformed UPDATE treated as withdraw (RFC 7606)');
    for (const prefix of v.withdrawn) this.set(p, prefix, null);
    for (const a of v.announced) {
      const src = importSource({
        peerKey: p.key, peerAsn: p.cfg.asn, localAsn: st.localAsn, routerId: st.routerId, ...(st.config.clusterId ? { clusterId: st.config.clusterId } : {}),
        fromClient: p.cfg.routeReflectorClient === true, peerRouterId: s.negotiated?.peerRouterId ?? p.key, ownAddress: this.ownAddress,
      }, u.attrs as PathAttributes, a.nextHop);
      if (typeof src === 'string') {
        log.info({ peer: p.key, reason: src, prefixes: a.prefixes.length }, 'bgp: routes not accepted');
        for (const prefix of a.prefixes) this.set(p, prefix, null);
        continue;
      }
      for (const prefix of a.prefixes) this.set(p, prefix, { prefix, family: a.family, src, stale: false });
    }
  }
}
