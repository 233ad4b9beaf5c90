// Host endpoints against real packets: a host namespace with two interfaces (up0 to
// "outside", up1 to "mgmt") and three containers. The host answers TCP on the failsafe
// ports (22 SSH, 179 BGP, 2379 etcd) and on 80 and 5000; outside answers 80 and 179; a-web
// answers 80, and the host maps its 8080 to it. Each test reconciles a hand-written
// DesiredState (_host-state.ts) and checks who gets through.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { connectNetns, createNetns, testNetnsPrefix, type Netns } from '../../src/lab/index.js';
import { silentLogger } from '../../src/log/index.js';
import { createDataplane, type Dataplane } from '../../src/dataplane/index.js';
import { explainFromHost, explainToHost, formatHostVerdict, type DesiredState, type HostVerdict } from '../../src/calc/index.js';
import { HOST_UPLINK_IP, OUTSIDE_IP, createLab, tcp, waitServing, type Lab } from './_lab.js';
import { HOST_EPS, hep, hostLabState, policy, tcpRule } from './_host-state.js';
import { rule } from './_state.js';

const MGMT_HOST_IP = '192.168.78.1';
const MGMT_IP = '192.168.78.2';
const A_WEB = '10.65.0.1';

const test = suite('host endpoints: packets');
let lab: Lab;
let mgmt: Netns;
let dp: Dataplane;
const c = (iface: string) => lab.containers.get(iface)!;

/** Each expectation as "from -> to:port", with what happened when it did not hold. */
async function expectReach(cases: Array<[string, Netns, string, number, boolean]>): Promise<void> {
  const wrong: string[] = [];
  await Promise.all(cases.map(async ([label, from, ip, port, want]) => {
    const got = (await tcp(from, ip, port)) !== null;
    if (got !== want) wrong.push(`${label} -> ${ip}:${port} ${want ? 'should connect but was refused' : 'should be refused but connected'}`);
  }));
  assert.equal(wrong.sort(), [], wrong.join('; '));
}

async function apply(ds: DesiredState): Promise<void> {
  const r = await dp.reconcile(ds);
  assert.equal(r.errors, [], `reconcile errors: ${r.errors.join('; ')}`);
}

const denyAll = policy('deny-all', [], []);
const allowAll = policy('allow-all', [rule({ action: 'Allow', origin: 'GlobalNetworkPolicy allow-all ingress[0]' })], [rule({ action: 'Allow', origin: 'GlobalNetworkPolicy allow-all egress[0]' })]);

test.before(async () => {
  lab = await createLab('hep', HOST_EPS);
  const p = testNetnsPrefix();
  try {
    mgmt = await createNetns(`${p}hepm`);
  } catch (err) {
    await lab.destroy();
    throw err;
  }
  await connectNetns({ ns: lab.host.name, ifname: 'up1', address: `${MGMT_HOST_IP}/24` }, { ns: mgmt.name, ifname: 'eth0', address: `${MGMT_IP}/24` });
  await lab.host.run(['sysctl', '-w', 'net.ipv4.ip_forward=1']);
  await lab.outside.run(['ip', 'route', 'add', '10.65.0.0/16', 'via', HOST_UPLINK_IP]);
  for (const port of [22, 179, 2379, 80, 5000]) lab.serve(lab.host, port);
  for (const port of [80, 179]) lab.serve(lab.outside, port);
  lab.serve(mgmt, 80);
  lab.serve(c('trla1'), 80);
  dp = createDataplane({ netns: lab.host.name, logger: silentLogger(), resyncIntervalMs: 0 });
  await apply(hostLabState({ endpointToHost: 'Accept' }));
  await waitServing(lab.outside, HOST_UPLINK_IP, 80);
  await waitServing(lab.host, OUTSIDE_IP, 80);
  await waitServing(lab.outside, A_WEB, 80);
  await waitServing(lab.host, MGMT_IP, 80);
});

test.after(async () => {
  await mgmt?.destroy();
  await lab?.destroy();
});

