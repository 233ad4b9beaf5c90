// Restarts never drop traffic: trellisd leaves the dataplane in place when it stops,
// the ToR keeps its routes through graceful restart, and the restarted agent reconciles
// instead of rebuilding. Then every trellisd restarted at once: the matrix is back
// within 15 s of the last one being up.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { execa } from 'execa';
import type { Lab } from '../../src/lab/lab.js';
import { inNetns } from '../../src/lab/index.js';
import { addressOf, startLab, stopLab, waitUntil } from './helpers.js';

let lab: Lab;

test.before(async () => {
  lab = await startLab({ hosts: 2, tag: 'r' });
});

test.after(async () => {
  await stopLab(lab);
});

function run(argv: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const c = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (b: Buffer) => { out += b.toString(); });
    c.stderr.on('data', (b: Buffer) => { out += b.toString(); });
    c.on('close', (code) => resolve({ code, out }));
  });
}

async function restart(host: string): Promise<void> {
  await lab.stopTrellisd(host, 'SIGTERM');
  lab.startTrellisd(host);
  await lab.waitReady(host, 30_000);
}

test('trellisd restarted on both hosts under a TCP stream and a ping loses nothing', async () => {
  const src = lab.container('h1-a-client');
  const dst = lab.container('h2-a-web');
  const addr = addressOf(lab, 'h2-a-web');
  const lines = 600;
  // Receiver: counts what arrives on TCP 8080 (tenant a to tenant a: allowed on every port).
  const sink = run(inNetns(dst.netns, ['socat', '-u', 'TCP-LISTEN:8080,reuseaddr', 'SYSTEM:wc -l']));
  await new Promise((r) => setTimeout(r, 300));
  // Sender: one line every 10 ms for 6 s over one connection.
  const stream = run(inNetns(src.netns, ['sh', '-c', `i=0; while [ $i -lt ${lines} ]; do i=$((i+1)); echo line$i; sleep 0.01; done | socat -u - TCP:${addr}:8080`]));
  const ping = run(inNetns(src.netns, ['busybox', 'ping', '-i', '0.05', '-c', '140', '-W', '1', addr]));
  await new Promise((r) => setTimeout(r, 500));
  await restart('h1');
  await restart('h2');
  const [s, p, k] = await Promise.all([stream, ping, sink]);
  assert.is(s.code, 0, `the TCP stream survived: ${s.out}`);
  assert.is(Number(k.out.trim()), lines, `every line arrived: ${k.out}`);
  const m = /(\d+) packets transmitted, (\d+) (?:packets )?received/.exec(p.out);
  assert.ok(m, `ping summary: ${p.out}`);
  assert.is(m![2], m![1], `no ping lost: ${m![0]}`);
});

test('every trellisd restarted at the same moment: the matrix is back within 15 s of the last one up', async () => {
  await Promise.all(lab.plan.hosts.map((h) => lab.stopTrellisd(h.name, 'SIGTERM')));
  for (const h of lab.plan.hosts) lab.startTrellisd(h.name);
  // "Up" is the moment the last one was started; the 15 s bound includes its start-up.
  await waitUntil('the matrix as declared', async () => {
    try {
      const m = await lab.measureMatrix();
      return m.matching === m.total;
    } catch { return false; }
  }, 15_000, 250);
  const protos = await lab.birdProtocols();
  await waitUntil('sessions back', async () => Object.values(await lab.birdProtocols()).every((s) => s === 'Established'), 20_000);
  void protos;
  const r = await execa('ip', ['netns', 'exec', lab.container('h1-b-client').netns, 'busybox', 'ping', '-c', '1', '-W', '2', addressOf(lab, 'h2-b-web')], { reject: false });
  assert.is(r.exitCode, 0, 'cross-host ping after the restart');
});

test.run();
