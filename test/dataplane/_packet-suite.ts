// The dataplane against real packets, once per policy backend (packets.test.ts runs it for
// each): a host namespace, four containers (two tenants), a fifth container on an interface
// Trellis does not know, and an outside namespace on the uplink. TCP, UDP and ICMP decide
// who gets through; drift, restart and another tool's rules too.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DesiredState } from '../../src/calc/index.js';
import { inNetns, type Netns } from '../../src/lab/index.js';
import { silentLogger } from '../../src/log/index.js';
import { createDataplane, type Dataplane } from '../../src/dataplane/index.js';
import { countMismatches, type BackendCase } from './_backends.js';
import { LAB_EPS, collidingProfiles, labState, rule } from './_state.js';
import { HOST_UPLINK_IP, OUTSIDE_IP, createLab, ping, plug, readText, spoofTrial, tcp, udp, waitListening, waitServing, type Lab } from './_lab.js';

const ROGUE = { iface: 'trlz9', ip: '10.65.9.9' };

/**
 * The lab's tenants with a-web's ingress made consistent with Calico's Pass (which skips
 * every later policy): no-ssh (order 1, Deny TCP 22) before allow-ssh (order 2, Allow TCP
 * 22: must lose), web-from-tenant-b (order 5, Allow TCP 80 from tenant b),
 * web-from-outside (order 6), then deny-ssh (order 10: Deny 22, Pass -> profiles).
 * Plus port maps and natOutgoing.
 */
function fullState(): DesiredState {
  const ds = labState();
  const tcpPort = (action: 'Allow' | 'Deny', port: number, origin: string, srcSets: string[] = []) =>
    rule({ action, protocol: 6, srcSets, dstPorts: [{ from: port, to: port }], origin });
  ds.policies = [
    ds.policies.find((p) => p.id === 'GlobalNetworkPolicy/deny-ssh')!,
    { id: 'GlobalNetworkPolicy/no-ssh', order: 1, egress: [], ingress: [tcpPort('Deny', 22, 'GlobalNetworkPolicy no-ssh ingress[0]')] },
    { id: 'GlobalNetworkPolicy/allow-ssh', order: 2, egress: [], ingress: [tcpPort('Allow', 22, 'GlobalNetworkPolicy allow-ssh ingress[0]')] },
    { id: 'NetworkPolicy/tenant-a/web-from-tenant-b', order: 5, egress: [], ingress: [tcpPort('Allow', 80, 'NetworkPolicy tenant-a/web-from-tenant-b ingress[0]', ['tb'])] },
    { id: 'NetworkPolicy/tenant-a/web-from-outside', order: 6, egress: [], ingress: [tcpPort('Allow', 80, 'NetworkPolicy tenant-a/web-from-outside ingress[0]', ['outside'])] },
  ].sort((a, b) => a.id.localeCompare(b.id));
  ds.ipsets.push({ id: 'outside', type: 'hash:net', key: 'nets:192.168.77.0/24', members: ['192.168.77.0/24'] });
  ds.ipsets.sort((a, b) => a.id.localeCompare(b.id));
  const web = ds.endpoints.find((e) => e.interfaceName === 'trla1')!;
  web.ingress.policies = ['GlobalNetworkPolicy/no-ssh', 'GlobalNetworkPolicy/allow-ssh', 'NetworkPolicy/tenant-a/web-from-tenant-b',
    'NetworkPolicy/tenant-a/web-from-outside', 'GlobalNetworkPolicy/deny-ssh'];
  web.portMaps = [{ protocol: 'tcp', hostPort: 8080, containerIP: '10.65.0.1', containerPort: 80 }];
  ds.endpoints.find((e) => e.interfaceName === 'trlb1')!.portMaps = [{ protocol: 'tcp', hostPort: 8081, hostIP: HOST_UPLINK_IP, containerIP: '10.65.1.1', containerPort: 80 }];
  ds.nat = { masqueradeSources: ['10.65.0.0/16'], allPools: ['10.65.0.0/16'] };
  return ds;
}

