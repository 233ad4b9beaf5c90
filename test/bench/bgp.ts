// BGP bench: `npm run bench -- bgp --prefixes 100000 [--kernel true]`; with `--sender frr`
// the full-table bench of test/bench/_bgp-frr.ts instead (FRR sending, BIRD the anchor).
//  - advertise: time from Established until a receiving BIRD has imported N prefixes from
//    Trellis, beside the same for a BIRD speaker advertising the same N prefixes (ratio);
//  - receive: N prefixes from BIRD into Trellis's Loc-RIB (and, with --kernel, into a
//    namespace's kernel table as proto 79 via the test fixture);
//  - memory: heap and RSS growth of the speaker per 100,000 prefixes.
// Everything on loopback (BIRD without a kernel protocol) or inside namespaces we create.
import v8 from 'node:v8';
import vm from 'node:vm';
import { createSpeaker, type RouteChange } from '../../src/bgp/index.js';
import { createNetns, connectNetns, testNetnsPrefix } from '../../src/lab/index.js';
import { freePort, waitFor, sleep } from '../bgp/_helpers.js';
import { startBird, type Bird } from '../bgp/_daemons.js';
import { startSpeakerHost } from '../bgp/_host.js';
import { median } from './_stats.js';
import { runFrr } from './_bgp-frr.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
const heapMiB = () => { gc(); gc(); return process.memoryUsage().heapUsed / 1048576; };
const rssMiB = () => process.memoryUsage().rss / 1048576;