test('no host endpoint: the host is unpoliced, and a workload\'s traffic to it meets DefaultEndpointToHostAction (Drop, Accept, Return)', async () => {
  await apply(hostLabState({ endpointToHost: 'Drop' }));
  await expectReach([
    ['outside', lab.outside, HOST_UPLINK_IP, 80, true],
    ['mgmt', mgmt, MGMT_HOST_IP, 80, true],
    ['a-client (Drop)', c('trla2'), HOST_UPLINK_IP, 80, false],
    ['a-client to a-web (workload to workload, unchanged)', c('trla2'), A_WEB, 80, true],
  ]);
  await apply(hostLabState({ endpointToHost: 'Accept' }));
  await expectReach([['a-client (Accept)', c('trla2'), HOST_UPLINK_IP, 80, true]]);
  // Return hands the packet back to the host's own INPUT rules: one of them, after our jump, refuses a-client.
  await apply(hostLabState({ endpointToHost: 'Return' }));
  await lab.host.run(['iptables', '-A', 'INPUT', '-i', 'trla2', '-p', 'tcp', '--dport', '80', '-j', 'DROP']);
  try {
    await expectReach([
      ['a-client (Return, host rule drops it)', c('trla2'), HOST_UPLINK_IP, 80, false],
      ['b-client (Return, no host rule)', c('trlb2'), HOST_UPLINK_IP, 80, true],
    ]);
  } finally {
    await lab.host.run(['iptables', '-D', 'INPUT', '-i', 'trla2', '-p', 'tcp', '--dport', '80', '-j', 'DROP']);
  }
});

test('deny-all on the all-interfaces endpoint still answers SSH, BGP and etcd (failsafes) and lets the host reach out to BGP; nothing else', async () => {
  await apply(hostLabState({ heps: [hep('all', '*', { ingress: { policies: [denyAll.id], profiles: [] }, egress: { policies: [denyAll.id], profiles: [] } })], policies: [denyAll] }));
  await expectReach([
    ['outside ssh', lab.outside, HOST_UPLINK_IP, 22, true],
    ['outside bgp', lab.outside, HOST_UPLINK_IP, 179, true],
    ['outside etcd', lab.outside, HOST_UPLINK_IP, 2379, true],
    ['mgmt ssh', mgmt, MGMT_HOST_IP, 22, true],
    ['outside web', lab.outside, HOST_UPLINK_IP, 80, false],
    ['mgmt web', mgmt, MGMT_HOST_IP, 80, false],
    ['host to outside bgp (outbound failsafe)', lab.host, OUTSIDE_IP, 179, true],
    ['host to outside web', lab.host, OUTSIDE_IP, 80, false],
    ['host to itself over loopback', lab.host, '127.0.0.1', 80, true],
    ['a-client to the host (all-interfaces policy denies)', c('trla2'), HOST_UPLINK_IP, 80, false],
    ['outside to a-web (forwarded: no applyOnForward policy)', lab.outside, A_WEB, 80, true],
  ]);
  // A host endpoint with no policy and no profile denies as much (fail closed).
  await apply(hostLabState({ heps: [hep('all', '*')], endpointToHost: 'Accept' }));
  await expectReach([
    ['outside ssh (no policy)', lab.outside, HOST_UPLINK_IP, 22, true],
    ['outside web (no policy)', lab.outside, HOST_UPLINK_IP, 80, false],
    ['host to outside web (no policy)', lab.host, OUTSIDE_IP, 80, false],
  ]);
});

test('TCP 80 to the host from tenant a only; a named endpoint (up1) takes its interface from "*"; an interface without an endpoint stays open', async () => {
  const webFromA = policy('host-web-from-a', [tcpRule('Allow', 80, 'GlobalNetworkPolicy host-web-from-a ingress[0]', { srcSets: ['ta'] })]);
  const all = hep('all', '*', { ingress: { policies: [webFromA.id], profiles: [] } });
  await apply(hostLabState({ endpointToHost: 'Accept', heps: [all, hep('mgmt', 'up1', { ingress: { policies: [allowAll.id], profiles: [] }, egress: { policies: [allowAll.id], profiles: [] } })], policies: [webFromA, allowAll] }));
  await expectReach([
    ['a-client', c('trla2'), HOST_UPLINK_IP, 80, true],
    ['b-client', c('trlb2'), HOST_UPLINK_IP, 80, false],
    ['outside', lab.outside, HOST_UPLINK_IP, 80, false],
    ['mgmt (named endpoint allows all)', mgmt, MGMT_HOST_IP, 80, true],
  ]);
  await apply(hostLabState({ heps: [hep('up0-only', 'up0', { ingress: { policies: [webFromA.id], profiles: [] } })], policies: [webFromA] }));
  await expectReach([
    ['outside (up0 policed)', lab.outside, HOST_UPLINK_IP, 80, false],
    ['mgmt (up1 has no endpoint)', mgmt, MGMT_HOST_IP, 80, true],
  ]);
});

