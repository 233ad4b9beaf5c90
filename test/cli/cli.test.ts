// trellisctl through its process interface: exit codes (0 done, 1 refused by the store
// or store unreachable, 2 bad input), stdout/stderr, against a real etcd.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { cliEntry } from '../helpers/cli.js';
import { openStore, type Store } from '../../src/store/index.js';
import { KINDS, parseResourceText } from '../../src/model/index.js';

const root = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'trellis-cli-'));
const emptyConfig = join(dir, 'empty.yaml');
writeFileSync(emptyConfig, '');
let etcd: TestEtcd;
let store: Store;
let prefixN = 0;
let prefix = '/cli0/';

interface Run { code: number | null; stdout: string; stderr: string }

function ctl(args: string[], env: Record<string, string> = {}, input?: string): Promise<Run> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [...cliEntry(), ...args], {
      cwd: root,
      env: { ...process.env, TRELLIS_CONFIG: emptyConfig, TRELLIS_ETCD_ENDPOINTS: etcd.endpoints.join(','), TRELLIS_STORE_PREFIX: prefix, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => { stdout += b.toString(); });
    child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
    child.stdin.end(input ?? '');
    const t0 = Date.now();
    child.on('close', (code) => { if (process.env.CLI_TIMING) console.error(`[${Date.now() - t0}ms] ${args.join(' ')}`); done({ code, stdout, stderr }); });
  });
}

