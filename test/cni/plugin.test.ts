// trellis-cni through its process interface, as a runtime calls it: CNI_* env, config on
// stdin, run under `ip netns exec <host ns>`, sandboxes are namespaces made here.
// The host namespace gets ip_forward=1 from this test (the dataplane's job on a real
// host); the plugin itself sets the /32 route and proxy ARP on each host veth.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hostVethName, ROUTE_PROTO_WORKLOAD } from '../../src/workload/index.js';
import { ROUTE_PROTO_WORKLOAD as CALC_PROTO } from '../../src/calc/index.js';
import { handleInfo, ipamUsage } from '../../src/ipam/index.js';
import type { Netns } from '../../src/lab/index.js';
import { cidrContains, type WorkloadEndpoint } from '../../src/model/index.js';
import { containerId, netConf, runPlugin, setupHarness, type Harness } from './_harness.js';

let h: Harness;
const sandbox = (tag: string): Promise<Netns> => h.sandbox(tag);
const path = (ns: Netns) => `/run/netns/${ns.name}`;

async function endpoints(): Promise<WorkloadEndpoint[]> {
  return (await h.store.list('WorkloadEndpoint')).map((s) => s.resource as WorkloadEndpoint);
}
async function used(): Promise<number> {
  return (await ipamUsage(h.store)).pools.reduce((n, p) => n + p.used, 0);
}
async function hostLinks(): Promise<string> {
  return h.host.run(['ip', '-o', 'link', 'show']);
}

test.before(async () => {
  h = await setupHarness('cnip', [{ name: 'p1', cidr: '10.60.0.0/24' }]);
});
test.after(async () => {
  await h?.stop();
});

test('VERSION reports the supported versions', async () => {
  const r = await runPlugin(h, { command: 'VERSION' }, { cniVersion: '0.4.0' });
  assert.is(r.code, 0, r.stderr);
  assert.equal(r.json, { cniVersion: '0.4.0', supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] });
});

test('bad configuration and environment get the spec\'s error codes, naming the field', async () => {
  const c1 = await sandbox('bad');
  const base = { command: 'ADD' as const, containerID: containerId(900), netns: path(c1), ifname: 'eth0' };
  const cases: Array<[string, Record<string, unknown> | string, number, string, Partial<typeof base>?]> = [
    ['no etcd endpoints', { ...netConf(h), etcdEndpoints: undefined }, 7, 'etcdEndpoints'],
    ['unknown version', { ...netConf(h), cniVersion: '9.9.9' }, 1, '9.9.9'],
    ['bad label', netConf(h, { labels: { app: 'no spaces allowed' } }), 7, 'labels'],
    ['bad port mapping', netConf(h, { runtimeConfig: { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'icmp' }] } }), 7, 'portMappings'],
    ['bad ipam type', netConf(h, { ipam: { type: 'host-local' } }), 7, 'ipam.type'],
    ['requested IP not an IP', netConf(h, { runtimeConfig: { ips: ['10.60.0.999'] } }), 7, 'runtimeConfig.ips'],
    ['missing ifname', netConf(h), 4, 'CNI_IFNAME', { ifname: '' }],
    ['missing netns', netConf(h), 4, 'CNI_NETNS', { netns: '' }],
  ];
  for (const [what, conf, code, names, override] of cases) {
    const r = await runPlugin(h, { ...base, ...override }, typeof conf === 'string' ? JSON.parse(conf) as Record<string, unknown> : conf);
    assert.is.not(r.code, 0, `${what}: exit code`);
    assert.is(r.json?.code, code, `${what}: error code (${r.stdout})`);
    assert.match(String(r.json?.msg), names, `${what}: message names ${names}`);
  }
  assert.is(await used(), 0, 'no address allocated by a refused call');
  assert.equal(await endpoints(), []);
});

