// Endpoints indexed by label value, so that filling a set scans only the endpoints that
// can match its selector's most selective equality (app == "web" && ...) instead of all
// of them. Candidates are a superset: every candidate is still tested with the selector.
import type { SelectorNode } from '../model/index.js';

export interface LabelIndex {
  add(key: string, labels: Readonly<Record<string, string>>): void;
  remove(key: string, labels: Readonly<Record<string, string>>): void;
  /** Disjoint groups of endpoint keys whose union holds every endpoint the selector can
   *  match; null when the selector has no equality to narrow by (scan everything). */
  candidates(node: SelectorNode): Array<ReadonlySet<string>> | null;
}

export function createLabelIndex(): LabelIndex {
  const byKey = new Map<string, Map<string, Set<string>>>();
  const candidates = (node: SelectorNode): Array<ReadonlySet<string>> | null => {
    switch (node.type) {
      case 'eq': {
        const s = byKey.get(node.key)?.get(node.value);
        return s ? [s] : [];
      }
      case 'in': {
        const byValue = byKey.get(node.key);
        return node.values.flatMap((v) => { const s = byValue?.get(v); return s ? [s] : []; });
      }
      case 'and': {
        let best: Array<ReadonlySet<string>> | null = null;
        let bestSize = Infinity;
        for (const c of node.exprs) {
          const got = candidates(c);
          if (!got) continue;
          const size = got.reduce((a, s) => a + s.size, 0);
          if (size < bestSize) { best = got; bestSize = size; }
        }
        return best;
      }
      default:
        return null;
    }
  };
  return {
    add(key, labels) {
      for (const [k, v] of Object.entries(labels)) {
        let byValue = byKey.get(k);
        if (!byValue) byKey.set(k, (byValue = new Map()));
        let s = byValue.get(v);
        if (!s) byValue.set(v, (s = new Set()));
        s.add(key);
      }
    },
    remove(key, labels) {
      for (const [k, v] of Object.entries(labels)) {
        const byValue = byKey.get(k);
        const s = byValue?.get(v);
        if (!byValue || !s) continue;
        s.delete(key);
        if (s.size === 0) byValue.delete(v);
        if (byValue.size === 0) byKey.delete(k);
      }
    },
    candidates,
  };
}
