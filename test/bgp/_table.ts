// A top-of-rack sending a full table, for the stall test and the full-table bench.
// Namespaces (all made here, all deleted by close()):
//   F: FRR bgpd (AS 65001) holding N /24 networks; neighbors T and B start shut down.
//   T: trellisd's BGP path (test/bgp/fixtures/agent-bgp-host.ts: agent BGP port, learned-
//      route queue, dataplane installing proto 79), peering with F and with K.
//   K: BIRD (AS 65004) with hold time 3 s: an unrelated second peer whose session drops
//      if T's keepalives are more than 3 s late.
//   B: BIRD 2 with a kernel protocol (AS 65003), the anchor: the same table from F into
//      its kernel.
// F sends the table to one receiver at a time (`neighbor X shutdown` off); it withdraws
// it with an outbound deny-all route-map and sends it again by removing that route-map.
import { createNetns, connectNetns, testNetnsPrefix, type Netns } from '../../src/lab/index.js';
import { startFrr, frrConfig, type Frr } from './_frr.js';
import { startBird, type Bird } from './_daemons.js';
import { startSpeakerHost, type SpeakerHost } from './_host.js';
import { waitFor, sleep } from './_helpers.js';

export const ADDR = {
  fT: '192.168.55.1', t: '192.168.55.2',
  fB: '192.168.56.1', b: '192.168.56.2',
  k: '192.168.57.1', tK: '192.168.57.2',
} as const;

