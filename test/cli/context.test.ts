// trellisctl and a context file (.lab/context.json, as `npm run lab` writes it): found from
// a directory under the one holding it, used only when nothing more explicit names etcd,
// and naming each node's trellisd for `node status --node`; explain's endpoint references.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { cliEntry } from '../helpers/cli.js';
import { parseResourceText } from '../../src/model/index.js';
import { CliError, formatContext, parseContext } from '../../src/cli/index.js';
import { missingProfileNotes, resolveEndpointRef } from '../../src/cli/commands/explain-refs.js';

const root = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'trellis-ctx-'));
const work = join(dir, 'clone', 'sub', 'dir');
let etcd: TestEtcd;
let api: Server;
let apiUrl = '';

interface Run { code: number | null; stdout: string; stderr: string }
function ctl(args: string[], env: Record<string, string> = {}): Promise<Run> {
  // A user's shell: none of the suite's TRELLIS_* settings.
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TRELLIS_')));
  return new Promise((done) => {
    const child = spawn(process.execPath, [...cliEntry(), ...args], {
      cwd: work, env: { ...base, TRELLIS_STORE_PREFIX: '/ctx/', ...env }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => { stdout += b.toString(); });
    child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
    const t0 = Date.now();
    child.on('close', (code) => { if (process.env.CLI_TIMING) console.error(`[${Date.now() - t0} ms] ${args.join(' ')}`); done({ code, stdout, stderr }); });
  });
}
const expectExit = (r: Run, code: number, what: string) => assert.is(r.code, code, `${what}: exit ${r.code}, expected ${code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);

const PEERS = [{ peer: '10.10.2.1', name: 'BGPPeer tor-h2', asn: 65000, state: 'Established', uptimeSec: 5, received: 2, advertised: 1, lastError: null }];

test.before(async () => {
  etcd = await startTestEtcd();
  api = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(req.url === '/status' ? { bgp: { peers: PEERS } } : {}));
  });
  await new Promise<void>((r) => api.listen(0, '127.0.0.1', () => r()));
  const a = api.address();
  apiUrl = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
  mkdirSync(join(dir, 'clone', '.lab'), { recursive: true });
  mkdirSync(work, { recursive: true });
  writeFileSync(join(dir, 'clone', '.lab', 'context.json'), formatContext({ source: 'test', etcdEndpoints: etcd.endpoints, nodes: { h1: { api: apiUrl }, h2: { api: apiUrl } } }));
});

test.after(async () => {
  await etcd?.stop();
  await new Promise((r) => api?.close(r));
  rmSync(dir, { recursive: true, force: true });
});

test('the context in a parent directory gives the etcd endpoints when nothing else does', async () => {
  expectExit(await ctl(['apply', '-f', join(root, 'policies')]), 0, 'apply through the context');
  const got = await ctl(['get', 'np', '-A']);
  expectExit(got, 0, 'get through the context');
  assert.match(got.stdout, /web-from-tenant-b/, 'the policy applied through the context is listed');
  // TRELLIS_ETCD_ENDPOINTS wins over the context: an unreachable one fails (exit 1).
  expectExit(await ctl(['get', 'np', '-A'], { TRELLIS_ETCD_ENDPOINTS: 'http://127.0.0.1:1' }), 1, 'env endpoints win over the context');
  expectExit(await ctl(['get', 'np', '-A', '--etcd-endpoints', 'http://127.0.0.1:1']), 1, '--etcd-endpoints wins over the context');
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, '{"etcdEndpoints": ["etcd:2379"]}');
  const r = await ctl(['get', 'np', '-A'], { TRELLIS_CONTEXT: bad });
  expectExit(r, 2, 'a bad context file is bad input');
  assert.match(r.stderr, /bad\.json: etcdEndpoints: expected a list of http\(s\) URLs/, 'the message names the file and the field');
});

test('node status --node NAME asks that node of the context; without it every node, NODE first', async () => {
  const one = await ctl(['node', 'status', '--node', 'h2']);
  expectExit(one, 0, 'node status --node h2');
  assert.match(one.stdout, /^PEER\s+NAME/m, 'a plain table for one node');
  assert.match(one.stdout, /10\.10\.2\.1\s+BGPPeer tor-h2\s+65000\s+Established/);
  const all = await ctl(['node', 'status']);
  expectExit(all, 0, 'node status over the context');
  assert.match(all.stdout, /^NODE\s+PEER/m);
  assert.match(all.stdout, /^h1\s+10\.10\.2\.1/m);
  assert.match(all.stdout, /^h2\s+10\.10\.2\.1/m);
  const none = await ctl(['node', 'status', '--node', 'h9']);
  expectExit(none, 2, 'an unknown node');
  assert.match(none.stderr, /--node h9: not in .*context\.json \(nodes: h1, h2\)/, 'the known nodes are listed');
  const off = await ctl(['node', 'status', '--node', 'h1'], { TRELLIS_CONTEXT: 'none' });
  expectExit(off, 2, '--node with contexts off');
});

test('parseContext: names the field that is wrong', () => {
  assert.equal(parseContext(formatContext({ source: 's', etcdEndpoints: ['http://a:1'], nodes: { n: { api: 'http://b:2' } } }), 'f'),
    { source: 's', etcdEndpoints: ['http://a:1'], nodes: { n: { api: 'http://b:2' } } });
  assert.throws(() => parseContext('{"etcdEndpoints":["http://a:1"],"nodes":{"n":{"api":5}}}', 'f.json'), (e: unknown) => e instanceof CliError && /f\.json: nodes\.n\.api/.test(e.message));
  assert.throws(() => parseContext('nope', 'f.json'), /f\.json: not JSON/);
});

test('explain references: name, workload, container or address; candidates when nothing matches; missing profiles noted', () => {
  const text = readFileSync(join(root, 'examples', 'workloadendpoint.yaml'), 'utf8');
  const res = parseResourceText(text, 'workloadendpoint.yaml');
  const full = 'tenant-a/host--1-podman-web1-eth0';
  assert.is(resolveEndpointRef(res, full, '--to'), full, 'its own name');
  assert.is(resolveEndpointRef(res, 'tenant-a/web1', '--to'), full, 'its workload');
  assert.is(resolveEndpointRef(res, 'tenant-a/3f2a9c1b7e4d', '--from'), full, 'its container');
  assert.is(resolveEndpointRef(res, '10.244.0.5', '--to'), full, 'an address it holds');
  assert.throws(() => resolveEndpointRef(res, '10.244.0.6', '--to'), /--to 10\.244\.0\.6: no WorkloadEndpoint holds this address/);
  assert.throws(() => resolveEndpointRef(res, 'tenant-a/web', '--to'), /no WorkloadEndpoint tenant-a\/web; endpoints in tenant-a: web1/);
  assert.throws(() => resolveEndpointRef(res, 'tenant-z/web', '--from'), /no endpoints in namespace tenant-z \(namespaces with endpoints: tenant-a\)/);
  assert.equal(missingProfileNotes(res, [full]), [`WorkloadEndpoint ${full} names profile tenant-a, which does not exist: it adds no rules`], 'no Profile tenant-a among these resources');
});

test.run();