test('ADD wires the container: veth, /32, gateway routes, endpoint; two containers reach each other; CHECK; DEL', async () => {
  const c1 = await sandbox('c1');
  const c2 = await sandbox('c2');
  const id1 = containerId(1);
  const id2 = containerId(2);
  const r1 = await runPlugin(h, { command: 'ADD', containerID: id1, netns: path(c1), ifname: 'eth0', args: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=tenant-a;K8S_POD_NAME=web1' },
    netConf(h, { labels: { app: 'web' }, runtimeConfig: { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }] } }));
  assert.is(r1.code, 0, `ADD failed: ${r1.stdout} ${r1.stderr}`);
  const ips = r1.json?.ips as Array<{ address: string; gateway: string; interface: number }>;
  const ip1 = ips[0]!.address.split('/')[0]!;
  assert.ok(cidrContains('10.60.0.0/24', ip1), `address ${ip1} from the pool`);
  assert.is(ips[0]!.address, `${ip1}/32`);
  assert.is(ips[0]!.gateway, '169.254.1.1');
  const ifaces = r1.json?.interfaces as Array<{ name: string; sandbox?: string }>;
  const host1 = hostVethName(id1, 'eth0');
  assert.is(ifaces[0]!.name, host1);
  assert.is(ifaces[ips[0]!.interface]!.sandbox, path(c1), 'the IP points at the sandbox interface');
  assert.match(host1, /^trl[0-9a-f]{11}$/);

  const addr = await c1.run(['ip', '-o', 'addr', 'show', 'dev', 'eth0']);
  assert.match(addr, `inet ${ip1}/32`, 'container has its /32');
  const routes = await c1.run(['ip', 'route']);
  assert.match(routes, 'default via 169.254.1.1 dev eth0', 'default route via the link-local gateway');
  assert.match(routes, '169.254.1.1 dev eth0 scope link');
  assert.match(await hostLinks(), host1, 'host veth present in the host namespace');
  assert.is((await h.host.run(['cat', `/proc/sys/net/ipv4/conf/${host1}/proxy_arp`])).trim(), '1', 'proxy_arp on the host veth');
  assert.match(await h.host.run(['ip', 'route', 'show', 'proto', String(ROUTE_PROTO_WORKLOAD)]), `${ip1} dev ${host1}`, '/32 route on the host');
  assert.is(ROUTE_PROTO_WORKLOAD, CALC_PROTO, 'the plugin marks routes as the dataplane does');

  const wep = (await endpoints()).find((w) => w.spec.containerID === id1);
  assert.ok(wep, 'WorkloadEndpoint written');
  assert.is(wep!.metadata.namespace, 'tenant-a');
  assert.is(wep!.spec.node, 'host1');
  assert.is(wep!.spec.interfaceName, host1);
  assert.is(wep!.spec.workload, 'web1');
  assert.equal(wep!.spec.ipNetworks, [`${ip1}/32`]);
  assert.equal(wep!.spec.profiles, ['tenant-a']);
  assert.equal(wep!.metadata.labels, { app: 'web' });
  assert.equal(wep!.spec.ports, [{ name: 'hp-8080-tcp', protocol: 'TCP', port: 80, hostPort: 8080 }]);

  const r2 = await runPlugin(h, { command: 'ADD', containerID: id2, netns: path(c2), ifname: 'eth0' }, netConf(h));
  assert.is(r2.code, 0, `second ADD failed: ${r2.stdout}`);
  const ip2 = (r2.json?.ips as Array<{ address: string }>)[0]!.address.split('/')[0]!;
  assert.is.not(ip2, ip1);
  assert.is((await endpoints()).find((w) => w.spec.containerID === id2)?.metadata.namespace, 'default', 'namespace defaults to "default"');
  const ping = await c1.exec(['busybox', 'ping', '-c', '1', '-W', '2', ip2]);
  assert.is(ping.exitCode, 0, `container 1 pings container 2: ${ping.stdout}${ping.stderr}`);

  const check = await runPlugin(h, { command: 'CHECK', containerID: id1, netns: path(c1), ifname: 'eth0', args: 'K8S_POD_NAMESPACE=tenant-a' },
    netConf(h, { prevResult: r1.json }));
  assert.is(check.code, 0, `CHECK of a healthy container: ${check.stdout}`);
  await c2.run(['ip', 'link', 'del', 'eth0']);
  const bad = await runPlugin(h, { command: 'CHECK', containerID: id2, netns: path(c2), ifname: 'eth0' }, netConf(h, { prevResult: r2.json }));
  assert.is(bad.json?.code, 110, `CHECK notices the missing interface: ${bad.stdout}`);
  assert.match(String(bad.json?.msg), 'missing');

  const d1 = await runPlugin(h, { command: 'DEL', containerID: id1, netns: path(c1), ifname: 'eth0', args: 'K8S_POD_NAMESPACE=tenant-a' }, netConf(h));
  assert.is(d1.code, 0, `DEL failed: ${d1.stdout} ${d1.stderr}`);
  assert.is(d1.stdout.trim(), '', 'DEL prints nothing');
  assert.not.match(await hostLinks(), host1, 'host veth gone');
  assert.not.match(await c1.run(['ip', '-o', 'link']), 'eth0', 'container interface gone');
  assert.is(await handleInfo(h.store, `${id1}.eth0`), null, 'address released');
  assert.not.ok((await endpoints()).some((w) => w.spec.containerID === id1), 'endpoint deleted');
  const again = await runPlugin(h, { command: 'DEL', containerID: id1, netns: path(c1), ifname: 'eth0' }, netConf(h));
  assert.is(again.code, 0, `second DEL: ${again.stdout}`);
  const never = await runPlugin(h, { command: 'DEL', containerID: containerId(77), ifname: 'eth0' }, netConf(h));
  assert.is(never.code, 0, `DEL of a container never added: ${never.stdout}`);
  const d2 = await runPlugin(h, { command: 'DEL', containerID: id2, netns: path(c2), ifname: 'eth0' }, netConf(h));
  assert.is(d2.code, 0, `${d2.stdout} ${d2.stderr}`);
  assert.is(await used(), 0, 'every address released');
  assert.equal(await endpoints(), [], 'every endpoint deleted');
});

