// /explain to=HOST/<name>: the agent's answer for flows to this host, from an address
// through the endpoint's interface or from a local workload, and its input errors.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { explainToHostForApi, hostConfigOf } from '../../src/agent/host.js';
import { loadDaemonConfig } from '../../src/config/index.js';
import { hep, hostLabState, policy, tcpRule } from '../dataplane/_host-state.js';

const webFromA = policy('host-web-from-a', [tcpRule('Allow', 80, 'GlobalNetworkPolicy host-web-from-a ingress[0]', { srcSets: ['ta'] })]);
const ds = hostLabState({ endpointToHost: 'Accept', heps: [hep('all', '*', { ingress: { policies: [webFromA.id], profiles: [] } })], policies: [webFromA] });

test('names the failsafe, the rule or the default that decides', () => {
  const ssh = explainToHostForApi(ds, { from: '192.0.2.7', to: 'HOST/all', port: 22 });
  assert.match(ssh.text, /ALLOWED at HostEndpoint\/all by failsafe tcp:22/);
  const web = explainToHostForApi(ds, { from: '192.0.2.7', to: 'HOST/all', port: 80 });
  assert.match(web.text, /DENIED at HostEndpoint\/all: policies applied but no rule matched/);
  const fromA = explainToHostForApi(ds, { from: 'tenant-a/client', to: 'HOST/all', port: 80 });
  assert.match(fromA.text, /ALLOWED at HostEndpoint\/all by all-interfaces policy rule GlobalNetworkPolicy host-web-from-a ingress\[0\]/);
  const fromB = explainToHostForApi(ds, { from: 'tenant-b/client', to: 'HOST/all', port: 80 });
  assert.match(fromB.text, /DENIED at HostEndpoint\/all/);
});

test('unknown host endpoints and sources are input errors naming what exists', () => {
  assert.throws(() => explainToHostForApi(ds, { from: '192.0.2.7', to: 'HOST/eth9', port: 22 }), /no host endpoint "eth9" on this node \(all\)/);
  assert.throws(() => explainToHostForApi(ds, { from: 'nope/x', to: 'HOST/all', port: 22 }), /neither a local workload/);
});

test('the API port joins the inbound failsafes only when it listens off loopback', () => {
  const env = { TRELLIS_API_LISTEN: '0.0.0.0:9099', TRELLIS_API_TOKEN_FILE: '/t' };
  const off = hostConfigOf(loadDaemonConfig({ env, defaultFile: '/nonexistent/trellisd.yaml' }).config);
  assert.ok(off.failsafeInbound.some((f) => f.protocol === 'tcp' && f.port === 9099), 'off loopback: added');
  const lo = hostConfigOf(loadDaemonConfig({ env: {}, defaultFile: '/nonexistent/trellisd.yaml' }).config);
  assert.not.ok(lo.failsafeInbound.some((f) => f.port === 9099), 'loopback: not added');
  assert.is(lo.endpointToHost, 'Drop');
});

test.run();
