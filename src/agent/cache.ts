// The agent's copy of the store: every resource by key, replaced whole on each store
// sync and patched by watch events. It feeds calc's incremental calculator as it
// changes, so the desired state after one change costs about that change, not a full
// recompute over every endpoint and policy.
import {
  applyStaged, createCalculator, createClusterView, type Calculator, type DesiredState, type ExplainView, type HostConfig, type StagedChange,
} from '../calc/index.js';
import { isStagedPolicy, resourceKey, type Resource, type ResourceKey } from '../model/index.js';

export interface ResourceCache {
  /**
   * Replaces everything (a store sync); returns true when anything changed. A `hold` key
   * the snapshot lacks keeps its cached resource: its stored value is invalid, and the last
   * valid version stays in force until a valid one or a delete arrives.
   */
  replaceAll(resources: Resource[], hold?: Iterable<ResourceKey>): boolean;
  put(key: ResourceKey, r: Resource): void;
  has(key: ResourceKey): boolean;
  delete(key: ResourceKey): boolean;
  list(): Resource[];
  /** WorkloadEndpoints calc refuses to program (by id), with the reasons. */
  refused(): ReadonlyMap<string, readonly string[]>;
  /** This node's desired dataplane state for the cached resources. */
  desired(): DesiredState;
  /** Explain over the calculator: this node's rendered state and every other node's compiled one. */
  explainView(): ExplainView;
  /** Explain over the cluster as its staged policies would make it (none: undefined). Kept
   *  in a second calculator, apart from the one the dataplane renders, so they are never enforced. */
  stagedView(): { view: ExplainView; changes: StagedChange[] } | undefined;
  readonly size: number;
  /** Bumped on every change: lets the loop skip work derived from an unchanged cache. */
  readonly generation: number;
}

export function cacheKey(k: ResourceKey): string {
  return k.namespace !== undefined ? `${k.kind}/${k.namespace}/${k.name}` : `${k.kind}/${k.name}`;
}

const same = (a: Resource, b: Resource): boolean => JSON.stringify(a) === JSON.stringify(b);

export function createResourceCache(nodeName: string, host?: HostConfig): ResourceCache {
  const items = new Map<string, Resource>();
  const calc = createCalculator(nodeName, host ? { host } : {});
  const view = createClusterView(calc);
  let generation = 0;
  // The staged cluster is derived when asked, and brought up to date by upserting only
  // what differs from what it last held: an edit costs about that edit, as in `calc`.
  let shadow: { calc: Calculator; view: ExplainView; items: Map<string, Resource>; generation: number; changes: StagedChange[] } | undefined;
  const stagedView = () => {
    const all = [...items.values()];
    if (!all.some(isStagedPolicy)) { shadow = undefined; return undefined; }
    if (!shadow) {
      const c = createCalculator(nodeName, host ? { host } : {});
      shadow = { calc: c, view: createClusterView(c), items: new Map(), generation: -1, changes: [] };
    }
    if (shadow.generation !== generation) {
      const { resources, changes } = applyStaged(all);
      const next = new Map(resources.map((r) => [cacheKey(resourceKey(r)), r]));
      for (const [k, old] of shadow.items) if (!next.has(k)) shadow.calc.remove(resourceKey(old));
      for (const [k, r] of next) {
        const old = shadow.items.get(k);
        if (!old || (old !== r && !same(old, r))) shadow.calc.upsert(r);
      }
      shadow.items = next;
      shadow.changes = changes;
      shadow.generation = generation;
    }
    return { view: shadow.view, changes: shadow.changes };
  };
  return {
    replaceAll(resources, hold = []) {
      const next = new Map<string, Resource>();
      for (const r of resources) next.set(cacheKey(resourceKey(r)), r);
      for (const k of hold) {
        const ck = cacheKey(k);
        const old = items.get(ck);
        if (old && !next.has(ck)) next.set(ck, old);
      }
      let changed = false;
      for (const [k, old] of items) {
        if (!next.has(k)) {
          items.delete(k);
          calc.remove(resourceKey(old));
          changed = true;
        }
      }
      for (const [k, r] of next) {
        const old = items.get(k);
        if (old && same(old, r)) continue;
        items.set(k, r);
        calc.upsert(r);
        changed = true;
      }
      if (changed) generation++;
      return changed;
    },
    put(key, r) {
      items.set(cacheKey(key), r);
      calc.upsert(r);
      generation++;
    },
    delete(key) {
      const had = items.delete(cacheKey(key));
      if (had) {
        calc.remove(key);
        generation++;
      }
      return had;
    },
    has(key) { return items.has(cacheKey(key)); },
    list() { return [...items.values()]; },
    desired() { return calc.state(); },
    refused() { return calc.refused(); },
    explainView() { return view; },
    stagedView,
    get size() { return items.size; },
    get generation() { return generation; },
  };
}
