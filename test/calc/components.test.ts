// The calculator's parts, inspected directly: the set index's references and members,
// the policy index's per-endpoint matches and users, the endpoint index, and the output
// cache's reuse. These are the state that decides what the dataplane renders.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createCalculator } from '../../src/calc/index.js';
import { resourceKey } from '../../src/model/index.js';
import { namespace, np, profile, wep } from './_fixtures.js';

const WEB = 'WorkloadEndpoint/a/web';
const DB = 'WorkloadEndpoint/a/db';
const REMOTE = 'WorkloadEndpoint/a/far';

function cluster() {
  const calc = createCalculator('n1');
  calc.upsert(namespace('a'));
  calc.upsert(wep('a', 'web', { node: 'n1', ip: '10.0.0.1', labels: { app: 'web' } }));
  calc.upsert(wep('a', 'db', { node: 'n1', ip: '10.0.0.2', labels: { app: 'db' } }));
  calc.upsert(wep('a', 'far', { node: 'n2', ip: '10.0.0.3', labels: { app: 'web' } }));
  calc.upsert(np('a', 'web-from-db', { selector: 'app == "web"', ingress: [{ action: 'Allow', source: { selector: 'app == "db"' } }] }));
  return calc;
}
const POLICY = 'NetworkPolicy/a/web-from-db';

test('policy index: the policy applies to the local web endpoint only, and is used', () => {
  const { policies } = cluster().parts;
  assert.equal([...policies.applied.get(WEB)!.ingress], [POLICY], 'web is selected by the policy (ingress)');
  assert.equal([...policies.applied.get(DB)!.ingress], [], 'db is not selected');
  assert.not.ok(policies.applied.has(REMOTE), 'a remote endpoint is not matched on this node');
  assert.equal([...policies.usage.users.get(POLICY)!], [WEB], 'web is the only user');
  assert.ok(policies.usage.used.has(POLICY), 'a policy with a user is in use');
  assert.equal(policies.applicable({ app: 'web', 'projectcalico.org/namespace': 'a' }).ingress, [POLICY], 'applicable() matches labels without keeping them');
});

test('set index: a used policy holds its source set; members come from every node', () => {
  const calc = cluster();
  const { sets } = calc.parts;
  const held = sets.held.get(`policy:${POLICY}`);
  assert.ok(held && held.length === 1, 'the policy holds one set');
  const s = sets.sets.get(held[0]!.id)!;
  assert.is(s.refs, 1, 'one reference');
  assert.equal([...s.eps], [DB], 'db is in the app == "db" set');
  assert.equal(s.sorted, ['10.0.0.2/32'], 'members are db\'s address');
  calc.upsert(wep('a', 'far', { node: 'n2', ip: '10.0.0.3', labels: { app: 'db' } }));
  assert.equal(s.sorted, ['10.0.0.2/32', '10.0.0.3/32'], 'a remote endpoint relabelled to db joins the set');
  assert.equal(calc.state().ipsets[0]!.members, s.sorted, 'state() renders the set index members');
});

test('claims: two endpoints with one address are both refused (out of every set) until one leaves', () => {
  const calc = cluster();
  const { sets } = calc.parts;
  const s = sets.sets.get(sets.held.get(`policy:${POLICY}`)![0]!.id)!;
  calc.upsert(wep('a', 'db2', { node: 'n2', ip: '10.0.0.2', labels: { app: 'db' } }));
  assert.equal(s.sorted, [], 'a claimed address opens nothing: neither claimant is a member');
  assert.equal([...calc.refused()].sort(), [
    [DB, ['address 10.0.0.2/32 is also claimed by WorkloadEndpoint/a/db2']],
    ['WorkloadEndpoint/a/db2', [`address 10.0.0.2/32 is also claimed by ${DB}`]],
  ], 'both are refused, each naming the other');
  assert.not.ok(calc.state().endpoints.some((e) => e.id === DB), 'the local claimant is not programmed');
  calc.remove(resourceKey(wep('a', 'db2', { ip: '10.0.0.2' })));
  assert.equal(s.sorted, ['10.0.0.2/32'], 'db is back once the other claim is gone');
  assert.is(calc.refused().size, 0, 'nothing refused any more');
  assert.ok(calc.state().endpoints.some((e) => e.id === DB), 'db programmed again');
});

