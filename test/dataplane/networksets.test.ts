// NetworkSets against real packets, once per policy backend: from Calico YAML (a
// NetworkSet and a GlobalNetworkSet naming addresses of an "outside" namespace) through
// calc to the kernel. A client may reach exactly the named external group; moving an
// address between groups moves who it may reach, by set members alone: the ruleset text
// (every chain) is byte-identical before and after.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { computeDesiredState } from '../../src/calc/index.js';
import { createDataplane, type Dataplane } from '../../src/dataplane/index.js';
import { silentLogger } from '../../src/log/index.js';
import { parseResourceTexts, type Resource } from '../../src/model/index.js';
import { backendCases } from './_backends.js';
import { createLab, tcp, waitServing, type Lab } from './_lab.js';

const NODE = 'kn-node';
const CLIENT = { iface: 'trla2', ip: '10.65.0.2' };
const [PAYMENTS, MIRROR, OTHER] = ['192.168.77.2', '192.168.77.3', '192.168.77.4'];

function resources(paymentsNets: string[]): Resource[] {
  const yaml = `
apiVersion: projectcalico.org/v3
kind: Namespace
metadata: {name: tenant-a}
---
apiVersion: projectcalico.org/v3
kind: WorkloadEndpoint
metadata: {name: client, namespace: tenant-a, labels: {app: client}}
spec: {node: ${NODE}, interfaceName: ${CLIENT.iface}, ipNetworks: [${CLIENT.ip}/32]}
---
apiVersion: projectcalico.org/v3
kind: NetworkSet
metadata: {name: payments-api, namespace: tenant-a, labels: {role: external-api}}
spec: {nets: [${paymentsNets.join(', ')}]}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkSet
metadata: {name: mirrors, labels: {role: mirror}}
spec: {nets: [${MIRROR}/32]}
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: client-egress, namespace: tenant-a}
spec:
  selector: app == 'client'
  types: [Egress]
  egress:
    - {action: Allow, protocol: TCP, destination: {selector: role == 'external-api', ports: [9000]}}
    - {action: Allow, protocol: TCP, destination: {selector: role == 'mirror', namespaceSelector: global(), ports: [9000]}}
`;
  return parseResourceTexts([{ fileName: 'networksets.yaml', text: yaml }]);
}

for (const backend of backendCases()) {
  const test = suite(`network sets [${backend.name}]`);
  let lab: Lab;
  let dp: Dataplane;
  const client = () => lab.containers.get(CLIENT.iface)!;
  const reach = async () => Object.fromEntries(await Promise.all([PAYMENTS, MIRROR, OTHER].map(async (ip) => [ip, Boolean(await tcp(client(), ip, 9000))] as const)));

  test.before(async () => {
    lab = await createLab('kn', [CLIENT]);
    for (const ip of [MIRROR, OTHER]) await lab.outside.run(['ip', 'addr', 'add', `${ip}/24`, 'dev', 'eth0']);
    // No NAT here: the outside routes the pool back to the host, as a routed fabric does.
    await lab.outside.run(['ip', 'route', 'add', '10.65.0.0/16', 'via', '192.168.77.1']);
    lab.serve(lab.outside, 9000);
    await waitServing(lab.outside, '127.0.0.1', 9000);
    dp = createDataplane({ netns: lab.host.name, logger: silentLogger(), policyBackend: backend.create });
  });

  test.after(async () => {
    await lab?.destroy();
  });

  test('allow to a named external group; a nets edit moves access by set members, no chain rewritten', async () => {
    const first = await dp.reconcile(computeDesiredState({ nodeName: NODE, resources: resources([`${PAYMENTS}/32`]) }));
    assert.equal(first.errors, [], 'first reconcile applies');
    assert.equal(await reach(), { [PAYMENTS]: true, [MIRROR]: true, [OTHER]: false },
      'payments (NetworkSet) and mirror (GlobalNetworkSet) reachable, the rest of the outside not');
    const rulesBefore = await backend.dump(lab.host);

    const edit = await dp.reconcile(computeDesiredState({ nodeName: NODE, resources: resources([`${OTHER}/32`]) }));
    assert.equal(edit.errors, [], 'the edit applies');
    assert.is(edit.counts.chainsWritten, 0, 'no chain written for a nets edit');
    assert.is(edit.counts.chainsDeleted, 0, 'no chain deleted for a nets edit');
    assert.ok(edit.counts.membersAdded >= 1 && edit.counts.membersDeleted >= 1, `members moved (added ${edit.counts.membersAdded}, deleted ${edit.counts.membersDeleted})`);
    assert.fixture(await backend.dump(lab.host), rulesBefore, 'the ruleset text is unchanged by a nets edit');
    assert.equal(await reach(), { [PAYMENTS]: false, [MIRROR]: true, [OTHER]: true }, 'access follows the NetworkSet\'s new nets');
  });

  test.run();
}
