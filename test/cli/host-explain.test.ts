// `trellisctl policy explain --to HOST/<name>` and `--from HOST/<name>` offline (-f): the
// exact line the API's /explain gives for the same resources on the endpoint's node: to
// the host from an address (failsafe, rule, ICMP) and from a local workload
// (DefaultEndpointToHostAction); from the host (outbound failsafe, egress rule, a local
// workload's ingress); a host endpoint named by its address either way.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { cliEntry, ROOT } from '../helpers/cli.js';
import { explainToHostForApi } from '../../src/agent/host.js';
import { computeDesiredState } from '../../src/calc/index.js';
import { parseResourceText } from '../../src/model/index.js';

const FILES = ['examples/hostendpoint.yaml', 'examples/workloadendpoint.yaml', 'policies/profiles.yaml'];
const TO = 'HOST/host-1-eth0';

async function ctl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await promisify(execFile)(process.execPath, [...cliEntry(), ...args], { cwd: ROOT, env: { ...process.env, TRELLIS_ETCD_ENDPOINTS: 'http://127.0.0.1:1' } });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
const explain = (from: string, port: string) => ctl(['policy', 'explain', ...FILES.flatMap((f) => ['-f', f]), '--from', from, '--to', TO, '--port', port]);

test('the CLI prints the API\'s verdict line: failsafe, rule, ICMP rule, workload default', async () => {
  const cases: [string, string, string][] = [
    ['192.0.2.99', '22/TCP', '192.0.2.99 -> HOST/host-1-eth0 TCP/22: ALLOWED at HostEndpoint/host-1-eth0 by failsafe tcp:22'],
    ['192.0.2.5', '443/TCP', '192.0.2.5 -> HOST/host-1-eth0 TCP/443: DENIED at HostEndpoint/host-1-eth0 by policy rule GlobalNetworkPolicy uplink-ssh-from-admin ingress[2] (Deny)'],
    ['192.0.2.5', 'ICMP/8', '192.0.2.5 -> HOST/host-1-eth0 ICMP/8: ALLOWED at HostEndpoint/host-1-eth0 by policy rule GlobalNetworkPolicy uplink-ssh-from-admin ingress[1] (Allow)'],
    ['tenant-a/web1', '80/TCP', 'tenant-a/host--1-podman-web1-eth0 -> HOST/host-1-eth0 TCP/80: DENIED: DefaultEndpointToHostAction Drop'],
  ];
  const resources = FILES.flatMap((f) => parseResourceText(readFileSync(join(ROOT, f), 'utf8'), f));
  const ds = computeDesiredState({ nodeName: 'host-1', resources });
  for (const [from, port, want] of cases) {
    const r = await explain(from, port);
    assert.is(r.code, 0, `${from} ${port}: exit ${r.code} (${r.stderr})`);
    assert.is(r.stdout, `${want}\n`, `${from} ${port}: CLI output`);
    const [p, proto] = port.split('/') as [string, string];
    // The API takes ports only (no ICMP type), so the ICMP line is compared with the CLI's alone.
    if (/^\d+$/.test(p)) {
      const api = explainToHostForApi(ds, { from: want.split(' ')[0]!, to: TO, protocol: proto, port: Number(p) });
      assert.is(api.text, r.stdout, `${from} ${port}: API text equals the CLI's`);
    }
  }
});

test('--from HOST/<name> or its address: the host\'s own traffic out, as the API says it; an address in --to names the endpoint too', async () => {
  const resources = FILES.flatMap((f) => parseResourceText(readFileSync(join(ROOT, f), 'utf8'), f));
  const ds = computeDesiredState({ nodeName: 'host-1', resources });
  const cases: [string, string, string, string][] = [
    [TO, '198.51.100.7', '179/TCP', 'HOST/host-1-eth0 -> 198.51.100.7 TCP/179: ALLOWED at HostEndpoint/host-1-eth0 by outbound failsafe tcp:179'],
    [TO, '198.51.100.7', '443/TCP', 'HOST/host-1-eth0 -> 198.51.100.7 TCP/443: ALLOWED at HostEndpoint/host-1-eth0 by policy rule GlobalNetworkPolicy uplink-ssh-from-admin egress[0] (Allow)'],
    ['192.0.2.11', 'tenant-a/web1', '80/TCP',
      '192.0.2.11 -> tenant-a/host--1-podman-web1-eth0 TCP/80: DENIED by the workload\'s ingress (the host reaches its own workloads through no host endpoint): no profile rule matched: default deny'],
    ['192.0.2.5', '192.0.2.11', '443/TCP', '192.0.2.5 -> 192.0.2.11 TCP/443: DENIED at HostEndpoint/host-1-eth0 by policy rule GlobalNetworkPolicy uplink-ssh-from-admin ingress[2] (Deny)'],
  ];
  for (const [from, to, port, want] of cases) {
    const r = await ctl(['policy', 'explain', ...FILES.flatMap((f) => ['-f', f]), '--from', from, '--to', to, '--port', port]);
    assert.is(r.code, 0, `${from} -> ${to}: exit ${r.code} (${r.stderr})`);
    assert.is(r.stdout, `${want}\n`, `${from} -> ${to} ${port}: CLI output`);
    const [p, proto] = port.split('/') as [string, string];
    const [apiFrom, apiTo] = want.split(' TCP/')[0]!.split(' -> ') as [string, string];
    assert.is(explainToHostForApi(ds, { from: apiFrom, to: apiTo, protocol: proto, port: Number(p) }).text, r.stdout, `${from} -> ${to}: API text equals the CLI's`);
  }
});

test('an unknown host endpoint is bad input naming those that exist', async () => {
  const r = await ctl(['policy', 'explain', '-f', FILES[0]!, '--from', '192.0.2.5', '--to', 'HOST/eth9']);
  assert.is(r.code, 2, 'exit 2');
  assert.match(r.stderr, 'no HostEndpoint eth9 (host endpoints: host-1-eth0)');
});

test.run();