test('preDNAT closes a port map to the outside while a container on the same host still reaches it', async () => {
  await apply(hostLabState({ portMaps: true, heps: [hep('all', '*', { ingress: { policies: [allowAll.id], profiles: [] }, egress: { policies: [allowAll.id], profiles: [] } })], policies: [allowAll] }));
  await expectReach([['outside to the port map (open)', lab.outside, HOST_UPLINK_IP, 8080, true]]);
  const close = policy('close-8080', [tcpRule('Deny', 8080, 'GlobalNetworkPolicy close-8080 ingress[0]')], [], { preDNAT: true, applyOnForward: true });
  await apply(hostLabState({
    portMaps: true, policies: [allowAll, close],
    heps: [hep('all', '*', { ingress: { policies: [allowAll.id], profiles: [] }, egress: { policies: [allowAll.id], profiles: [] }, preDnatIngress: [close.id] })],
  }));
  await expectReach([
    ['outside to the port map (closed by preDNAT)', lab.outside, HOST_UPLINK_IP, 8080, false],
    ['b-client to the port map (same host)', c('trlb2'), HOST_UPLINK_IP, 8080, true],
    ['outside to the host (other ports untouched)', lab.outside, HOST_UPLINK_IP, 80, true],
  ]);
});

test('applyOnForward: only such policies police forwarded traffic through a host endpoint; workload to workload is untouched', async () => {
  const no80 = (name: string, fwd: boolean) => policy(name, [tcpRule('Deny', 80, `GlobalNetworkPolicy ${name} ingress[0]`), rule({ action: 'Allow', origin: `GlobalNetworkPolicy ${name} ingress[1]` })], [], fwd ? { applyOnForward: true } : {});
  const local = no80('no-web', false);
  await apply(hostLabState({ heps: [hep('all', '*', { ingress: { policies: [local.id], profiles: [] } })], policies: [local] }));
  await expectReach([
    ['outside to the host (normal policy)', lab.outside, HOST_UPLINK_IP, 80, false],
    ['outside to a-web (forwarded, normal policy does not apply)', lab.outside, A_WEB, 80, true],
  ]);
  const fwd = no80('no-web-fwd', true);
  await apply(hostLabState({ heps: [hep('all', '*', { ingress: { policies: [fwd.id], profiles: [] }, forwardIngress: [fwd.id] })], policies: [fwd] }));
  await expectReach([
    ['outside to the host (applyOnForward applies locally too)', lab.outside, HOST_UPLINK_IP, 80, false],
    ['outside to a-web (forwarded, applyOnForward denies)', lab.outside, A_WEB, 80, false],
    ['a-client to a-web (no host endpoint on the way)', c('trla2'), A_WEB, 80, true],
  ]);
});

test('doNotTrack: an untracked allow passes both ways with no conntrack entry, ahead of a deny-all normal policy', async () => {
  const untracked = policy('untracked-5000', [tcpRule('Allow', 5000, 'GlobalNetworkPolicy untracked-5000 ingress[0]')],
    [rule({ action: 'Allow', protocol: 6, srcPorts: [{ from: 5000, to: 5000 }], origin: 'GlobalNetworkPolicy untracked-5000 egress[0]' })],
    { doNotTrack: true, applyOnForward: true });
  await apply(hostLabState({
    policies: [denyAll, untracked],
    heps: [hep('all', '*', { ingress: { policies: [denyAll.id], profiles: [] }, egress: { policies: [denyAll.id], profiles: [] }, untrackedIngress: [untracked.id], untrackedEgress: [untracked.id] })],
  }));
  await lab.host.exec(['conntrack', '-D', '-p', 'tcp', '--dport', '5000']);
  await expectReach([
    ['outside to the untracked port', lab.outside, HOST_UPLINK_IP, 5000, true],
    ['outside to the host (deny-all)', lab.outside, HOST_UPLINK_IP, 80, false],
    ['outside ssh (failsafe)', lab.outside, HOST_UPLINK_IP, 22, true],
  ]);
  const ct = await lab.host.exec(['conntrack', '-L', '-p', 'tcp', '--dport', '5000']);
  assert.not.match(ct.stdout, /dport=5000/, `conntrack holds an entry for the untracked flow:\n${ct.stdout}`);
  const tracked = await lab.host.exec(['conntrack', '-L', '-p', 'tcp', '--dport', '22']);
  assert.match(tracked.stdout, /dport=22/, 'the failsafe SSH flow, by contrast, is tracked (the check can see entries)');
});

