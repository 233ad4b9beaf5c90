// BGPFilter end to end with a real BIRD 2: the resources go through calc's desiredBgp and
// the agent's BGP port (test/bgp/fixtures/agent-bgp-host.ts) into the speaker, learned
// routes into the kernel of Trellis's namespace (proto 79). An import rule keeps a prefix
// out of the Loc-RIB and the kernel, an Accept rule lets routes past RFC 8212's Reject, an
// export rule keeps a block from BIRD, and changing the filters re-evaluates both ways on
// the running session: BIRD's protocol keeps its Established time.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { connectNetns, createNetns, testNetnsPrefix, type Netns } from '../../src/lab/index.js';
import { startSpeakerHost, type SpeakerHost } from './_host.js';
import { parseBirdRoutes, startBird, type Bird } from './_daemons.js';
import { waitFor } from './_helpers.js';

let nsT: Netns | null = null;
let nsB: Netns | null = null;
let host: SpeakerHost | null = null;
let bird: Bird | null = null;

test.after(async () => {
  if (host) { host.kill(); await host.exited; }
  await bird?.stop();
  await nsT?.destroy();
  await nsB?.destroy();
});

const BIRD_CONF = `router id 10.97.0.1;
log stderr { error, warning };
timeformat protocol iso long ms;
protocol device { }
protocol static s4 { ipv4; route 10.200.0.0/24 blackhole; route 10.200.1.0/24 blackhole; route 10.66.6.0/24 blackhole; route 192.168.77.0/24 blackhole; }
protocol bgp t4 {
  local 10.97.0.1 as 65001; neighbor 10.97.0.2 as 65002;
  connect retry time 1; error wait time 1, 2;
  ipv4 { import all; export where source = RTS_STATIC; };
}
`;

const api = 'projectcalico.org/v3';
const filter = (name: string, spec: Record<string, unknown>) => ({ apiVersion: api, kind: 'BGPFilter', metadata: { name }, spec });
const resources = (fromBird: unknown[], toBird: unknown[]) => [
  { apiVersion: api, kind: 'BGPConfiguration', metadata: { name: 'default' }, spec: { nodeToNodeMeshEnabled: false } },
  { apiVersion: api, kind: 'Node', metadata: { name: 'tor-host' }, spec: { bgp: { ipv4Address: '10.97.0.2/24', asNumber: 65002 } } },
  // No importPolicy: RFC 8212 rejects what no rule accepts. LocalBlocks: our blocks go unless a rule rejects them.
  { apiVersion: api, kind: 'BGPPeer', metadata: { name: 'bird' }, spec: { peerIP: '10.97.0.1', asNumber: 65001, exportPolicy: 'LocalBlocks', filters: ['from-bird', 'to-bird'] } },
  filter('from-bird', { importV4: fromBird }),
  filter('to-bird', { exportV4: toBird }),
];

/** BIRD's "since" for protocol t4 and its state: unchanged since means no new session. */
async function birdSession(b: Bird): Promise<{ since: string; info: string }> {
  const line = (await b.birdc('show protocols t4')).split('\n').find((l) => l.startsWith('t4 ')) ?? '';
  const m = /^t4\s+BGP\s+\S+\s+\S+\s+(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?)\s+(.*)$/.exec(line.trim());
  if (!m) throw new Error(`cannot read BIRD's protocol line: ${line}`);
  return { since: m[1]!, info: m[2]!.trim() };
}

