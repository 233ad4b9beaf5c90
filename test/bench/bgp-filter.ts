// Route filter bench: `npm run bench -- bgp-filter [--prefixes 100000] [--rounds 3] [--rules 20]`.
// A Trellis speaker in a child process sends N prefixes over iBGP on loopback to a speaker
// in this process, whose peer has no filter (the anchor) or a filter of `rules` rules that
// the routes fall through to a last Accept (the worst case: every rule tried for every
// prefix). Per round, both runs in alternating order:
//  - load: from the receiver's session Established until its Loc-RIB has N learned routes;
//  - refilter (filtered run): the filter changes to reject those under 10.0.0.0/10; time
//    until the Loc-RIB has the rest, on the same session (checked); configure: how long
//    the configure() call itself holds the event loop while it re-evaluates.
// Sockets on loopback only; nothing is installed in any kernel.
import { createSpeaker, type RouteChange, type RouteFilter } from '../../src/bgp/index.js';
import { freePort, waitFor } from '../bgp/_helpers.js';
import { startSpeakerHost } from '../bgp/_host.js';
import { median, percentile } from './_stats.js';

const A = '127.0.0.131';
const B = '127.0.0.132';

function prefixes(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${10 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}.0/24`);
}

function passFilter(rules: number): RouteFilter {
  // Rules that never match these prefixes, then the one that accepts them.
  const misses = Array.from({ length: Math.max(0, rules - 1) }, (_, i) => ({ cidr: `192.168.${i % 256}.0/24`, matchOperator: 'In' as const, action: 'Reject' as const }));
  return { name: 'bench', importV4: [...misses, { cidr: '10.0.0.0/7', matchOperator: 'In', prefixLength: { min: 24 }, action: 'Accept' }] };
}

interface Round { loadMs: number; refilterMs?: number; configureMs?: number }

async function once(list: string[], filter: RouteFilter | null, refilter: RouteFilter | null, keptAfter: number): Promise<Round> {
  const [pa, pb] = [await freePort(A), await freePort(B)];
  const recv = createSpeaker({ routerId: B, localAsn: 64512, listen: { host: B, port: pb } });
  const send = startSpeakerHost({ routerId: A, localAsn: 64512, listen: { host: A, port: pa } });
  try {
    await recv.listening;
    await waitFor('sender listening', () => send.events.some((e) => e.event === 'listening'));
    let learned = 0;
    recv.on('routes', (changes: RouteChange[]) => { for (const c of changes) learned += c.withdrawn ? -1 : 1; });
    await send.call('announce', list.map((prefix) => ({ prefix })));
    const peerOfB = { address: A, port: pa, asn: 64512, localAddress: B, connectRetrySec: 1, ...(filter ? { filters: [filter] } : {}) };
    recv.configure({ peers: [peerOfB] });
    await send.call('configure', { peers: [{ address: B, port: pb, asn: 64512, localAddress: A, connectRetrySec: 1 }] });
    await waitFor('session Established', () => recv.status()[0]?.state === 'Established', 30_000, 5);
    const t0 = Date.now();
    await waitFor(`${list.length} routes in the Loc-RIB`, () => learned === list.length, 600_000, 5);
    const out: Round = { loadMs: Date.now() - t0 };
    if (refilter) {
      const uptime = recv.status()[0]!.uptimeSec;
      const t1 = Date.now();
      recv.configure({ peers: [{ ...peerOfB, filters: [refilter] }] });
      // configure() re-evaluates the Adj-RIB-In before it returns: the event loop waits that long.
      out.configureMs = Date.now() - t1;
      await waitFor(`${keptAfter} routes after the filter change`, () => learned === keptAfter, 600_000, 5);
      out.refilterMs = Date.now() - t1;
      const st = recv.status()[0]!;
      if (st.state !== 'Established' || st.uptimeSec < uptime) throw new Error('the filter change reset the session');
    }
    return out;
  } finally {
    await recv.stop();
    send.kill();
    await send.exited;
  }
}

export async function run(params: Record<string, string>): Promise<Record<string, unknown>> {
  const n = Number(params.prefixes ?? 100000);
  const rounds = Number(params.rounds ?? 3);
  const rules = Number(params.rules ?? 20);
  const list = prefixes(n);
  const filter = passFilter(rules);
  const refilter: RouteFilter = { ...filter, importV4: [{ cidr: '10.0.0.0/10', matchOperator: 'In', action: 'Reject' }, ...filter.importV4!] };
  const rejected = list.filter((p) => p.startsWith('10.') && Number(p.split('.')[1]) < 64).length;
  const none: number[] = []; const filtered: number[] = []; const refiltered: number[] = []; const ratios: number[] = []; const configures: number[] = [];
  for (let r = 0; r < rounds; r++) {
    // Alternate the order so that warm-up or drift favours neither side.
    const pair = r % 2 === 0
      ? [await once(list, null, null, n), await once(list, filter, refilter, n - rejected)]
      : [await once(list, filter, refilter, n - rejected), await once(list, null, null, n)].reverse();
    const [a, f] = pair as [Round, Round];
    none.push(a.loadMs); filtered.push(f.loadMs); refiltered.push(f.refilterMs!); configures.push(f.configureMs!); ratios.push(f.loadMs / a.loadMs);
  }
  const stat = (xs: number[]) => ({ median: median(xs), p90: percentile(xs, 90), samples: xs });
  return {
    prefixes: n, rules, rounds,
    loadNoFilterMs: stat(none),
    loadFilteredMs: stat(filtered),
    ratioFilteredToNone: { median: Math.round(median(ratios) * 100) / 100, p90: Math.round(percentile(ratios, 90) * 100) / 100 },
    refilterConfigureCallMs: stat(configures),
    refilterMs: { ...stat(refiltered), rejected, ratioToLoadNoFilter: Math.round((median(refiltered) / median(none)) * 100) / 100 },
  };
}
