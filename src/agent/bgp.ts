// BGP wiring: the speaker is created at the first configuration that gives this node an
// AS number and a router id, then reconfigured in place. Learned best routes go to the
// agent as a full set; End-of-RIB from every peer (the speaker's 'synced') ends the
// graceful-restart wait.
import { createSpeaker, type Speaker, type SpeakerConfig } from '../bgp/index.js';
import type { Logger } from '../log/index.js';
import type { Resource } from '../model/index.js';
import { communitiesFor, desiredBgp } from '../calc/index.js';
import type { BgpPort, LearnedRoute } from './ports.js';

/** What the agent asks of the BGP calculation for this node. */
export interface NodeBgp {
  localAsn: number;
  routerId: string;
  listenPort: number;
  speaker: SpeakerConfig;
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
    const speaker: SpeakerConfig = { localAddresses: d.localAddresses, peers: d.peers.map((p) => ({ ...p })) };
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
}

export function createBgpPort(opts: BgpPortOptions): BgpPort {
  const log = opts.logger.child({ sub: 'bgp' });
  let speaker: Speaker | null = null;
  let configured = false;
  let last = '';
  let prefixes: string[] = [];
  let routesCb: ((r: LearnedRoute[]) => void) | null = null;
  let eorResolve: () => void = () => undefined;
  const eor = new Promise<void>((r) => { eorResolve = r; });
  // A fresh start has no stale routes to protect: learned routes flow at once.
  if (!opts.restarting) eorResolve();
  let listenKey = '';
  let communities: (prefix: string) => string[] = () => [];
  const route = (prefix: string) => {
    const c = communities(prefix);
    return c.length ? { prefix, communities: c } : { prefix };
  };

  const emitRoutes = () => {
    if (!speaker || !routesCb) return;
    routesCb(speaker.learnedRoutes().filter((r) => !r.withdrawn).map((r) => ({ dst: r.prefix, via: r.nextHop, family: r.family === 6 ? 6 : 4 })));
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
      const key = JSON.stringify(want);
      communities = want.communities ?? (() => []);
      if (key === last && speaker) { configured = true; return; }
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
        speaker.on('routes', () => emitRoutes());
        speaker.on('synced', (info) => {
          log.info(info, 'BGP End-of-RIB from every peer (or timeout)');
          eorResolve();
          emitRoutes();
        });
        if (prefixes.length) speaker.announce(prefixes.map(route));
      }
      const result = speaker.configure({ ...want.speaker, localAsn: want.localAsn, routerId: want.routerId });
      for (const r of result.refused) log.error({ peer: r.peer, err: r.error.message }, 'BGP peer refused');
      last = key;
      configured = true;
      if (result.refused.length) throw new Error(result.refused.map((r) => `peer ${r.peer}: ${r.error.message}`).join('; '));
    },
    async setLocalPrefixes(next) {
      const gone = prefixes.filter((p) => !next.includes(p));
      const added = next.filter((p) => !prefixes.includes(p));
      prefixes = [...next];
      if (!speaker) return;
      if (gone.length) speaker.withdraw(gone);
      if (added.length) speaker.announce(added.map(route));
    },
    status() {
      return (speaker?.status() ?? []).map((p) => ({ ...p, name: p.name, lastError: p.lastError }));
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
