// calc and the kernel agree, once per policy backend (calc-agreement.test.ts runs it for
// each): the lab's real policies/ folder plus four containers, compiled by
// computeDesiredState and programmed by the dataplane, and for every pair of containers the
// packet verdict equals explainFlow's (the same compiled rules evaluated in calc).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { computeDesiredState, explainFlow } from '../../src/calc/index.js';
import { createDataplane } from '../../src/dataplane/index.js';
import { silentLogger } from '../../src/log/index.js';
import { parseResourceTexts, schemas, type Resource } from '../../src/model/index.js';
import type { BackendCase } from './_backends.js';
import { LAB_EPS } from './_state.js';
import { createLab, ping, tcp, waitServing, type Lab } from './_lab.js';

const NODE = 'node-1';

function resources(): Resource[] {
  const dir = resolve(import.meta.dirname, '../../policies');
  const files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort()
    .map((f) => ({ text: readFileSync(join(dir, f), 'utf8'), fileName: f }));
  const eps = LAB_EPS.map((e) => schemas.WorkloadEndpoint.parse({
    apiVersion: 'trellis.dev/v1', kind: 'WorkloadEndpoint',
    metadata: { name: e.name, namespace: e.ns, labels: { app: e.app } },
    spec: { node: NODE, interfaceName: e.iface, ipNetworks: [`${e.ip}/32`], profiles: [e.ns] },
  }));
  return [...parseResourceTexts(files), ...eps];
}

export function agreementSuite(backend: BackendCase): void {
  const test = suite(`calc agreement [${backend.name}]`);
  let lab: Lab;

  test.before(async () => {
    lab = await createLab('ca', LAB_EPS);
    for (const n of lab.containers.values()) { lab.serve(n, 80); lab.serve(n, 22); }
    await Promise.all([...lab.containers.values()].map((n) => waitServing(n, '127.0.0.1', 22)));
  });

  test.after(async () => {
    await lab?.destroy();
  });

  test('every container pair: TCP 80, TCP 22 and ICMP verdicts in the kernel equal explainFlow', async () => {
    const rs = resources();
    const ds = computeDesiredState({ nodeName: NODE, resources: rs });
    assert.is(ds.endpoints.length, 4, 'four local endpoints');
    const r = await createDataplane({ netns: lab.host.name, logger: silentLogger(), policyBackend: backend.create }).reconcile(ds);
    assert.equal(r.skipped, [], 'nothing skipped');
    const cases: Array<{ name: string; kernel: Promise<boolean>; explain: boolean }> = [];
    for (const src of LAB_EPS) {
      for (const dst of LAB_EPS) {
        if (src === dst) continue;
        const from = lab.containers.get(src.iface)!;
        const flow = { resources: rs, from: { endpoint: `${src.ns}/${src.name}` }, to: { endpoint: `${dst.ns}/${dst.name}` } };
        for (const port of [80, 22]) {
          cases.push({
            name: `${src.ns}/${src.name} -> ${dst.ns}/${dst.name} tcp/${port}`,
            kernel: tcp(from, dst.ip, port).then(Boolean),
            explain: explainFlow({ ...flow, protocol: 'TCP', port }).allowed,
          });
        }
        cases.push({
          name: `${src.ns}/${src.name} -> ${dst.ns}/${dst.name} icmp`,
          kernel: ping(from, dst.ip),
          explain: explainFlow({ ...flow, protocol: 'ICMP', icmp: { type: 8, code: 0 } }).allowed,
        });
      }
    }
    const kernel = await Promise.all(cases.map((c) => c.kernel));
    const disagree = cases.filter((c, i) => kernel[i] !== c.explain).map((c, i) => `${c.name}: kernel ${kernel[i] ? 'allowed' : 'blocked'}, explain ${c.explain ? 'allowed' : 'blocked'}`);
    assert.equal(disagree, [], disagree.join('\n'));
    assert.ok(kernel.some(Boolean) && !kernel.every(Boolean), 'the matrix has both verdicts (the test can tell them apart)');
    const matrix = cases.map((c, i) => `${kernel[i] ? 'ALLOW' : 'deny '} ${c.name}`).join('\n');
    if (process.env.TRELLIS_DP_MATRIX) console.log(matrix);
  });

  test.run();
}
