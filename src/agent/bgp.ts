// BGP wiring: the speaker is created at the first configuration that gives this node an
// AS number and a router id, then reconfigured in place. Learned best routes go to the
// agent as a full set; End-of-RIB from every peer (the speaker's 'synced') ends the
// graceful-restart wait.
import { createSpeaker, type LocalRoute, type RouteChange, type Speaker, type SpeakerConfig } from '../bgp/index.js';
import type { Logger } from '../log/index.js';
import type { Resource } from '../model/index.js';
import { communitiesFor, desiredBgp } from '../calc/index.js';
import type { BgpPort, LearnedRoute, LearnedSet } from './ports.js';
import type { PeerStatusDoc } from '../api/index.js';
import { createPasswordBook, DEFAULT_SECRETS_DIR, type PeerProblem, type PeerWant } from './bgp-passwords.js';

/** What the agent asks of the BGP calculation for this node. */
export interface NodeBgp {
  localAsn: number;
  routerId: string;
  listenPort: number;
  /** Peers may carry passwordSecret: the port reads those keys before the speaker sees them. */
  speaker: Omit<SpeakerConfig, 'peers'> & { peers: PeerWant[] };
  /** Communities to attach to a local prefix. */
  communities?: (prefix: string) => string[];
}

export type BgpCalc = (nodeName: string, resources: Resource[]) => NodeBgp | null;

/** calc's desiredBgp as the port wants it; its problems are logged once each. */
export function nodeBgpFromCalc(logger: Logger): BgpCalc {
  const told = new Set<string>();
  return (nodeName, resources) => {
    const d = desiredBgp({ nodeName, resources });
    for (const p of d.problems) {
      if (!told.has(p)) { told.add(p); logger.warn({ problem: p }, 'BGP configuration problem'); }
    }
    if (!d.enabled) return null;
    const speaker: NodeBgp['speaker'] = { localAddresses: d.localAddresses, peers: d.peers.map((p) => ({ ...p })) };
    if (d.clusterId) speaker.clusterId = d.clusterId;
    return {
      localAsn: d.localAsn, routerId: d.routerId, listenPort: d.listenPort, speaker,
      communities: (prefix: string) => communitiesFor(prefix, d),
    };
  };
}

export interface BgpPortOptions {
  nodeName: string;
  logger: Logger;
  calc: BgpCalc;
  /** The kernel still holds learned routes from a previous run: we are restarting. */
  restarting: boolean;
  /** Graceful-restart time we ask peers to keep our routes (seconds). */
  restartTimeSec?: number;
  /** Longest wait for End-of-RIB (seconds). */
  eorTimeoutSec?: number;
  /** Listen address; '::' (default) takes IPv6 and, v4-mapped, IPv4 peers too. */
  listenHost?: string;
  /** Where BGPPeer password.secretKeyRef keys are read: DIR/NAME/KEY (default /etc/trellis/secrets). */
  secretsDir?: string;
}

/** Shortest interval between two learned sets handed to the agent while routes keep changing. */
const EMIT_EVERY_MS = 25;

