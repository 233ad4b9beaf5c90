// The store going away changes nothing in the dataplane: one of three etcd members
// killed, then every member stopped for 30 s; afterwards the cluster converges again.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Lab } from '../../src/lab/lab.js';
import { probeTcp } from '../../src/lab/matrix.js';
import { addressOf, dataplaneSnapshot, startLab, stopLab, waitUntil } from './helpers.js';

let lab: Lab;
const tmp = mkdtempSync(join(tmpdir(), 'trellis-e2e-etcd-'));
let denyFile = '';

test.before(async () => {
  lab = await startLab({ hosts: 2, etcd: 3, tag: 's' });
  denyFile = join(tmp, 'deny.yaml');
  writeFileSync(denyFile, [
    'apiVersion: trellis.dev/v1', 'kind: GlobalNetworkPolicy', 'metadata:', '  name: e2e-etcd-deny', 'spec:', '  order: 5',
    '  selector: app == "web"', '  types: [Ingress]', '  ingress:', '    - action: Deny', '      protocol: TCP',
    '      source:', '        namespaceSelector: tenant == "a"', '',
  ].join('\n'));
});

test.after(async () => {
  await stopLab(lab);
  rmSync(tmp, { recursive: true, force: true });
});

async function snapshots(): Promise<string[]> {
  return Promise.all(lab.plan.hosts.map((h) => dataplaneSnapshot(lab, h.name)));
}

const from = () => lab.container('h2-a-client').netns;
const to = () => addressOf(lab, 'h1-a-web');

test('one of three etcd members killed changes nothing, and changes still flow', async () => {
  const before = await snapshots();
  await lab.stopEtcdMember(0, 'SIGKILL');
  await new Promise((r) => setTimeout(r, 3000));
  assert.equal(await snapshots(), before, 'dataplane unchanged with one member down');
  await lab.trellisctl(['apply', '-f', denyFile]);
  await waitUntil('the policy in force with two members', async () => !(await probeTcp(from(), to())), 15_000, 200);
  await lab.trellisctl(['delete', '-f', denyFile]);
  await waitUntil('the policy gone', () => probeTcp(from(), to()), 15_000, 200);
  await lab.startEtcdMember(0);
});

test('etcd stopped for 30 s changes nothing in the dataplane; the cluster converges when it returns', async () => {
  const before = await snapshots();
  const matrixBefore = await lab.measureMatrix();
  for (let i = 0; i < lab.plan.etcd.length; i++) await lab.stopEtcdMember(i, 'SIGTERM');
  await new Promise((r) => setTimeout(r, 30_000));
  assert.equal(await snapshots(), before, 'dataplane unchanged after 30 s without etcd');
  for (const h of lab.plan.hosts) {
    const st = await lab.status(h.name);
    assert.is.not(st.store.status, 'connected', `${h.name} knows the store is gone`);
  }
  assert.ok(await probeTcp(lab.container('h1-a-client').netns, addressOf(lab, 'h2-a-web')), 'traffic flows without etcd');
  await Promise.all(lab.plan.etcd.map((_, i) => lab.startEtcdMember(i)));
  await lab.trellisctl(['apply', '-f', denyFile]);
  await waitUntil('a change after etcd returned is in force', async () => !(await probeTcp(from(), to())), 30_000, 250);
  await lab.trellisctl(['delete', '-f', denyFile]);
  await waitUntil('and its removal', () => probeTcp(from(), to()), 15_000, 250);
  const after = await lab.measureMatrix();
  assert.is(after.matching, after.total, 'matrix as declared after the outage');
  assert.is(matrixBefore.matching, matrixBefore.total);
});

test.run();