test('CNI 1.1 GC releases exactly the attachments the runtime no longer lists; STATUS says whether ADD can work', async () => {
  const conf11 = (extra: Record<string, unknown> = {}) => netConf(h, { cniVersion: '1.1.0', ...extra });
  const [g1, g2] = [await sandbox('g1'), await sandbox('g2')];
  const [id1, id2] = [containerId(71), containerId(72)];
  for (const [id, sb] of [[id1, g1], [id2, g2]] as const) {
    const r = await runPlugin(h, { command: 'ADD', containerID: id, netns: path(sb), ifname: 'eth0' }, conf11());
    assert.is(r.code, 0, `ADD ${r.stdout}`);
  }
  const refused = await runPlugin(h, { command: 'GC' }, conf11());
  assert.equal([refused.code, refused.json?.code], [1, 7], `GC without cni.dev/valid-attachments is refused: ${refused.stdout}`);
  const old = await runPlugin(h, { command: 'GC' }, netConf(h, { 'cni.dev/valid-attachments': [] }));
  assert.equal([old.code, old.json?.code], [1, 1], `GC needs cniVersion 1.1.0: ${old.stdout}`);
  assert.is((await endpoints()).filter((w) => w.spec.containerID === id1 || w.spec.containerID === id2).length, 2, 'refused GCs touched nothing');

  const gc = await runPlugin(h, { command: 'GC' }, conf11({ 'cni.dev/valid-attachments': [{ containerID: id1, ifname: 'eth0' }] }));
  assert.is(gc.code, 0, `GC: ${gc.stdout} ${gc.stderr}`);
  const left = (await endpoints()).map((w) => w.spec.containerID);
  assert.ok(left.includes(id1), 'the listed attachment keeps its endpoint');
  assert.not.ok(left.includes(id2), 'the unlisted one loses its endpoint');
  const links = await hostLinks();
  assert.match(links, hostVethName(id1, 'eth0'));
  assert.not.match(links, hostVethName(id2, 'eth0'), 'and its host veth');
  assert.ok(await handleInfo(h.store, `${id1}.eth0`), 'the listed handle keeps its address');
  assert.is(await handleInfo(h.store, `${id2}.eth0`), null, 'the unlisted handle is released');

  const status = await runPlugin(h, { command: 'STATUS' }, conf11());
  assert.is(status.code, 0, `STATUS with etcd up and a pool: ${status.stdout}`);
  const empty = await runPlugin(h, { command: 'STATUS' }, conf11({ etcdPrefix: '/nothing-here/' }));
  assert.equal([empty.code, empty.json?.code], [1, 50], `STATUS with no pool: ${empty.stdout}`);
  const del = await runPlugin(h, { command: 'DEL', containerID: id1, netns: path(g1), ifname: 'eth0' }, conf11());
  assert.is(del.code, 0);
});

