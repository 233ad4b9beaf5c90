// podman on two lab hosts: containers started with `podman run --network trellis` on h1 and
// h2 get addresses from their host's blocks through that host's trellisd (CNI socket), reach
// each other across hosts over the routes learned through the ToR, and meet policy: same
// tenant allowed, across tenants denied. `podman rm` releases everything.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Lab } from '../../src/lab/lab.js';
import { labCniSocket, trellisdLog } from '../../src/lab/cluster.js';
import { etcdEndpoints } from '../../src/lab/plan.js';
import { cidrContains } from '../../src/model/index.js';
import { GET, RUN, podmanHost, type PodmanHost } from '../cni/_podman.js';
import { startLab, stopLab, waitUntil } from './helpers.js';

let lab: Lab;
const tmp = mkdtempSync(join(tmpdir(), 'trellis-e2e-podman-'));
const hosts = new Map<string, PodmanHost>();
const on = (host: string) => hosts.get(host)!;

test.before(async () => {
  lab = await startLab({ hosts: 2, tag: 'pd' });
  for (const h of lab.plan.hosts) {
    hosts.set(h.name, await podmanHost({
      dir: join(tmp, h.name), netns: h.netns, plugin: `${process.execPath} dist/cni/main.js`,
      netconf: { etcdEndpoints: etcdEndpoints(lab.plan), nodeName: h.name, agentSocket: labCniSocket(lab.stateDir, h) },
    }));
  }
});

test.after(async () => {
  for (const p of hosts.values()) await p.cleanup();
  await stopLab(lab);
  rmSync(tmp, { recursive: true, force: true });
});

/** The address trellis-cni gave a podman container (podman names it <namespace>.<name>: the endpoint's namespace). */
async function addressOf(host: string, name: string): Promise<string> {
  const r = await on(host).podman(['exec', name, 'ip', '-o', '-4', 'addr', 'show', 'dev', 'eth0']);
  const ip = /inet (\d+\.\d+\.\d+\.\d+)\/32/.exec(r.stdout)?.[1];
  if (!ip) throw new Error(`no address in ${name} on ${host}: ${r.stdout} ${r.stderr}`);
  return ip;
}

/** An HTTP fetch from a throwaway container on `host` in `tenant`; true when the page came back. */
async function fetchFrom(host: string, tenant: string, n: number, ip: string): Promise<boolean> {
  const r = await on(host).podman([...RUN, '--rm', '--name', `${tenant}.probe${n}`, '--network', 'trellis', 'localhost/busybox', 'sh', '-c', `${GET} ${ip} 80`]);
  return r.stdout.includes('hello from podman');
}

test('podman on two hosts: cross-host reachability under policy, through each host\'s trellisd; rm releases all', async () => {
  const web = await on('h1').podman([...RUN, '-d', '--name', 'tenant-a.pweb', '--network', 'trellis', 'localhost/busybox', 'httpd', '-f', '-p', '80', '-h', '/www']);
  assert.is(web.code, 0, `podman run on h1: ${web.stderr}`);
  const ip = await addressOf('h1', 'tenant-a.pweb');
  const added = readFileSync(trellisdLog(lab.stateDir, 'h1'), 'utf8').split('\n').find((l) => l.includes('"msg":"ADD done"') && l.includes(`"${ip}"`));
  assert.ok(added, `h1's trellisd ran the ADD that gave ${ip} (over its CNI socket)`);
  const st = await lab.status('h1');
  assert.ok(st.bgp.advertised.some((block) => cidrContains(block, ip)), `${ip} comes from one of h1's blocks ${st.bgp.advertised.join(' ')}`);
  // The endpoint reaches h2's dataplane through etcd and h1's route through the ToR; allow that to settle.
  let n = 0;
  await waitUntil(`tenant-a on h2 reaches ${ip} on h1`, () => fetchFrom('h2', 'tenant-a', n++, ip), 30_000);
  assert.not.ok(await fetchFrom('h2', 'tenant-b', n++, ip), 'a tenant-b container on h2 is denied');
  assert.ok(await fetchFrom('h1', 'tenant-a', n++, ip), 'tenant-a on the same host is allowed');

  const rm = await on('h1').podman(['rm', '-f', '-t', '0', 'tenant-a.pweb']);
  assert.is(rm.code, 0, `podman rm: ${rm.stderr}`);
  await waitUntil('its endpoint is gone from h1', async () => !(await lab.status('h1')).endpoints.some((e) => e.addresses.includes(`${ip}/32`)), 15_000);
});

test.run();
