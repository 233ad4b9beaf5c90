// The decision process as the speaker runs it: candidates go into the Loc-RIB as they come,
// and selection runs batched, a slice per turn of the event loop, so that keepalives and
// other sessions go first; what changed goes to the kernel (the 'routes' event) and to every
// peer that has had the whole table. A restarting speaker defers both (RFC 4724).
import type { ExportPath } from './export-path.js';
import type { RibRoute } from './rib.js';
import type { SpeakerState } from './speaker-state.js';

/** Prefixes settled per turn of the event loop (decision process, kernel changes, exports). */
export const FLUSH_MAX = 4000;
/** ...and the time their decision process may take in one turn. */
const FLUSH_SLICE_MS = 5;

export class Decision {
  private scheduled = false;

  constructor(private readonly st: SpeakerState, private readonly exports: ExportPath) {}

  setCandidate(prefix: string, source: string, r: RibRoute | null): void {
    this.st.rib.set(prefix, source, r);
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  flush(max = FLUSH_MAX): void {
    const { st } = this;
    this.scheduled = false;
    if (st.stopped) return;
    try {
      const changed = st.rib.select(max, max === Infinity ? Infinity : performance.now() + FLUSH_SLICE_MS);
      // The rest in a later turn: keepalives and other sessions go first.
      if (st.rib.dirtyCount > 0) this.schedule();
      if (st.deferring || changed.length === 0) return;
      this.emitRouteChanges(changed);
      for (const p of st.peers.values()) {
        if (!p.adjOut.synced) continue;
        for (const prefix of changed) this.exports.queue(p, prefix);
        this.exports.flush(p);
      }
    } catch (e) {
      st.logger.error({ err: e }, 'bgp: internal error while updating the Loc-RIB');
    }
  }

  emitRouteChanges(prefixes: Iterable<string>): void {
    const out = this.st.rib.kernelChanges(prefixes);
    if (out.length) this.st.events.emit('routes', out);
  }
}
