// The agent cache's staged view: a second calculator holding the cluster as its staged
// policies would make it, kept up to date edit by edit, and never the one the dataplane
// renders. Checked against the from-scratch view of the same resources after every edit.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createResourceCache } from '../../src/agent/cache.js';
import { applyStaged, computeDesiredState, matrixIn, resourceView } from '../../src/calc/index.js';
import { isStagedPolicy, resourceKey, type Resource } from '../../src/model/index.js';
import { gnp, namespace, np, profile, sgnp, snp, wep } from '../calc/_fixtures.js';

const cluster: Resource[] = [
  namespace('tenant-a', { tenant: 'a' }), namespace('tenant-b', { tenant: 'b' }),
  profile('tenant-a', { ingress: [{ action: 'Allow', source: { namespaceSelector: 'tenant == "a"' } }], egress: [{ action: 'Allow' }] }),
  profile('tenant-b', { ingress: [{ action: 'Allow', source: { namespaceSelector: 'tenant == "b"' } }], egress: [{ action: 'Allow' }] }),
  wep('tenant-a', 'web', { node: 'n1', ip: '10.65.0.1/32', labels: { app: 'web' }, profiles: ['tenant-a'] }),
  wep('tenant-a', 'client', { node: 'n2', ip: '10.65.0.2/32', labels: { app: 'client' }, profiles: ['tenant-a'] }),
  wep('tenant-b', 'client', { node: 'n1', ip: '10.65.1.2/32', labels: { app: 'client' }, profiles: ['tenant-b'] }),
  np('tenant-a', 'web', { selector: 'app == "web"', ingress: [{ action: 'Allow', source: { namespaceSelector: 'tenant == "b"' } }, { action: 'Pass' }] }),
];
const REFS = ['tenant-a/client', 'tenant-a/web', 'tenant-b/client'];
const Q = { protocol: 'TCP', port: 80 };

test('the staged view follows every edit, equals the from-scratch view, and leaves the enforced state alone', () => {
  const cache = createResourceCache('n1');
  const put = (r: Resource) => cache.put(resourceKey(r), r);
  for (const r of cluster) put(r);
  assert.is(cache.stagedView(), undefined, 'no staged policy: no staged view');
  const check = (what: string) => {
    const sv = cache.stagedView()!;
    const { resources, changes } = applyStaged(cache.list());
    assert.equal(sv.changes, changes, `${what}: changes`);
    assert.equal(matrixIn(sv.view, REFS, Q), matrixIn(resourceView(resources), REFS, Q), `${what}: staged matrix`);
    assert.equal(cache.desired(), computeDesiredState({ nodeName: 'n1', resources: cache.list().filter((r) => !isStagedPolicy(r)) }), `${what}: the enforced state is as without staged policies`);
  };
  put(snp('tenant-a', 'web', { stagedAction: 'Delete' }));
  check('a staged Delete');
  put(sgnp('isolate', { selector: 'app == "client"', ingress: [{ action: 'Deny' }] }));
  check('a staged Set added');
  put(np('tenant-a', 'web', { selector: 'app == "web"', ingress: [{ action: 'Deny' }] }));
  check('the enforced policy a staged Delete names, edited');
  put(snp('tenant-a', 'web', { stagedAction: 'Ignore', ingress: [{ action: 'Allow' }] }));
  check('the staged Delete turned Ignore');
  cache.delete(resourceKey(sgnp('isolate', {})));
  check('a staged policy deleted');
  put(gnp('later', { selector: 'all()', ingress: [{ action: 'Pass' }] }));
  check('an unrelated policy added');
  cache.delete(resourceKey(snp('tenant-a', 'web', { stagedAction: 'Delete' })));
  assert.is(cache.stagedView(), undefined, 'the last staged policy gone: no staged view');
});

test.run();
