// Staged policies are never enforced: computeDesiredState and the incremental calculator
// skip their kinds, so no rule, chain or set comes of them. What they would change is
// asked here, of the cluster as it would be with each one's stagedAction carried out
// (model/staged.ts: Calico's naming, staged foo stands for enforced foo), and answered by
// the same explain and matrix code that answers for the cluster in force.
import {
  byCodePoint, describeKey, enforcedOf, isStagedPolicy, protocolByNumber, resourceKey, type Resource, type StagedAction,
} from '../model/index.js';
import { createClusterView } from './cluster-view.js';
import { latestByKey } from './compute.js';
import { protoNumber, type ExplainView } from './explain.js';
import { createCalculator } from './incremental.js';
import { matrixIn, type MatrixQuestion } from './matrix.js';

export type StagedEffect = 'adds' | 'replaces' | 'removes' | 'has nothing to remove' | 'proposes nothing';

export interface StagedChange {
  /** "StagedNetworkPolicy tenant-a/web" */
  staged: string;
  action: StagedAction;
  effect: StagedEffect;
  /** The enforced policy it stands for: "NetworkPolicy tenant-a/web". */
  target: string;
}

/** The resources with every staged policy's action carried out (and the staged kinds
 *  gone), and what each one did, in key order. A later duplicate key wins, as in calc. */
export function applyStaged(resources: readonly Resource[]): { resources: Resource[]; changes: StagedChange[] } {
  const all = latestByKey(resources);
  const present = new Set(all.filter((r) => r.kind === 'NetworkPolicy' || r.kind === 'GlobalNetworkPolicy').map((r) => describeKey(resourceKey(r))));
  const staged = all.filter(isStagedPolicy).map((s) => ({ s, name: describeKey(resourceKey(s)) })).sort((a, b) => byCodePoint(a.name, b.name));
  const touched = new Set<string>();
  const added: Resource[] = [];
  const changes: StagedChange[] = [];
  for (const { s, name } of staged) {
    const { action, target, policy } = enforcedOf(s);
    const t = describeKey(target);
    const exists = present.has(t);
    let effect: StagedEffect;
    if (action === 'Ignore') effect = 'proposes nothing';
    else if (action === 'Delete') effect = exists ? 'removes' : 'has nothing to remove';
    else effect = exists ? 'replaces' : 'adds';
    if (effect !== 'proposes nothing') touched.add(t);
    if (policy) added.push(policy);
    changes.push({ staged: name, action, effect, target: t });
  }
  const kept = all.filter((r) => !isStagedPolicy(r) && !touched.has(describeKey(resourceKey(r))));
  return { resources: [...kept, ...added], changes };
}

export interface PreviewCell { from: string; to: string; now: boolean; staged: boolean }

export interface StagedPreview {
  changes: StagedChange[];
  protocol: number;
  port?: number;
  /** Every workload endpoint explain can evaluate ("NAMESPACE/NAME"), in order. */
  endpoints: string[];
  /** The pairs whose verdict the staged policies would change (an endpoint to itself is no flow). */
  cells: PreviewCell[];
}

/** The cells of two matrices over the same endpoints that differ, off the diagonal. */
export function changedCells(endpoints: readonly string[], now: boolean[][], staged: boolean[][]): PreviewCell[] {
  const out: PreviewCell[] = [];
  endpoints.forEach((from, i) => endpoints.forEach((to, j) => {
    const a = now[i]![j]!;
    const b = staged[i]![j]!;
    if (i !== j && a !== b) out.push({ from, to, now: a, staged: b });
  }));
  return out;
}

/** The whole cluster through the incremental calculator's parts, every endpoint compiled as
 *  its node compiles it: one compile per policy rather than a computeDesiredState per node
 *  (resourceView), which at cluster scale is most of a preview's time. */
function clusterViewOf(resources: readonly Resource[]): ExplainView {
  const calc = createCalculator('');
  for (const r of resources) calc.upsert(r);
  return createClusterView(calc);
}

/** Today's verdict and the staged one for every pair of workload endpoints. */
export function previewStaged(resources: readonly Resource[], q: MatrixQuestion): StagedPreview {
  const { resources: applied, changes } = applyStaged(resources);
  const nowView = clusterViewOf(latestByKey(resources));
  const endpoints = latestByKey(resources)
    .flatMap((r) => (r.kind === 'WorkloadEndpoint' ? [`${r.metadata.namespace ?? 'default'}/${r.metadata.name}`] : []))
    .filter((ref) => { const [ns, name] = ref.split('/') as [string, string]; return nowView.findEndpoint(ns, name) !== undefined; })
    .sort(byCodePoint);
  const protocol = protoNumber(q.protocol);
  const out: StagedPreview = { changes, protocol, endpoints, cells: [] };
  if (q.port !== undefined) out.port = q.port;
  if (changes.every((c) => c.effect === 'proposes nothing' || c.effect === 'has nothing to remove')) return out;
  out.cells = changedCells(endpoints, matrixIn(nowView, endpoints, q), matrixIn(clusterViewOf(applied), endpoints, q));
  return out;
}

const word = (allowed: boolean) => (allowed ? 'ALLOWED' : 'DENIED');

/** One line per staged policy: what it would do. */
export function formatStagedChanges(changes: readonly StagedChange[]): string[] {
  return changes.map((c) => `${c.staged} (${c.action}): ${c.effect}${c.effect === 'proposes nothing' ? '' : ` ${c.target}`}`);
}

export function formatPreview(p: StagedPreview): string {
  if (p.changes.length === 0) return 'no staged policies: nothing to preview\n';
  const proto = protocolByNumber(p.protocol)?.name ?? String(p.protocol);
  const what = p.port !== undefined ? `${p.port}/${proto}` : proto;
  const n = p.endpoints.length;
  const pairs = n * (n - 1);
  const plural = (k: number, w: string) => `${k} ${w}${k === 1 ? '' : 's'}`;
  const lines = [...formatStagedChanges(p.changes)];
  const scope = `${what} between ${plural(n, 'endpoint')} (${plural(pairs, 'pair')})`;
  lines.push(`${scope}: ${p.cells.length === 0 ? 'no verdict would change' : `${plural(p.cells.length, 'verdict')} would change`}`);
  for (const c of p.cells) lines.push(`  ${c.from} -> ${c.to}: ${word(c.now)} -> ${word(c.staged)}`);
  return lines.join('\n') + '\n';
}
