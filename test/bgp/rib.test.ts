// The decision process and the export rules, as pure functions.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compareRoutes, selectBest, exportRoute, LOCAL, type RibRoute, type RouteSource, type ExportTarget, type PathAttributes } from '../../src/bgp/index.js';

function route(peer: string, attrs: Partial<PathAttributes>, more: Partial<RouteSource> = {}, stale = false): RibRoute {
  const src: RouteSource = {
    peer, attrs: { origin: 0, asPath: [], ...attrs }, nextHop: peer === LOCAL ? '' : peer, ebgp: false,
    fromClient: false, peerRouterId: peer === LOCAL ? '10.0.0.1' : peer, peerAddress: peer === LOCAL ? '0.0.0.0' : peer, ...more,
  };
  return { prefix: '10.1.0.0/24', family: 4, src, stale };
}
const seq = (...asns: number[]) => [{ type: 2 as const, asns }];

test('decision process, step by step', () => {
  const pick = (...rs: RibRoute[]) => selectBest(rs)!.src.peer;
  assert.is(pick(route('10.0.0.9', { localPref: 500 }), route(LOCAL, {})), LOCAL, 'local routes always win');
  assert.is(pick(route('10.0.0.2', { localPref: 100 }), route('10.0.0.3', { localPref: 200 })), '10.0.0.3', 'higher LOCAL_PREF');
  assert.is(pick(route('10.0.0.2', { asPath: seq(1, 2) }), route('10.0.0.3', { asPath: seq(1, 2, 3) })), '10.0.0.2', 'shorter AS_PATH');
  assert.is(pick(route('10.0.0.2', { asPath: [{ type: 1, asns: [1, 2, 3] }, ...seq(4)] }), route('10.0.0.3', { asPath: seq(5, 6, 7) })), '10.0.0.2', 'an AS_SET counts one');
  assert.is(pick(route('10.0.0.2', { origin: 2 }), route('10.0.0.3', { origin: 0 })), '10.0.0.3', 'lower ORIGIN');
  assert.is(pick(route('10.0.0.2', { asPath: seq(7), med: 50 }), route('10.0.0.3', { asPath: seq(7), med: 10 })), '10.0.0.3', 'lower MED, same neighbour AS');
  assert.is(pick(route('10.0.0.2', { asPath: seq(7), med: 50 }, { ebgp: true }), route('10.0.0.3', { asPath: seq(8), med: 10 })), '10.0.0.2', 'MED ignored across neighbour ASes; eBGP wins');
  assert.is(pick(route('10.0.0.2', {}), route('10.0.0.3', {}, { ebgp: true })), '10.0.0.3', 'eBGP over iBGP');
  assert.is(pick(route('10.0.0.2', {}, {}, true), route('10.0.0.3', {})), '10.0.0.3', 'fresh over stale');
  assert.is(pick(route('10.0.0.5', {}), route('10.0.0.3', { originatorId: '10.0.0.9' })), '10.0.0.5', 'ORIGINATOR_ID stands in for the router id');
  assert.is(pick(route('10.0.0.5', {}, { peerRouterId: '1.1.1.1' }), route('10.0.0.3', {}, { peerRouterId: '1.1.1.1' })), '10.0.0.3', 'lowest peer address last');
  assert.ok(compareRoutes(route('10.0.0.2', {}), route('10.0.0.2', {})) === 0);
});

const ebgpT: ExportTarget = { key: '192.0.2.1', ebgp: true, rrClient: false, exportPolicy: 'All', keepOriginalNextHop: false, selfIpv4: '10.0.0.1' };
const ibgpT: ExportTarget = { key: '10.0.0.7', ebgp: false, rrClient: false, exportPolicy: 'All', keepOriginalNextHop: false, selfIpv4: '10.0.0.1' };
const ctx = { localAsn: 64512 };

test('export to eBGP: own AS prepended, NEXT_HOP self, no LOCAL_PREF/ORIGINATOR_ID, received MED not passed on; RFC 8212 policies', () => {
  const learned = route('10.0.0.2', { asPath: seq(65001), localPref: 300, med: 9, originatorId: '10.0.0.8', clusterList: ['1.1.1.1'], communities: [5] }, { ebgp: true });
  const e = exportRoute(learned, ebgpT, ctx)!;
  assert.equal(e.attrs, { origin: 0, asPath: seq(64512, 65001), communities: [5] });
  assert.is(e.nextHop, '10.0.0.1');
  assert.is(exportRoute(learned, { ...ebgpT, keepOriginalNextHop: true }, ctx)!.nextHop, '10.0.0.2', 'keepOriginalNextHop');
  assert.is(exportRoute(learned, { ...ebgpT, exportPolicy: 'Reject' }, ctx), null, 'Reject exports nothing');
  assert.is(exportRoute(learned, { ...ebgpT, exportPolicy: 'LocalBlocks' }, ctx), null, 'LocalBlocks: learned routes stay');
  const local = route(LOCAL, { med: 3 });
  assert.equal(exportRoute(local, { ...ebgpT, exportPolicy: 'LocalBlocks' }, ctx)!.attrs, { origin: 0, asPath: seq(64512), med: 3 });
  assert.is(exportRoute(learned, { ...ebgpT, key: '10.0.0.2' }, ctx), null, 'never back to the peer it came from');
});

test('export to iBGP: LOCAL_PREF, next hop unchanged for learned routes, self for local; no iBGP to iBGP unless reflecting', () => {
  const fromEbgp = route('192.0.2.9', { asPath: seq(65009) }, { ebgp: true, nextHop: '192.0.2.9' });
  assert.equal(exportRoute(fromEbgp, ibgpT, ctx), { attrs: { origin: 0, asPath: seq(65009), localPref: 100 }, nextHop: '192.0.2.9' });
  assert.is(exportRoute(route(LOCAL, {}), ibgpT, ctx)!.nextHop, '10.0.0.1');
  const fromIbgp = route('10.0.0.2', { localPref: 150 });
  assert.is(exportRoute(fromIbgp, ibgpT, ctx), null, 'no iBGP re-advertisement without reflection');
  const rr = { localAsn: 64512, clusterId: '9.9.9.9' };
  assert.is(exportRoute(fromIbgp, ibgpT, rr), null, 'non-client route to a non-client: not reflected');
  const e = exportRoute(fromIbgp, { ...ibgpT, rrClient: true }, rr)!;
  assert.equal([e.attrs.originatorId, e.attrs.clusterList, e.attrs.localPref, e.nextHop], ['10.0.0.2', ['9.9.9.9'], 150, '10.0.0.2']);
  const fromClient = route('10.0.0.3', { originatorId: '10.0.0.30', clusterList: ['8.8.8.8'] }, { fromClient: true });
  const e2 = exportRoute(fromClient, ibgpT, rr)!;
  assert.equal([e2.attrs.originatorId, e2.attrs.clusterList], ['10.0.0.30', ['9.9.9.9', '8.8.8.8']], 'client routes go to everyone; lists kept');
});

test.run();