test('BGPFilter with BIRD: import and export rules, then a filter change re-evaluated on the same session', async () => {
  nsT = await createNetns(`${testNetnsPrefix()}bft`);
  nsB = await createNetns(`${testNetnsPrefix()}bfb`);
  await connectNetns({ ns: nsT.name, ifname: 'eth0', address: '10.97.0.2/24' }, { ns: nsB.name, ifname: 'eth0', address: '10.97.0.1/24' });
  bird = await startBird(BIRD_CONF, nsB.name);
  host = startSpeakerHost({ listenHost: '0.0.0.0', trackLearned: true }, nsT.name, [], 'agent-bgp-host.ts');
  await waitFor('agent BGP host ready', () => host!.events.some((e) => e.event === 'ready'));
  const kernel = async () => (await nsT!.run(['ip', '-4', 'route', 'show', 'proto', '79'])).trim();
  const birdRoutes = async () => parseBirdRoutes(await bird!.birdc('show route protocol t4 all'));
  const learned = () => host!.call<{ now: string[]; ever: string[] }>('learnedPrefixes');
  const status = async () => (await host!.call<{ peer: string; state: string; uptimeSec: number; received: number; advertised: number }[]>('status'))[0]!;

  await host.call('resources', resources(
    [{ cidr: '10.66.0.0/16', matchOperator: 'In', action: 'Reject' }, { cidr: '10.200.0.0/16', matchOperator: 'In', action: 'Accept' }],
    [{ cidr: '10.65.1.0/26', matchOperator: 'Equal', action: 'Reject' }],
  ));
  await host.call('announce', ['10.65.0.0/26', '10.65.1.0/26']);

  await waitFor('both accepted BIRD prefixes in the kernel', async () => { const k = await kernel(); return k.includes('10.200.0.0/24') && k.includes('10.200.1.0/24'); }, 30_000);
  await waitFor('all four BIRD prefixes in the Adj-RIB-In', async () => (await status()).received === 4);
  assert.match(await kernel(), /10\.200\.0\.0\/24 via 10\.97\.0\.1 dev eth0/);
  assert.not.match(await kernel(), /10\.66\.6\.0/, 'the rejected prefix is not in the kernel');
  assert.not.match(await kernel(), /192\.168\.77\.0/, 'a prefix no rule accepts stays out (RFC 8212 Reject for eBGP)');
  let l = await learned();
  assert.equal(l.ever, ['10.200.0.0/24', '10.200.1.0/24'], 'neither filtered prefix ever reached the Loc-RIB\'s learned set');

  await waitFor('BIRD has our accepted block', async () => (await birdRoutes()).has('10.65.0.0/26'));
  assert.is((await status()).advertised, 1, 'the Adj-RIB-Out holds one block: the rejected one was never sent');
  assert.not.ok((await birdRoutes()).has('10.65.1.0/26'), 'BIRD never got the block the export rule rejects');

  const before = await birdSession(bird);
  assert.match(before.info, /Established/);
  const uptimeBefore = (await status()).uptimeSec;

  // The filters change: 10.66.0.0/16 is now accepted, 10.200.1.0/24 rejected; the export
  // rule now rejects the other block.
  await host.call('resources', resources(
    [{ cidr: '10.200.1.0/24', matchOperator: 'Equal', action: 'Reject' }, { cidr: '10.0.0.0/8', matchOperator: 'In', prefixLength: { max: 24 }, action: 'Accept' }],
    [{ cidr: '10.65.0.0/26', matchOperator: 'Equal', action: 'Reject' }],
  ));
  await waitFor('the newly accepted prefix reaches the kernel, the newly rejected one leaves', async () => {
    const k = await kernel();
    return k.includes('10.66.6.0/24') && !k.includes('10.200.1.0/24') && k.includes('10.200.0.0/24');
  }, 20_000);
  await waitFor('BIRD gets the block now allowed and loses the one now rejected', async () => {
    const r = await birdRoutes();
    return r.has('10.65.1.0/26') && !r.has('10.65.0.0/26');
  }, 20_000);
  l = await learned();
  assert.equal(l.now, ['10.200.0.0/24', '10.66.6.0/24'], 'Loc-RIB learned set after the change');
  assert.not.ok(l.ever.includes('192.168.77.0/24'), 'the unmatched prefix still never entered');

  const after = await birdSession(bird);
  assert.is(after.since, before.since, `BIRD's session was not reset (Established since ${before.since})`);
  assert.match(after.info, /Established/);
  const st = await status();
  assert.is(st.state, 'Established');
  assert.ok(st.uptimeSec >= uptimeBefore, `Trellis's session kept its uptime (${uptimeBefore} s -> ${st.uptimeSec} s)`);
  assert.is(st.received, 4, 'the Adj-RIB-In kept every route: nothing was asked again of BIRD');
});

test.run();
