// Staged policies: never in the desired state (from scratch or incremental), and the
// preview of what they would change, evaluated by the matrix over the cluster with each
// stagedAction carried out (Set/Learn put the staged spec in force under the enforced
// name, Delete removes the enforced policy, Ignore proposes nothing).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  applyStaged, computeDesiredState, createCalculator, explainFlow, formatPreview, previewStaged,
} from '../../src/calc/index.js';
import type { Resource } from '../../src/model/index.js';
import { gnp, namespace, np, profile, sgnp, snp, wep } from './_fixtures.js';

const web80 = [{ action: 'Allow', protocol: 'TCP', source: { namespaceSelector: 'tenant == "b"' }, destination: { ports: [80] } }, { action: 'Pass' }];

/** Tenant a's web (node1) is open to tenant b on 80 by a policy; everything else is the profiles' (open within a tenant). */
const cluster = (): Resource[] => [
  namespace('tenant-a', { tenant: 'a' }), namespace('tenant-b', { tenant: 'b' }),
  profile('tenant-a', { ingress: [{ action: 'Allow', source: { namespaceSelector: 'tenant == "a"' } }], egress: [{ action: 'Allow' }] }),
  profile('tenant-b', { ingress: [{ action: 'Allow', source: { namespaceSelector: 'tenant == "b"' } }], egress: [{ action: 'Allow' }] }),
  wep('tenant-a', 'web', { node: 'node1', ip: '10.65.0.1/32', labels: { app: 'web' }, profiles: ['tenant-a'] }),
  wep('tenant-a', 'client', { node: 'node2', ip: '10.65.0.2/32', labels: { app: 'client' }, profiles: ['tenant-a'] }),
  wep('tenant-b', 'client', { node: 'node2', ip: '10.65.1.2/32', labels: { app: 'client' }, profiles: ['tenant-b'] }),
  np('tenant-a', 'web-from-b', { selector: 'app == "web"', ingress: web80 }),
];

/** Staged: tenant a's opening to b withdrawn, clients closed to everyone, and a dismissed recommendation that would open tenant b. */
const staged = (openAction = 'Ignore'): Resource[] => [
  snp('tenant-a', 'web-from-b', { stagedAction: 'Delete' }),
  sgnp('deny-clients', { selector: 'app == "client"', ingress: [{ action: 'Deny' }] }),
  snp('tenant-b', 'open', { stagedAction: openAction, order: 1, ingress: [{ action: 'Allow' }] }),
];

test('staged policies are never enforced: the desired state of every node is as without them', () => {
  for (const node of ['node1', 'node2']) {
    assert.equal(computeDesiredState({ nodeName: node, resources: [...cluster(), ...staged('Set')] }), computeDesiredState({ nodeName: node, resources: cluster() }), `${node}: from scratch`);
    const calc = createCalculator(node);
    for (const r of cluster()) calc.upsert(r);
    const before = calc.state();
    const gen = calc.generation();
    for (const r of staged('Set')) calc.upsert(r);
    assert.is(calc.generation(), gen, `${node}: a staged policy changes nothing the calculator keeps`);
    assert.equal(calc.state(), before, `${node}: incremental`);
  }
});

test('applyStaged: Set replaces or adds under the enforced name, Learn as Set, Delete removes, Ignore proposes nothing', () => {
  const rs = [
    ...cluster(),
    gnp('platform.audit', { tier: 'platform', selector: 'all()', ingress: [{ action: 'Log' }] }),
    snp('tenant-a', 'web-from-b', { selector: 'app == "web"', ingress: [{ action: 'Deny' }] }),
    sgnp('platform.audit', { tier: 'platform', stagedAction: 'Delete' }),
    sgnp('gone', { stagedAction: 'Delete' }),
    snp('tenant-b', 'learned', { stagedAction: 'Learn', ingress: [{ action: 'Allow' }] }),
    snp('tenant-b', 'dismissed', { stagedAction: 'Ignore', ingress: [{ action: 'Allow' }] }),
  ];
  const { resources, changes } = applyStaged(rs);
  assert.equal(changes.map((c) => `${c.staged} ${c.action} ${c.effect} ${c.target}`), [
    'StagedGlobalNetworkPolicy gone Delete has nothing to remove GlobalNetworkPolicy gone',
    'StagedGlobalNetworkPolicy platform.audit Delete removes GlobalNetworkPolicy platform.audit',
    'StagedNetworkPolicy tenant-a/web-from-b Set replaces NetworkPolicy tenant-a/web-from-b',
    'StagedNetworkPolicy tenant-b/dismissed Ignore proposes nothing NetworkPolicy tenant-b/dismissed',
    'StagedNetworkPolicy tenant-b/learned Learn adds NetworkPolicy tenant-b/learned',
  ]);
  const policies = resources.filter((r) => r.kind.endsWith('NetworkPolicy'));
  assert.equal(policies.map((r) => `${r.kind} ${r.metadata.name}`), ['NetworkPolicy web-from-b', 'NetworkPolicy learned'], 'no staged kind is left; the audit policy is gone');
  assert.equal(policies[0]!.spec, { selector: 'app == "web"', ingress: [{ action: 'Deny' }] }, 'the staged spec, without stagedAction, is the enforced one');
  assert.equal(resources.length, cluster().length + 1, 'everything else is kept');
});

