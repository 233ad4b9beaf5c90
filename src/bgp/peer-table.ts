// The speaker's configuration: which peers exist and with what settings. A configuration is
// applied as a difference: a peer added starts a session, one removed is ceased and its
// routes purged, one whose session-shaping settings changed (peer-config.ts needsReset) is
// reset, and any other change (policies, filters, reflection) is applied in place by judging
// the Adj-RIB-In and the exports again, without touching the session.
import { AdjRibIn } from './adj-rib-in.js';
import { AdjRibOut } from './adj-rib-out.js';
import type { Decision } from './decision.js';
import { BgpConfigError, CeaseSub } from './errors.js';
import type { ExportPath } from './export-path.js';
import { compileFilters } from './filter.js';
import { HelperState } from './graceful-restart.js';
import type { ImportPath } from './import-path.js';
import { md5Support, type Md5Listener } from './md5.js';
import { canonicalAddress, needsReset, validatePeer } from './peer-config.js';
import type { PeerEntry } from './peer-entry.js';
import { canonicalPrefix, parsePrefix } from './prefix.js';
import type { RestartWiring } from './restart-wiring.js';
import { LOCAL } from './rib.js';
import type { SessionHub } from './session-host.js';
import type { SpeakerState } from './speaker-state.js';
import type { PeerConfig, SpeakerConfig } from './types.js';

export interface ConfigureResult { refused: { peer: string; error: BgpConfigError }[] }

export class PeerTable {
  constructor(
    private readonly st: SpeakerState,
    private readonly parts: { md5: Md5Listener; hub: SessionHub; imports: ImportPath; exports: ExportPath; decision: Decision; restart: RestartWiring },
  ) {}

  private remove(p: PeerEntry, subcode: number, why: string): void {
    p.removed = true;
    p.gr.clearAll();
    this.parts.hub.clearIdleTimer(p);
    for (const s of [...p.sessions]) s.cease(subcode, why);
    p.established = null;
    this.parts.imports.purge(p, false);
    this.st.peers.delete(p.key);
    this.parts.md5.removeKey(p.key);
  }

  private add(cfg: PeerConfig): PeerEntry {
    const key = canonicalAddress(cfg.address);
    const p: PeerEntry = {
      key, cfg, filters: compileFilters(cfg.filters), refused: null, sessions: new Set(), established: null, adjIn: new AdjRibIn(), adjOut: new AdjRibOut(),
      target: undefined, reimport: null, reexport: null, gr: new HelperState(), idleTimer: null, configuredAt: Date.now(), lastError: null, since: Date.now(), removed: false,
    };
    if (cfg.password) {
      const err = this.parts.md5.setKey(key, cfg.password);
      if (err) { p.refused = new BgpConfigError(md5Support().ok ? 'INVALID_CONFIG' : 'MD5_UNSUPPORTED', err); p.lastError = err; }
    }
    this.st.peers.set(key, p);
    if (!p.refused) this.parts.hub.start(p);
    return p;
  }

  configure(cfg: SpeakerConfig): ConfigureResult {
    const { st } = this;
    const { imports, exports, decision, restart } = this.parts;
    if (st.stopped) throw new BgpConfigError('INVALID_CONFIG', 'speaker is stopped');
    const prev = st.config;
    // A peer the speaker cannot take fails alone: it is reported in `refused`, and a peer
    // that was running keeps its last good configuration (and its routes) meanwhile.
    const invalid = new Map<string, BgpConfigError>();
    const peersOk: PeerConfig[] = [];
    for (const c of cfg.peers) {
      try {
        validatePeer(c, cfg);
        compileFilters(c.filters);
        peersOk.push(c);
      } catch (e) {
        const err = e instanceof BgpConfigError ? e : new BgpConfigError('INVALID_CONFIG', (e as Error).message);
        let key = c.address;
        try { key = canonicalAddress(c.address); } catch { /* reported under the text given */ }
        invalid.set(key, err);
        const old = st.peers.get(key);
        if (old) peersOk.push(old.cfg);
      }
    }
    st.config = { ...cfg, peers: peersOk };
    try {
      st.rejectPrefixes = (cfg.rejectPrefixes ?? []).map((x) => parsePrefix(canonicalPrefix(x)));
    } catch (e) {
      st.config = prev;
      throw e instanceof BgpConfigError ? e : new BgpConfigError('INVALID_CONFIG', (e as Error).message);
    }
    const identityChanged = (cfg.localAsn !== undefined && cfg.localAsn !== st.localAsn) || (cfg.routerId !== undefined && cfg.routerId !== st.routerId);
    if (identityChanged) {
      for (const p of [...st.peers.values()]) this.remove(p, CeaseSub.OtherConfigurationChange, 'local AS or router id changed');
      st.localAsn = cfg.localAsn ?? st.localAsn;
      st.routerId = cfg.routerId ?? st.routerId;
      for (const r of st.localRoutes.renumber(st.routerId)) decision.setCandidate(r.prefix, LOCAL, r);
    }
    exports.forgetExports();
    const wanted = new Map(peersOk.map((c) => [canonicalAddress(c.address), c]));
    for (const p of [...st.peers.values()]) if (!wanted.has(p.key)) this.remove(p, CeaseSub.PeerDeconfigured, 'peer removed from configuration');
    for (const [key, c] of wanted) {
      const p = st.peers.get(key);
      if (!p) { this.add(c); continue; }
      if (needsReset(p.cfg, c)) {
        this.remove(p, CeaseSub.OtherConfigurationChange, 'peer configuration changed');
        this.add(c);
        continue;
      }
      // In-place change: policies, filters, reflection, names. Re-import and re-export.
      p.cfg = c;
      p.filters = compileFilters(c.filters);
      for (const s of p.sessions) s.peer = c;
      imports.reimport(p);
    }
    for (const p of st.peers.values()) if (p.adjOut.synced) exports.reexport(p);
    if (!st.configured) {
      st.configured = true;
      restart.armInitialSync();
    }
    restart.checkSynced();
    const refused = [...st.peers.values()].filter((p) => p.refused && !invalid.has(p.key)).map((p) => ({ peer: p.key, error: p.refused! }));
    for (const [peer, error] of invalid) refused.push({ peer, error });
    return { refused };
  }
}