function prefixes(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${10 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}.0/24`);
}

async function imported(b: Bird, proto: string): Promise<number> {
  const m = /Routes:\s+(\d+) imported/.exec(await b.birdc(`show protocols all ${proto}`));
  return m ? Number(m[1]) : 0;
}
const progress = (msg: string) => { if (process.env.BENCH_DEBUG) process.stderr.write(`[bgp bench] ${msg}
`); };

/**
 * When BIRD's protocol became Established, from its own "Since" time (ms precision):
 * both sides of the ratio are timed from the receiving BIRD's clock, not from a poll that
 * a busy BIRD answers late.
 */
async function establishedAt(b: Bird, proto: string): Promise<number> {
  const text = await b.birdc(`show protocols ${proto}`);
  const m = /\sup\s+(\d\d):(\d\d):(\d\d)\.(\d{3})\s+Established/.exec(text);
  if (!m) throw new Error(`${proto} is not Established: ${text}`);
  const d = new Date();
  d.setHours(Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4]));
  return d.getTime();
}

/** Waits until BIRD imported n on proto; returns ms from its Established to then. */
async function timeImport(b: Bird, proto: string, n: number): Promise<number> {
  progress(`waiting for ${proto}`);
  await waitFor(`${proto} imported ${n}`, async () => (await imported(b, proto)) >= n, 600_000, 20);
  const end = Date.now();
  return end - (await establishedAt(b, proto));
}

export async function run(params: Record<string, string>): Promise<Record<string, unknown>> {
  if (params.sender === 'frr') return runFrr(params);
  const n = Number(params.prefixes ?? 100000);
  const rounds = Number(params.rounds ?? 3);
  const ps = prefixes(n);
  const rPort = await freePort('127.0.0.201');
  const rPort2 = await freePort('127.0.0.201');
  const tPort = await freePort('127.0.0.202');
  const sPort = await freePort('127.0.0.203');
  const sPort2 = await freePort('127.0.0.203');
  const statics = ps.map((p) => `route ${p} blackhole;`).join('\n');
  // Received prefixes differ from the ones Trellis announces (a local prefix always wins).
  const other = (p: string) => p.replace(/^10\./, '172.').replace(/^11\./, '173.');
  const statics2 = ps.map((p) => `route ${other(p)} blackhole;`).join('\n');
  // A receiving BIRD R with one session: to Trellis (fromtrellis) or to a BIRD speaker S (frombird).
  // Each measurement starts a fresh R, so both sides of the ratio are timed the same way.
  const rConf = (which: 'fromtrellis' | 'frombird') => `router id 127.0.0.201;
protocol device { }
protocol static lo4 { ipv4; route 127.0.0.0/8 via "lo"; }
${which === 'fromtrellis'
    ? `protocol bgp fromtrellis { local 127.0.0.201 port ${rPort} as 65201; neighbor 127.0.0.202 port ${tPort} as 65202; multihop; connect retry time 1; error wait time 1, 2; ipv4 { import all; export none; }; }`
    : `protocol bgp frombird { local 127.0.0.201 port ${rPort2} as 65201; neighbor 127.0.0.203 port ${sPort} as 65203; multihop; connect retry time 1; error wait time 1, 2; ipv4 { import all; export none; }; }`}
`;
  const sConf = (to: 'torcv' | 'totrellis') => `router id 127.0.0.203;
protocol device { }
protocol static st { ipv4; ${to === 'torcv' ? statics : statics2} }
${to === 'torcv'
    ? `protocol bgp torcv { local 127.0.0.203 port ${sPort} as 65203; neighbor 127.0.0.201 port ${rPort2} as 65201; multihop; connect retry time 1; error wait time 1, 2; ipv4 { import none; export all; }; }`
    : `protocol bgp totrellis { local 127.0.0.203 port ${sPort2} as 65203; neighbor 127.0.0.202 port ${tPort} as 65202; multihop; connect retry time 1; error wait time 1, 2; ipv4 { import none; export all; }; }`}
`;
  const out: Record<string, unknown> = { prefixes: n, rounds };
  const heap0 = heapMiB(); const rss0 = rssMiB();
  const trellis = createSpeaker({ routerId: '127.0.0.202', localAsn: 65202, listen: { host: '127.0.0.202', port: tPort } });
  try {
    // ---- Trellis -> BIRD versus BIRD -> BIRD ---------------------------------------
    await trellis.listening;
    trellis.announce(ps.map((prefix) => ({ prefix })));
    trellis.configure({ peers: [
      { address: '127.0.0.201', port: rPort, asn: 65201, localAddress: '127.0.0.202', exportPolicy: 'LocalBlocks', connectRetrySec: 1 },
      { address: '127.0.0.203', port: sPort2, asn: 65203, localAddress: '127.0.0.202', importPolicy: 'Accept', connectRetrySec: 1 },
    ] });
    const tTimes: number[] = []; const bTimes: number[] = [];
    const s = await startBird(sConf('torcv'));
    try {
      for (let i = 0; i < rounds; i++) {
        const r1 = await startBird(rConf('fromtrellis'));
        try { tTimes.push(await timeImport(r1, 'fromtrellis', n)); } finally { await r1.stop(); }
        const r2 = await startBird(rConf('frombird'));
        try { bTimes.push(await timeImport(r2, 'frombird', n)); } finally { await r2.stop(); }
      }
    } finally { await s.stop(); }
    await sleep(200);
    const heapAnnounce = heapMiB() - heap0;
    out.advertise = {
      trellisToBirdMs: tTimes.map(Math.round), birdToBirdMs: bTimes.map(Math.round),
      trellisMedianMs: Math.round(median(tTimes)), birdMedianMs: Math.round(median(bTimes)),
      ratioTrellisOverBird: Math.round((median(tTimes) / median(bTimes)) * 100) / 100,
    };

    // ---- BIRD -> Trellis Loc-RIB -----------------------------------------------------
    let learnedCount = 0;
    trellis.on('routes', (cs: RouteChange[]) => { for (const c of cs) learnedCount += c.withdrawn ? -1 : 1; });
    const heap1 = heapMiB(); const rss1 = rssMiB();
    const s2 = await startBird(sConf('totrellis'));
    try {
      progress('waiting for Trellis <- BIRD');
      await waitFor(`Trellis Loc-RIB has ${n}`, () => learnedCount >= n, 600_000, 5);
      const locRibMs = Date.now() - (await establishedAt(s2, 'totrellis'));
      await sleep(200);
      const heapReceive = heapMiB() - heap1;
      out.receive = { birdToTrellisLocRibMs: Math.round(locRibMs) };
      out.memory = {
        announceHeapMiBPer100k: Math.round((heapAnnounce / n) * 100000 * 10) / 10,
        receiveHeapMiBPer100k: Math.round((heapReceive / n) * 100000 * 10) / 10,
        rssGrowthMiB: Math.round(rssMiB() - rss0),
        rssBeforeReceiveMiB: Math.round(rss1),
      };
    } finally { await s2.stop(); }
  } finally {
    await trellis.stop();
  }

  // ---- BIRD -> Trellis -> kernel, in namespaces ----------------------------------------
  if (params.kernel === 'true') {
    const nsT = await createNetns(`${testNetnsPrefix()}bgpkt`);
    const nsB = await createNetns(`${testNetnsPrefix()}bgpkb`);
    let host: ReturnType<typeof startSpeakerHost> | null = null;
    let b: Bird | null = null;
    try {
      await connectNetns({ ns: nsT.name, ifname: 'eth0', address: '10.97.0.2/24' }, { ns: nsB.name, ifname: 'eth0', address: '10.97.0.1/24' });
      b = await startBird(`router id 10.97.0.1;
protocol device { }
protocol static st { ipv4; ${statics2} }
protocol bgp totrellis { local 10.97.0.1 as 65001; neighbor 10.97.0.2 as 65002; connect retry time 1; disabled; ipv4 { import none; export all; }; }
`, nsB.name);
      host = startSpeakerHost({ routerId: '10.97.0.2', localAsn: 65002, listen: { host: '10.97.0.2', port: 179 }, install: true }, nsT.name);
      await host.call('configure', { peers: [{ address: '10.97.0.1', asn: 65001, importPolicy: 'Accept', connectRetrySec: 1 }] });
      await b.birdc('enable totrellis');
      await waitFor('kernel has all routes', async () => {
        const txt = await nsT.run(['ip', 'route', 'show', 'proto', '79']);
        return txt.split('\n').filter(Boolean).length >= n;
      }, 600_000, 250);
      const mem = await host.call<{ rss: number; heapUsed: number }>('memory');
      const kernelMs = Date.now() - (await establishedAt(b, 'totrellis'));
      out.kernel = { birdToKernelMs: Math.round(kernelMs), fixtureRssMiB: Math.round(mem.rss / 1048576), note: 'speaker in a child process under ip netns exec; installed with the dataplane syncLearnedRoutes (proto 79)' };
    } finally {
      host?.kill();
      await b?.stop();
      await nsT.destroy();
      await nsB.destroy();
    }
  }
  return out;
}
