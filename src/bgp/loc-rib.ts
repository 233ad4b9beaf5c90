// The Loc-RIB: every candidate route per prefix (one per source: a peer's Adj-RIB-In or
// the node's own announcements), the selected best of each, and what the kernel was last
// told. Selection is batched: sources mark prefixes dirty, select() settles them at once,
// so a 100k-prefix UPDATE burst runs the decision process once per prefix, not per change.
import { addressFamily, type AfiFamily } from './prefix.js';
import { type RibRoute, LOCAL, selectBest } from './rib.js';
import type { RouteChange } from './types.js';

export class LocRib {
  /**
   * Per prefix: its one candidate, or a map by source when there are several. Most
   * prefixes have one source; a Map each cost time and about 200 bytes per prefix.
   */
  private readonly candidates = new Map<string, RibRoute | Map<string, RibRoute>>();
  private readonly bestOf = new Map<string, RibRoute>();
  private readonly dirty = new Set<string>();
  /** prefix -> next hop last reported to the kernel side (learned best routes only). */
  private readonly emitted = new Map<string, string>();

  /** Sets (or with null removes) one source's candidate for a prefix; selection waits for select(). */
  set(prefix: string, source: string, r: RibRoute | null): void {
    const c = this.candidates.get(prefix);
    if (r) {
      if (!c || (!(c instanceof Map) && c.src.peer === source)) this.candidates.set(prefix, r);
      else if (c instanceof Map) c.set(source, r);
      else this.candidates.set(prefix, new Map([[c.src.peer, c], [source, r]]));
    } else if (c instanceof Map) {
      c.delete(source);
      if (c.size === 1) this.candidates.set(prefix, c.values().next().value!);
    } else if (c && c.src.peer === source) {
      this.candidates.delete(prefix);
    }
    this.dirty.add(prefix);
  }

  /**
   * Runs the decision process for dirty prefixes (at most `max`, and none once
   * performance.now() has passed `until`, so a caller can spread a 100k-prefix change over
   * turns of the event loop); returns those whose best changed.
   */
  select(max = Infinity, until = Infinity): string[] {
    const changed: string[] = [];
    let n = 0;
    for (const prefix of this.dirty) {
      if (n >= max) break;
      // The clock every 256 prefixes: on a starved CPU a count alone lets a turn run long.
      if (n > 0 && (n & 255) === 0 && performance.now() >= until) break;
      n++;
      this.dirty.delete(prefix);
      const c = this.candidates.get(prefix);
      const nb = c instanceof Map ? selectBest(c.values()) : c ?? null;
      const old = this.bestOf.get(prefix) ?? null;
      if (nb === old) continue;
      if (nb) this.bestOf.set(prefix, nb); else this.bestOf.delete(prefix);
      changed.push(prefix);
    }
    return changed;
  }

  /** Prefixes waiting for select(). */
  get dirtyCount(): number { return this.dirty.size; }

  best(prefix: string): RibRoute | undefined { return this.bestOf.get(prefix); }
  has(prefix: string): boolean { return this.bestOf.has(prefix); }
  prefixes(): IterableIterator<string> { return this.bestOf.keys(); }
  get size(): number { return this.bestOf.size; }

  /**
   * What the kernel must change for these prefixes since it was last told: a learned best
   * route with a new next hop is an add, a prefix whose best is gone or local is a withdraw.
   */
  kernelChanges(prefixes: Iterable<string>): RouteChange[] {
    const out: RouteChange[] = [];
    for (const prefix of prefixes) {
      const b = this.bestOf.get(prefix);
      const prev = this.emitted.get(prefix);
      if (b && b.src.peer !== LOCAL) {
        if (prev !== b.src.nextHop) {
          this.emitted.set(prefix, b.src.nextHop);
          out.push({ prefix, nextHop: b.src.nextHop, family: b.family, withdrawn: false });
        }
      } else if (prev !== undefined) {
        this.emitted.delete(prefix);
        out.push({ prefix, nextHop: prev, family: addressFamily(prefix) as AfiFamily, withdrawn: true });
      }
    }
    return out;
  }

  /** Every learned route the kernel was told of. */
  learned(): RouteChange[] {
    return [...this.emitted].map(([prefix, nextHop]) => ({ prefix, nextHop, family: addressFamily(prefix), withdrawn: false }));
  }
}