function expectExit(r: Run, code: number, what: string) {
  assert.is(r.code, code, `${what}: exit ${r.code}, expected ${code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
}

async function freshPrefix(): Promise<void> {
  prefix = `/cli${++prefixN}/`;
  await store?.close();
  store = openStore({ endpoints: etcd.endpoints, prefix });
}

async function countAll(): Promise<number> {
  let n = 0;
  for (const k of KINDS) n += (await store.list(k)).length;
  return n;
}

test.before(async () => {
  etcd = await startTestEtcd();
  await freshPrefix();
});
test.after(async () => {
  await store?.close();
  await etcd?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const badFolder = () => {
  const d = join(dir, `bad-${Date.now()}`);
  cpSync(join(root, 'policies'), d, { recursive: true });
  writeFileSync(join(d, 'zz-typo.yaml'), 'apiVersion: trellis.dev/v1\nkind: NetworkPolicy\nmetadata:\n  name: typo\n  namespace: tenant-a\nspec:\n  ingress:\n    - action: allow\n');
  return d;
};

test('validate: policies/ is valid (exit 0); a bad file is named with its line (exit 2)', async () => {
  const ok = await ctl(['validate', '-f', 'policies/'], { TRELLIS_ETCD_ENDPOINTS: 'http://127.0.0.1:1' });
  expectExit(ok, 0, 'validate policies/ (no etcd needed)');
  assert.match(ok.stdout, /NetworkPolicy tenant-a\/web-from-tenant-b: valid/);
  assert.match(ok.stdout, /GlobalNetworkPolicy deny-ssh: valid/);
  const bad = await ctl(['validate', '-f', badFolder()]);
  expectExit(bad, 2, 'validate with a bad file');
  assert.match(bad.stderr, /zz-typo\.yaml:8:\d+ .*spec\.ingress\[0\]\.action/, 'error names file, line and field');
});

test('apply of a folder with one bad file writes nothing (exit 2)', async () => {
  await freshPrefix();
  const r = await ctl(['apply', '-f', badFolder()]);
  expectExit(r, 2, 'apply with a bad file');
  assert.is(await countAll(), 0, 'no resource was written');
  assert.is(r.stdout, '', 'nothing reported as applied');
});

test('apply policies/ writes every resource (exit 0); get shows them in every format', async () => {
  await freshPrefix();
  const r = await ctl(['apply', '-f', 'policies/']);
  expectExit(r, 0, 'apply policies/');
  const expected = parseResourceText(readdirSync(join(root, 'policies')).filter((f) => /\.ya?ml$/.test(f)).map((f) => `---\n${readPolicy(f)}`).join('\n'), 'policies');
  assert.is(await countAll(), expected.length, 'one stored resource per document in policies/');
  assert.match(r.stdout, /NetworkPolicy tenant-a\/web-from-tenant-b applied \(revision \d+\)/);

  const table = await ctl(['get', 'gnp']);
  expectExit(table, 0, 'get gnp');
  assert.match(table.stdout, /^NAME\s+ORDER\s+SELECTOR\n/);
  assert.match(table.stdout, /deny-ssh\s+10\s+all\(\)/);

  const wide = await ctl(['get', 'np', '-A', '-o', 'wide']);
  expectExit(wide, 0, 'get np -A -o wide');
  assert.match(wide.stdout, /NAMESPACE\s+NAME\s+ORDER\s+SELECTOR\s+TYPES/);
  assert.match(wide.stdout, /tenant-a\s+web-from-tenant-b/);
  const defaultNs = await ctl(['get', 'np']);
  assert.not.match(defaultNs.stdout, /web-from-tenant-b/, 'without -n/-A only the default namespace is listed');

  const yaml = await ctl(['get', 'NameSpaces', '-o', 'yaml']);
  expectExit(yaml, 0, 'get NameSpaces -o yaml');
  const back = parseResourceText(yaml.stdout, 'get-output');
  assert.equal(back.map((x) => x.metadata.name).sort(), ['tenant-a', 'tenant-b'], 'YAML output parses back into the resources');

  const json = await ctl(['get', 'networkpolicy', 'web-from-tenant-b', '-n', 'tenant-a', '-o', 'json']);
  expectExit(json, 0, 'get one as JSON');
  const obj = JSON.parse(json.stdout);
  assert.is(obj.kind, 'NetworkPolicy');
  assert.match(obj.metadata.resourceVersion, /^\d+$/);
});

function readPolicy(f: string): string {
  return readFileSync(join(root, 'policies', f), 'utf8');
}

test('kind names: case-insensitive, plural and short forms', async () => {
  const outs = await Promise.all(['networkpolicy', 'NetworkPolicies', 'netpol', 'NP'].map((k) => ctl(['get', k, '-A'])));
  for (const o of outs) expectExit(o, 0, 'get with an alias');
  for (const o of outs) assert.is(o.stdout, outs[0]!.stdout, 'every alias lists the same');
  const prof = await ctl(['get', 'profiles']);
  assert.match(prof.stdout, /tenant-a/);
  const bad = await ctl(['get', 'widgets']);
  expectExit(bad, 2, 'unknown kind');
  assert.match(bad.stderr, /unknown resource kind "widgets"/);
});

test('store refusals exit 1: exists, stale resourceVersion, not found', async () => {
  const exists = await ctl(['create', '-f', 'policies/global.yaml']);
  expectExit(exists, 1, 'create of an existing resource');
  assert.match(exists.stderr, /already exists/);

  const got = await ctl(['get', 'gnp', 'deny-ssh', '-o', 'yaml']);
  const stale = join(dir, 'stale.yaml');
  writeFileSync(stale, got.stdout.replace('order: 10', 'order: 11'));
  expectExit(await ctl(['apply', '-f', 'policies/global.yaml']), 0, 'someone else changes it');
  const conflict = await ctl(['replace', '-f', stale]);
  expectExit(conflict, 1, 'replace from a stale read');
  assert.match(conflict.stderr, /changed by someone else/);
  assert.is(((await store.get({ kind: 'GlobalNetworkPolicy', name: 'deny-ssh' }))?.resource.spec as { order?: number } | undefined)?.order, 10, 'the stale replace did not overwrite');

  const missing = await ctl(['get', 'gnp', 'nope']);
  expectExit(missing, 1, 'get of a missing resource');
  assert.match(missing.stderr, /not found/);
});

test('delete by KIND NAME and by -f; deleting twice exits 1', async () => {
  const del = await ctl(['delete', 'gnp', 'deny-ssh']);
  expectExit(del, 0, 'delete gnp deny-ssh');
  assert.is(await store.get({ kind: 'GlobalNetworkPolicy', name: 'deny-ssh' }), null);
  expectExit(await ctl(['delete', 'gnp', 'deny-ssh']), 1, 'second delete');
  expectExit(await ctl(['delete', '-f', 'policies/tenant-a.yaml']), 0, 'delete -f');
  assert.is(await store.get({ kind: 'NetworkPolicy', namespace: 'tenant-a', name: 'web-from-tenant-b' }), null);
  expectExit(await ctl(['delete', 'gnp']), 2, 'delete without a name');
});

test('apply from stdin', async () => {
  const r = await ctl(['apply', '-f', '-'], {}, readPolicy('global.yaml'));
  expectExit(r, 0, 'apply -f -');
  assert.ok(await store.get({ kind: 'GlobalNetworkPolicy', name: 'deny-ssh' }));
});

test('NetworkSet and GlobalNetworkSet (examples/networkset.yaml): apply, get by every alias, delete', async () => {
  await freshPrefix();
  const applied = await ctl(['apply', '-f', 'examples/networkset.yaml']);
  expectExit(applied, 0, 'apply examples/networkset.yaml');
  assert.match(applied.stdout, /^NetworkSet tenant-a\/payments-api applied \(revision \d+\)$/m);
  assert.match(applied.stdout, /^GlobalNetworkSet package-mirrors applied \(revision \d+\)$/m);
  const sets = await Promise.all(['networkset', 'NetworkSets', 'netset'].map((k) => ctl(['get', k, '-n', 'tenant-a'])));
  for (const o of sets) expectExit(o, 0, 'get networkset');
  for (const o of sets) assert.is(o.stdout, sets[0]!.stdout, 'every NetworkSet alias lists the same');
  assert.equal(sets[0]!.stdout.split('\n').map((l) => l.trim().split(/\s+/)), [['NAMESPACE', 'NAME', 'NETS'], ['tenant-a', 'payments-api', '192.0.2.0/24,2001:db8:10::/48'], ['']]);
  const globals = await ctl(['get', 'gns', '-o', 'wide']);
  expectExit(globals, 0, 'get gns');
  assert.match(globals.stdout, /package-mirrors\s+198\.51\.100\.10\/32,198\.51\.100\.11\/32\s+role=mirror/);
  const yaml = await ctl(['get', 'globalnetworkset', 'package-mirrors', '-o', 'yaml']);
  assert.match(yaml.stdout, /kind: GlobalNetworkSet/);
  expectExit(await ctl(['delete', 'netset', 'payments-api', '-n', 'tenant-a']), 0, 'delete networkset');
  assert.is(await store.get({ kind: 'NetworkSet', namespace: 'tenant-a', name: 'payments-api' }), null, 'the NetworkSet is gone');
  expectExit(await ctl(['delete', '-f', 'examples/networkset.yaml']), 1, 'delete -f: the NetworkSet is already gone');
  assert.is(await store.get({ kind: 'GlobalNetworkSet', name: 'package-mirrors' }), null, 'the GlobalNetworkSet is gone');
});

test('BGPFilter (examples/bgpfilter.yaml): apply, get by calicoctl\'s aliases, a BGPPeer naming a deleted filter is warned of', async () => {
  await freshPrefix();
  const applied = await ctl(['apply', '-f', 'examples/bgpfilter.yaml']);
  expectExit(applied, 0, 'apply examples/bgpfilter.yaml');
  assert.match(applied.stdout, /^BGPFilter tor-edge applied \(revision \d+\)$/m);
  assert.is(applied.stderr, '', 'the BGPPeer\'s filter exists: no warning');
  const lists = await Promise.all(['bgpfilter', 'BGPFilters', 'bgpf', 'bf'].map((k) => ctl(['get', k])));
  for (const o of lists) expectExit(o, 0, 'get bgpfilter');
  for (const o of lists) assert.is(o.stdout, lists[0]!.stdout, 'every BGPFilter alias lists the same');
  assert.equal(lists[0]!.stdout.split('\n').map((l) => l.trim().split(/\s{2,}/)), [['NAME', 'NUMEXPORT', 'NUMIMPORT'], ['tor-edge', '2', '4'], ['']]);
  const wide = await ctl(['get', 'bfs', 'tor-edge', '-o', 'wide']);
  assert.match(wide.stdout, /tor-edge\s+2\s+4\s+2\/0, 3\/1\n/, 'wide: rules per direction and family');
  const deleted = await ctl(['delete', 'bgpfilter', 'tor-edge']);
  expectExit(deleted, 0, 'delete bgpfilter');
  assert.is(deleted.stderr, 'trellisctl: warning: BGPPeer rack2-tor names BGPFilter tor-edge, which does not exist: the peer runs without it until it does\n');
  const peer = await ctl(['apply', '-f', '-'], {}, readFileSync(join(root, 'examples/bgpfilter.yaml'), 'utf8').split('---\n')[1]);
  expectExit(peer, 0, 'apply the BGPPeer alone');
  assert.match(peer.stderr, /warning: BGPPeer rack2-tor names BGPFilter tor-edge, which does not exist/, 'applying a peer whose filter is missing is warned of');
});

test('selector test: true/false exit 0; a bad expression or labels exit 2', async () => {
  const [yes, no, bad, badLabels] = await Promise.all([
    ctl(['selector', 'test', 'app == "web" && has(tenant)', '--labels', '{"app":"web","tenant":"a"}']),
    ctl(['selector', 'test', 'app == "web"', '--labels', '{"app":"db"}']),
    ctl(['selector', 'test', 'app == ', '--labels', '{}']),
    ctl(['selector', 'test', 'all()', '--labels', '[1]']),
  ]);
  expectExit(yes, 0, 'matching selector');
  assert.is(yes.stdout, 'true\n');
  expectExit(no, 0, 'non-matching selector');
  assert.is(no.stdout, 'false\n');
  expectExit(bad, 2, 'invalid expression');
  assert.match(bad.stderr, /invalid selector: .*column/);
  assert.is(bad.stdout, '');
  expectExit(badLabels, 2, 'labels not an object');
});

test('unreachable etcd exits 1; bad flags and commands exit 2', async () => {
  const [down, unknown, badOutput, missing, badEnv, help] = await Promise.all([
    ctl(['get', 'gnp', '--etcd-endpoints', 'http://127.0.0.1:1']),
    ctl(['frobnicate']),
    ctl(['get', 'gnp', '-o', 'xml']),
    ctl(['apply', '-f', join(dir, 'nope.yaml')]),
    ctl(['get', 'gnp'], { TRELLIS_ETCD_ENDPOINTS: 'etcd:2379' }),
    ctl(['--help']),
  ]);
  expectExit(down, 1, 'unreachable etcd');
  assert.match(down.stderr, /etcd unavailable/);
  expectExit(unknown, 2, 'unknown command');
  expectExit(badOutput, 2, 'bad output format');
  expectExit(missing, 2, 'missing file');
  expectExit(badEnv, 2, 'bad TRELLIS_ETCD_ENDPOINTS');
  assert.match(badEnv.stderr, /TRELLIS_ETCD_ENDPOINTS: etcdEndpoints/);
  expectExit(help, 0, '--help');
});

test.run();
