// The last good version holds: a stored policy that turns invalid keeps its valid version
// in force, in the running agent (the invalid put changes nothing) and through a store
// snapshot (a resync after a lost watch), with the status naming the key, the field and
// that the old version holds; a trellisd restarted meanwhile finds that version in etcd's
// history and keeps it in force too; a fix or a delete ends the hold.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Etcd3 } from 'etcd3';
import { startAgent, type Agent } from '../../src/agent/index.js';
import { createResourceCache } from '../../src/agent/cache.js';
import { storeFeed } from '../../src/agent/feed.js';
import { createAgentMetrics } from '../../src/agent/metrics.js';
import { createAgentStatus } from '../../src/agent/status.js';
import type { ApplyLoop } from '../../src/agent/loop.js';
import { createNetns, testNetnsPrefix, type Netns } from '../../src/lab/index.js';
import { silentLogger } from '../../src/log/index.js';
import type { Resource } from '../../src/model/index.js';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { agentConfig, tenantResources, waitFor, workload } from './helpers.js';

const PREFIX = '/trellis/v1/';
const DENY: Resource = {
  apiVersion: 'trellis.dev/v1', kind: 'NetworkPolicy', metadata: { name: 'deny-ssh', namespace: 'tenant-a' },
  spec: { order: 1, selector: 'all()', types: ['Ingress'], ingress: [{ action: 'Deny', protocol: 'TCP', destination: { ports: [22] } }] },
} as Resource;
const KEY = `${PREFIX}networkpolicy/tenant-a/deny-ssh`;
const corrupt = JSON.stringify({ ...DENY, spec: { ...DENY.spec, selector: 'app = "web"' } });
const policyIds = (d: { policies: Array<{ id: string }> }) => d.policies.map((p) => p.id);

test('feed: a snapshot without the invalid key keeps its last valid version; a fix or delete ends the hold', () => {
  const cache = createResourceCache('n1');
  const status = createAgentStatus();
  const loop = { trigger: () => undefined } as unknown as ApplyLoop;
  const feed = storeFeed({ cache, status, loop, metrics: createAgentMetrics({ defaultMetrics: false }), log: silentLogger() });
  const base = [...tenantResources(), workload('web', 'n1', 'trllg1', '10.68.0.5'), DENY];
  feed.onSync(base.map((resource) => ({ resource, revision: '1' })), '1');
  assert.equal(policyIds(cache.desired()), ['NetworkPolicy/tenant-a/deny-ssh'], 'in force when valid');
  feed.onInvalid!(KEY, 'NetworkPolicy tenant-a/deny-ssh: spec.selector: invalid selector', { kind: 'NetworkPolicy', namespace: 'tenant-a', name: 'deny-ssh' });
  feed.onSync(base.filter((r) => r !== DENY).map((resource) => ({ resource, revision: '2' })), '2');
  assert.equal(policyIds(cache.desired()), ['NetworkPolicy/tenant-a/deny-ssh'], 'still in force after a snapshot that skipped its invalid value');
  assert.match(status.state.store.invalid.get(KEY)!, /spec\.selector: invalid selector \(the last valid version stays in force\)/);
  feed.onValid!(KEY); // deleted in etcd
  feed.onSync(base.filter((r) => r !== DENY).map((resource) => ({ resource, revision: '3' })), '3');
  assert.equal(policyIds(cache.desired()), [], 'gone once the key is deleted');
});

let etcd: TestEtcd;
let raw: Etcd3;
let ns: Netns;
let agent: Agent | null = null;

test.before(async () => {
  etcd = await startTestEtcd();
  raw = new Etcd3({ hosts: etcd.endpoints });
  ns = await createNetns(`${testNetnsPrefix()}lg`);
});
test.after(async () => {
  await agent?.stop();
  raw?.close();
  await ns?.destroy();
  await etcd?.stop();
});

test('agent: a Deny policy corrupted in etcd stays in the kernel, and /status says so naming the field', async () => {
  for (const r of [...tenantResources(), workload('web', 'lg', 'trllg1', '10.68.0.5'), DENY]) {
    const nsOf = (r.metadata as { namespace?: string }).namespace;
    await raw.put(`${PREFIX}${r.kind.toLowerCase()}/${nsOf ? `${nsOf}/` : ''}${r.metadata.name}`).value(JSON.stringify(r));
  }
  agent = await startAgent(await agentConfig('lg', etcd.endpoints), { netns: ns.name, logger: silentLogger(), defaultMetrics: false });
  await agent.ready(20_000);
  const rules = () => ns.run(['iptables-save', '-t', 'filter']);
  await waitFor('the deny rule', rules, (t) => t.includes('NetworkPolicy tenant-a/deny-ssh ingress[0]'));
  await raw.put(KEY).value(corrupt);
  const inv = await waitFor('the key reported invalid', async () => agent!.status().store.invalid, (i) => i.some((x) => x.key === KEY));
  assert.match(inv.find((x) => x.key === KEY)!.error, /spec\.selector.*the last valid version stays in force/, 'the status names the field and the hold');
  await agent.resync();
  assert.ok((await rules()).includes('NetworkPolicy tenant-a/deny-ssh ingress[0]'), 'the deny rule is still in the kernel');

  // A trellisd started while the value is invalid has never seen it valid: the snapshot
  // brings the last valid version from etcd's history, so the Deny survives the restart.
  await agent.stop();
  agent = await startAgent(await agentConfig('lg', etcd.endpoints), { netns: ns.name, logger: silentLogger(), defaultMetrics: false });
  await agent.ready(20_000);
  await agent.resync();
  assert.ok((await rules()).includes('NetworkPolicy tenant-a/deny-ssh ingress[0]'), 'the deny rule is still in the kernel after a restart');
  const after = agent.status().store.invalid.find((x) => x.key === KEY);
  assert.match(after?.error ?? '(not listed)', /spec\.selector.*the last valid version, etcd revision \d+, stays in force/, 'the restarted agent reports the key and the version it holds');
  await raw.delete().key(KEY);
  await waitFor('the deny rule gone after the delete', rules, (t) => !t.includes('deny-ssh'));
});

test.run();
