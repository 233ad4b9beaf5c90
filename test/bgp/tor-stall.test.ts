// A full table from a top-of-rack must not stall trellisd's event loop (#11 item 2): while
// FRR sends 50,000 prefixes and trellisd installs them into its namespace's kernel, and
// again while FRR withdraws them, an unrelated peer (BIRD, hold time 3 s) keeps getting
// our keepalives: its session never drops, nor does FRR's. Before the fix, handling a
// socket read and re-syncing the whole learned set per UPDATE held the loop for seconds
// and both hold timers expired. Topology: test/bgp/_table.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startTableLab, type TableLab } from './_table.js';
import { sleep } from './_helpers.js';

const N = 50_000;
let lab: TableLab;

test.before(async () => { lab = await startTableLab('s', N); });
test.after(async () => { await lab?.close(); });

/** Watches both sessions every 250 ms until stop(); records every moment one was not up. */
function watchSessions(l: TableLab) {
  const downs: string[] = [];
  let lowestHold = Infinity;
  let stopped = false;
  const done = (async () => {
    while (!stopped) {
      const k = await l.keepSession();
      if (!k.up) downs.push(`K (BIRD) saw its session to trellisd ${k.info.trim().split('\n').pop()}`);
      const hold = /Hold timer:\s+([\d.]+)\//.exec(await l.keep.birdc('show protocols all tot'));
      if (hold) lowestHold = Math.min(lowestHold, Number(hold[1]));
      const f = await l.frr.neighbor('192.168.55.2');
      if (f && f.bgpState !== 'Established') downs.push(`FRR saw its session to trellisd ${f.bgpState} (${f.lastResetDueTo ?? ''})`);
      await sleep(250);
    }
  })();
  return { downs, lowest: () => lowestHold, stop: async () => { stopped = true; await done; } };
}

test('a 50k-prefix table is installed and withdrawn while another peer keeps its session', async () => {
  const h = await lab.startTrellis();
  const before = await lab.keepSession();
  assert.ok(before.up, `K's session is up before the table arrives: ${before.info}`);
  await lab.open('t');
  const w = watchSessions(lab);
  try {
    await lab.waitKernel('t', N, 100_000);
    await lab.setExport('t', false);
    await lab.waitKernel('t', 0, 60_000);
  } finally {
    await w.stop();
  }
  const after = await lab.keepSession();
  assert.equal(w.downs, [], `sessions stayed up during the install and the withdrawal (K's hold timer fell to ${w.lowest()} s of 3)`);
  assert.ok(after.up && after.since === before.since, `K's session never restarted: since ${before.since} -> ${after.since}`);
  const st = await h.call<{ peer: string; state: string }[]>('status');
  assert.equal(st.map((p) => `${p.peer} ${p.state}`), ['192.168.55.1 Established', '192.168.57.1 Established'], 'trellisd still has both sessions');
});

test.run();
