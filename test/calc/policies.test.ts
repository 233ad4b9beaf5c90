// The real policies/ folder plus the lab's four containers (fixtures/lab-endpoints.yaml),
// evaluated by explainFlow and by `trellisctl policy explain -f` (offline): the team
// brief's intended TCP/80 matrix.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { explainFlow, type ExplainResult } from '../../src/calc/index.js';
import { parseResourceTexts } from '../../src/model/index.js';
import { cliEntry } from '../helpers/cli.js';

const root = resolve(import.meta.dirname, '../..');
const policiesDir = join(root, 'policies');
const endpointsFile = join(import.meta.dirname, 'fixtures/lab-endpoints.yaml');
const files = [
  ...readdirSync(policiesDir).filter((n) => /\.ya?ml$/.test(n)).sort().map((n) => join(policiesDir, n)),
  endpointsFile,
];
const resources = parseResourceTexts(files.map((f) => ({ text: readFileSync(f, 'utf8'), fileName: f })));

const explain = (from: string, to: string, port = 80): ExplainResult => explainFlow({ resources, from: { endpoint: from }, to: { endpoint: to }, protocol: 'TCP', port });
const decider = (r: ExplainResult) => (r.ingress.decidedBy.kind === 'rule' ? r.ingress.decidedBy.hit.origin : r.ingress.decidedBy.reason);

test('same tenant: allowed by the tenant profile', () => {
  for (const t of ['a', 'b']) {
    const r = explain(`tenant-${t}/client`, `tenant-${t}/web`);
    assert.ok(r.allowed, `tenant-${t}/client -> tenant-${t}/web`);
    assert.is(decider(r), `Profile tenant-${t} ingress[0]`, `tenant-${t} decided by its profile`);
  }
});

test('tenant-a -> tenant-b web: denied (tenant-b profile admits only tenant-b)', () => {
  const r = explain('tenant-a/client', 'tenant-b/web');
  assert.not.ok(r.allowed, 'denied');
  assert.ok(r.egress?.allowed, 'egress itself is allowed by the tenant-a profile');
  assert.is(decider(r), 'no profile rule matched: default deny', 'ingress default deny');
});

test('tenant-b -> tenant-a client: denied', () => {
  assert.not.ok(explain('tenant-b/client', 'tenant-a/client').allowed, 'denied');
});

test('SSH to any container: denied by deny-ssh', () => {
  for (const [f, t] of [['tenant-a/client', 'tenant-a/web'], ['tenant-b/client', 'tenant-b/web']] as const) {
    const r = explain(f, t, 22);
    assert.not.ok(r.allowed, `${f} -> ${t} TCP 22`);
    assert.is(decider(r), 'GlobalNetworkPolicy deny-ssh ingress[0]', 'decided by deny-ssh');
  }
});

// tenant-b reaches tenant-a's web servers on TCP 80 through web-from-tenant-b (order 100):
// deny-ssh (order 10) does not match, so evaluation falls through to it.
const crossTenant = explain('tenant-b/client', 'tenant-a/web');
test('tenant-b -> tenant-a web TCP 80: allowed by web-from-tenant-b', () => {
  assert.ok(crossTenant.allowed, 'allowed');
  assert.is(decider(crossTenant), 'NetworkPolicy tenant-a/web-from-tenant-b ingress[0]', 'decided by web-from-tenant-b');
  assert.not.ok(explain('tenant-b/client', 'tenant-a/web', 8080).allowed, 'other ports from tenant-b stay denied');
});

function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [...cliEntry(), 'policy', 'explain', ...args], { cwd: root, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('trellisctl policy explain -f: text and JSON, exit 0 whether allowed or denied, 2 on bad input', () => {
  const f = ['-f', policiesDir, '-f', endpointsFile];
  const ok = cli(['--from', 'tenant-a/client', '--to', 'tenant-a/web', '--port', '80/TCP', ...f]);
  assert.is(ok.code, 0, `exit code (stderr: ${ok.stderr})`);
  assert.match(ok.stdout, /^ALLOWED: tenant-a\/client \(10\.65\.1\.2\) -> tenant-a\/web \(10\.65\.0\.2\) 80\/TCP/, 'first line');
  assert.match(ok.stdout, /decided by Profile tenant-a ingress\[0\] \(Allow\)/, 'names the deciding rule');

  const denied = cli(['--from', 'tenant-a/client', '--to', 'tenant-b/web', '--port', '80/TCP', '-o', 'json', ...f]);
  assert.is(denied.code, 0, 'a denied flow still exits 0');
  const j = JSON.parse(denied.stdout) as ExplainResult;
  assert.is(j.allowed, false, 'JSON says denied');
  assert.equal(j, explain('tenant-a/client', 'tenant-b/web'), 'JSON is the explainFlow result');

  const ext = cli(['--from', '203.0.113.9', '--to', 'tenant-a/web', ...f]);
  assert.match(ext.stdout, /egress: source is outside the cluster/, 'a CIDR source has no egress side');

  for (const bad of [['--from', 'nope', '--to', 'tenant-a/web'], ['--from', 'tenant-a/client', '--to', 'tenant-a/web', '--port', '80/XYZ'], ['--from', 'tenant-a/ghost', '--to', 'tenant-a/web']]) {
    const r = cli([...bad, ...f]);
    assert.is(r.code, 2, `${bad.join(' ')}: exit 2`);
    assert.ok(r.stderr.trim().length > 0, `${bad.join(' ')}: says why on stderr`);
  }
});

test.run();
