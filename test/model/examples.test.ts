// Every resource YAML shipped in policies/ and examples/ validates, and the lab's
// policies say what the team brief specifies.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseResourceTexts, parseSelector, type Resource } from '../../src/model/index.js';

const root = join(import.meta.dirname, '..', '..');

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).sort().flatMap((e) => {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) return yamlFiles(p);
    // Only resource YAML: CNI .conflist/.json files and the like are someone else's format.
    return /\.ya?ml$/.test(e) ? [p] : [];
  });
}

// A YAML file is a resource file when its documents carry apiVersion and kind (the
// deployment folder may hold compose files or similar, which are not ours to check).
const isResourceFile = (text: string) => /^kind:\s/m.test(text) && /^apiVersion:\s/m.test(text);

const read = (dir: string) => yamlFiles(join(root, dir))
  .map((p) => ({ fileName: relative(root, p), text: readFileSync(p, 'utf8') }))
  .filter((f) => isResourceFile(f.text));

test('policies/ validates as one set', () => {
  const files = read('policies');
  const resources = parseResourceTexts(files);
  assert.ok(files.length >= 4, `policies/ holds its files (${files.map((f) => f.fileName).join(', ')})`);
  assert.ok(resources.length >= 6);
});

test('examples/**/*.yaml validate: each file alone, each folder as one set', () => {
  const files = read('examples');
  assert.ok(files.length >= 6, `examples/ holds one file per kind (${files.map((f) => f.fileName).join(', ')})`);
  for (const f of files) parseResourceTexts([f]);
  // Folders are independent examples (a deployment may reuse a name from the top level).
  const folders = new Map<string, typeof files>();
  for (const f of files) {
    const dir = dirname(f.fileName);
    folders.set(dir, [...(folders.get(dir) ?? []), f]);
  }
  for (const group of folders.values()) parseResourceTexts(group);
  const top = parseResourceTexts(folders.get('examples') ?? []);
  const kinds = new Set(top.map((r) => r.kind));
  for (const k of ['IPPool', 'BGPConfiguration', 'BGPPeer', 'BGPFilter', 'Node', 'WorkloadEndpoint', 'HostEndpoint', 'NetworkPolicy', 'GlobalNetworkPolicy']) {
    assert.ok(kinds.has(k as Resource['kind']), `examples/ shows ${k}`);
  }
  assert.ok(top.some((r) => r.apiVersion === 'projectcalico.org/v3'), 'examples/ shows a projectcalico.org/v3 resource');
  parseResourceTexts([...read('policies'), ...(folders.get('examples') ?? [])]);
});

function find<K extends Resource['kind']>(rs: Resource[], kind: K, name: string): Extract<Resource, { kind: K }> {
  const r = rs.find((x) => x.kind === kind && x.metadata.name === name);
  assert.ok(r, `policies/ defines ${kind} ${name}`);
  return r as Extract<Resource, { kind: K }>;
}

test('policies/ is the lab design: tenants, profiles, web-from-tenant-b, deny-ssh, pass-to-profiles', () => {
  const rs = parseResourceTexts(read('policies'));
  assert.equal(find(rs, 'Namespace', 'tenant-a').metadata.labels, { tenant: 'a' });
  assert.equal(find(rs, 'Namespace', 'tenant-b').metadata.labels, { tenant: 'b' });
  for (const t of ['a', 'b']) {
    const p = find(rs, 'Profile', `tenant-${t}`);
    assert.equal(p.spec.egress, [{ action: 'Allow' }]);
    assert.equal(p.spec.ingress, [{ action: 'Allow', source: { namespaceSelector: `tenant == "${t}"` } }]);
  }
  const np = find(rs, 'NetworkPolicy', 'web-from-tenant-b');
  assert.is(np.metadata.namespace, 'tenant-a');
  assert.is(parseSelector(np.spec.selector ?? '').canonical, 'app == "web"');
  assert.equal(np.spec.types, ['Ingress']);
  assert.is(np.spec.order, 100, 'web-from-tenant-b runs between deny-ssh (10) and pass-to-profiles (1000)');
  assert.equal(np.spec.ingress, [
    { action: 'Allow', protocol: 'TCP', source: { namespaceSelector: 'tenant == "b"' }, destination: { ports: [80] } },
  ]);
  const g = find(rs, 'GlobalNetworkPolicy', 'deny-ssh');
  assert.is(g.spec.order, 10);
  assert.is(parseSelector(g.spec.selector ?? '').canonical, 'all()');
  assert.equal(g.spec.types, ['Ingress']);
  assert.equal(g.spec.ingress, [{ action: 'Deny', protocol: 'TCP', destination: { ports: [22] } }]);
  const last = find(rs, 'GlobalNetworkPolicy', 'pass-to-profiles');
  assert.is(last.spec.order, 1000);
  assert.is(parseSelector(last.spec.selector ?? '').canonical, 'all()');
  assert.equal(last.spec.ingress, [{ action: 'Pass' }], 'pass-to-profiles hands the rest to the profiles');
});

test.run();
