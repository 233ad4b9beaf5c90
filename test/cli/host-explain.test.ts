// `trellisctl policy explain --to HOST/<name>` offline (-f): the exact line the API's
// /explain?to=HOST/<name> gives for the same resources on the endpoint's node, from an
// address (failsafe, rule, ICMP) and from a local workload (DefaultEndpointToHostAction).
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

test('an unknown host endpoint is bad input naming those that exist', async () => {
  const r = await ctl(['policy', 'explain', '-f', FILES[0]!, '--from', '192.0.2.5', '--to', 'HOST/eth9']);
  assert.is(r.code, 2, 'exit 2');
  assert.match(r.stderr, 'no HostEndpoint eth9 (host endpoints: host-1-eth0)');
});

test.run();
