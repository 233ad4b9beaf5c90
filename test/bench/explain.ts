// npm run bench -- explain [--endpoints 120,1000] [--hosts 30] [--tenants 6] [--policies 40]
//   [--iterations 5] [--explains 500] [--legacy 20] [--heps 2]
// /matrix and /explain at cluster scale, evaluated over the agent's incremental calculator
// (createClusterView): the matrix of every endpoint pair right after a policy edit (cold:
// every remote endpoint compiled again) and unchanged (warm), and single explanations of
// random pairs with their text, as the API serves them. `legacy` times that many pairs the
// old way (explainFlow over the resources, one computeDesiredState per node per pair) for
// comparison. Last, `heps` host endpoints on h1 (one "*", the rest named) with a policy:
// /matrix with their HOST rows against the workload matrix alone, alternately in the same
// state (the ratio is what they add). Medians and p90 in ms.
import { createCalculator, createClusterView, explainFlow } from '../../src/calc/index.js';
import { explainForApi, matrixFor } from '../../src/agent/explain.js';
import { withHostEndpoints } from '../../src/agent/host.js';
import type { EndpointDoc } from '../../src/api/index.js';
import { schemas, type Resource } from '../../src/model/index.js';
import { median, msStats, round3, rssMiB, timeSync } from './_stats.js';

const API = 'projectcalico.org/v3';
const ROLES = ['web', 'client', 'db', 'cache'];

export function build(endpoints: number, hosts: number, tenants: number, policies: number): { resources: Resource[]; docs: EndpointDoc[] } {
  const resources: Resource[] = [];
  const docs: EndpointDoc[] = [];
  for (let t = 0; t < tenants; t++) {
    const ns = `tenant-${t}`;
    resources.push(schemas.Namespace.parse({ apiVersion: API, kind: 'Namespace', metadata: { name: ns, labels: { tenant: `t${t}`, tier: String(t % 3) } } }));
    resources.push(schemas.Profile.parse({ apiVersion: API, kind: 'Profile', metadata: { name: ns }, spec: {
      egress: [{ action: 'Allow' }], ingress: [{ action: 'Allow', source: { namespaceSelector: `tenant == "t${t}"` } }] } }));
  }
  for (let i = 0; i < endpoints; i++) {
    const ns = `tenant-${i % tenants}`;
    const name = `ep${i}`;
    const node = `h${(i % hosts) + 1}`;
    const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    const role = ROLES[i % ROLES.length]!;
    resources.push(schemas.WorkloadEndpoint.parse({ apiVersion: API, kind: 'WorkloadEndpoint', metadata: { name, namespace: ns, labels: { app: role } },
      spec: { node, interfaceName: `cali${i}`, ipNetworks: [`${ip}/32`], profiles: [ns], ports: role === 'web' ? [{ name: 'http', protocol: 'TCP', port: 80 }] : [] } }));
    docs.push({ id: `WorkloadEndpoint/${ns}/${name}`, namespace: ns, name, node, tenant: ns, labels: { app: role }, addresses: [`${ip}/32`], interfaceName: `cali${i}`, local: node === 'h1' });
  }
  resources.push(schemas.GlobalNetworkPolicy.parse({ apiVersion: API, kind: 'GlobalNetworkPolicy', metadata: { name: 'deny-ssh' }, spec: {
    order: 10, selector: 'all()', types: ['Ingress'], ingress: [{ action: 'Deny', protocol: 'TCP', destination: { ports: [22] } }, { action: 'Pass' }] } }));
  for (let j = 0; j < policies; j++) resources.push(policy(j, tenants));
  resources.push(schemas.IPPool.parse({ apiVersion: API, kind: 'IPPool', metadata: { name: 'pool' }, spec: { cidr: '10.0.0.0/8', natOutgoing: true } }));
  return { resources, docs };
}

export function policy(j: number, tenants: number, variant = 0): Resource {
  const ns = `tenant-${j % tenants}`;
  const role = ROLES[j % ROLES.length]!;
  const from = ROLES[(j + 1 + variant) % ROLES.length]!;
  return schemas.NetworkPolicy.parse({ apiVersion: API, kind: 'NetworkPolicy', metadata: { name: `np${j}`, namespace: ns }, spec: {
    order: 100 + j, selector: `app == "${role}"`, types: ['Ingress', 'Egress'],
    ingress: [
      { action: 'Allow', protocol: 'TCP', source: { selector: `app == "${from}"` }, destination: { ports: ['http', 8080 + variant] } },
      { action: 'Allow', source: { namespaceSelector: `tier == "${j % 3}"`, selector: 'app == "client"' } },
      { action: 'Deny', source: { nets: [`192.168.${j % 256}.0/24`] } },
      { action: 'Pass' },
    ],
    egress: [{ action: 'Deny', destination: { nets: ['169.254.0.0/16'] } }, { action: 'Pass' }],
  } });
}


