// Host endpoints in explain and the matrix, both directions: from the host's own processes
// out through an endpoint (outbound failsafes, doNotTrack, egress policy, profiles), to and
// from workloads here (no host endpoint between them) and on other nodes (their side on
// their own node's state), a host endpoint named by its address, loopback, and the
// matrix's host rows equal to explain for every cell.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { computeDesiredState, explainHostFlow, hostMatrixIn, resourceView, type DesiredState, type ExplainView } from '../../src/calc/index.js';
import type { Resource } from '../../src/model/index.js';
import { gnp, hep, namespace, profile, wep } from './_fixtures.js';

const NODE = 'node1';

function resources(): Resource[] {
  return [
    namespace('ns1', { tenant: 'a' }),
    namespace('ns2', { tenant: 'b' }),
    profile('open', { ingress: [{ action: 'Allow' }], egress: [{ action: 'Allow' }] }),
    wep('ns1', 'w', { node: NODE, ip: '10.0.0.1/32', labels: { app: 'web' }, profiles: ['open'] }),
    wep('ns1', 'closed', { node: NODE, ip: '10.0.0.3/32', labels: { app: 'db' } }),
    wep('ns2', 'b', { node: 'node2', ip: '10.0.1.2/32', labels: { app: 'web' }, profiles: ['open'] }),
    wep('ns2', 'c', { node: 'node2', ip: '10.0.1.3/32', labels: { app: 'cache' }, profiles: ['open'] }),
    // b's twin (the matrix evaluates their shape once per row), and one on a third node.
    wep('ns2', 'b2', { node: 'node2', ip: '10.0.1.4/32', labels: { app: 'web' }, profiles: ['open'] }),
    wep('ns1', 'd', { node: 'node3', ip: '10.0.2.4/32', labels: { app: 'web' } }),
    hep('all', { iface: '*', ips: ['192.0.2.1'], labels: { role: 'host' } }),
    hep('eth1', { iface: 'eth1', ips: ['192.0.2.9'], labels: { role: 'host', nic: 'mgmt' } }),
    gnp('host-out', {
      selector: 'role == "host"', order: 10, types: ['Ingress', 'Egress'],
      ingress: [{ action: 'Allow', protocol: 'TCP', source: { selector: 'app == "web"' }, destination: { ports: [80] } }],
      egress: [{ action: 'Allow', protocol: 'TCP', destination: { selector: 'app == "web"' } }, { action: 'Deny', protocol: 'TCP', destination: { ports: [443] } }],
    }),
    gnp('untracked-b', {
      selector: 'nic == "mgmt"', order: 1, doNotTrack: true, applyOnForward: true,
      egress: [{ action: 'Allow', protocol: 'TCP', destination: { selector: 'app == "cache"' } }],
    }),
    // Workloads take ingress from the host only where a policy says so: b yes, c (cache) no.
    gnp('web-from-host', { selector: 'app == "web"', order: 20, types: ['Ingress'], ingress: [{ action: 'Allow', source: { nets: ['192.0.2.0/24'] } }] }),
    gnp('cache-closed', { selector: 'app == "cache"', order: 20, types: ['Ingress'], ingress: [{ action: 'Deny', source: { nets: ['192.0.2.0/24'] } }] }),
  ];
}

const rs = resources();
const ds: DesiredState = computeDesiredState({ nodeName: NODE, resources: rs });
const view: ExplainView = resourceView(rs);
const text = (from: string, to: string, port = 80, protocol = 'TCP') => explainHostFlow(ds, { from, to, port, protocol }, view).text;

test('from the host: outbound failsafe, egress rule, doNotTrack, default deny; each naming the endpoint and what decided', () => {
  assert.is(text('HOST/all', '198.51.100.7', 179), 'HOST/all -> 198.51.100.7 TCP/179: ALLOWED at HostEndpoint/all by outbound failsafe tcp:179\n');
  assert.is(text('HOST/all', '198.51.100.7', 53, 'UDP'), 'HOST/all -> 198.51.100.7 UDP/53: ALLOWED at HostEndpoint/all by outbound failsafe udp:53\n');
  assert.is(text('HOST/all', '198.51.100.7', 22), 'HOST/all -> 198.51.100.7 TCP/22: DENIED at HostEndpoint/all: policies applied but no rule matched: default deny\n',
    'SSH is an inbound failsafe only');
  assert.is(text('HOST/all', '198.51.100.7', 443), 'HOST/all -> 198.51.100.7 TCP/443: DENIED at HostEndpoint/all by policy rule GlobalNetworkPolicy host-out egress[1] (Deny)\n');
  assert.is(text('HOST/eth1', 'ns2/c', 6379), [
    'HOST/eth1 -> ns2/c TCP/6379: DENIED',
    'egress of the host (node node1): ALLOWED at HostEndpoint/eth1 by doNotTrack rule GlobalNetworkPolicy untracked-b egress[0] (Allow)',
    'ingress of WorkloadEndpoint/ns2/c (node node2): DENIED',
    '  policies: GlobalNetworkPolicy/cache-closed',
    '  profiles: Profile/open',
    '  decided by GlobalNetworkPolicy cache-closed ingress[0] (Deny)',
  ].join('\n') + '\n', 'a workload on another node: the host side here, its ingress on its node');
});

