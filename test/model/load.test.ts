// Resource YAML: what is accepted (and the defaults filled in), and what is refused,
// with every message exact: file:line:col, resource, field path, what is wrong.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  formatIssue, parseResourceText, parseResourceTexts, ResourceFileError, validateResource, type Resource,
} from '../../src/model/index.js';

const badDir = join(import.meta.dirname, 'fixtures', 'bad');

function refusal(fn: () => unknown): ResourceFileError {
  try { fn(); } catch (e) {
    if (e instanceof ResourceFileError) return e;
    throw e;
  }
  throw new Error('expected a ResourceFileError, but the input was accepted');
}

const badFiles = readdirSync(badDir).filter((f) => f.endsWith('.yaml')).sort();

test('fixtures/bad: there are fixtures, each stating what it expects', () => {
  assert.ok(badFiles.length >= 12, `at least 12 bad fixtures, found ${badFiles.length}`);
});

for (const f of badFiles) {
  test(`fixtures/bad/${f} is refused with exactly its expected messages`, () => {
    const text = readFileSync(join(badDir, f), 'utf8');
    const expected = text.split('\n').filter((l) => l.startsWith('# expect: ')).map((l) => l.slice('# expect: '.length));
    assert.ok(expected.length > 0, `${f} has "# expect: " lines`);
    const err = refusal(() => parseResourceText(text, `bad/${f}`));
    assert.is(err.code, 'INVALID_RESOURCE');
    assert.equal(err.issues.map(formatIssue), expected, `${f}: messages`);
    assert.is(err.message, expected.join('\n'), `${f}: the error message lists every issue`);
  });
}

const pool = (name: string, cidr = '10.0.0.0/16') => `apiVersion: trellis.dev/v1\nkind: IPPool\nmetadata:\n  name: ${name}\nspec:\n  cidr: ${cidr}\n`;

test('multi-document files: empty documents are skipped, order is kept', () => {
  const text = `---\n# nothing here\n---\n${pool('a')}---\n---\n~\n---\n${pool('b')}...\n`;
  const rs = parseResourceText(text, 'x.yaml');
  assert.equal(rs.map((r) => r.metadata.name), ['a', 'b']);
  assert.equal(parseResourceText('', 'empty.yaml'), [], 'an empty file holds no resources');
  assert.equal(parseResourceText('# just a comment\n', 'c.yaml'), []);
});

test('namespaced kinds default to namespace "default"; cluster kinds get none', () => {
  const [np, gnp] = parseResourceText(
    'apiVersion: trellis.dev/v1\nkind: NetworkPolicy\nmetadata: {name: p}\nspec: {}\n---\n'
    + 'apiVersion: trellis.dev/v1\nkind: GlobalNetworkPolicy\nmetadata: {name: g}\nspec: {}\n', 'ns.yaml') as [Resource, Resource];
  assert.is((np.metadata as { namespace?: string }).namespace, 'default');
  assert.not.ok('namespace' in gnp.metadata, 'GlobalNetworkPolicy has no namespace');
});

test('projectcalico.org/v3 means the same as trellis.dev/v1', () => {
  const body = 'kind: NetworkPolicy\nmetadata:\n  name: p\n  namespace: t\nspec:\n  selector: app == "web"\n  ingress:\n    - action: Allow\n      protocol: TCP\n      destination: {ports: [80]}\n';
  const [native] = parseResourceText(`apiVersion: trellis.dev/v1\n${body}`, 'a.yaml');
  const [calico] = parseResourceText(`apiVersion: projectcalico.org/v3\n${body}`, 'b.yaml');
  assert.ok(native && calico);
  assert.equal(calico.spec, native.spec, 'same spec');
  assert.equal(calico.metadata, native.metadata, 'same metadata');
});