export function createBgpPort(opts: BgpPortOptions): BgpPort {
  const log = opts.logger.child({ sub: 'bgp' });
  let speaker: Speaker | null = null;
  let configured = false;
  let last = '';
  let prefixes: string[] = [];
  let interfaces: ReadonlyMap<string, string> = new Map();
  let routesCb: ((set: LearnedSet) => void) | null = null;
  let eorResolve: () => void = () => undefined;
  const eor = new Promise<void>((r) => { eorResolve = r; });
  // A fresh start has no stale routes to protect: learned routes flow at once.
  if (!opts.restarting) eorResolve();
  let listenKey = '';
  const passwords = createPasswordBook(opts.secretsDir ?? DEFAULT_SECRETS_DIR);
  // Per-peer configuration problems (by address): shown on that peer, never failing the node.
  let problems = new Map<string, PeerProblem>();
  const told = new Map<string, string>();
  const tell = (next: Map<string, PeerProblem>) => {
    for (const [peer, p] of next) {
      if (told.get(peer) === p.message) continue;
      told.set(peer, p.message);
      log.error({ peer, name: p.name, err: p.message }, 'BGP peer cannot be configured');
    }
    for (const peer of [...told.keys()]) if (!next.has(peer)) { told.delete(peer); log.info({ peer }, 'BGP peer configuration problem resolved'); }
  };
  let communities: (prefix: string) => string[] = () => [];
  const route = (prefix: string): LocalRoute => {
    const c = communities(prefix);
    const dev = interfaces.get(prefix);
    return { prefix, ...(c.length ? { communities: c } : {}), ...(dev !== undefined ? { interface: dev } : {}) };
  };

  // The learned table, kept from the speaker's change events, with the destinations changed
  // since it was last handed over (a full table arrives as hundreds of events). Handed over
  // after a quiet spell, and at most every EMIT_EVERY_MS during a burst.
  const learned = new Map<string, LearnedRoute>();
  /** Changed since the last hand-over; null: everything (the table was rebuilt). */
  let changed: Set<string> | null = null;
  let emitScheduled = false;
  let lastEmit = 0;
  const applyChanges = (changes: RouteChange[]) => {
    for (const c of changes) {
      if (c.withdrawn) learned.delete(c.prefix);
      else learned.set(c.prefix, { dst: c.prefix, via: c.nextHop, family: c.family === 6 ? 6 : 4 });
      changed?.add(c.prefix);
    }
  };
  const emitRoutes = () => {
    emitScheduled = false;
    lastEmit = Date.now();
    if (!speaker || !routesCb) return;
    const these = changed;
    changed = new Set();
    routesCb({ table: learned, changed: these });
  };
  const scheduleEmit = () => {
    if (emitScheduled) return;
    emitScheduled = true;
    const wait = lastEmit + EMIT_EVERY_MS - Date.now();
    if (wait <= 0) setImmediate(emitRoutes);
    else setTimeout(emitRoutes, wait).unref();
  };
  const resetLearned = (s: Speaker) => {
    learned.clear();
    changed = null;
    applyChanges(s.learnedRoutes());
  };

  const port: BgpPort = {
    get configured() { return configured; },
    async configure(resources) {
      const want = opts.calc(opts.nodeName, resources);
      if (!want) {
        // No AS for this node: nothing to speak. Not an error (a host may run without BGP).
        if (!configured) log.info('no BGP configuration for this node');
        configured = true;
        eorResolve();
        return;
      }
      communities = want.communities ?? (() => []);
      const resolved = passwords.resolve(want.speaker.peers);
      const next = new Map(resolved.problems.map((p) => [p.peer, p]));
      const speakerCfg: SpeakerConfig = { ...want.speaker, peers: resolved.peers };
      // Keys read from files are part of what changed (a rotated secret resets that session).
      const key = JSON.stringify([want, resolved.peers]);
      if (key === last && speaker) { configured = true; problems = next; tell(next); return; }
      const lk = `${want.listenPort}`;
      if (speaker && lk !== listenKey) {
        log.info({ listenPort: want.listenPort }, 'BGP listen port changed: restarting the speaker');
        await speaker.stop({ graceful: true });
        speaker = null;
      }
      if (!speaker) {
        speaker = createSpeaker({
          routerId: want.routerId, localAsn: want.localAsn,
          listen: { host: opts.listenHost ?? '::', port: want.listenPort },
          logger: log,
          gracefulRestart: { restarting: opts.restarting, restartTimeSec: opts.restartTimeSec ?? 120, eorTimeoutSec: opts.eorTimeoutSec ?? 60 },
        });
        listenKey = lk;
        const s = speaker;
        resetLearned(s);
        s.on('routes', (changes) => { applyChanges(changes); scheduleEmit(); });
        s.on('synced', (info) => {
          log.info(info, 'BGP End-of-RIB from every peer (or timeout)');
          eorResolve();
          scheduleEmit();
        });
        if (prefixes.length) speaker.announce(prefixes.map(route));
      }
      const result = speaker.configure({ ...speakerCfg, localAsn: want.localAsn, routerId: want.routerId });
      // A peer the speaker refuses (e.g. TCP-MD5 unavailable here) is that peer's problem alone.
      for (const r of result.refused) {
        const c = resolved.peers.find((p) => p.address === r.peer);
        // excluded: a peer the speaker refused outright has no status row of its own.
        const p: PeerProblem = { peer: r.peer, asn: c?.asn ?? 0, message: r.error.message, excluded: true };
        if (c?.name) p.name = c.name;
        next.set(r.peer, p);
      }
      problems = next;
      tell(next);
      last = key;
      configured = true;
    },
    async setLocalPrefixes(next, nextInterfaces = new Map()) {
      const had = new Set(prefixes);
      const keep = new Set(next);
      const gone = prefixes.filter((p) => !keep.has(p));
      // A prefix whose interface changed is announced again: filters may see it differently.
      const added = next.filter((p) => !had.has(p) || interfaces.get(p) !== nextInterfaces.get(p));
      prefixes = [...next];
      interfaces = new Map(nextInterfaces);
      if (!speaker) return;
      if (gone.length) speaker.withdraw(gone);
      if (added.length) speaker.announce(added.map(route));
    },
    status() {
      const out: PeerStatusDoc[] = (speaker?.status() ?? []).map((p) => {
        const problem = problems.get(p.peer);
        return { ...p, name: p.name, lastError: problem?.message ?? p.lastError, ...(problem ? { configError: true } : {}) };
      });
      for (const p of problems.values()) {
        if (!p.excluded || out.some((s) => s.peer === p.peer)) continue;
        out.push({ peer: p.peer, name: p.name, asn: p.asn, state: 'Idle', uptimeSec: 0, received: 0, advertised: 0, lastError: p.message, configError: true });
      }
      return out.sort((a, b) => a.peer.localeCompare(b.peer));
    },
    onRoutes(cb) { routesCb = cb; },
    endOfRib: () => eor,
    async stop() {
      // Graceful: peers keep our routes for the restart time, so traffic to our containers flows on.
      await speaker?.stop({ graceful: true });
      speaker = null;
    },
  };
  return port;
}
