// Staged policies against real packets, once per policy backend: a staged Deny does not
// block and a staged Allow does not open (nothing of them reaches the kernel), while the
// preview says both would flip; carried out (applyStaged) and reconciled, they do exactly
// what the preview said.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { applyStaged, computeDesiredState, previewStaged } from '../../src/calc/index.js';
import { createDataplane, type Dataplane } from '../../src/dataplane/index.js';
import { silentLogger } from '../../src/log/index.js';
import { parseResourceTexts, type Resource } from '../../src/model/index.js';
import { backendCases } from './_backends.js';
import { createLab, tcp, waitServing, type Lab } from './_lab.js';

const NODE = 'sg-node';
const WEB = { iface: 'trla1', ip: '10.66.0.1' };
const A_CLIENT = { iface: 'trla2', ip: '10.66.0.2' };
const B_CLIENT = { iface: 'trlb2', ip: '10.66.1.2' };

const wep = (ns: string, name: string, e: { iface: string; ip: string }, app: string) => `
apiVersion: projectcalico.org/v3
kind: WorkloadEndpoint
metadata: {name: ${name}, namespace: ${ns}, labels: {app: ${app}}}
spec: {node: ${NODE}, interfaceName: ${e.iface}, ipNetworks: [${e.ip}/32], profiles: [${ns}]}
---`;

/** In force: tenant a's web takes tenant a only. Staged: a Deny of tenant a and an Allow of tenant b, ahead of it. */
const RESOURCES: Resource[] = parseResourceTexts([{ fileName: 'staged.yaml', text: `
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
kind: NetworkPolicy
metadata: {name: web, namespace: tenant-a}
spec:
  order: 10
  selector: app == 'web'
  ingress: [{action: Allow, source: {namespaceSelector: projectcalico.org/name == 'tenant-a'}}]
---
apiVersion: projectcalico.org/v3
kind: StagedGlobalNetworkPolicy
metadata: {name: block-tenant-a}
spec:
  order: 1
  selector: app == 'web'
  ingress: [{action: Deny, source: {namespaceSelector: projectcalico.org/name == 'tenant-a'}}]
---
apiVersion: projectcalico.org/v3
kind: StagedNetworkPolicy
metadata: {name: open-to-tenant-b, namespace: tenant-a}
spec:
  order: 2
  selector: app == 'web'
  ingress: [{action: Allow, source: {namespaceSelector: projectcalico.org/name == 'tenant-b'}}]
` }]);

for (const backend of backendCases()) {
  const test = suite(`staged policies [${backend.name}]`);
  let lab: Lab;
  let dp: Dataplane;
  const c = (e: { iface: string }) => lab.containers.get(e.iface)!;
  const reach = async () => {
    const [a, b] = await Promise.all([tcp(c(A_CLIENT), WEB.ip, 80), tcp(c(B_CLIENT), WEB.ip, 80)]);
    return { fromA: a !== null, fromB: b !== null };
  };

  test.before(async () => {
    lab = await createLab('sg', [WEB, A_CLIENT, B_CLIENT]);
    lab.serve(c(WEB), 80);
    await waitServing(c(WEB), '127.0.0.1', 80);
    dp = createDataplane({ netns: lab.host.name, logger: silentLogger(), policyBackend: backend.create });
  });

  test.after(async () => {
    await lab?.destroy();
  });

  test('a staged Deny does not block and a staged Allow does not open; carried out, they do what the preview said', async () => {
    const r = await dp.reconcile(computeDesiredState({ nodeName: NODE, resources: RESOURCES }));
    assert.equal(r.errors, [], 'reconcile applies');
    assert.equal(await reach(), { fromA: true, fromB: false }, 'staged: tenant a still reaches web (the staged Deny is not enforced), tenant b still does not (nor the staged Allow)');

    const preview = previewStaged(RESOURCES, { protocol: 'TCP', port: 80 });
    assert.equal(preview.cells.filter((x) => x.to === 'tenant-a/web').map((x) => `${x.from} ${x.now} -> ${x.staged}`),
      ['tenant-a/client true -> false', 'tenant-b/client false -> true'], 'the preview says both flows would flip');

    const enforced = await dp.reconcile(computeDesiredState({ nodeName: NODE, resources: applyStaged(RESOURCES).resources }));
    assert.equal(enforced.errors, [], 'the staged policies, carried out, apply');
    assert.equal(await reach(), { fromA: false, fromB: true }, 'enforced: the Deny blocks tenant a, the Allow opens to tenant b, as previewed');
  });

  test.run();
}