test('preview: the pairs whose verdict would change, and the exact text', () => {
  const p = previewStaged([...cluster(), ...staged()], { protocol: 'TCP', port: 80 });
  assert.equal(p.endpoints, ['tenant-a/client', 'tenant-a/web', 'tenant-b/client']);
  assert.equal(p.cells, [
    { from: 'tenant-a/web', to: 'tenant-a/client', now: true, staged: false },
    { from: 'tenant-b/client', to: 'tenant-a/web', now: true, staged: false },
  ]);
  assert.is(formatPreview(p), [
    'StagedGlobalNetworkPolicy deny-clients (Set): adds GlobalNetworkPolicy deny-clients',
    'StagedNetworkPolicy tenant-a/web-from-b (Delete): removes NetworkPolicy tenant-a/web-from-b',
    'StagedNetworkPolicy tenant-b/open (Ignore): proposes nothing',
    '80/TCP between 3 endpoints (6 pairs): 2 verdicts would change',
    '  tenant-a/web -> tenant-a/client: ALLOWED -> DENIED',
    '  tenant-b/client -> tenant-a/web: ALLOWED -> DENIED',
    '',
  ].join('\n'));
  // On another port the policy tenant b used never allowed it: only the clients' Deny changes anything.
  assert.equal(previewStaged([...cluster(), ...staged()], { protocol: 'TCP', port: 443 }).cells.map((c) => `${c.from} -> ${c.to}`), ['tenant-a/web -> tenant-a/client']);
});

test('preview: the same staged Allow with Set opens what Ignore left closed', () => {
  const p = previewStaged([...cluster(), ...staged('Set')], { protocol: 'TCP', port: 80 });
  assert.equal(p.cells.filter((c) => c.to === 'tenant-b/client').map((c) => `${c.from} ${c.now} -> ${c.staged}`), ['tenant-a/client false -> true', 'tenant-a/web false -> true']);
});

test('preview agrees with explain over the cluster once the staged policies are enforced by hand', () => {
  const promoted = [...cluster().filter((r) => r.metadata.name !== 'web-from-b'), gnp('deny-clients', { selector: 'app == "client"', ingress: [{ action: 'Deny' }] })];
  const p = previewStaged([...cluster(), ...staged()], { protocol: 'TCP', port: 80 });
  for (const from of p.endpoints) {
    for (const to of p.endpoints) {
      if (from === to) continue;
      const now = explainFlow({ resources: cluster(), from: { endpoint: from }, to: { endpoint: to }, protocol: 'TCP', port: 80 }).allowed;
      const after = explainFlow({ resources: promoted, from: { endpoint: from }, to: { endpoint: to }, protocol: 'TCP', port: 80 }).allowed;
      const cell = p.cells.find((c) => c.from === from && c.to === to);
      assert.equal(cell ? [cell.now, cell.staged] : [now, now], [now, after], `${from} -> ${to}: the preview says what enforcing would do`);
    }
  }
});

test('preview: no staged policies, and staged policies that change nothing', () => {
  assert.is(formatPreview(previewStaged(cluster(), { protocol: 'TCP', port: 80 })), 'no staged policies: nothing to preview\n');
  const same = snp('tenant-a', 'web-from-b', { selector: 'app == "web"', ingress: web80 });
  assert.is(formatPreview(previewStaged([...cluster(), same], { protocol: 'TCP', port: 80 })),
    'StagedNetworkPolicy tenant-a/web-from-b (Set): replaces NetworkPolicy tenant-a/web-from-b\n80/TCP between 3 endpoints (6 pairs): no verdict would change\n');
});

test.run();
