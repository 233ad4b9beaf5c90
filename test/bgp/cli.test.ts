// `trellisctl node status` against a stand-in /status endpoint on loopback.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import http from 'node:http';
import { Command } from 'commander';
import { register, formatPeerTable, apiBase } from '../../src/cli/commands/node.js';
import type { PeerStatus } from '../../src/bgp/index.js';

const peers: PeerStatus[] = [
  { peer: '10.0.0.2', name: 'Node n2', asn: 64512, state: 'Established', uptimeSec: 60, received: 12, advertised: 3, lastError: null },
  { peer: '192.0.2.1', name: 'BGPPeer tor', asn: 65100, state: 'Active', uptimeSec: 5, received: 0, advertised: 0, lastError: 'connect: ECONNREFUSED' },
];

async function run(args: string[]): Promise<{ out: string; error: unknown }> {
  const program = new Command().exitOverride();
  register(program);
  let out = '';
  const orig = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string) => { out += chunk; return true; }) as typeof process.stdout.write;
  let error: unknown = null;
  try { await program.parseAsync(['node', 'trellisctl', ...args]); } catch (e) { error = e; } finally { process.stdout.write = orig; }
  return { out, error };
}

test('the table: one row per peer, aligned columns, since as a UTC time', () => {
  const now = Date.parse('2026-01-02T03:04:05Z');
  assert.is(formatPeerTable(peers, now), [
    'PEER       NAME         AS     STATE        SINCE                RECEIVED  ADVERTISED  LAST ERROR',
    '10.0.0.2   Node n2      64512  Established  2026-01-02 03:03:05  12        3           -',
    '192.0.2.1  BGPPeer tor  65100  Active       2026-01-02 03:04:00  0         0           connect: ECONNREFUSED',
  ].join('\n'));
});

test('node status reads GET /status from --api; -o json; unreachable daemon exits 1; bad -o exits 2', async () => {
  const srv = http.createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(req.url === '/status' ? { node: 'n1', bgp: { peers } } : {}));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(srv.address() as { port: number }).port}`;
  try {
    const t = await run(['node', 'status', '--api', url]);
    assert.is(t.error, null);
    assert.match(t.out, /^PEER\s+NAME\s+AS\s+STATE/);
    assert.match(t.out, /192\.0\.2\.1\s+BGPPeer tor\s+65100\s+Active/);
    const j = await run(['node', 'status', '--api', url, '-o', 'json']);
    assert.equal(JSON.parse(j.out), peers);
    const bad = await run(['node', 'status', '--api', url, '-o', 'yaml']);
    assert.is((bad.error as { exitCode?: number }).exitCode, 2);
  } finally {
    srv.close();
  }
  const down = await run(['node', 'status', '--api', 'http://127.0.0.1:1']);
  assert.is((down.error as { exitCode?: number }).exitCode, 1, 'unreachable daemon: exit 1');
  assert.match((down.error as Error).message, /cannot reach trellisd/);
  assert.is(apiBase(undefined, { TRELLIS_API_LISTEN: '0.0.0.0:9199' }), 'http://127.0.0.1:9199');
  assert.is(apiBase(undefined, {}), 'http://127.0.0.1:9099');
});

test.run();