test('from the host to a workload: remote (both sides), local (its ingress alone), by name or address', () => {
  const toB = explainHostFlow(ds, { from: 'HOST/all', to: 'ns2/b', port: 80 }, view);
  assert.is(toB.text, [
    'HOST/all -> ns2/b TCP/80: ALLOWED',
    'egress of the host (node node1): ALLOWED at HostEndpoint/all by policy rule GlobalNetworkPolicy host-out egress[0] (Allow)',
    'ingress of WorkloadEndpoint/ns2/b (node node2): ALLOWED',
    '  policies: GlobalNetworkPolicy/web-from-host',
    '  profiles: Profile/open',
    '  decided by GlobalNetworkPolicy web-from-host ingress[0] (Allow)',
  ].join('\n') + '\n');
  assert.is(explainHostFlow(ds, { from: '192.0.2.1', to: '10.0.1.2', port: 80 }, view).result.allowed, true, 'the endpoint and the workload by their addresses');
  assert.is(text('HOST/all', 'ns1/w'), 'HOST/all -> ns1/w TCP/80: ALLOWED by the workload\'s ingress (the host reaches its own workloads through no host endpoint): GlobalNetworkPolicy web-from-host ingress[0]\n');
  assert.is(text('HOST/all', 'WorkloadEndpoint/ns1/closed'), 'HOST/all -> WorkloadEndpoint/ns1/closed TCP/80: DENIED by the workload\'s ingress (the host reaches its own workloads through no host endpoint): no policy and no profile: default deny\n');
});

test('to the host: a host endpoint by its address, a workload on another node (its egress there, then the endpoint), loopback', () => {
  assert.is(text('198.51.100.7', '192.0.2.9', 22), '198.51.100.7 -> 192.0.2.9 TCP/22: ALLOWED at HostEndpoint/eth1 by failsafe tcp:22\n');
  assert.is(text('ns2/b', 'HOST/all'), [
    'ns2/b -> HOST/all TCP/80: ALLOWED',
    'egress of WorkloadEndpoint/ns2/b (node node2): ALLOWED',
    '  policies: (none)',
    '  profiles: Profile/open',
    '  decided by Profile open egress[0] (Allow)',
    'ingress of the host (node node1): ALLOWED at HostEndpoint/all by policy rule GlobalNetworkPolicy host-out ingress[0] (Allow)',
  ].join('\n') + '\n');
  assert.match(text('ns2/c', 'HOST/all'), /^ns2\/c -> HOST\/all TCP\/80: DENIED\n[^]*ingress of the host \(node node1\): DENIED at HostEndpoint\/all: policies applied but no rule matched: default deny\n$/);
  assert.is(text('HOST/all', '192.0.2.9'), 'HOST/all -> 192.0.2.9 TCP/80: ALLOWED: the host reaches its own addresses over loopback: unpoliced\n');
});

test('input errors name what exists; without a view only local workloads are known', () => {
  assert.throws(() => explainHostFlow(ds, { from: 'HOST/eth9', to: '198.51.100.7' }), /no host endpoint "eth9" on this node \(all, eth1\)/);
  assert.throws(() => explainHostFlow(ds, { from: 'ns2/b', to: '198.51.100.7' }), /neither ns2\/b nor 198\.51\.100\.7 is a host endpoint of this node/);
  assert.throws(() => explainHostFlow(ds, { from: 'HOST/all', to: 'ns2/b' }), /to "ns2\/b" is neither a local workload/);
  assert.throws(() => explainHostFlow(ds, { from: 'HOST/all', to: 'ns2/nope' }, view), /to "ns2\/nope" is neither a workload/);
});

test('the matrix\'s host rows and columns are explain\'s verdicts, cell by cell', () => {
  const workloads = ['ns1/w', 'ns1/closed', 'ns2/b', 'ns2/c', 'ns2/b2', 'ns1/d', 'ns1/missing'];
  for (const [protocol, port] of [['TCP', 80], ['TCP', 6379], ['UDP', 53]] as const) {
    const m = hostMatrixIn(ds, view, workloads, { protocol, port });
    assert.equal(m.hosts.map((h) => h.name), ['all', 'eth1']);
    const wrong: string[] = [];
    for (const [k, h] of m.hosts.entries()) {
      for (const [i, w] of workloads.entries()) {
        // A workload explain refuses (it does not exist) is denied in the matrix, as the dataplane fails closed.
        const allowed = (from: string, to: string) => { try { return explainHostFlow(ds, { from, to, protocol, port }, view).result.allowed; } catch { return false; } };
        const to = allowed(w, `HOST/${h.name}`);
        const from = allowed(`HOST/${h.name}`, w);
        if (m.toHost[i]![k] !== to) wrong.push(`${w} -> HOST/${h.name} ${port}/${protocol}: matrix ${m.toHost[i]![k]}, explain ${to}`);
        if (m.fromHost[k]![i] !== from) wrong.push(`HOST/${h.name} -> ${w} ${port}/${protocol}: matrix ${m.fromHost[k]![i]}, explain ${from}`);
      }
    }
    assert.equal(wrong, [], wrong.join('\n'));
  }
  const m = hostMatrixIn(ds, view, workloads, { protocol: 'TCP', port: 80 });
  assert.equal(m.fromHost[0], [true, false, true, false, true, true, false], 'HOST/all -> w, closed, b, c, b2, d, a workload that does not exist');
  assert.equal(m.toHost.map((r) => r[0]), [true, false, true, false, true, false, false], 'to HOST/all: the web workloads (w, here, through the all-interfaces policy) but d, which has no egress profile');
  const none = hostMatrixIn(computeDesiredState({ nodeName: 'node3', resources: rs }), view, workloads, { protocol: 'TCP', port: 80 });
  assert.equal([none.hosts, none.fromHost], [[], []], 'a node without host endpoints adds nothing');
});

test.run();
