// Compiled policies and, for each local endpoint, the policies that apply to it per
// direction. A label change re-matches one endpoint against every policy; a policy edit
// re-matches that policy against every local endpoint. The same matching answers for a
// remote endpoint (explain), without keeping anything.
import { comparePolicies, tierGroups, type CompiledPolicy, type TierInfo } from './compile.js';
import type { TierState } from './state.js';
import { createUsage, type Usage, type UsageHooks } from './usage.js';

type Labels = Readonly<Record<string, string>>;

export interface Applied { ingress: Set<string>; egress: Set<string> }

export interface PolicyIndex {
  readonly usage: Usage<CompiledPolicy>;
  /** Local endpoint key -> ids of the policies that apply to it. */
  readonly applied: ReadonlyMap<string, Readonly<Applied>>;
  get(id: string): CompiledPolicy | undefined;
  /** (Re)matches one local endpoint against every policy. */
  match(key: string, labels: Labels): void;
  /** Forgets a local endpoint. */
  drop(key: string): void;
  /** Replaces (null: removes) one policy; returns the local endpoints whose lists changed. */
  put(id: string, cp: CompiledPolicy | null, labelsOf: (key: string) => Labels): string[];
  /** The ordered policy ids of one local endpoint and direction. */
  ordered(key: string, direction: 'ingress' | 'egress'): string[];
  /** Ordered ids of the policies that would apply to an endpoint with these labels. */
  applicable(labels: Labels): { ingress: string[]; egress: string[] };
  /** The Tier resources by name. */
  readonly tiers: ReadonlyMap<string, TierInfo>;
  /** Replaces (undefined: removes) one Tier; every endpoint's order may change. */
  setTier(name: string, t: TierInfo | undefined): void;
  /** An ordered id list split by tier (DirectionState.tiers). */
  tierGroups(ids: readonly string[]): TierState[] | undefined;
}

/**
 * Which endpoints the index is for. Workload endpoints (the default): selectors see them in
 * their namespace, and preDNAT and doNotTrack policies never apply. Host endpoints: global()
 * is true and every policy kind applies. Two indexes need distinct owner prefixes: each
 * holds references on the sets of the policies its endpoints use.
 */
export interface PolicyIndexOptions { hostEndpoints?: boolean; ownerPrefix?: string }

export function createPolicyIndex(hooks: UsageHooks, opts: PolicyIndexOptions = {}): PolicyIndex {
  const usage = createUsage<CompiledPolicy>(opts.ownerPrefix ?? 'policy:', hooks);
  const applied = new Map<string, Applied>();
  const host = opts.hostEndpoints === true;
  const applies = (p: CompiledPolicy, labels: Labels) => (host || !p.hostOnly) && p.scope.matches(labels, { global: host });
  const tiers = new Map<string, TierInfo>();
  const cmp = (a: CompiledPolicy, b: CompiledPolicy) => comparePolicies(a, b, tiers);
  const order = (ids: Iterable<string>) => [...ids].map((id) => usage.items.get(id)!).sort(cmp).map((p) => p.id);

  return {
    usage, applied, tiers,
    setTier(name, t) { if (t) tiers.set(name, t); else tiers.delete(name); },
    tierGroups: (ids) => tierGroups(ids.map((id) => usage.items.get(id)!), tiers),
    get: (id) => usage.items.get(id),
    match(key, labels) {
      const old = applied.get(key);
      const touched = new Set<string>(old ? [...old.ingress, ...old.egress] : []);
      const now: Applied = { ingress: new Set(), egress: new Set() };
      for (const [id, p] of usage.items) {
        if (!p.ingress && !p.egress) continue;
        if (!applies(p, labels)) continue;
        if (p.ingress) now.ingress.add(id);
        if (p.egress) now.egress.add(id);
        touched.add(id);
      }
      applied.set(key, now);
      for (const id of touched) {
        const uses = now.ingress.has(id) || now.egress.has(id);
        const had = usage.users.get(id)?.has(key) ?? false;
        if (uses === had) continue;
        if (uses) usage.addUser(id, key);
        else usage.removeUser(id, key);
        usage.sync(id);
      }
    },
    drop(key) {
      const a = applied.get(key);
      if (!a) return;
      for (const id of new Set([...a.ingress, ...a.egress])) { usage.removeUser(id, key); usage.sync(id); }
      applied.delete(key);
    },
    put(id, cp, labelsOf) {
      const old = usage.items.get(id);
      usage.set(id, cp ?? undefined);
      const dirty: string[] = [];
      // Lists hold ids in policy order: an endpoint with this policy re-sorts if it moved.
      const reorder = old !== undefined && cp !== null && (old.order !== cp.order || old.sortName !== cp.sortName || old.tier !== cp.tier);
      for (const [key, a] of applied) {
        const on = cp !== null && applies(cp, labelsOf(key));
        const inI = on && cp.ingress;
        const inE = on && cp.egress;
        const hadI = a.ingress.has(id);
        const hadE = a.egress.has(id);
        if (inI !== hadI) { if (inI) a.ingress.add(id); else a.ingress.delete(id); }
        if (inE !== hadE) { if (inE) a.egress.add(id); else a.egress.delete(id); }
        const uses = inI || inE;
        if (uses) usage.addUser(id, key);
        else usage.removeUser(id, key);
        if (inI !== hadI || inE !== hadE || (uses && reorder)) dirty.push(key);
      }
      usage.sync(id, true);
      return dirty;
    },
    ordered(key, direction) {
      const a = applied.get(key);
      return a ? order(a[direction]) : [];
    },
    applicable(labels) {
      const ingress: CompiledPolicy[] = [];
      const egress: CompiledPolicy[] = [];
      for (const p of usage.items.values()) {
        if (!(p.ingress || p.egress) || !applies(p, labels)) continue;
        if (p.ingress) ingress.push(p);
        if (p.egress) egress.push(p);
      }
      return { ingress: ingress.sort(cmp).map((p) => p.id), egress: egress.sort(cmp).map((p) => p.id) };
    },
  };
}
