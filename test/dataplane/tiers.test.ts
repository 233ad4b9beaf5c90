// Tiers against real packets, once per policy backend: Calico YAML with a platform tier
// above the tenants' default tier, through calc to the kernel. A platform Deny beats a
// tenant Allow; a platform Pass hands the flow to the tenant tier; a tier whose policies
// decide nothing ends in its defaultAction (Deny, then Pass after an edit of the Tier).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { computeDesiredState } from '../../src/calc/index.js';
import { createDataplane, type Dataplane } from '../../src/dataplane/index.js';
import { silentLogger } from '../../src/log/index.js';
import { parseResourceTexts, type Resource } from '../../src/model/index.js';
import { backendCases } from './_backends.js';
import { createLab, tcp, waitServing, type Lab } from './_lab.js';

const NODE = 'kt-node';
const WEB = { iface: 'trla1', ip: '10.65.0.1' };
const A_CLIENT = { iface: 'trla2', ip: '10.65.0.2' };
const B_CLIENT = { iface: 'trlb2', ip: '10.65.1.2' };

function resources(platformDefault: 'Deny' | 'Pass'): Resource[] {
  const wep = (ns: string, name: string, e: { iface: string; ip: string }, app: string) => `
apiVersion: projectcalico.org/v3
kind: WorkloadEndpoint
metadata: {name: ${name}, namespace: ${ns}, labels: {app: ${app}}}
spec: {node: ${NODE}, interfaceName: ${e.iface}, ipNetworks: [${e.ip}/32], profiles: [${ns}]}
---`;
  const yaml = `
apiVersion: projectcalico.org/v3
kind: Profile
metadata: {name: tenant-a}
spec: {egress: [{action: Allow}], ingress: [{action: Allow}]}
---
apiVersion: projectcalico.org/v3
kind: Profile
metadata: {name: tenant-b}
spec: {egress: [{action: Allow}]}
---${wep('tenant-a', 'web', WEB, 'web')}${wep('tenant-a', 'client', A_CLIENT, 'client')}${wep('tenant-b', 'client', B_CLIENT, 'client')}
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: platform}
spec: {order: 100, defaultAction: ${platformDefault}}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: platform.isolate}
spec:
  tier: platform
  order: 5
  selector: app == 'web'
  ingress: [{action: Deny, source: {namespaceSelector: projectcalico.org/name == 'tenant-b'}}]
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: platform.deny-ssh}
spec:
  tier: platform
  order: 10
  selector: app == 'web'
  ingress:
    - {action: Deny, protocol: TCP, destination: {ports: [22]}}
    - {action: Pass, protocol: TCP, destination: {ports: [80]}}
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: web-open, namespace: tenant-a}
spec:
  selector: app == 'web'
  ingress: [{action: Allow}]
`;
  return parseResourceTexts([{ fileName: 'tiers.yaml', text: yaml }]);
}

for (const backend of backendCases()) {
  const test = suite(`tiers [${backend.name}]`);
  let lab: Lab;
  let dp: Dataplane;
  const c = (e: { iface: string }) => lab.containers.get(e.iface)!;
  const to = async (from: { iface: string }, port: number) => Boolean(await tcp(c(from), WEB.ip, port));

  test.before(async () => {
    lab = await createLab('kt', [WEB, A_CLIENT, B_CLIENT]);
    for (const port of [22, 80, 443]) lab.serve(c(WEB), port);
    for (const port of [22, 80, 443]) await waitServing(c(WEB), '127.0.0.1', port);
    dp = createDataplane({ netns: lab.host.name, logger: silentLogger(), policyBackend: backend.create });
  });

  test.after(async () => {
    await lab?.destroy();
  });

  test('platform Deny beats tenant Allow; Pass goes to the tenant tier; the tier default action decides the rest', async () => {
    const r = await dp.reconcile(computeDesiredState({ nodeName: NODE, resources: resources('Deny') }));
    assert.equal(r.errors, [], 'reconcile applies');
    const [ssh, web, tls, cross] = await Promise.all([to(A_CLIENT, 22), to(A_CLIENT, 80), to(A_CLIENT, 443), to(B_CLIENT, 80)]);
    assert.equal({ ssh, web, tls, cross }, { ssh: false, web: true, tls: false, cross: false },
      '22: platform Deny beats web-open; 80: platform Pass, tenant allows; 443: platform decides nothing, its default Deny; tenant b: isolated');

    const edit = await dp.reconcile(computeDesiredState({ nodeName: NODE, resources: resources('Pass') }));
    assert.equal(edit.errors, [], 'the Tier edit applies');
    const [ssh2, tls2, cross2] = await Promise.all([to(A_CLIENT, 22), to(A_CLIENT, 443), to(B_CLIENT, 80)]);
    assert.equal({ ssh: ssh2, tls: tls2, cross: cross2 }, { ssh: false, tls: true, cross: false },
      'with defaultAction Pass 443 reaches the tenant tier, which allows; the platform\'s Denies still hold');
  });

  test.run();
}
