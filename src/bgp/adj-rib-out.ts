// Adj-RIB-Out: what one peer has been sent (prefix -> exported attributes) and what is
// waiting to be sent, plus the export memo shared by all peers. Turning pending changes
// into UPDATE bytes is pure (takeMessages); the speaker writes them to the session.
import { isDeepStrictEqual } from 'node:util';
import { packAnnouncements, packWithdrawals } from './pack.js';
import { type AfiFamily, addressFamily, familyOfAfi, SAFI_UNICAST } from './prefix.js';
import { type Exported, type ExportContext, type ExportTarget, type RibRoute, type RouteSource, exportRoute } from './rib.js';

export class AdjRibOut {
  private readonly sent = new Map<string, Exported>();
  private readonly pending = new Set<string>();
  /** The peer has been given the whole Loc-RIB since its session came up. */
  synced = false;

  get size(): number { return this.sent.size; }
  prefixes(): IterableIterator<string> { return this.sent.keys(); }
  get hasPending(): boolean { return this.pending.size > 0; }

  /** Records what the peer should now have for a prefix (null: nothing); queues it when it differs. */
  queue(prefix: string, e: Exported | null): void {
    const cur = this.sent.get(prefix) ?? null;
    if (e === cur) return;
    // A recomputed export (after a configuration change) that says the same is not sent
    // again: a filter edit moves the routes it changes, not the whole table.
    if (e && cur && isDeepStrictEqual(e, cur)) return;
    if (e) this.sent.set(prefix, e); else this.sent.delete(prefix);
    this.pending.add(prefix);
  }

  /** ROUTE-REFRESH: everything sent in a family goes again. */
  requeueFamily(f: AfiFamily): void {
    for (const prefix of this.sent.keys()) if (addressFamily(prefix) === f) this.pending.add(prefix);
  }

  /** The session ended: the peer has nothing from us any more. */
  reset(): void {
    this.sent.clear();
    this.pending.clear();
    this.synced = false;
  }

  /** The pending changes as UPDATE messages (withdrawals first), then nothing is pending. */
  takeMessages(fourOctetAs: boolean): Buffer[] {
    const withdraws: Record<AfiFamily, string[]> = { 4: [], 6: [] };
    const groups = new Map<Exported, string[]>();
    for (const prefix of this.pending) {
      const e = this.sent.get(prefix);
      if (!e) { withdraws[addressFamily(prefix)].push(prefix); continue; }
      let g = groups.get(e);
      if (!g) groups.set(e, (g = []));
      g.push(prefix);
    }
    this.pending.clear();
    const out: Buffer[] = [];
    for (const f of [4, 6] as const) if (withdraws[f].length) out.push(...packWithdrawals(f, withdraws[f]));
    for (const [e, prefixes] of groups) {
      const f = addressFamily(prefixes[0]!);
      out.push(...(f === 4
        ? packAnnouncements(4, { ...e.attrs, nextHop: e.nextHop }, prefixes, { fourOctetAs })
        : packAnnouncements(6, e.attrs, prefixes, { fourOctetAs }, e.nextHop)));
    }
    return out;
  }
}

/**
 * exportRoute results per route source and target: routes learned in one UPDATE share a
 * source, so 100k prefixes to one peer cost one export computation per UPDATE, and equal
 * results stay the same object (which is what lets takeMessages group them).
 */
export class ExportMemo {
  // Keyed by target key then family, not a `${key}|${family}` string: that string was
  // built for every prefix and peer of a 100k-prefix burst.
  private memo = new WeakMap<RouteSource, Map<string, [Exported | null | undefined, Exported | null | undefined]>>();

  get(r: RibRoute, t: ExportTarget, ctx: ExportContext | (() => ExportContext)): Exported | null {
    let m = this.memo.get(r.src);
    if (!m) this.memo.set(r.src, (m = new Map()));
    let byFamily = m.get(t.key);
    if (!byFamily) m.set(t.key, (byFamily = [undefined, undefined]));
    const i = r.family === 4 ? 0 : 1;
    const hit = byFamily[i];
    if (hit !== undefined) return hit;
    const e = exportRoute(r, t, typeof ctx === 'function' ? ctx() : ctx);
    byFamily[i] = e;
    return e;
  }

  /** Policy or identity changed: every memoised export is void. */
  clear(): void { this.memo = new WeakMap(); }
}

/** What a received ROUTE-REFRESH asks of our Adj-RIB-Out. */
export type RefreshVerdict = { kind: 'resend'; family: AfiFamily } | { kind: 'ignore'; reason: string };

/**
 * RFC 2918 3: a refresh for an AFI/SAFI not negotiated on the session is ignored.
 * RFC 7313 5: subtype 0 is a request; 1 and 2 (BoRR/EoRR) mark the peer's own re-send,
 * which asks nothing of us (we do not negotiate enhanced route refresh); any other
 * subtype is reserved and ignored.
 */
export function routeRefreshVerdict(r: { afi: number; safi: number; subtype: number }, families: readonly AfiFamily[]): RefreshVerdict {
  if (r.subtype === 1 || r.subtype === 2) return { kind: 'ignore', reason: `subtype ${r.subtype} (${r.subtype === 1 ? 'BoRR' : 'EoRR'}) is a demarcation, not a request` };
  if (r.subtype !== 0) return { kind: 'ignore', reason: `subtype ${r.subtype} is reserved (RFC 7313 5)` };
  const f = familyOfAfi(r.afi);
  if (f === null || r.safi !== SAFI_UNICAST || !families.includes(f)) return { kind: 'ignore', reason: `AFI ${r.afi} SAFI ${r.safi} was not negotiated (RFC 2918 3)` };
  return { kind: 'resend', family: f };
}
