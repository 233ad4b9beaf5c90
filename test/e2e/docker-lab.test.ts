// `npm run lab -- up --runtime docker`, as small as it can show the point: two hosts, each
// with its own dockerd, the lab's tenants as Docker networks of Trellis's driver and its
// containers started by `docker run --net`. The declared matrix (the same policies/ as the
// default lab) holds with real TCP; status, exec (DOCKER_HOST), add/rm and down work.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import type { Lab } from '../../src/lab/lab.js';
import { DIST } from '../../src/lab/cluster.js';
import { readRecords } from '../../src/lab/records.js';
import { isAlive } from '../../src/lab/procs.js';
import { cgroupsWithPrefix } from '../../src/lab/dockerd.js';
import { hostDocker } from '../../src/lab/dockerlab.js';
import { startLab, stopLab, waitUntil } from './helpers.js';

let lab: Lab;

/** The lab's CLI against this test's lab (its records directory and prefix). */
const cli = (args: string[]) => execa(process.execPath, [join(DIST, 'lab', 'main.js'), ...args], {
  reject: false, env: { TRELLIS_LAB_DIR: lab.stateDir, TRELLIS_LAB_PREFIX: lab.plan.prefix, NO_COLOR: '1' },
});

test.before(async () => {
  lab = await startLab({ hosts: 2, tag: 'd', runtime: 'docker' });
});

test.after(async () => {
  await stopLab(lab);
});

test('status: a dockerd per host, and every cell of the matrix as policies/ declares it', async () => {
  const r = await cli(['status']);
  const out = String(r.stdout);
  for (const h of lab.plan.hosts) {
    assert.match(out, new RegExp(`^${h.name}: trellisd pid \\d+; dockerd pid ${lab.dockerd(h.name)!.pid}; 4 local endpoints`, 'm'), `${h.name}'s line names its dockerd:\n${out}`);
  }
  assert.match(out, /^matrix: 56\/56 as declared$/m, `the matrix line:\n${out}\n${r.stderr}`);
  assert.is(r.exitCode, 0, 'status exits 0 when the matrix holds');
  const weps = JSON.parse((await lab.trellisctl(['get', 'wep', '-A', '-o', 'json'])).stdout) as Array<{ spec: { orchestrator: string; workload: string } }>;
  assert.equal(weps.map((w) => `${w.spec.orchestrator}/${w.spec.workload}`).sort(), lab.plan.containers.map((c) => `docker/${c.name}`).sort(),
    'every container is a Docker endpoint named for its container');
});

test('exec on a host sets DOCKER_HOST to that host\'s dockerd; add and rm go through docker', async () => {
  const ps = await cli(['exec', 'h2', 'docker', 'ps', '--format', '{{.Names}}']);
  assert.equal(String(ps.stdout).trim().split('\n').sort(), ['h2-a-client', 'h2-a-web', 'h2-b-client', 'h2-b-web'], `docker ps on h2: ${ps.stderr}`);
  const add = await cli(['add', 'my-web', '--host', 'h1', '--namespace', 'tenant-a', '--labels', 'app=web', '--ip', '10.244.3.7']);
  assert.is(add.exitCode, 0, `lab add: ${add.stderr}`);
  assert.is(String(add.stdout).trim(), 'my-web 10.244.3.7 tenant-a on h1 (endpoint tenant-a/h1-docker-my-web-tenant-a)');
  // Its address may open a new block: reachable once BGP has carried it to h2.
  let last = '';
  await waitUntil('tenant-b on h2 to reach my-web on h1', async () => {
    const get = await cli(['exec', 'h2-b-client', 'socat', '-T', '2', '-', 'TCP:my-web:80,connect-timeout=1']);
    last = `${String(get.stdout)} ${String(get.stderr)}`;
    return String(get.stdout).includes('ok');
  }, 30_000, 500).catch((e: Error) => assert.unreachable(`${e.message}: ${last}`));
  const rm = await cli(['rm', 'my-web']);
  assert.is(rm.exitCode, 0, `lab rm: ${rm.stderr}`);
  assert.is((await hostDocker(lab.stateDir, 'h1', ['ps', '-aq', '--filter', 'name=^my-web$'])).stdout.trim(), '', 'docker rm removed the container');
  const check = await lab.trellisctl(['ipam', 'check']);
  assert.match(check.stdout, 'no leaked allocations', 'its address went back to the pool');
});

test('down stops each dockerd by pid and removes its containers, cgroups and data, even those of a dockerd that crashed', async () => {
  const rec = readRecords(lab.stateDir)!;
  const dockerds = rec.processes.filter((p) => p.role.startsWith('dockerd '));
  assert.is(dockerds.length, 2, 'both dockerds recorded');
  // h1's dockerd "crashes": its containers keep running (their namespaces are their own).
  const pids = (await hostDocker(lab.stateDir, 'h1', ['inspect', '--format', '{{.State.Pid}}', 'h1-a-web', 'h1-b-web'])).stdout.split(/\s+/).filter(Boolean).map(Number);
  assert.is(pids.length, 2, 'h1\'s containers run');
  process.kill(lab.dockerd('h1')!.pid, 'SIGKILL');
  const gone = await lab.down();
  for (const pid of pids) assert.not.ok(isAlive({ pid, startTime: null }), `container process ${pid} of the crashed dockerd is gone`);
  assert.ok(gone.includes(`cgroup ${lab.plan.prefix}docker-h1`), `down swept the crashed dockerd's cgroup: ${gone.join(', ')}`);
  for (const p of dockerds) assert.not.ok(isAlive(p), `${p.role} stopped`);
  const h2 = dockerds.find((p) => p.role === 'dockerd h2')!;
  assert.ok(gone.includes(`process ${h2.pid} (dockerd h2)`), `down stopped h2's dockerd by its pid: ${gone.join(', ')}`);
  assert.equal(cgroupsWithPrefix(lab.plan.prefix), [], 'no cgroup of the lab left');
  for (const d of rec.dirs ?? []) assert.not.ok(existsSync(d), `${d} removed`);
  assert.ok((rec.dirs ?? []).length >= 2, 'the dockerds\' directories were recorded');
});

test.run();
