// The node's own announcements as Loc-RIB candidates. Prefixes announced with the same
// communities, MED and interface share one RouteSource, so they export (and pack) together.
import { type PathAttributes } from './attributes.js';
import { BgpConfigError } from './errors.js';
import { parseCommunity } from './peer-config.js';
import { canonicalPrefix, parsePrefix } from './prefix.js';
import { type RibRoute, type RouteSource, LOCAL } from './rib.js';
import type { LocalRoute } from './types.js';

export class LocalRoutes {
  private readonly routes = new Map<string, RibRoute>();
  private readonly sources = new Map<string, RouteSource>();

  /**
   * Adds or changes announcements; returns the routes that differ from before. All input
   * is checked first, so a bad entry changes nothing.
   */
  announce(list: LocalRoute[], routerId: string): RibRoute[] {
    const parsed = list.map((r) => {
      let prefix: string;
      try { prefix = canonicalPrefix(r.prefix); } catch (e) { throw new BgpConfigError('INVALID_CONFIG', `announce: ${(e as Error).message}`); }
      return { prefix, r, comms: (r.communities ?? []).map(parseCommunity) };
    });
    const changed: RibRoute[] = [];
    for (const { prefix, r, comms } of parsed) {
      const std = comms.flatMap((c) => (c.std !== undefined ? [c.std] : []));
      const large = comms.flatMap((c) => (c.large ? [c.large] : []));
      const key = JSON.stringify([std, large, r.med ?? null, r.interface ?? null]);
      let src = this.sources.get(key);
      if (!src) {
        const attrs: PathAttributes = { origin: 0, asPath: [] };
        if (std.length) attrs.communities = std;
        if (large.length) attrs.largeCommunities = large;
        if (r.med !== undefined) attrs.med = r.med;
        src = { peer: LOCAL, attrs, nextHop: '', ebgp: false, fromClient: false, peerRouterId: routerId, peerAddress: '0.0.0.0' };
        if (r.interface !== undefined) src.interface = r.interface;
        this.sources.set(key, src);
      }
      const cur = this.routes.get(prefix);
      if (cur && cur.src === src) continue;
      const route: RibRoute = { prefix, family: parsePrefix(prefix).family, src, stale: false };
      this.routes.set(prefix, route);
      changed.push(route);
    }
    return changed;
  }

  /** Removes announcements; returns the prefixes that were announced. All input is checked first. */
  withdraw(prefixes: string[]): string[] {
    const canon = prefixes.map((x) => {
      try { return canonicalPrefix(x); } catch (e) { throw new BgpConfigError('INVALID_CONFIG', `withdraw: ${(e as Error).message}`); }
    });
    return canon.filter((p) => this.routes.delete(p));
  }

  /** The router id changed: every local route now carries the new one. */
  renumber(routerId: string): RibRoute[] {
    for (const src of this.sources.values()) src.peerRouterId = routerId;
    return [...this.routes.values()];
  }
}
