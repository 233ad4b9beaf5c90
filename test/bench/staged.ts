// npm run bench -- staged [--endpoints 120,500] [--hosts 30] [--tenants 6] [--policies 40] [--iterations 5]
// What showing staged policies costs: /matrix with its staged half (the agent cache's
// second calculator, fed the cluster as the staged policies would make it: never the one
// enforced) after an edit and when nothing changed (the memo), and the CLI's previewStaged
// over the resources (from scratch: one computeDesiredState per node, twice), each against
// the plain /matrix after the same edit (the anchor, measured in the same run). The cluster is explain's bench cluster with two
// staged policies: one replaces a tenant policy, one deletes deny-ssh. Medians and p90 in ms.
import { previewStaged } from '../../src/calc/index.js';
import { createResourceCache } from '../../src/agent/cache.js';
import { matrixFor, stagedMatrix } from '../../src/agent/explain.js';
import { resourceKey, schemas, type Resource } from '../../src/model/index.js';
import { median, msStats, round3, rssMiB, timeSync } from './_stats.js';
import { build, policy } from './explain.js';

const API = 'projectcalico.org/v3';

async function one(endpoints: number, params: Record<string, string>): Promise<Record<string, unknown>> {
  const hosts = Number(params.hosts ?? 30);
  const tenants = Number(params.tenants ?? 6);
  const policies = Number(params.policies ?? 40);
  const iterations = Number(params.iterations ?? 5);
  const { resources, docs } = build(endpoints, hosts, tenants, policies);
  const replaced = policy(0, tenants, 3);
  const staged: Resource[] = [
    schemas.StagedNetworkPolicy.parse({ ...replaced, kind: 'StagedNetworkPolicy', spec: { ...replaced.spec, stagedAction: 'Set' } }),
    schemas.StagedGlobalNetworkPolicy.parse({ apiVersion: API, kind: 'StagedGlobalNetworkPolicy', metadata: { name: 'deny-ssh' }, spec: { stagedAction: 'Delete' } }),
  ];
  const cache = createResourceCache('h1');
  const put = (r: Resource) => cache.put(resourceKey(r), r);
  for (const r of [...resources, ...staged]) put(r);
  const view = cache.explainView();
  const withStaged = stagedMatrix(() => cache.stagedView(), () => cache.generation);

  const anchor: number[] = [];
  const cold: number[] = [];
  const memo: number[] = [];
  const cli: number[] = [];
  let changed = 0;
  for (let k = 0; k < iterations; k++) {
    // An edit moves the generation: both halves are computed again.
    put(policy((k % (policies - 1)) + 1, tenants, 1 + (k % 2)));
    anchor.push(timeSync(() => { matrixFor(view, docs, 80, 'TCP'); }));
    put(policy((k % (policies - 1)) + 1, tenants, 2 + (k % 2)));
    let m: ReturnType<typeof matrixFor> | undefined;
    cold.push(timeSync(() => { m = matrixFor(view, docs, 80, 'TCP', withStaged); }));
    const after = m!.staged!.allowed.flat();
    changed = m!.allowed.flat().filter((a, i) => a !== after[i]).length;
    memo.push(timeSync(() => { matrixFor(view, docs, 80, 'TCP', withStaged); }));
    cli.push(timeSync(() => { previewStaged(cache.list(), { protocol: 'TCP', port: 80 }); }));
  }
  return {
    scale: { endpoints, hosts, tenants, policies, pairs: docs.length ** 2, iterations },
    matrixAfterEdit: msStats(anchor),
    matrixWithStagedAfterEdit: msStats(cold),
    matrixWithStagedUnchanged: msStats(memo),
    cliPreview: msStats(cli),
    ratioStagedToMatrix: round3(median(cold) / median(anchor)),
    ratioUnchangedToMatrix: round3(median(memo) / median(anchor)),
    cellsThatWouldChange: changed,
    rssMiB: rssMiB(),
  };
}

export async function run(params: Record<string, string>): Promise<Record<string, unknown>> {
  const sizes = (params.endpoints ?? '120,500').split(',').map(Number);
  const out: Record<string, unknown> = {};
  for (const n of sizes) out[`endpoints${n}`] = await one(n, params);
  return out;
}
