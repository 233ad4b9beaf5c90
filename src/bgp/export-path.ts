// The speaker's export side: what each peer is sent. A Loc-RIB best route is judged for a
// peer by its BGPFilter export rules first, then by the export rules (exportTargetOf and the
// memoised exports of adj-rib-out.ts), and queued in that peer's Adj-RIB-Out, which turns
// what changed into UPDATE messages.
import { ExportMemo } from './adj-rib-out.js';
import { filterVerdict } from './filter.js';
import { encodeEndOfRib } from './messages.js';
import { type PeerEntry, exportTargetOf } from './peer-entry.js';
import { parsePrefix } from './prefix.js';
import { type ExportTarget, LOCAL } from './rib.js';
import type { SpeakerState } from './speaker-state.js';
import { runInTurns } from './turns.js';

/** Loc-RIB routes judged again per turn for one peer after a policy or filter change. */
export const REEXPORT_MAX = 4000;

export class ExportPath {
  private readonly memo = new ExportMemo();
  // Exports a filter rule accepted: they skip exportPolicy, so they are memoised apart.
  private readonly acceptedMemo = new ExportMemo();
  private readonly acceptTargets = new WeakMap<ExportTarget, ExportTarget>();

  constructor(private readonly st: SpeakerState) {}

  /** Configuration changed: every memoised export and export target is stale. */
  forgetExports(): void {
    this.memo.clear();
    this.acceptedMemo.clear();
    for (const p of this.st.peers.values()) p.target = undefined;
  }

  private targetOf(p: PeerEntry): ExportTarget | null {
    if (p.target === undefined) p.target = exportTargetOf(p, this.st.localAsn, this.st.config.localAddresses ?? {});
    return p.target;
  }

  private readonly exportContext = () => ({ localAsn: this.st.localAsn, ...(this.st.config.clusterId ? { clusterId: this.st.config.clusterId } : {}) });

  queue(p: PeerEntry, prefix: string): void {
    const b = this.st.rib.best(prefix);
    const t = this.targetOf(p);
    let e = null;
    if (b && t && p.established?.families().includes(b.family)) {
      const rules = p.filters.export[b.family];
      const v = rules.length === 0 ? null : filterVerdict(rules, {
        prefix: parsePrefix(prefix), learned: b.src.peer !== LOCAL, ebgp: t.ebgp, attrs: b.src.attrs,
        ...(b.src.interface !== undefined ? { interface: b.src.interface } : {}),
      });
      if (v === null) e = this.memo.get(b, t, this.exportContext);
      else if (v === 'Accept') {
        // Accepted by a rule: past exportPolicy (as Calico's filter accepts before its
        // export rules), but the protocol's own rules (split horizon, next hop) still hold.
        let ta = this.acceptTargets.get(t);
        if (!ta) this.acceptTargets.set(t, (ta = { ...t, exportPolicy: 'All' }));
        e = this.acceptedMemo.get(b, ta, this.exportContext);
      }
    }
    p.adjOut.queue(prefix, e);
  }

  flush(p: PeerEntry): void {
    const s = p.established;
    if (!s || !p.adjOut.hasPending) return;
    for (const m of p.adjOut.takeMessages(s.negotiated?.fourOctetAs ?? false)) s.send(m);
  }

  /** Brings a peer's Adj-RIB-Out in line with the whole Loc-RIB (session start, end of the deferral). */
  resync(p: PeerEntry, sendEor: boolean): void {
    const rib = this.st.rib;
    p.target = undefined;
    for (const prefix of rib.prefixes()) this.queue(p, prefix);
    for (const prefix of [...p.adjOut.prefixes()]) if (!rib.has(prefix)) this.queue(p, prefix);
    this.flush(p);
    if (sendEor && p.established) for (const f of p.established.families()) p.established.send(encodeEndOfRib(f));
    p.adjOut.synced = true;
  }

  /**
   * After a configuration change on a peer that has had the whole table: every prefix is
   * judged again for it, a slice per turn (changes meanwhile are queued by the decision
   * process with the new rules as well); what differs is sent or withdrawn as each slice ends.
   */
  reexport(p: PeerEntry): void {
    const rib = this.st.rib;
    p.target = undefined;
    const prefixes = [...rib.prefixes()];
    for (const prefix of p.adjOut.prefixes()) if (!rib.has(prefix)) prefixes.push(prefix);
    const job = {};
    p.reexport = job;
    runInTurns(prefixes, REEXPORT_MAX, {
      current: () => p.reexport === job && !p.removed && !this.st.stopped && p.adjOut.synced,
      each: (prefix) => this.queue(p, prefix),
      afterTurn: () => this.flush(p),
      done: () => { p.reexport = null; },
    });
  }
}
