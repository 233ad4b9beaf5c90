// IPv6 through the same dataplane: /128 workload routes, v6 sets and chains, forwarding,
// and strict reverse-path filtering of workload sources (raw rpfilter: v6 has no rp_filter
// sysctl). Containers reach the host by its fixed link-local address on each veth.
import ipaddr from 'ipaddr.js';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DesiredState } from '../../src/calc/index.js';
import { inNetns } from '../../src/lab/index.js';
import { silentLogger } from '../../src/log/index.js';
import { createDataplane } from '../../src/dataplane/index.js';
import { LAB_EPS, labState } from './_state.js';
import { createLab, readText, spoofTrial, tcp, waitListening, type Lab } from './_lab.js';

const V6: Record<string, string> = { trla1: 'fd00:65::1', trla2: 'fd00:65::2', trlb1: 'fd00:65:1::1', trlb2: 'fd00:65:1::2' };
let lab: Lab;
let dir: string;
const kids: ChildProcess[] = [];

function dualStack(): DesiredState {
  const ds = labState();
  for (const e of ds.endpoints) e.addresses.push(`${V6[e.interfaceName]}/128`);
  for (const s of ds.ipsets) {
    const t = s.id === 'ta' ? 'trla' : 'trlb';
    s.members = [...s.members, ...Object.entries(V6).filter(([i]) => i.startsWith(t)).map(([, a]) => `${a}/128`)].sort();
  }
  ds.routes.push(...Object.entries(V6).map(([dev, a]) => ({ dst: `${a}/128`, family: 6 as const, dev })));
  return ds;
}

test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'trl-dp6-'));
  lab = await createLab('d6', LAB_EPS);
  for (const e of LAB_EPS) {
    const c = lab.containers.get(e.iface)!;
    await lab.host.run(['ip', '-6', 'addr', 'add', 'fe80::1/64', 'dev', e.iface, 'nodad']);
    await c.run(['ip', '-6', 'addr', 'add', `${V6[e.iface]}/128`, 'dev', 'eth0', 'nodad']);
    await c.run(['ip', '-6', 'route', 'add', 'default', 'via', 'fe80::1', 'dev', 'eth0']);
    lab.serve(c, 80, 'tcp6');
  }
  await Promise.all(LAB_EPS.map((e) => waitListening(lab.containers.get(e.iface)!, 80)));
});

test.after(async () => {
  for (const k of kids) if (k.exitCode === null) { try { k.kill('SIGKILL'); } catch { /* gone */ } }
  await lab?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('v6: same tenant allowed, across tenants denied', async () => {
  const r = await createDataplane({ netns: lab.host.name, logger: silentLogger() }).reconcile(dualStack());
  assert.equal([r.skipped, r.errors], [[], []]);
  assert.is(r.counts.routesAdded, 8, 'four /32 and four /128 routes');
  const c = (i: string) => lab.containers.get(i)!;
  const [same, across, sameB] = await Promise.all([
    tcp(c('trla2'), V6.trla1!, 80), tcp(c('trlb2'), V6.trla2!, 80), tcp(c('trlb2'), V6.trlb1!, 80),
  ]);
  const peer = /^ok \[([0-9a-f:]+)\]/.exec(same ?? '')?.[1];
  assert.ok(peer && ipaddr.parse(peer).toString() === V6.trla2, `a-client -> a-web over v6 allowed from its own address, server saw ${same}`);
  assert.ok(sameB, 'b-client -> b-web over v6 allowed');
  assert.is(across, null, 'b-client -> a-client over v6 denied');
});

test('v6: a spoofed source is dropped by the raw rpfilter rule', async () => {
  const file = join(dir, 'udp6');
  const argv = inNetns(lab.containers.get('trlb1')!.name, ['socat', '-u', 'UDP6-RECV:5555', `OPEN:${file},creat,append`]);
  kids.push(spawn(argv[0]!, argv.slice(1), { stdio: 'ignore' }));
  const a = lab.containers.get('trla2')!;
  const b = lab.containers.get('trlb2')!;
  await waitListening(lab.containers.get('trlb1')!, 5555, 'udp');
  await a.run(['ip', '-6', 'addr', 'add', `${V6.trlb2}/128`, 'dev', 'eth0', 'nodad']);
  const got = await spoofTrial({ target: V6.trlb1!, port: 5555, spoofer: a, stolen: V6.trlb2!, owner: b, received: () => readText(file) });
  assert.ok(got.includes('legit'), 'b-client reaches b-web over v6');
  assert.not.ok(got.includes('spoofed'), 'a-client using b-client\'s v6 address is dropped');
});

test.run();
