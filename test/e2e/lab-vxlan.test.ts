// `npm run lab -- up --encap vxlan`, as a user runs it: two hosts on separate subnets behind
// a plain router, no BGP anywhere (no BIRD, no speaker, nothing on port 179), the pool's
// vxlanMode Always; the matrix as declared, carried through the tunnel; `status` works on
// it; an unknown --encap is refused with the list.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { testNetnsPrefix } from '../../src/lab/index.js';
import { openLab, type Lab } from '../../src/lab/lab.js';
import { DIST, REPO_ROOT } from '../../src/lab/cluster.js';
import { readRecords } from '../../src/lab/records.js';
import { addressOf } from './helpers.js';

const stateDir = mkdtempSync(join(tmpdir(), 'trellis-lab-vx-'));
const env: NodeJS.ProcessEnv = {
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TRELLIS_') || k === 'TRELLIS_NETNS_PREFIX')),
  TRELLIS_LAB_DIR: stateDir, TRELLIS_LAB_PREFIX: `${testNetnsPrefix()}lv-`, TRELLIS_CONTEXT: 'none', NO_COLOR: '1',
};
const lab = (args: string[]) => execa(process.execPath, [join(DIST, 'lab', 'main.js'), ...args], { cwd: REPO_ROOT, env, extendEnv: false, reject: false, all: true, timeout: 240_000 });
let up: { exitCode?: number; all?: string };
let l: Lab;

test.before(async () => {
  up = await lab(['up', '--hosts', '2', '--encap', 'vxlan']);
  l = openLab(stateDir);
});

test.after(async () => {
  await lab(['down']);
  rmSync(stateDir, { recursive: true, force: true });
});

test('up --encap vxlan: the matrix as declared, over VXLAN between two subnets', () => {
  const out = String(up.all ?? '');
  assert.is(up.exitCode, 0, `lab up exited ${up.exitCode}:\n${out.slice(-3000)}`);
  assert.match(out, /^matrix: (\d+)\/\1 as declared$/m, 'the matrix line says every cell is as declared');
  assert.match(out, /^matrix: 56\/56 as declared$/m, 'two hosts of four containers: 8 x 7 cells');
  assert.match(out, /── VXLAN \(vxlanMode Always; no BGP: the ToR is a plain router; 10\.10\.1\.0\/24: h1; 10\.10\.2\.0\/24: h2\) ──/);
  assert.match(out, /^h1 VTEP 10\.244\.\S+ \S+ on 10\.10\.1\.2 \(VNI 4096, port 4789\)$/m, 'h1\'s VTEP shown');
  assert.not.match(out, /birdc/i, 'no BIRD output');
});

test('no BGP anywhere: no BIRD, no speaker, nothing on port 179; the router has no route to the pool', async () => {
  const rec = readRecords(stateDir)!;
  assert.ok(!rec.processes.some((p) => p.role.startsWith('bird')), `no BIRD started: ${rec.processes.map((p) => p.role).join(', ')}`);
  for (const h of l.plan.hosts) {
    const st = await l.status(h.name);
    assert.is(st.bgp.configured, false, `${h.name}: no BGP speaker`);
    assert.equal(st.bgp.peers, [], `${h.name}: no BGP peers`);
    const listening = (await l.exec(h.name, ['ss', '-Htln', 'sport = :179'])).stdout.trim();
    assert.is(listening, '', `${h.name}: nothing listens on port 179`);
    assert.is(st.vxlan?.device?.address, h.address, `${h.name}: its VTEP is on its underlay address`);
  }
  assert.is.not(l.host('h1').subnet, l.host('h2').subnet, 'the hosts are on separate subnets');
  const torRoute = await l.exec('tor', ['ip', 'route', 'get', addressOf(l, 'h2-a-web')]);
  assert.is.not(torRoute.exitCode, 0, `the router cannot route a container address: ${torRoute.stdout}`);
});

test('a connection from h1 to h2 goes through h1\'s vxlan.trl (its packet counter)', async () => {
  const tx = async () => Number((await l.exec('h1', ['cat', '/sys/class/net/vxlan.trl/statistics/tx_packets'])).stdout.trim());
  const before = await tx();
  const r = await l.exec('h1-a-client', ['socat', '-T', '2', '-', `TCP:${addressOf(l, 'h2-a-web')}:80,connect-timeout=2`]);
  assert.is(r.stdout.trim(), 'ok', `h1-a-client -> h2-a-web: ${r.stderr}`);
  assert.ok(await tx() - before >= 3, 'the handshake and request left through the tunnel');
});

test('status works on it, and an unknown --encap is refused with the list', async () => {
  const st = await lab(['status']);
  assert.is(st.exitCode, 0, String(st.all));
  assert.match(String(st.all), /^h1: trellisd pid \d+; 4 local endpoints, store connected, VXLAN VTEP \S+, 1 routes encapsulated, 0 native, no BGP$/m);
  assert.match(String(st.all), /^matrix: 56\/56 as declared$/m);
  const bad = await lab(['up', '--encap', 'ipip']);
  assert.is(bad.exitCode, 2, 'usage error');
  assert.match(String(bad.all), /--encap ipip: must be one of none, vxlan, crosssubnet/);
});

test.run();