export function tablePrefixes(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${10 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}.0/24`);
}

export interface TableLab {
  n: number;
  frr: Frr;
  ns: { f: Netns; t: Netns; k: Netns; b: Netns };
  keep: Bird;
  /** trellisd's BGP path, started by startTrellis(). */
  trellis: SpeakerHost | null;
  startTrellis(): Promise<SpeakerHost>;
  stopTrellis(): Promise<void>;
  startAnchor(): Promise<Bird>;
  stopAnchor(): Promise<void>;
  /** Lets F's session to `who` come up; resolves at its Established (epoch ms, from F's clock). */
  open(who: 't' | 'b'): Promise<number>;
  shut(who: 't' | 'b'): Promise<void>;
  /** F withdraws (deny) or re-sends (permit) the whole table to `who`. */
  setExport(who: 't' | 'b', allow: boolean): Promise<void>;
  /** Routes of the receiver's kernel main table: proto 79 in T, proto bird in B. */
  kernelCount(who: 't' | 'b'): Promise<number>;
  /** Polls until the receiver's kernel has `count` routes; returns the epoch ms it saw them. */
  waitKernel(who: 't' | 'b', count: number, timeoutMs?: number): Promise<number>;
  /** K's view of its session to T: Established and since when (BIRD's text). */
  keepSession(): Promise<{ up: boolean; since: string; info: string }>;
  close(): Promise<void>;
}

const nbr = (who: 't' | 'b') => (who === 't' ? ADDR.t : ADDR.b);

export async function startTableLab(tag: string, n: number): Promise<TableLab> {
  const made: Netns[] = [];
  const procs: { stop(): Promise<void> }[] = [];
  const mk = async (x: string) => { const ns = await createNetns(`${testNetnsPrefix()}tor${tag}-${x}`); made.push(ns); return ns; };
  try {
    const f = await mk('f'); const t = await mk('t'); const k = await mk('k'); const b = await mk('b');
    await connectNetns({ ns: f.name, ifname: 'tt0', address: `${ADDR.fT}/24` }, { ns: t.name, ifname: 'up0', address: `${ADDR.t}/24` });
    await connectNetns({ ns: f.name, ifname: 'tb0', address: `${ADDR.fB}/24` }, { ns: b.name, ifname: 'up0', address: `${ADDR.b}/24` });
    await connectNetns({ ns: k.name, ifname: 'tk0', address: `${ADDR.k}/24` }, { ns: t.name, ifname: 'k0', address: `${ADDR.tK}/24` });
    const conf = frrConfig({
      asn: 65001, routerId: ADDR.fT,
      neighbors: [{ address: ADDR.t, asn: 65002 }, { address: ADDR.b, asn: 65003 }],
      networks: tablePrefixes(n),
    }) + ` neighbor ${ADDR.t} shutdown\n neighbor ${ADDR.b} shutdown\nexit\nroute-map DENYALL deny 10\nexit\n`;
    const frr = await startFrr(conf, f.name);
    procs.push(frr);
    await waitFor(`FRR holds its ${n} networks`, async () => {
      const j = JSON.parse(await frr.vtysh('show bgp ipv4 unicast summary json')) as { ipv4Unicast?: { ribCount?: number }; ribCount?: number };
      return (j.ipv4Unicast?.ribCount ?? j.ribCount ?? 0) >= n;
    }, 60_000, 250);
    const keep = await startBird(`router id ${ADDR.k};
protocol device { }
protocol bgp tot { local ${ADDR.k} as 65004; neighbor ${ADDR.tK} as 65002; hold time 3; keepalive time 1; connect retry time 1; error wait time 1, 2; ipv4 { import all; export none; }; }
`, k.name);
    procs.push(keep);
    let trellis: SpeakerHost | null = null;
    let anchor: Bird | null = null;
    const lab: TableLab = {
      n, frr, ns: { f, t, k, b }, keep,
      get trellis() { return trellis; },
      async startTrellis() {
        const h = startSpeakerHost({ listenHost: '::' }, t.name,
          ['--expose-gc', ...(process.env.TOR_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.TOR_CPU_PROF}`] : [])], 'agent-bgp-host.ts');
        trellis = h;
        await h.call('configure', {
          localAsn: 65002, routerId: ADDR.t, listenPort: 179,
          speaker: { peers: [
            { address: ADDR.fT, asn: 65001, importPolicy: 'Accept', connectRetrySec: 1, holdTimeSec: 9 },
            { address: ADDR.k, asn: 65004, importPolicy: 'Accept', connectRetrySec: 1, holdTimeSec: 3 },
          ] },
        });
        await waitFor('K <-> T Established', async () => (await lab.keepSession()).up, 30_000, 200);
        return h;
      },
      async stopTrellis() {
        const h = trellis; trellis = null;
        if (!h) return;
        // It exits by itself after answering (a profile is written then); killed if it does not.
        await Promise.race([h.call('stop').then(() => h.exited), sleep(5000)]).catch(() => undefined);
        h.kill();
        await h.exited;
        await t.exec(['ip', 'route', 'flush', 'proto', '79']);
      },
      async startAnchor() {
        anchor = await startBird(`router id ${ADDR.b};
protocol device { }
protocol kernel { ipv4 { import none; export all; }; }
protocol bgp fromf { local ${ADDR.b} as 65003; neighbor ${ADDR.fB} as 65001; hold time 9; connect retry time 1; error wait time 1, 2; ipv4 { import all; export none; }; }
`, b.name);
        return anchor;
      },
      async stopAnchor() {
        const a = anchor; anchor = null;
        await a?.stop();
        await b.exec(['ip', 'route', 'flush', 'proto', 'bird']);
      },
      async open(who) {
        await frr.vtysh('configure terminal', 'router bgp 65001', `no neighbor ${nbr(who)} shutdown`);
        return waitFor(`F <-> ${who} Established`, async () => {
          const j = JSON.parse(await frr.vtysh(`show bgp neighbors ${nbr(who)} json`)) as Record<string, { bgpState?: string; bgpTimerUpMsec?: number }>;
          const s = j[nbr(who)];
          return s?.bgpState === 'Established' && s.bgpTimerUpMsec !== undefined ? Date.now() - s.bgpTimerUpMsec : 0;
        }, 30_000, 20);
      },
      async shut(who) {
        await frr.vtysh('configure terminal', 'router bgp 65001', `neighbor ${nbr(who)} shutdown`);
      },
      async setExport(who, allow) {
        await frr.vtysh('configure terminal', 'router bgp 65001', 'address-family ipv4 unicast',
          `${allow ? 'no ' : ''}neighbor ${nbr(who)} route-map DENYALL out`);
        await frr.vtysh(`clear bgp ipv4 unicast ${nbr(who)} soft out`);
      },
      async kernelCount(who) {
        const r = await (who === 't' ? t : b).exec(['ip', '-4', 'route', 'show', 'proto', who === 't' ? '79' : 'bird']);
        // One route a line; the output's last newline is trimmed.
        if (!r.stdout.trim()) return 0;
        let c = 1;
        for (let i = r.stdout.indexOf('\n'); i >= 0; i = r.stdout.indexOf('\n', i + 1)) c++;
        return c;
      },
      async waitKernel(who, count, timeoutMs = 120_000) {
        // Read every 100 ms, or 20 ms for tables up to 20k routes: at 10k a phase lasts ~300 ms
        // and a 100 ms grain was a third of it; a 100k-route read costs too much to repeat so often.
        const everyMs = lab.n <= 20_000 ? 20 : 100;
        await waitFor(`${who}'s kernel has ${count} routes`, async () => (await lab.kernelCount(who)) === count, timeoutMs, everyMs);
        return Date.now();
      },
      async keepSession() {
        const info = await keep.birdc('show protocols tot');
        const m = /\stot\s+BGP\s+\S+\s+(\S+)\s+(\S+(?:\s\d\d:\d\d:\d\d\.\d+)?)\s+(\S+)/.exec(info);
        return { up: m?.[3] === 'Established', since: m?.[2] ?? '', info };
      },
      async close() {
        await lab.stopTrellis().catch(() => undefined);
        await lab.stopAnchor().catch(() => undefined);
        for (const p of procs.reverse()) await p.stop().catch(() => undefined);
        for (const ns of made) await ns.destroy();
      },
    };
    return lab;
  } catch (e) {
    for (const p of procs.reverse()) await p.stop().catch(() => undefined);
    for (const ns of made) await ns.destroy();
    throw e;
  }
}
