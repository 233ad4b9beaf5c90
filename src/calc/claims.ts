// Endpoint records cannot lie: a WorkloadEndpoint whose address another endpoint also
// claims, or that lies outside every IPPool, is refused. A refused endpoint is as good as
// absent for the whole calculation (no route, no chains, so its interface meets the
// unknown-interface drop; and no set member, so no policy opens anything to its address
// by its labels); both sides of a conflict are refused, so the claim gains the claimant
// nothing, and each is reported with the reason. With no IPPool at all there is no
// address plan to hold endpoints to, and only conflicts count.
import { canonicalCidr, cidrContains, type IPPool, type WorkloadEndpoint } from '../model/index.js';

/** The canonical host networks a WorkloadEndpoint claims ("10.0.0.5/32"); a value that does not parse claims nothing. */
export function claimedAddresses(r: WorkloadEndpoint): string[] {
  const out = new Set<string>();
  for (const n of r.spec.ipNetworks) {
    try { out.add(canonicalCidr(n)); } catch { /* validation refuses it; nothing to claim */ }
  }
  return [...out];
}

/** Why an endpoint holding `addrs` is refused (empty: it is not), given who claims each address and the pools. */
export function refusalReasons(key: string, addrs: readonly string[], claimants: (addr: string) => ReadonlySet<string> | undefined, pools: readonly string[]): string[] {
  const reasons: string[] = [];
  for (const a of addrs) {
    const others = [...(claimants(a) ?? [])].filter((k) => k !== key).sort();
    if (others.length) reasons.push(`address ${a} is also claimed by ${others.join(', ')}`);
    const host = a.slice(0, a.lastIndexOf('/'));
    if (pools.length && !pools.some((p) => cidrContains(p, host))) reasons.push(`address ${a} is outside every IPPool`);
  }
  return reasons;
}

export function poolCidrs(pools: Iterable<IPPool>): string[] {
  const out: string[] = [];
  for (const p of pools) {
    try { out.push(canonicalCidr(p.spec.cidr)); } catch { /* an unparsable pool holds no address */ }
  }
  return out;
}

/** Who claims which address, kept as endpoints come and go. */
export interface Claims {
  /** Records `key`'s addresses (undefined: it is gone); returns every endpoint whose refusal may have changed. */
  put(key: string, addrs: readonly string[] | undefined): Set<string>;
  reasons(key: string, pools: readonly string[]): string[];
  readonly keys: Iterable<string>;
}

export function createClaims(): Claims {
  const byAddr = new Map<string, Set<string>>();
  const ofKey = new Map<string, readonly string[]>();
  return {
    put(key, addrs) {
      const affected = new Set([key]);
      for (const a of ofKey.get(key) ?? []) {
        const s = byAddr.get(a)!;
        s.delete(key);
        for (const k of s) affected.add(k);
        if (!s.size) byAddr.delete(a);
      }
      if (addrs) {
        ofKey.set(key, addrs);
        for (const a of addrs) {
          let s = byAddr.get(a);
          if (!s) byAddr.set(a, (s = new Set()));
          for (const k of s) affected.add(k);
          s.add(key);
        }
      } else {
        ofKey.delete(key);
      }
      return affected;
    },
    reasons(key, pools) {
      return refusalReasons(key, ofKey.get(key) ?? [], (a) => byAddr.get(a), pools);
    },
    get keys() { return ofKey.keys(); },
  };
}

/** Every refused WorkloadEndpoint (by calc key) with its reasons: the from-scratch answer. */
export function endpointRefusals(weps: Iterable<[string, WorkloadEndpoint]>, pools: Iterable<IPPool>): Map<string, string[]> {
  const claims = createClaims();
  const keys: string[] = [];
  for (const [k, r] of weps) {
    claims.put(k, claimedAddresses(r));
    keys.push(k);
  }
  const cidrs = poolCidrs(pools);
  const out = new Map<string, string[]>();
  for (const k of keys) {
    const why = claims.reasons(k, cidrs);
    if (why.length) out.set(k, why);
  }
  return out;
}