export function packetSuite(backend: BackendCase): void {
  const test = suite(`packets [${backend.name}]`);
  let lab: Lab;
  let dp: Dataplane;
  let dir: string;
  const kids: ChildProcess[] = [];
  const c = (iface: string): Netns => lab.containers.get(iface)!;
  const aWeb = () => c('trla1');
  const aClient = () => c('trla2');
  const bWeb = () => c('trlb1');
  const bClient = () => c('trlb2');
  const newDataplane = () => createDataplane({ netns: lab.host.name, logger: silentLogger(), policyBackend: backend.create });

  function start(ns: Netns, argv: string[]): ChildProcess {
    const full = inNetns(ns.name, argv);
    const child = spawn(full[0]!, full.slice(1), { stdio: 'ignore' });
    kids.push(child);
    return child;
  }

  test.before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'trl-dp-'));
    lab = await createLab('dp', [...LAB_EPS, ROGUE]);
    for (const e of [...LAB_EPS, ROGUE]) {
      lab.serve(c(e.iface), 80);
      lab.serve(c(e.iface), 53, 'udp');
    }
    lab.serve(aWeb(), 22);
    lab.serve(aWeb(), 81);
    lab.serve(lab.outside, 9000);
    // Docker got here first: its chains, jumps, a set (as the backend spells them), and a route of its own.
    await backend.plantForeign(lab.host);
    await lab.host.run(['ip', 'route', 'add', ROGUE.ip, 'dev', ROGUE.iface, 'scope', 'link']);
    await Promise.all([...lab.containers.values()].map((n) => waitServing(n, '127.0.0.1', 80)));
    await Promise.all([...lab.containers.values()].map((n) => waitListening(n, 53, 'udp')));
    await waitServing(lab.outside, '127.0.0.1', 9000);
    dp = newDataplane();
  });

  test.after(async () => {
    for (const k of kids) if (k.exitCode === null) { try { k.kill('SIGKILL'); } catch { /* gone */ } }
    await lab?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('default deny: endpoints without policies or profiles get nothing', async () => {
    const ds = labState();
    for (const e of ds.endpoints) e.ingress = e.egress = { policies: [], profiles: [] };
    const r = await dp.reconcile(ds);
    assert.ok(r.wrote, 'first reconcile writes');
    assert.equal(r.skipped, [], 'every interface exists');
    const [t, p, u] = await Promise.all([tcp(aClient(), '10.65.0.1', 80), ping(aClient(), '10.65.0.1'), udp(aClient(), '10.65.0.1', 53)]);
    assert.equal([t, p, u], [null, false, null], 'tcp, icmp and udp within a tenant all blocked');
  });

  test('tenant matrix: same tenant allowed, across denied, web open to tenant b, deny beats allow, pass to profile', async () => {
    const r = await dp.reconcile(fullState());
    assert.ok(r.wrote);
    const checks: Array<[string, Promise<unknown>, unknown]> = [
      ['a-client -> a-web tcp/80 (profile, same tenant)', tcp(aClient(), '10.65.0.1', 80).then(Boolean), true],
      ['a-client -> a-web icmp', ping(aClient(), '10.65.0.1'), true],
      ['a-client -> a-web udp/53', udp(aClient(), '10.65.0.1', 53).then(Boolean), true],
      ['b-client -> b-web tcp/80', tcp(bClient(), '10.65.1.1', 80).then(Boolean), true],
      ['a-client -> b-web tcp/80 (across tenants)', tcp(aClient(), '10.65.1.1', 80).then(Boolean), false],
      ['a-client -> b-web icmp', ping(aClient(), '10.65.1.1'), false],
      ['b-client -> a-client udp/53', udp(bClient(), '10.65.0.2', 53).then(Boolean), false],
      ['b-client -> a-web tcp/80 (web-from-tenant-b)', tcp(bClient(), '10.65.0.1', 80).then(Boolean), true],
      ['b-client -> a-web tcp/81 (pass -> profile denies)', tcp(bClient(), '10.65.0.1', 81).then(Boolean), false],
      ['b-client -> a-client tcp/80', tcp(bClient(), '10.65.0.2', 80).then(Boolean), false],
      ['a-client -> a-web tcp/22 (no-ssh order 1 Deny beats allow-ssh order 2 Allow)', tcp(aClient(), '10.65.0.1', 22).then(Boolean), false],
      ['rogue (unknown trl interface) -> outside', tcp(c(ROGUE.iface), OUTSIDE_IP, 9000).then(Boolean), false],
      ['a-web -> rogue', tcp(aWeb(), ROGUE.ip, 80).then(Boolean), false],
    ];
    const got = await Promise.all(checks.map(([, p]) => p));
    const wrong = checks.filter(([, , want], i) => got[i] !== want).map(([name, , want]) => `${name}: expected ${want ? 'through' : 'blocked'}`);
    assert.equal(wrong, [], wrong.join('\n'));
  });

  test('port maps: reachable via the host from outside, from the host itself, and subject to ingress policy', async () => {
    const [outA, outB, hostA, hostB, bViaHost, aViaHost] = await Promise.all([
      tcp(lab.outside, HOST_UPLINK_IP, 8080),
      tcp(lab.outside, HOST_UPLINK_IP, 8081),
      tcp(lab.host, HOST_UPLINK_IP, 8080),
      tcp(lab.host, HOST_UPLINK_IP, 8081),
      tcp(bClient(), HOST_UPLINK_IP, 8081),
      tcp(aClient(), HOST_UPLINK_IP, 8081),
    ]);
    assert.ok(outA, 'outside -> host:8080 -> a-web:80 allowed by web-from-outside');
    assert.is(outA, `ok ${OUTSIDE_IP}`, 'the container sees the real client address');
    assert.is(outB, null, 'outside -> host:8081 -> b-web blocked by b-web ingress');
    assert.ok(hostA, 'host itself -> 8080 -> a-web (nat OUTPUT) allowed');
    assert.is(hostB, null, 'host itself -> 8081 -> b-web blocked by ingress (filter OUTPUT)');
    assert.ok(bViaHost, 'b-client -> host:8081 -> b-web allowed (same tenant)');
    assert.is(aViaHost, null, 'a-client -> host:8081 -> b-web blocked (across tenants)');
  });

  test('natOutgoing: the outside sees the host address', async () => {
    const seen = await tcp(aClient(), OUTSIDE_IP, 9000);
    assert.ok(seen === `ok ${HOST_UPLINK_IP}`, `outside saw ${seen}`);
  });

  test('a spoofed source is dropped (rp_filter), the real owner gets through', async () => {
    const file = join(dir, 'udp-recv');
    start(bWeb(), ['socat', '-u', 'UDP-RECV:5555', `OPEN:${file},creat,append`]);
    await waitListening(bWeb(), 5555, 'udp');
    await aClient().run(['ip', 'addr', 'add', '10.65.1.2/32', 'dev', 'eth0']);
    try {
      const got = await spoofTrial({ target: '10.65.1.1', port: 5555, spoofer: aClient(), stolen: '10.65.1.2', owner: bClient(), received: () => readText(file) });
      assert.ok(got.includes('legit'), 'b-client reaches b-web');
      assert.not.ok(got.includes('spoofed'), 'a-client using b-client\'s address never reaches b-web');
    } finally {
      await aClient().run(['ip', 'addr', 'del', '10.65.1.2/32', 'dev', 'eth0']);
    }
  });

  test('drift repair: each removed piece comes back with one reconcile, and only that piece', async () => {
    await backend.drift(lab.host, { policyId: 'NetworkPolicy/tenant-a/web-from-tenant-b', setId: 'ta' });
    await lab.host.run(['ip', 'route', 'del', '10.65.0.1/32']);
    await lab.host.run(['sysctl', '-w', 'net.ipv4.conf.trla1.proxy_arp=0']);
    assert.is(await tcp(bClient(), '10.65.0.1', 80), null, 'drift breaks b-client -> a-web');
    const r = await dp.reconcile(fullState(), { resync: true });
    assert.ok(r.resynced, 'a resync reads the kernel back');
    const wrong = countMismatches(r.counts, { ...backend.driftRepair, routesAdded: 1, sysctlsWritten: 1 });
    assert.equal(wrong, [], `only the removed pieces are rewritten: ${wrong.join('; ')}`);
    assert.ok(await tcp(bClient(), '10.65.0.1', 80), 'b-client -> a-web works again');
    const again = await dp.reconcile(fullState(), { resync: true });
    assert.is(again.wrote, false, `no-drift reconcile writes nothing: ${JSON.stringify(again.counts)}`);
    assert.is(again.counts.writeCommands, 0);
    const state = fullState();
    await dp.reconcile(state);
    const cached = await dp.reconcile(state);
    assert.equal([cached.resynced, cached.wrote], [false, false], 'between resyncs the same state (as calc hands it over) is diffed against the last write: nothing to do');
  });

  test('a restarted dataplane converges without rewriting, and an established TCP flow survives its changes', async () => {
    const file = join(dir, 'stream');
    start(aWeb(), ['socat', '-u', 'TCP-LISTEN:7000,reuseaddr', `OPEN:${file},creat,append`]);
    await waitListening(aWeb(), 7000);
    const client = start(aClient(), ['socat', '-u', 'SYSTEM:while true; do echo x; sleep 0.05; done', 'TCP:10.65.0.1:7000']);
    const size = () => { try { return statSync(file).size; } catch { return 0; } };
    // The writer sends every 50 ms; on a loaded host allow it a few seconds to show growth.
    const grows = async () => {
      const s0 = size();
      for (let i = 0; i < 30; i++) {
        await new Promise((r) => setTimeout(r, 200));
        if (size() > s0) return true;
      }
      return false;
    };
    assert.ok(await grows(), 'stream flows before the restart');
    const dp2 = newDataplane();
    const r = await dp2.reconcile(fullState());
    assert.is(r.wrote, false, `a new instance on a programmed kernel writes nothing: ${JSON.stringify(r.counts)}`);
    assert.ok(r.resynced, 'a new instance reads the kernel first');
    // Tighten policy under the flow: tenant a's profile no longer allows anything new (only
    // the profile is a new object, as calc would hand it over).
    const base = fullState();
    await dp2.reconcile(base);
    const ds = { ...base, profiles: base.profiles.map((p) => (p.id === 'Profile/tenant-a' ? { ...p, ingress: [] } : p)) };
    const r2 = await dp2.reconcile(ds);
    // Only the IPv4 profile's rules (these endpoints have no IPv6 address, so nothing IPv6): one write.
    assert.is(r2.resynced, false, 'diffed against the last write');
    assert.equal(countMismatches(r2.counts, backend.oneProfileEdit), [], JSON.stringify(r2.counts));
    assert.ok(await grows(), 'the established stream keeps passing data');
    assert.is(client.exitCode, null, 'stream client still running');
    assert.is(await tcp(aClient(), '10.65.0.1', 80), null, 'new connections meet the new policy');
    await dp2.reconcile(fullState());
    dp = dp2;
  });

  test('foreign rules, chains, sets and routes survive every reconcile; our jump stays first', async () => {
    const broken = await backend.foreignIntact(lab.host);
    assert.equal(broken, [], broken.join('; '));
    assert.ok((await lab.host.run(['ip', 'route', 'show', ROGUE.ip])).includes(ROGUE.iface), 'foreign route kept');
  });

  test('an endpoint with an impossible interface name is skipped, the rest still applies', async () => {
    const ds = fullState();
    const bogus = structuredClone(ds.endpoints[0]!);
    bogus.id = 'WorkloadEndpoint/tenant-a/bogus';
    bogus.interfaceName = 'bad name;-j';
    ds.endpoints.push(bogus);
    const r = await dp.reconcile(ds);
    assert.ok(r.skipped.some((s) => s.includes('tenant-a/bogus')), `skipped: ${r.skipped.join('; ')}`);
    assert.equal(r.errors, []);
    assert.ok(await tcp(bClient(), '10.65.0.1', 80), 'policy still in force');
  });

  test('a veth re-created under an unchanged endpoint (CNI DEL + ADD in one batch) gets its route and sysctls back at once', async () => {
    const ds = fullState();
    await dp.reconcile(ds);
    const same = await dp.reconcile(ds);
    assert.equal([same.wrote, same.resynced], [false, false], 'the same state again writes nothing and reads nothing back');
    await lab.host.run(['ip', 'link', 'del', 'trla2']);
    await plug(lab.host, aClient(), LAB_EPS.find((e) => e.iface === 'trla2')!);
    assert.ok(!(await lab.host.run(['ip', 'route', 'show', '10.65.0.2/32'])).includes('trla2'), 'the old veth took its route with it');
    // calc hands over a new (equal) endpoint object after a delete and re-add: that is the cue.
    const r = await dp.reconcile(fullState());
    assert.is(r.resynced, false, 'no resync needed');
    assert.ok((await lab.host.run(['ip', 'route', 'show', '10.65.0.2/32'])).includes('dev trla2'), `route back: ${JSON.stringify(r.counts)}`);
    assert.is((await lab.host.run(['sysctl', '-n', 'net.ipv4.conf.trla2.proxy_arp'])).trim(), '1', 'proxy ARP back on the new veth');
    // A fresh veth starts with empty neighbour tables on both sides: allow a few tries.
    await waitServing(aClient(), '10.65.0.1', 80).catch(() => assert.unreachable('a-client -> a-web never worked over the new veth'));
  });

  test('past 16 endpoints the dispatch is a tree of chains, and packets still find theirs', async () => {
    // trla3..trla32 (veths with no container behind them) split trl-from-wl into trl-from-wl-trla and its trla1/trla2/trla3 branches.
    const extra = Array.from({ length: 30 }, (_, i) => i + 3);
    await lab.host.run(['ip', '-batch', '-'], { input: extra.map((i) => `link add trla${i} type veth peer name trlq${i}\nlink set trla${i} up\n`).join('') });
    try {
      const ds = fullState();
      const client = ds.endpoints.find((e) => e.interfaceName === 'trla2')!;
      for (const i of extra) {
        ds.endpoints.push({ ...structuredClone(client), id: `WorkloadEndpoint/tenant-a/x${i}`, name: `x${i}`, interfaceName: `trla${i}`, addresses: [`10.65.2.${i}/32`] });
        ds.routes.push({ dst: `10.65.2.${i}/32`, family: 4, dev: `trla${i}` });
      }
      ds.endpoints.sort((a, b) => (a.id < b.id ? -1 : 1));
      assert.equal((await dp.reconcile(ds)).errors, []);
      const saved = await backend.dump(lab.host);
      for (const c of backend.dispatchBranches) assert.ok(saved.includes(c), `branch ${c} exists`);
      const checks: Array<[string, Promise<unknown>, unknown]> = [
        ['a-client -> a-web tcp/80 (both behind branches)', tcp(aClient(), '10.65.0.1', 80).then(Boolean), true],
        ['b-client -> a-web tcp/80 (web-from-tenant-b)', tcp(bClient(), '10.65.0.1', 80).then(Boolean), true],
        ['a-client -> b-web tcp/80 (across tenants)', tcp(aClient(), '10.65.1.1', 80).then(Boolean), false],
        ['rogue (unknown trl interface) -> outside', tcp(c(ROGUE.iface), OUTSIDE_IP, 9000).then(Boolean), false],
      ];
      const got = await Promise.all(checks.map(([, p]) => p));
      const wrong = checks.filter(([, , want], i) => got[i] !== want).map(([name, , want]) => `${name}: expected ${want ? 'through' : 'blocked'}`);
      assert.equal(wrong, [], wrong.join('\n'));
    } finally {
      await lab.host.run(['ip', '-batch', '-'], { input: extra.map((i) => `link del trla${i}\n`).join('') });
    }
    const back = await dp.reconcile(fullState());
    assert.ok(back.counts.chainsDeleted >= 60 + 5, `the extra endpoint chains and the branches go: ${JSON.stringify(back.counts)}`);
    const left = await backend.dump(lab.host);
    for (const c of backend.dispatchBranches) assert.not.ok(left.includes(c), `branch ${c} left behind`);
  });

  test('endpoints whose verdict chains share an id (run from their own chains) are still enforced as their profiles say', async () => {
    const [open, closed] = collidingProfiles();
    const ds = fullState();
    ds.profiles.push({ id: open, ingress: [rule({ action: 'Allow', origin: `${open} ingress[0]` })], egress: [] }, { id: closed, ingress: [], egress: [] });
    ds.profiles.sort((a, b) => a.id.localeCompare(b.id));
    ds.endpoints.find((e) => e.interfaceName === 'trla2')!.ingress = { policies: [], profiles: [open] };
    ds.endpoints.find((e) => e.interfaceName === 'trlb2')!.ingress = { policies: [], profiles: [closed] };
    assert.equal((await dp.reconcile(ds)).errors, []);
    const saved = await backend.dump(lab.host);
    for (const i of ['trla2', 'trlb2']) assert.match(saved, backend.runsOwnVerdict(i), `${i} runs its verdict chain itself`);
    const checks: Array<[string, Promise<unknown>, unknown]> = [
      ['a-web -> a-client tcp/80 (its profile allows all)', tcp(aWeb(), '10.65.0.2', 80).then(Boolean), true],
      ['b-web -> a-client tcp/80 (its profile allows all)', tcp(bWeb(), '10.65.0.2', 80).then(Boolean), true],
      ['b-web -> b-client tcp/80 (its profile allows nothing)', tcp(bWeb(), '10.65.1.2', 80).then(Boolean), false],
      ['b-web -> b-client icmp', ping(bWeb(), '10.65.1.2'), false],
      ['a-client -> a-web tcp/80 (dispatched by id as before)', tcp(aClient(), '10.65.0.1', 80).then(Boolean), true],
    ];
    const got = await Promise.all(checks.map(([, p]) => p));
    const wrong = checks.filter(([, , want], i) => got[i] !== want).map(([name, , want]) => `${name}: expected ${want ? 'through' : 'blocked'}`);
    assert.equal(wrong, [], wrong.join('\n'));
    await dp.reconcile(fullState());
  });

  /** Every workload path the full state allows, each expected `through` (or, with `through` false, all blocked). */
  const allowedPaths = async (through: boolean): Promise<string[]> => {
    const checks: Array<[string, Promise<unknown>]> = [
      ['a-client -> a-web tcp/80 (forwarded, workload to workload)', tcp(aClient(), '10.65.0.1', 80).then(Boolean)],
      ['b-client -> a-web tcp/80 (web-from-tenant-b)', tcp(bClient(), '10.65.0.1', 80).then(Boolean)],
      ['a-client -> a-web icmp', ping(aClient(), '10.65.0.1')],
      ['a-client -> outside tcp/9000 (workload to the world)', tcp(aClient(), OUTSIDE_IP, 9000).then(Boolean)],
      ['outside -> host:8080 -> a-web (port map, from the world)', tcp(lab.outside, HOST_UPLINK_IP, 8080).then(Boolean)],
    ];
    const got = await Promise.all(checks.map(([, p]) => p));
    return checks.filter((_, i) => got[i] !== through).map(([name]) => `${name}: expected ${through ? 'through' : 'blocked'}`);
  };

  test('a foreign flush of the filter rules leaves workload traffic dropped, never open, until a resync repairs it', async () => {
    await dp.reconcile(fullState());
    assert.equal(await allowedPaths(true), [], 'every path works before the flush');
    await backend.foreignFlush(lab.host);
    const open = await allowedPaths(false);
    assert.equal(open, [], `after the flush: ${open.join('; ')}`);
    const r = await dp.reconcile(fullState(), { resync: true });
    assert.equal(r.errors, []);
    const broken = await allowedPaths(true);
    assert.equal(broken, [], `after the repair: ${broken.join('; ')}`);
  });

  test('missing jumps into the filter rules leave workload traffic dropped, never open, until a resync repairs them', async () => {
    await backend.unhookAll(lab.host);
    const open = await allowedPaths(false);
    assert.equal(open, [], `without the jumps: ${open.join('; ')}`);
    const r = await dp.reconcile(fullState(), { resync: true });
    assert.ok(r.counts.jumpsFixed >= 3, `the jumps come back: ${JSON.stringify(r.counts)}`);
    const broken = await allowedPaths(true);
    assert.equal(broken, [], `after the repair: ${broken.join('; ')}`);
  });

  test('removing an endpoint removes its chains and route; its interface then fails closed', async () => {
    const ds = fullState();
    ds.endpoints = ds.endpoints.filter((e) => e.interfaceName !== 'trlb2');
    ds.routes = ds.routes.filter((r) => r.dev !== 'trlb2');
    ds.ipsets.find((s) => s.id === 'tb')!.members = ['10.65.1.1/32'];
    const r = await dp.reconcile(ds);
    // Its objects (IPv4 only: it had no IPv6 address), its route and its set member.
    const wrong = countMismatches(r.counts, { ...backend.oneEndpointRemoved, routesDeleted: 1 });
    assert.equal(wrong, [], wrong.join('; '));
    assert.not.ok((await backend.dump(lab.host)).includes(backend.endpointObject('trlb2')), 'its objects are gone');
    assert.is(await tcp(bClient(), OUTSIDE_IP, 9000), null, 'traffic from the forgotten interface is dropped');
  });

  test.run();
}
