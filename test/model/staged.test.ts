// StagedNetworkPolicy and StagedGlobalNetworkPolicy as resources: Calico's schema (a
// policy's fields plus stagedAction, default Set), Calico's checks of the policy a staged
// one would put in force, and a Delete that names its policy only. Exact messages.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { enforcedOf, formatIssue, parseResourceText, ResourceFileError, validateResource, type Resource, type StagedPolicy } from '../../src/model/index.js';

const doc = (kind: string, meta: string, spec: string) => `apiVersion: projectcalico.org/v3\nkind: ${kind}\nmetadata:\n${meta}spec:\n${spec}`;
const snp = (spec: string, name = 'x') => doc('StagedNetworkPolicy', `  name: ${name}\n  namespace: tenant-a\n`, spec);
const sgnp = (spec: string, name = 'x', extra = '') => doc('StagedGlobalNetworkPolicy', `  name: ${name}\n${extra}`, spec);

function issues(text: string): string[] {
  try {
    parseResourceText(text, 'staged.yaml');
    return [];
  } catch (e) {
    if (e instanceof ResourceFileError) return e.issues.map(formatIssue);
    throw e;
  }
}

const CASES: Array<[what: string, text: string, expected: string[]]> = [
  ['a staged policy with no action is a Set', snp('  selector: app == "web"\n  ingress: [{action: Allow}]\n'), []],
  ['Delete with its tier only', sgnp('  stagedAction: Delete\n  tier: platform\n', 'platform.x'), []],
  ['Learn and Ignore', snp('  stagedAction: Learn\n') + '---\n' + snp('  stagedAction: Ignore\n', 'y'), []],
  ['an action Calico does not know', snp('  stagedAction: Remove\n'),
    ['staged.yaml:7:17 StagedNetworkPolicy tenant-a/x: spec.stagedAction: "Remove" is not one of Set, Delete, Learn, Ignore']],
  ['a misspelt stagedAction', snp('  stagedActoin: Delete\n'),
    ['staged.yaml:7:3 StagedNetworkPolicy tenant-a/x: spec.stagedActoin: unknown field (did you mean "stagedAction"?)']],
  ['Delete with rules', snp('  stagedAction: Delete\n  selector: all()\n  ingress: [{action: Allow}]\n'),
    ['staged.yaml:8:13 StagedNetworkPolicy tenant-a/x: spec.selector: must be left out with stagedAction Delete (only tier may be given: selector, ingress set)']],
  ['a tiered staged policy named without its tier', sgnp('  tier: platform\n  selector: all()\n'),
    ['staged.yaml:4:9 StagedGlobalNetworkPolicy x: metadata.name: a policy of tier platform is named "platform.NAME" (Calico\'s tiered policy naming), not "x"']],
  ['the policy it would put in force is checked as that policy', sgnp('  preDNAT: true\n  ingress: [{action: Deny}]\n'),
    ['staged.yaml:5:1 StagedGlobalNetworkPolicy x: spec.applyOnForward: must be true when preDNAT is set (as in Calico)']],
  ['a staged global policy has no namespace', sgnp('  selector: all()\n', 'x', '  namespace: tenant-a\n'),
    ['staged.yaml:5:3 StagedGlobalNetworkPolicy x: metadata.namespace: unknown field: StagedGlobalNetworkPolicy is cluster-wide and has no namespace']],
];

for (const [what, text, expected] of CASES) {
  test(`staged: ${what}`, () => {
    assert.equal(issues(text), expected, what);
  });
}

test('parsed: stagedAction defaults to Set, the namespace to default; the enforced policy it stands for', () => {
  const [r] = parseResourceText(doc('StagedNetworkPolicy', '  name: web\n  resourceVersion: "12"\n', '  tier: default\n  selector: app == "web"\n'), 'staged.yaml') as [Resource];
  assert.is(r.kind, 'StagedNetworkPolicy');
  const s = r as StagedPolicy;
  assert.is(s.spec.stagedAction, 'Set');
  assert.is((s.metadata as { namespace?: string }).namespace, 'default');
  assert.equal(enforcedOf(s), {
    action: 'Set', target: { kind: 'NetworkPolicy', namespace: 'default', name: 'web' },
    policy: { apiVersion: 'projectcalico.org/v3', kind: 'NetworkPolicy', metadata: { name: 'web', namespace: 'default' }, spec: { tier: 'default', selector: 'app == "web"' } },
  }, 'the same name and namespace, the spec without stagedAction, no resourceVersion');
  const del = { ...s, spec: { ...s.spec, stagedAction: 'Delete' as const } };
  assert.equal(enforcedOf(del), { action: 'Delete', target: { kind: 'NetworkPolicy', namespace: 'default', name: 'web' } }, 'a Delete puts nothing in force');
});

test('a stored staged policy is a resource (no longer refused as a kind Trellis does not act on)', () => {
  const r = validateResource({ apiVersion: 'projectcalico.org/v3', kind: 'StagedGlobalNetworkPolicy', metadata: { name: 'p' }, spec: { stagedAction: 'Delete' } }, '/trellis/v1/stagedglobalnetworkpolicy/p');
  assert.is(r.kind, 'StagedGlobalNetworkPolicy');
});

test.run();
