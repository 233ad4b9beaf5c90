import { startTableLab } from '../bgp/_table.js';
import { sleep } from '../bgp/_helpers.js';
const lab = await startTableLab('dbg', 1000);
try {
  const h = await lab.startTrellis();
  console.log(await lab.open('t'));
  await sleep(3000);
  console.log(JSON.stringify(await h.call('status')), await h.call('learned'), await lab.kernelCount('t'), h.events.slice(-3));
  console.log((await lab.ns.t.exec(['ip','route'])).stdout.slice(0,500));
} finally { await lab.close(); }