async function one(endpoints: number, params: Record<string, string>): Promise<Record<string, unknown>> {
  const hosts = Number(params.hosts ?? 30);
  const tenants = Number(params.tenants ?? 6);
  const policies = Number(params.policies ?? 40);
  const iterations = Number(params.iterations ?? 5);
  const explains = Number(params.explains ?? 500);
  const legacyPairs = Number(params.legacy ?? 20);
  const { resources, docs } = build(endpoints, hosts, tenants, policies);
  const calc = createCalculator('h1');
  for (const r of resources) calc.upsert(r);
  calc.state();
  const view = createClusterView(calc);

  const cold: number[] = [];
  const warm: number[] = [];
  let allowedCells = 0;
  for (let k = 0; k < iterations; k++) {
    calc.upsert(policy(k % policies, tenants, 1 + (k % 2)));
    cold.push(timeSync(() => { allowedCells = matrixFor(view, docs, 80, 'TCP').allowed.flat().filter(Boolean).length; }));
    warm.push(timeSync(() => { matrixFor(view, docs, 80, 'TCP'); }));
  }

  let seed = 7;
  const rand = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed / 0x7fffffff; };
  const pick = () => docs[Math.floor(rand() * docs.length)]!;
  const single: number[] = [];
  for (let k = 0; k < explains; k++) {
    const a = pick();
    const b = pick();
    single.push(timeSync(() => { explainForApi(view, { from: `${a.namespace}/${a.name}`, to: `${b.namespace}/${b.name}`, port: 80, protocol: 'TCP' }); }));
  }

  const legacy: number[] = [];
  for (let k = 0; k < legacyPairs; k++) {
    const a = pick();
    const b = pick();
    legacy.push(timeSync(() => { explainFlow({ resources, from: { endpoint: `${a.namespace}/${a.name}` }, to: { endpoint: `${b.namespace}/${b.name}` }, protocol: 'TCP', port: 80 }); }));
  }
  const heps = Number(params.heps ?? 2);
  for (let k = 0; k < heps; k++) {
    calc.upsert(schemas.HostEndpoint.parse({ apiVersion: API, kind: 'HostEndpoint', metadata: { name: `h1-if${k}`, labels: { role: 'host' } },
      spec: { node: 'h1', interfaceName: k === 0 ? '*' : `eth${k}`, expectedIPs: [`192.168.250.${k + 1}`] } }));
  }
  calc.upsert(schemas.GlobalNetworkPolicy.parse({ apiVersion: API, kind: 'GlobalNetworkPolicy', metadata: { name: 'host' }, spec: {
    selector: 'role == "host"', types: ['Ingress', 'Egress'],
    ingress: [{ action: 'Allow', protocol: 'TCP', source: { selector: 'app == "client"' }, destination: { ports: [80] } }],
    egress: [{ action: 'Allow', protocol: 'TCP', destination: { selector: 'app == "web"' } }],
  } }));
  const workloadsOnly: number[] = [];
  const withHosts: number[] = [];
  let hostRows = 0;
  // Warm both (the state with the host endpoints, the compiled endpoints), then alternate which goes first.
  withHostEndpoints(matrixFor(view, docs, 80, 'TCP'), calc.state(), view);
  const timeOnly = () => workloadsOnly.push(timeSync(() => { matrixFor(view, docs, 80, 'TCP'); }));
  const timeWith = () => withHosts.push(timeSync(() => { hostRows = withHostEndpoints(matrixFor(view, docs, 80, 'TCP'), calc.state(), view).endpoints.length - docs.length; }));
  for (let k = 0; k < iterations; k++) {
    if (k % 2 === 0) { timeOnly(); timeWith(); } else { timeWith(); timeOnly(); }
  }
  const pairs = docs.length * docs.length;
  return {
    scale: { endpoints, hosts, tenants, policies, pairs, iterations, explains },
    matrixAfterPolicyEdit: msStats(cold),
    matrixUnchanged: msStats(warm),
    explainOne: msStats(single),
    legacyExplainPerPair: msStats(legacy),
    legacyMatrixEstimateMs: round3(median(legacy) * pairs),
    hostEndpoints: {
      rows: hostRows, matrixWorkloadsOnly: msStats(workloadsOnly), matrixWithHostRows: msStats(withHosts),
      ratioMedian: round3(median(withHosts) / median(workloadsOnly)),
    },
    allowedCells,
    rssMiB: rssMiB(),
  };
}

export async function run(params: Record<string, string>): Promise<Record<string, unknown>> {
  const sizes = (params.endpoints ?? '120,1000').split(',').map(Number);
  const out: Record<string, unknown> = {};
  for (const n of sizes) out[`endpoints${n}`] = await one(n, params);
  return out;
}
