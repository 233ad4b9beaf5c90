// Staged policies through trellisctl against a real etcd: stored and listed by Calico's
// names (snp, sgnp, ...), never refused as unsupported; `policy preview` prints exactly
// which pairs of endpoints the stored and the given staged policies would change, and
// `policy explain --staged` the verdict with them carried out.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { runCli, type CliRun } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'trellis-staged-'));
const emptyConfig = join(dir, 'empty.yaml');
writeFileSync(emptyConfig, '');
const WEPS = 'test/cli/fixtures/staged-weps.yaml';
let etcd: TestEtcd;

const ctl = (args: string[], input?: string): Promise<CliRun> => runCli(args, { TRELLIS_CONFIG: emptyConfig, TRELLIS_ETCD_ENDPOINTS: etcd.endpoints.join(','), TRELLIS_STORE_PREFIX: '/staged/' }, input);

function expectExit(r: CliRun, code: number, what: string) {
  assert.is(r.code, code, `${what}: exit ${r.code}, expected ${code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
}

test.before(async () => {
  etcd = await startTestEtcd();
});
test.after(async () => {
  await etcd?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('staged policies apply, list by every alias and delete like any resource', async () => {
  expectExit(await ctl(['apply', '-f', 'policies/', '-f', WEPS]), 0, 'apply the cluster');
  const applied = await ctl(['apply', '-f', 'examples/staged-policy.yaml']);
  expectExit(applied, 0, 'apply examples/staged-policy.yaml');
  assert.match(applied.stdout, /^StagedNetworkPolicy tenant-a\/web-from-tenant-b applied \(revision \d+\)\nStagedGlobalNetworkPolicy deny-ssh applied \(revision \d+\)\n$/);

  const snp = await ctl(['get', 'snp', '-n', 'tenant-a', '-o', 'wide']);
  expectExit(snp, 0, 'get snp');
  assert.is(snp.stdout, 'NAMESPACE   NAME                ACTION   TIER      ORDER   SELECTOR\ntenant-a    web-from-tenant-b   Set      default   100     app == "web"\n');
  for (const alias of ['StagedNetworkPolicy', 'stagednetworkpolicies', 'stagedpolicy', 'stagedpolicies', 'spol', 'SPOLS']) {
    const r = await ctl(['get', alias, '-n', 'tenant-a', '-o', 'wide']);
    assert.is(r.stdout, snp.stdout, `get ${alias} lists what get snp lists`);
  }
  const sgnp = await ctl(['get', 'sgnp']);
  assert.is(sgnp.stdout, 'NAME       ACTION   TIER\ndeny-ssh   Delete   default\n', 'get sgnp');
  for (const alias of ['stagedglobalnetworkpolicy', 'StagedGlobalNetworkPolicies', 'sgnps']) assert.is((await ctl(['get', alias])).stdout, sgnp.stdout, `get ${alias}`);
  const yaml = await ctl(['get', 'sgnp', 'deny-ssh', '-o', 'yaml']);
  assert.match(yaml.stdout, /^kind: StagedGlobalNetworkPolicy$/m);
  assert.match(yaml.stdout, /^ {2}stagedAction: Delete$/m);

  // The enforced policies are untouched: a staged policy is a record beside them, not an edit of them.
  const np = await ctl(['get', 'np', 'web-from-tenant-b', '-n', 'tenant-a', '-o', 'json']);
  assert.equal(JSON.parse(np.stdout).spec.ingress[0].source, { namespaceSelector: 'tenant == "b"' }, 'NetworkPolicy tenant-a/web-from-tenant-b is as applied');
  expectExit(await ctl(['get', 'gnp', 'deny-ssh']), 0, 'GlobalNetworkPolicy deny-ssh is still there');
});

test('policy preview: the stored staged policies, then a file\'s over them, exactly', async () => {
  const stored = await ctl(['policy', 'preview', '--port', '22/TCP']);
  expectExit(stored, 0, 'preview of the stored staged policies');
  assert.is(stored.stdout, [
    'StagedGlobalNetworkPolicy deny-ssh (Delete): removes GlobalNetworkPolicy deny-ssh',
    'StagedNetworkPolicy tenant-a/web-from-tenant-b (Set): replaces NetworkPolicy tenant-a/web-from-tenant-b',
    '22/TCP between 4 endpoints (12 pairs): 4 verdicts would change',
    '  tenant-a/a-client -> tenant-a/a-web: DENIED -> ALLOWED',
    '  tenant-a/a-web -> tenant-a/a-client: DENIED -> ALLOWED',
    '  tenant-b/b-client -> tenant-b/b-web: DENIED -> ALLOWED',
    '  tenant-b/b-web -> tenant-b/b-client: DENIED -> ALLOWED',
    '',
  ].join('\n'));

  // The file's deny-ssh (Ignore) replaces the stored one (Delete); a new staged policy opens tenant b's web to tenant a.
  const file = join(dir, 'more.yaml');
  writeFileSync(file, `apiVersion: projectcalico.org/v3
kind: StagedGlobalNetworkPolicy
metadata: {name: deny-ssh}
spec: {stagedAction: Ignore}
---
apiVersion: projectcalico.org/v3
kind: StagedNetworkPolicy
metadata: {name: web-from-tenant-a, namespace: tenant-b}
spec:
  order: 100
  selector: app == "web"
  ingress: [{action: Allow, protocol: TCP, source: {namespaceSelector: tenant == "a"}, destination: {ports: [80]}}]
`);
  const r = await ctl(['policy', 'preview', '-f', file]);
  expectExit(r, 0, 'preview with a file');
  assert.is(r.stdout, [
    'StagedGlobalNetworkPolicy deny-ssh (Ignore): proposes nothing',
    'StagedNetworkPolicy tenant-a/web-from-tenant-b (Set): replaces NetworkPolicy tenant-a/web-from-tenant-b',
    'StagedNetworkPolicy tenant-b/web-from-tenant-a (Set): adds NetworkPolicy tenant-b/web-from-tenant-a',
    '80/TCP between 4 endpoints (12 pairs): 3 verdicts would change',
    '  tenant-a/a-client -> tenant-b/b-web: DENIED -> ALLOWED',
    '  tenant-a/a-web -> tenant-b/b-web: DENIED -> ALLOWED',
    '  tenant-b/b-web -> tenant-a/a-web: ALLOWED -> DENIED',
    '',
  ].join('\n'));

  const json = JSON.parse((await ctl(['policy', 'preview', '-f', file, '-o', 'json'])).stdout);
  assert.equal(json.cells.length, 3, '-o json carries the same cells');
  assert.is(json.changes[0].effect, 'proposes nothing');
});

test('policy explain --staged: the verdict with the staged policies carried out, and which they were', async () => {
  const args = ['policy', 'explain', '--from', 'tenant-b/b-web', '--to', 'tenant-a/a-web'];
  const now = await ctl(args);
  assert.match(now.stdout, /^ALLOWED: tenant-b\/b-web \(10\.65\.1\.1\) -> tenant-a\/a-web \(10\.65\.0\.1\) 80\/TCP$/m, 'in force: allowed');
  const staged = await ctl([...args, '--staged']);
  expectExit(staged, 0, 'explain --staged');
  assert.match(staged.stdout, /^DENIED: tenant-b\/b-web \(10\.65\.1\.1\) -> tenant-a\/a-web \(10\.65\.0\.1\) 80\/TCP$/m, 'staged: denied');
  assert.ok(staged.stdout.endsWith([
    '  decided by: no profile rule matched: default deny',
    'note: staged: StagedGlobalNetworkPolicy deny-ssh (Delete): removes GlobalNetworkPolicy deny-ssh',
    'note: staged: StagedNetworkPolicy tenant-a/web-from-tenant-b (Set): replaces NetworkPolicy tenant-a/web-from-tenant-b',
    '',
  ].join('\n')), `explain --staged ends with what decided and the staged policies:\n${staged.stdout}`);
});

test('bad input exits 2 with the reason', async () => {
  const cases: Array<[string[], string]> = [
    [['policy', 'preview', '-f', 'policies/global.yaml'], 'GlobalNetworkPolicy deny-ssh is not a staged policy: -f gives StagedNetworkPolicy or StagedGlobalNetworkPolicy to preview over the stored cluster (apply other kinds, or give the whole cluster with --offline)'],
    [['policy', 'preview', '--offline'], '--offline needs the whole cluster in -f FILE|DIR|- (endpoints, profiles, policies and the staged policies)'],
    [['policy', 'preview', '--port', 'ICMP/8'], '--port ICMP/8: preview takes a protocol without ICMP type (ICMP, ICMPv6)'],
    [['apply', '-f', '-'], '<stdin>:6:17 StagedNetworkPolicy default/x: spec.stagedAction: "Remove" is not one of Set, Delete, Learn, Ignore'],
  ];
  for (const [args, message] of cases) {
    const r = await ctl(args, 'apiVersion: projectcalico.org/v3\nkind: StagedNetworkPolicy\nmetadata:\n  name: x\nspec:\n  stagedAction: Remove\n');
    expectExit(r, 2, args.join(' '));
    assert.ok(r.stderr.includes(message), `${args.join(' ')}: stderr names the reason\n${r.stderr}`);
  }
});

test.run();