test('claims: with IPPools, an endpoint outside every pool is refused; a pool that covers it brings it back', () => {
  const calc = cluster();
  const pool = (cidr: string) => ({ apiVersion: 'trellis.dev/v1', kind: 'IPPool', metadata: { name: `p-${cidr.replace(/[./]/g, '-')}` }, spec: { cidr } }) as never;
  calc.upsert(pool('10.0.0.0/31'));
  assert.equal([...calc.refused()], [[DB, ['address 10.0.0.2/32 is outside every IPPool']], [REMOTE, ['address 10.0.0.3/32 is outside every IPPool']]]);
  assert.equal(calc.state().endpoints.map((e) => e.id), [WEB], 'only the endpoint inside the pool is programmed');
  assert.equal(calc.state().routes.map((r) => r.dst), ['10.0.0.1/32'], 'no route for the refused one');
  calc.upsert(pool('10.0.0.0/24'));
  assert.is(calc.refused().size, 0, 'all inside a pool now');
  assert.equal(calc.state().endpoints.map((e) => e.id).sort(), [DB, WEB]);
});

test('set index: a policy that loses its last local user releases its sets', () => {
  const calc = cluster();
  calc.upsert(wep('a', 'web', { node: 'n1', ip: '10.0.0.1', labels: { app: 'other' } }));
  const { sets, policies } = calc.parts;
  assert.not.ok(policies.usage.used.has(POLICY), 'no user: not in use');
  assert.is(sets.held.size, 0, 'nothing held');
  assert.is(sets.sets.size, 0, 'no active sets');
  assert.equal(calc.state().policies, [], 'an unused policy is not rendered');
});

test('profiles: a listed profile is used and holds its sets; a missing one is not rendered', () => {
  const calc = createCalculator('n1');
  calc.upsert(wep('a', 'web', { node: 'n1', ip: '10.0.0.1', profiles: ['p', 'missing'] }));
  calc.upsert(profile('p', { ingress: [{ action: 'Allow', source: { nets: ['192.0.2.0/24'] } }] }));
  const { profiles, sets } = calc.parts;
  assert.ok(profiles.used.has('p'), 'p is used');
  assert.not.ok(profiles.used.has('missing'), 'a profile that does not exist is not used');
  assert.equal([...profiles.users.get('missing')!], [WEB], 'but its user is remembered for when it appears');
  assert.is(sets.held.get('profile:p')?.length, 1, 'p holds its nets set');
  assert.equal(calc.state().endpoints[0]!.ingress.profiles, ['Profile/p'], 'only existing profiles are listed');
});

test('endpoint index: by namespace, by address, relabel on namespace labels', () => {
  const calc = cluster();
  const { endpoints } = calc.parts;
  assert.equal([...endpoints.inNamespace('a')!].sort(), [DB, REMOTE, WEB], 'all three in namespace a');
  assert.equal([...endpoints.withAddress('10.0.0.3/32')!], [REMOTE], 'address index');
  calc.upsert(namespace('a', { team: 'x' }));
  assert.is(endpoints.infos.get(WEB)!.labels['pcns.team'], 'x', 'namespace labels are inherited');
});

test('output cache: an unrelated remote change rebuilds no endpoint state and keeps objects', () => {
  const calc = cluster();
  const first = calc.state();
  calc.upsert(wep('a', 'far', { node: 'n2', ip: '10.0.0.3', labels: { app: 'web', v: '2' } }));
  assert.is(calc.parts.output.cached, null, 'an update invalidates the cached state');
  assert.is(calc.parts.output.dirtyEndpoints.size, 0, 'no local endpoint went stale');
  const second = calc.state();
  assert.is(second.endpoints, first.endpoints, 'endpoint list is the same object');
  assert.is(second.ipsets, first.ipsets, 'set list is the same object (far is in no used set)');
});

test.run();
