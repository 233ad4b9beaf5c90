// npm run bench -- calc --local 1000 --remote 10000 --policies 500 [--iterations 50]
// Full computeDesiredState time, and the incremental calculator's cost of one update
// (upsert + state()) for a policy edit, an endpoint add and label changes: medians in ms.
import { performance } from 'node:perf_hooks';
import { computeDesiredState, createCalculator } from '../../src/calc/index.js';
import { schemas, type Resource } from '../../src/model/index.js';
import { median, percentile, rssMiB } from './_stats.js';

const API = 'projectcalico.org/v3';
const NAMESPACES = 50;
const APPS = 20;

function wep(i: number, node: string, labels: Record<string, string>): Resource {
  const ns = `ns${i % NAMESPACES}`;
  return schemas.WorkloadEndpoint.parse({
    apiVersion: API, kind: 'WorkloadEndpoint',
    metadata: { name: `ep${i}`, namespace: ns, labels },
    spec: {
      node, interfaceName: `cali${i}`, ipNetworks: [`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}/32`],
      profiles: [ns], ports: i % 3 === 0 ? [{ name: 'http', protocol: 'TCP', port: 8080 }] : [],
    },
  });
}
const labelsFor = (i: number, salt = 0) => ({ app: `app${(i + salt) % APPS}`, tier: String((i + salt) % 3), ...(i % 7 === 0 ? { pci: 'yes' } : {}) });

function policy(j: number, variant = 0): Resource {
  const app = (k: number) => `app${k % APPS}`;
  const ingress = [
    { action: 'Allow', protocol: 'TCP', source: { selector: `app == "${app(j + 1 + variant)}"` }, destination: { ports: [80 + variant, 'http'] } },
    { action: 'Allow', source: { namespaceSelector: `team == "t${j % 5}"`, selector: `tier in {"0", "1"}` } },
    { action: 'Deny', source: { nets: [`192.168.${j % 256}.0/24`] } },
  ];
  const egress = [{ action: 'Allow', destination: { selector: `app == "${app(j + 2)}" || pci == "yes"` } }, { action: 'Pass' }];
  if (j % 2 === 0) {
    return schemas.NetworkPolicy.parse({ apiVersion: API, kind: 'NetworkPolicy', metadata: { name: `np${j}`, namespace: `ns${j % NAMESPACES}` },
      spec: { order: j % 10 === 0 ? undefined : 100 + (j % 50), selector: `app == "${app(j)}"`, ingress, egress } });
  }
  return schemas.GlobalNetworkPolicy.parse({ apiVersion: API, kind: 'GlobalNetworkPolicy', metadata: { name: `gnp${j}` },
    spec: { order: 50 + (j % 30), selector: `app == "${app(j)}" && tier == "${j % 3}"`, ingress, egress } });
}

function build(local: number, remote: number, policies: number): Resource[] {
  const out: Resource[] = [];
  for (let n = 0; n < NAMESPACES; n++) {
    out.push(schemas.Namespace.parse({ apiVersion: API, kind: 'Namespace', metadata: { name: `ns${n}`, labels: { team: `t${n % 5}` } } }));
    out.push(schemas.Profile.parse({ apiVersion: API, kind: 'Profile', metadata: { name: `ns${n}` }, spec: {
      egress: [{ action: 'Allow' }], ingress: [{ action: 'Allow', source: { namespaceSelector: `projectcalico.org/name == "ns${n}"` } }] } }));
  }
  for (let i = 0; i < local; i++) out.push(wep(i, 'node0', labelsFor(i)));
  for (let i = local; i < local + remote; i++) out.push(wep(i, `node${1 + (i % 50)}`, labelsFor(i)));
  for (let j = 0; j < policies; j++) out.push(policy(j));
  out.push(schemas.IPPool.parse({ apiVersion: API, kind: 'IPPool', metadata: { name: 'pool' }, spec: { cidr: '10.0.0.0/8', natOutgoing: true } }));
  return out;
}

const round = (x: number) => Math.round(x * 1000) / 1000;
function time(fn: () => void): number {
  const t = performance.now();
  fn();
  return performance.now() - t;
}

export async function run(params: Record<string, string>): Promise<Record<string, unknown>> {
  const local = Number(params.local ?? 1000);
  const remote = Number(params.remote ?? 10000);
  const policies = Number(params.policies ?? 500);
  const iterations = Number(params.iterations ?? 50);
  const resources = build(local, remote, policies);

  const full: number[] = [];
  let state = computeDesiredState({ nodeName: 'node0', resources });
  for (let i = 0; i < 3; i++) full.push(time(() => { state = computeDesiredState({ nodeName: 'node0', resources }); }));

  const calc = createCalculator('node0');
  const load = time(() => { for (const r of resources) calc.upsert(r); calc.state(); });

  const measure = (make: (k: number) => Resource): number[] => {
    const xs: number[] = [];
    for (let k = 0; k < iterations; k++) {
      const r = make(k);
      xs.push(time(() => { calc.upsert(r); calc.state(); }));
    }
    return xs;
  };
  const policyEdit = measure((k) => policy(k % policies, 1 + (k % 3)));
  const endpointAdd = measure((k) => wep(local + remote + k, `node${1 + (k % 50)}`, labelsFor(k)));
  const remoteLabel = measure((k) => { const i = local + ((k * 97) % remote); return wep(i, `node${1 + (i % 50)}`, labelsFor(i, 1 + k)); });
  const localLabel = measure((k) => { const i = (k * 13) % local; return wep(i, 'node0', labelsFor(i, 1 + k)); });

  const stats = (xs: number[]) => ({ medianMs: round(median(xs)), p90Ms: round(percentile(xs, 90)) });
  const fullMs = median(full);
  return {
    scale: { local, remote, policies, namespaces: NAMESPACES, iterations },
    state: { endpoints: state.endpoints.length, policies: state.policies.length, ipsets: state.ipsets.length, members: state.ipsets.reduce((a, s) => a + s.members.length, 0) },
    fullComputeMs: round(fullMs),
    incrementalLoadMs: round(load),
    update: {
      policyEdit: stats(policyEdit),
      endpointAdd: stats(endpointAdd),
      remoteLabelChange: stats(remoteLabel),
      localLabelChange: stats(localLabel),
    },
    speedupPolicyEdit: round(fullMs / median(policyEdit)),
    speedupLabelChange: round(fullMs / median(remoteLabel)),
    rssMiB: rssMiB(),
  };
}
