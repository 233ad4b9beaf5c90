// The whole rendered ruleset of the lab, compared exactly with a golden file, so that any
// change to what the dataplane renders shows up as a reviewable diff of
// test/dataplane/golden/lab-h1.txt.
//
// The input is built purely, the way `npm run lab` builds it: the repository's policies/,
// the lab's cluster resources (src/lab/cluster.ts) and one WorkloadEndpoint per planned
// container (src/lab/plan.ts, 3 hosts) named and labelled as trellis-cni names them, with
// the addresses a fresh lab's IPAM hands out when the hosts start in order (host hN claims
// the N-th /26 of the pool, its containers take its first ordinals in plan order). It is
// rendered for h1 by every policy backend's text renderer (today ipset + iptables) plus
// the neutral routes and sysctls.
//
// After an intended render change, regenerate the file and review its diff:
//   TRELLIS_UPDATE_GOLDEN=1 npx tsx test/run.ts test/dataplane/golden.test.ts
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { computeDesiredState, type DesiredState } from '../../src/calc/index.js';
import { renderSysctls, renderWorkloadRoutes } from '../../src/dataplane/index.js';
import { renderFullRestore, renderIptables, renderSets, renderSetsRestore } from '../../src/dataplane/iptables/index.js';
import { parseResourceTexts, type Resource } from '../../src/model/index.js';
import { clusterResources, DEFAULT_TIMERS } from '../../src/lab/cluster.js';
import { planLab, type LabPlan } from '../../src/lab/plan.js';
import { endpointName, hostVethName } from '../../src/workload/index.js';

const ROOT = resolve(import.meta.dirname, '../..');
const GOLDEN = join(import.meta.dirname, 'golden', 'lab-h1.txt');
const NODE = 'h1';
const IFNAME = 'eth0';

/** The address of ordinal `ord` in host `hostIndex`'s block (0-based) of the lab pool. */
function labAddress(plan: LabPlan, hostIndex: number, ord: number): string {
  const [a, b, c, d] = plan.pool.split('/')[0]!.split('.').map(Number) as [number, number, number, number];
  const n = ((a << 24) | (b << 16) | (c << 8) | d) + hostIndex * 2 ** (32 - plan.blockSize) + ord;
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

function labResources(): Resource[] {
  const plan = planLab({ prefix: 'trl', hosts: 3, etcdMembers: 1 });
  const dir = join(ROOT, 'policies');
  const files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => ({ text: readFileSync(join(dir, f), 'utf8'), fileName: `policies/${f}` }));
  files.push({ text: clusterResources(plan, DEFAULT_TIMERS).map((r) => JSON.stringify(r)).join('\n---\n'), fileName: 'cluster.yaml' });
  const endpoints = plan.containers.map((c) => {
    const hostIndex = plan.hosts.findIndex((h) => h.name === c.host);
    const ord = plan.containers.filter((x) => x.host === c.host).indexOf(c);
    return JSON.stringify({
      apiVersion: 'trellis.dev/v1', kind: 'WorkloadEndpoint',
      metadata: { name: endpointName(c.host, 'cni', c.containerId, IFNAME), namespace: c.namespace, labels: { app: c.app } },
      spec: {
        orchestrator: 'cni', workload: c.workload, node: c.host, containerID: c.containerId, endpoint: IFNAME,
        interfaceName: hostVethName(c.containerId, IFNAME), ipNetworks: [`${labAddress(plan, hostIndex, ord)}/32`], profiles: [c.namespace],
      },
    });
  });
  files.push({ text: endpoints.join('\n---\n'), fileName: 'endpoints.yaml' });
  return parseResourceTexts(files);
}

/** Every text the dataplane renders for `ds`, in sections. */
function renderAll(ds: DesiredState): string {
  const rendered = renderIptables(ds);
  const out: string[] = [];
  out.push('### ipset restore', renderSetsRestore(renderSets(ds, rendered.setRefs)));
  for (const t of rendered.tables) out.push(`### ${t.family === 4 ? 'iptables' : 'ip6tables'}-restore (${t.table})`, renderFullRestore(t));
  out.push('### ip -batch (workload routes)', `${renderWorkloadRoutes(ds.routes).join('\n')}\n`);
  out.push('### sysctl (no links known: every endpoint interface)', `${[...renderSysctls(ds, null)].map(([k, v]) => `${k}=${v}`).join('\n')}\n`);
  return out.join('\n');
}

test('the lab\'s ruleset for h1 renders exactly as the golden file says', () => {
  const ds = computeDesiredState({ nodeName: NODE, resources: labResources() });
  assert.is(ds.endpoints.length, 4, 'h1 has four local endpoints (two tenants, web and client)');
  const got = renderAll(ds);
  if (process.env.TRELLIS_UPDATE_GOLDEN) writeFileSync(GOLDEN, got);
  const want = readFileSync(GOLDEN, 'utf8');
  if (got !== want) {
    const g = got.split('\n');
    const w = want.split('\n');
    const i = g.findIndex((l, k) => l !== w[k]);
    assert.unreachable(`rendered ruleset differs from ${GOLDEN} at line ${i + 1}:\n  golden:   ${w[i]}\n  rendered: ${g[i]}\n(an intended change? TRELLIS_UPDATE_GOLDEN=1 regenerates it; review the diff)`);
  }
});

test('rendering is deterministic: a second render of a freshly computed state is identical', () => {
  const a = renderAll(computeDesiredState({ nodeName: NODE, resources: labResources() }));
  const b = renderAll(computeDesiredState({ nodeName: NODE, resources: labResources() }));
  assert.ok(a === b, 'two renders of equal input differ');
});

test.run();