test('dual stack (ipam.assign_ipv6): an IPv6 /128 too, its default route via fe80::1 on the host end, and ping6 between containers', async () => {
  await h.store.apply({ apiVersion: 'trellis.dev/v1', kind: 'IPPool', metadata: { name: 'p6' }, spec: { cidr: 'fd60::/112' } });
  await h.host.run(['sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1']);
  const conf = netConf(h, { ipam: { type: 'trellis', assign_ipv6: 'true' } });
  const [d1, d2] = [await sandbox('d1'), await sandbox('d2')];
  const [id1, id2] = [containerId(81), containerId(82)];
  const v6 = async (id: string, sb: Netns): Promise<string> => {
    const r = await runPlugin(h, { command: 'ADD', containerID: id, netns: path(sb), ifname: 'eth0' }, conf);
    assert.is(r.code, 0, `ADD: ${r.stdout} ${r.stderr}`);
    const ips = r.json?.ips as Array<{ address: string; gateway: string }>;
    assert.equal(ips.map((i) => i.gateway), ['169.254.1.1', 'fe80::1'], 'an IPv4 and an IPv6 address, each with its gateway');
    assert.equal(r.json?.routes, [{ dst: '0.0.0.0/0', gw: '169.254.1.1' }, { dst: '::/0', gw: 'fe80::1' }]);
    const addr = ips[1]!.address;
    assert.ok(cidrContains('fd60::/112', addr.split('/')[0]!) && addr.endsWith('/128'), `IPv6 address ${addr} from the pool, as a /128`);
    const wep = (await endpoints()).find((w) => w.spec.containerID === id)!;
    assert.equal(wep.spec.ipNetworks, [ips[0]!.address, addr], 'the endpoint carries both');
    assert.match(await sb.run(['ip', '-6', 'route']), 'default via fe80::1 dev eth0');
    assert.match(await h.host.run(['ip', '-6', 'route', 'show', 'proto', String(ROUTE_PROTO_WORKLOAD)]), `${addr.split('/')[0]} dev ${hostVethName(id, 'eth0')}`);
    return addr.split('/')[0]!;
  };
  try {
    await v6(id1, d1);
    const a2 = await v6(id2, d2);
    const ping = await d1.exec(['busybox', 'ping', '-c', '1', '-W', '3', a2]);
    assert.is(ping.exitCode, 0, `ping6 ${a2}: ${ping.stdout} ${ping.stderr}`);
  } finally {
    for (const [id, sb] of [[id1, d1], [id2, d2]] as const) {
      assert.is((await runPlugin(h, { command: 'DEL', containerID: id, netns: path(sb), ifname: 'eth0' }, conf)).code, 0);
      assert.is(await handleInfo(h.store, `${id}.eth0`), null, 'both addresses released');
    }
    await h.store.delete({ kind: 'IPPool', name: 'p6' });
  }
});

test('a failed ADD leaves nothing behind: interface name taken in the sandbox', async () => {
  const c = await sandbox('taken');
  await c.run(['ip', 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'other0']);
  const id = containerId(3);
  const r = await runPlugin(h, { command: 'ADD', containerID: id, netns: path(c), ifname: 'eth0' }, netConf(h));
  assert.is.not(r.code, 0, 'ADD must fail');
  assert.is(r.json?.code, 5, `I/O failure code: ${r.stdout} ${r.stderr}`);
  assert.match(String(r.json?.msg), 'eth0');
  assert.is(await used(), 0, 'address released');
  assert.is(await handleInfo(h.store, `${id}.eth0`), null);
  assert.not.match(await hostLinks(), hostVethName(id, 'eth0'), 'no host veth left');
  assert.equal(await endpoints(), []);
});

test('a failed ADD leaves nothing behind: failure after the endpoint was written', async () => {
  const c = await sandbox('late');
  const id = containerId(4);
  for (const step of ['ipam', 'veth', 'endpoint']) {
    const r = await runPlugin(h, { command: 'ADD', containerID: id, netns: path(c), ifname: 'eth0', env: { TRELLIS_CNI_FAULT: step } }, netConf(h));
    assert.is.not(r.code, 0, `ADD with a fault after ${step} must fail`);
    assert.is(await used(), 0, `after ${step}: address released`);
    assert.not.match(await hostLinks(), hostVethName(id, 'eth0'), `after ${step}: host veth removed`);
    assert.not.match(await c.run(['ip', '-o', 'link']), 'eth0', `after ${step}: container interface removed`);
    assert.equal(await endpoints(), [], `after ${step}: no endpoint`);
  }
});