test('parseResourceTexts: all files or none; duplicates across files are refused', () => {
  const ok = parseResourceTexts([{ text: pool('a'), fileName: 'd/1.yaml' }, { text: pool('b'), fileName: 'd/2.yaml' }]);
  assert.equal(ok.map((r) => r.metadata.name), ['a', 'b']);
  const bad = refusal(() => parseResourceTexts([
    { text: pool('a'), fileName: 'd/1.yaml' },
    { text: pool('b', '10.0.0.0/99'), fileName: 'd/2.yaml' },
  ]));
  assert.equal(bad.issues.map(formatIssue), ['d/2.yaml:6:9 IPPool b: spec.cidr: "10.0.0.0/99" is not a valid IPv4 or IPv6 CIDR (e.g. 10.0.0.0/8, fd00::/64)']);
  const dup = refusal(() => parseResourceTexts([{ text: pool('a'), fileName: 'd/1.yaml' }, { text: pool('a', '10.1.0.0/16'), fileName: 'd/2.yaml' }]));
  assert.equal(dup.issues.map(formatIssue), ['d/2.yaml:4:9 IPPool a: metadata.name: duplicate: IPPool a is already defined at d/1.yaml:4']);
});

test('validateResource: values from etcd get the same checks, named by their source', () => {
  const value = { apiVersion: 'trellis.dev/v1', kind: 'NetworkPolicy', metadata: { name: 'web', namespace: 'tenant-a' }, spec: { ingress: [{ action: 'allow' }] } };
  const err = refusal(() => validateResource(value, '/trellis/v1/networkpolicy/tenant-a/web'));
  assert.equal(err.issues.map(formatIssue), ['/trellis/v1/networkpolicy/tenant-a/web NetworkPolicy tenant-a/web: spec.ingress[0].action: "allow" is not one of Allow, Deny, Log, Pass']);
  const r = validateResource({ apiVersion: 'projectcalico.org/v3', kind: 'WorkloadEndpoint', metadata: { name: 'w' }, spec: { node: 'h', interfaceName: 'cali1', ipNetworks: ['10.0.0.1/32'] } }, 'etcd');
  assert.is((r.metadata as { namespace?: string }).namespace, 'default');
  assert.equal(refusal(() => validateResource('garbage', 'k')).issues.map(formatIssue), ['k: a resource must be a mapping with apiVersion, kind, metadata and spec, not the string "garbage"']);
  assert.equal(refusal(() => validateResource({ kind: 'Namespace', apiVersion: 'trellis.dev/v1', metadata: { name: 'n' }, spec: { x: 1 } }, 'k')).issues.map(formatIssue), ['k Namespace n: spec.x: unknown field']);
});

test('validateResource: checks across fields only when asked (new input), never for stored values by default', () => {
  const v = { apiVersion: 'trellis.dev/v1', kind: 'IPPool', metadata: { name: 'p' }, spec: { cidr: '10.0.0.0/28', blockSize: 26 } };
  assert.is(validateResource(v, 'etcd').kind, 'IPPool', 'a stored value is accepted');
  assert.equal(refusal(() => validateResource(v, 'api', { semantic: true })).issues.map(formatIssue),
    ['api IPPool p: spec.blockSize: the pool (/28) is smaller than its block size (/26): IPAM hands out whole blocks, so a pool must hold at least one']);
  assert.ok(refusal(() => parseResourceText(`apiVersion: trellis.dev/v1\nkind: IPPool\nmetadata: {name: p}\nspec: {cidr: 10.0.0.0/28, blockSize: 26}\n`, 'f.yaml')).issues.length === 1, 'YAML input gets the checks');
});

test('formatIssue: with and without position, resource and path', () => {
  assert.is(formatIssue({ source: 'policies/tenant-a.yaml', line: 14, column: 9, resource: 'NetworkPolicy tenant-a/web', path: 'spec.ingress[0].action', message: '"allow" is not one of Allow, Deny, Log, Pass' }),
    'policies/tenant-a.yaml:14:9 NetworkPolicy tenant-a/web: spec.ingress[0].action: "allow" is not one of Allow, Deny, Log, Pass');
  assert.is(formatIssue({ source: 'etcd', path: '', message: 'm' }), 'etcd: m');
  assert.is(formatIssue({ source: 'f.yaml', line: 1, column: 1, resource: 'document 2', path: '', message: 'm' }), 'f.yaml:1:1 document 2: m');
});

test('YAML aliases cannot blow up memory (billion laughs is refused)', () => {
  const laughs = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let i = 1; i < 9; i++) laughs.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill(`*${String.fromCharCode(96 + i)}`).join(',')}]`);
  const err = refusal(() => parseResourceText(laughs.join('\n'), 'lol.yaml'));
  assert.ok(/alias/i.test(err.message), `refused for its aliases: ${err.message}`);
});

test.run();