test('a foreign flush of filter leaves a policed host closed, not open; the next resync brings policy back', async () => {
  const ds = hostLabState({ heps: [hep('all', '*', { ingress: { policies: [denyAll.id], profiles: [] }, egress: { policies: [denyAll.id], profiles: [] } })], policies: [denyAll] });
  await apply(ds);
  await lab.host.run(['iptables', '-F']);
  await expectReach([
    ['outside web after the flush', lab.outside, HOST_UPLINK_IP, 80, false],
    ['mgmt web after the flush', mgmt, MGMT_HOST_IP, 80, false],
    ['host over loopback after the flush', lab.host, '127.0.0.1', 80, true],
  ]);
  const r = await dp.reconcile(ds, { resync: true });
  assert.equal(r.errors, []);
  await expectReach([['outside ssh after the resync (failsafe back)', lab.outside, HOST_UPLINK_IP, 22, true]]);
});

test('explain agrees with the kernel for flows to and from the host, packet by packet (failsafes, named and all-interfaces endpoints, doNotTrack, workloads)', async () => {
  const webFromA = policy('host-web-from-a', [tcpRule('Allow', 80, 'GlobalNetworkPolicy host-web-from-a ingress[0]', { srcSets: ['ta'] })]);
  const out80 = policy('host-out-80', [], [tcpRule('Allow', 80, 'GlobalNetworkPolicy host-out-80 egress[0]')]);
  // Stateless, so written for both directions: out to port 80, and the answers from port 80.
  const untracked80 = policy('untracked-out-80', [rule({ action: 'Allow', protocol: 6, srcPorts: [{ from: 80, to: 80 }], origin: 'GlobalNetworkPolicy untracked-out-80 ingress[0]' })],
    [tcpRule('Allow', 80, 'GlobalNetworkPolicy untracked-out-80 egress[0]')], { doNotTrack: true, applyOnForward: true });
  const closedWeb = (ds: DesiredState): DesiredState => ({
    ...ds, endpoints: ds.endpoints.map((e) => (e.interfaceName === 'trla1' ? { ...e, ingress: { policies: [], profiles: [] } } : e)),
  });
  // A platform tier that lets only tenant a's port 80 on to the default tier, whose policy allows.
  const gate = policy('platform.gate', [tcpRule('Pass', 80, 'GlobalNetworkPolicy platform.gate ingress[0]', { srcSets: ['ta'] })],
    [rule({ action: 'Pass', origin: 'GlobalNetworkPolicy platform.gate egress[0]' })]);
  const tiered = {
    policies: [gate.id, allowAll.id], profiles: [],
    tiers: [{ name: 'platform', defaultAction: 'Deny' as const, policies: [gate.id] }, { name: 'default', defaultAction: 'Deny' as const, policies: [allowAll.id] }],
  };
  const states: Array<[string, DesiredState]> = [
    ['tiers', hostLabState({ endpointToHost: 'Accept', heps: [hep('all', '*', { ingress: tiered, egress: tiered })], policies: [gate, allowAll] })],
    ['one tenant', hostLabState({ endpointToHost: 'Accept', heps: [hep('all', '*', { ingress: { policies: [webFromA.id], profiles: [] } }), hep('mgmt', 'up1', { ingress: { policies: [allowAll.id], profiles: [] } })], policies: [webFromA, allowAll] })],
    ['deny-all', hostLabState({ heps: [hep('all', '*', { ingress: { policies: [denyAll.id], profiles: [] }, egress: { policies: [denyAll.id], profiles: [] } })], policies: [denyAll] })],
    ['no endpoint', hostLabState({ endpointToHost: 'Drop' })],
    ['egress by port, a closed workload', closedWeb(hostLabState({
      heps: [hep('all', '*', { egress: { policies: [out80.id], profiles: [] } }), hep('mgmt', 'up1', { egress: { policies: [denyAll.id], profiles: [] } })], policies: [out80, denyAll],
    }))],
    ['doNotTrack egress ahead of deny-all', hostLabState({
      policies: [denyAll, untracked80],
      heps: [hep('all', '*', { ingress: { policies: [denyAll.id], profiles: [] }, egress: { policies: [denyAll.id], profiles: [] }, untrackedIngress: [untracked80.id], untrackedEgress: [untracked80.id] })],
    })],
  ];
  const wl = (ds: DesiredState, iface: string) => ({ workload: ds.endpoints.find((e) => e.interfaceName === iface)! });
  const ip = (iface: string) => HOST_EPS.find((e) => e.iface === iface)!.ip;
  const wrong: string[] = [];
  const deciders = new Set<string>();
  for (const [name, ds] of states) {
    await apply(ds);
    type Via = { iface: string } | ReturnType<typeof wl>;
    const to = (v: Via) => (p: Parameters<typeof explainToHost>[2]) => explainToHost(ds, v, p);
    const from = (v: Via) => (p: Parameters<typeof explainToHost>[2]) => explainFromHost(ds, v, p);
    const flows: Array<[string, Netns, string, string, number, (p: Parameters<typeof explainToHost>[2]) => HostVerdict]> = [
      ['outside', lab.outside, OUTSIDE_IP, HOST_UPLINK_IP, 80, to({ iface: 'up0' })],
      ['outside ssh', lab.outside, OUTSIDE_IP, HOST_UPLINK_IP, 22, to({ iface: 'up0' })],
      ['mgmt', mgmt, MGMT_IP, MGMT_HOST_IP, 80, to({ iface: 'up1' })],
      ['a-client', c('trla2'), ip('trla2'), HOST_UPLINK_IP, 80, to(wl(ds, 'trla2'))],
      ['b-client', c('trlb2'), ip('trlb2'), HOST_UPLINK_IP, 80, to(wl(ds, 'trlb2'))],
      ['host to outside', lab.host, HOST_UPLINK_IP, OUTSIDE_IP, 80, from({ iface: 'up0' })],
      ['host to outside bgp', lab.host, HOST_UPLINK_IP, OUTSIDE_IP, 179, from({ iface: 'up0' })],
      ['host to mgmt', lab.host, MGMT_HOST_IP, MGMT_IP, 80, from({ iface: 'up1' })],
      ['host to a-web', lab.host, HOST_UPLINK_IP, A_WEB, 80, from(wl(ds, 'trla1'))],
    ];
    await Promise.all(flows.map(async ([label, ns, src, dst, port, explain]) => {
      const kernel = (await tcp(ns, dst, port)) !== null;
      const v = explain({ src, dst, family: 4, protocol: 6, port });
      if (ns === lab.host) deciders.add(v.decidedBy.kind === 'rule' ? v.decidedBy.stage : v.decidedBy.kind);
      if (v.allowed !== kernel) wrong.push(`${name}: ${label} -> ${dst}:${port}: kernel ${kernel ? 'allowed' : 'denied'}, explain says ${formatHostVerdict(v)}`);
    }));
  }
  assert.equal(wrong, [], wrong.join('\n'));
  assert.equal([...deciders].sort(), ['default', 'doNotTrack', 'failsafe', 'policy', 'workload ingress'], 'flows from the host met every stage');
});

test('removing the last host endpoint takes its chains, the mangle chains and the IPv4 raw chains away', async () => {
  await apply(hostLabState());
  const dump = await lab.host.run(['iptables-save']);
  const left = dump.split('\n').filter((l) => /trl-(h[a-z]+-|from-hep|to-hep|sec-from-hep|sec-to-hep|failsafe|mangle-pre|raw-|untracked|wl-to-host)/.test(l));
  assert.equal(left, [], `host endpoint objects left behind:\n${left.join('\n')}`);
});

test.run();
