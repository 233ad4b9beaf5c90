// The local prefixes this node announces over BGP: its IPAM blocks and the addresses it
// borrows from other nodes' blocks, or, without IPAM, each local endpoint's own address.
// Only a change is handed to the speaker.
import type { DesiredState } from '../calc/index.js';
import type { AgentMetrics } from './metrics.js';
import type { BgpPort, IpamPort } from './ports.js';

export interface AdvertiserState {
  /** What the speaker was last given, sorted. */
  advertised: string[];
  /** IPAM's last answer (null without IPAM or before the first read). */
  ipam: { blocks: number; borrowed: number } | null;
}

export interface Advertiser {
  readonly state: Readonly<AdvertiserState>;
  /** Reads IPAM (when there is one) and announces what changed; throws when IPAM cannot be read. */
  refresh(desired: DesiredState): Promise<void>;
}

export function localPrefixes(desired: DesiredState, ipam: { blocks: string[]; borrowed: string[] } | null): string[] {
  const prefixes = ipam ? [...ipam.blocks, ...ipam.borrowed] : desired.routes.map((r) => r.dst);
  return [...new Set(prefixes)].sort();
}

/** The interface each local prefix leaves by: a local endpoint's veth (blocks have none). */
export function localInterfaces(desired: DesiredState, prefixes: readonly string[]): Map<string, string> {
  const dev = new Map(desired.routes.map((r) => [r.dst, r.dev]));
  const out = new Map<string, string>();
  for (const p of prefixes) {
    const d = dev.get(p);
    if (d !== undefined) out.set(p, d);
  }
  return out;
}

export function createAdvertiser(opts: { node: string; bgp: BgpPort; ipam: IpamPort | null; metrics?: AgentMetrics }): Advertiser {
  const state: AdvertiserState = { advertised: [], ipam: null };
  let given = '';
  return {
    state,
    async refresh(desired) {
      let ipam: { blocks: string[]; borrowed: string[] } | null = null;
      if (opts.ipam) {
        ipam = await opts.ipam.advertisements(opts.node);
        state.ipam = { blocks: ipam.blocks.length, borrowed: ipam.borrowed.length };
        opts.metrics?.ipamBlocks.set(ipam.blocks.length);
        opts.metrics?.ipamBorrowed.set(ipam.borrowed.length);
      }
      const prefixes = localPrefixes(desired, ipam);
      const interfaces = localInterfaces(desired, prefixes);
      const key = prefixes.map((p) => `${p}@${interfaces.get(p) ?? ''}`).join(',');
      if (key === given) return;
      await opts.bgp.setLocalPrefixes(prefixes, interfaces);
      given = key;
      state.advertised = prefixes;
      opts.metrics?.bgpAdvertisedLocal.set(prefixes.length);
    },
  };
}