test('a requested address is honoured, and refused with code 102 when taken', async () => {
  const c1 = await sandbox('ip1');
  const c2 = await sandbox('ip2');
  const r = await runPlugin(h, { command: 'ADD', containerID: containerId(5), netns: path(c1), ifname: 'eth0' }, netConf(h, { runtimeConfig: { ips: ['10.60.0.200/24'] } }));
  assert.is(r.code, 0, r.stdout);
  assert.is((r.json?.ips as Array<{ address: string }>)[0]!.address, '10.60.0.200/32');
  const taken = await runPlugin(h, { command: 'ADD', containerID: containerId(6), netns: path(c2), ifname: 'eth0', args: 'IP=10.60.0.200' }, netConf(h));
  assert.is(taken.json?.code, 102, `taken address: ${taken.stdout}`);
  assert.match(String(taken.json?.msg), '10.60.0.200');
  assert.not.match(await c2.run(['ip', '-o', 'link']), 'eth0');
  await runPlugin(h, { command: 'DEL', containerID: containerId(5), netns: path(c1), ifname: 'eth0' }, netConf(h));
  assert.is(await used(), 0);
});

// busybox wget crashes on this machine; nc speaks the request instead.
const GET = 'GET / HTTP/1.0\r\n\r\n';

test('chained with the stock portmap plugin: prevResult is accepted and -p 8080:80 is DNATed', async () => {
  const srv = await sandbox('srv');
  const cli = await sandbox('cli');
  // The host's own address (on lo here): portmap DNATs traffic to any local address.
  await h.host.run(['ip', 'addr', 'add', '10.99.0.1/32', 'dev', 'lo']);
  const portMappings = [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }];
  const id = containerId(10);
  const add = await runPlugin(h, { command: 'ADD', containerID: id, netns: path(srv), ifname: 'eth0' }, netConf(h, { runtimeConfig: { portMappings } }));
  assert.is(add.code, 0, `${add.stdout} ${add.stderr}`);
  const srvIp = (add.json?.ips as Array<{ address: string }>)[0]!.address.split('/')[0]!;
  const pmConf = { cniVersion: '1.0.0', name: 'trellis', type: 'portmap', capabilities: { portMappings: true }, runtimeConfig: { portMappings }, prevResult: add.json };
  const pm = await runPlugin(h, { command: 'ADD', containerID: id, netns: path(srv), ifname: 'eth0' }, pmConf, ['/usr/lib/cni/portmap']);
  assert.is(pm.code, 0, `portmap ADD: ${pm.stdout} ${pm.stderr}`);
  assert.equal((pm.json?.ips as unknown[]).length, 1, 'portmap passes our result through');
  const nat = await h.host.run(['iptables-save', '-t', 'nat']);
  assert.match(nat, `--to-destination ${srvIp}:80`, 'DNAT to the container programmed in the host namespace');
  const cadd = await runPlugin(h, { command: 'ADD', containerID: containerId(11), netns: path(cli), ifname: 'eth0' }, netConf(h));
  assert.is(cadd.code, 0, `${cadd.stdout} ${cadd.stderr}`);
  const www = join(h.dir, 'www');
  mkdirSync(www, { recursive: true });
  writeFileSync(join(www, 'index.html'), 'hello from trellis\n');
  const httpd = spawn('ip', ['netns', 'exec', srv.name, 'busybox', 'httpd', '-f', '-p', '80', '-h', www], { stdio: 'ignore' });
  try {
    let body = '';
    let err = '';
    for (let i = 0; i < 20 && !body.includes('hello'); i++) {
      await new Promise((r) => setTimeout(r, 100));
      const r = await cli.exec(['busybox', 'nc', '-w', '2', '10.99.0.1', '8080'], { input: GET });
      body = r.stdout;
      err = r.stderr;
    }
    const direct = await cli.exec(['busybox', 'nc', '-w', '2', srvIp, '80'], { input: GET });
    assert.match(body, 'hello from trellis', `a container reaches the other through host port 8080: ${err}; direct: ${direct.stdout}${direct.stderr}`);
  } finally {
    httpd.kill('SIGKILL');
  }
  const pmDel = await runPlugin(h, { command: 'DEL', containerID: id, netns: path(srv), ifname: 'eth0' }, pmConf, ['/usr/lib/cni/portmap']);
  assert.is(pmDel.code, 0, pmDel.stdout);
  assert.not.match(await h.host.run(['iptables-save', '-t', 'nat']), `${srvIp}:80`, 'portmap DEL removed the DNAT');
  for (const [cid, ns] of [[id, srv], [containerId(11), cli]] as const) {
    assert.is((await runPlugin(h, { command: 'DEL', containerID: cid, netns: path(ns), ifname: 'eth0' }, netConf(h))).code, 0);
  }
  assert.is(await used(), 0);
});

test.run();
