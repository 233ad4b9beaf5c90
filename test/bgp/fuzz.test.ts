// Decoder fuzz: random and mutated messages. Whatever the bytes, the decoder returns a
// message or throws a BgpError whose code/subcode is a NOTIFICATION we can send.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BgpError, decodeMessage, Framer, isValidNotification } from '../../src/bgp/index.js';
import { V, hex } from './_vectors.js';

const N = Number(process.env.TRELLIS_BGP_FUZZ ?? 100_000);

// Small deterministic PRNG (xorshift32) so a failure can be replayed from its seed.
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x; };
}

const seeds = Object.values(V).map(hex);

function mutate(r: () => number): Buffer {
  const base = seeds[r() % seeds.length]!;
  const kind = r() % 6;
  let b = Buffer.from(base);
  if (kind === 0) {
    // Pure random body behind a valid-looking header.
    const len = 19 + (r() % 120);
    b = Buffer.alloc(len);
    for (let i = 19; i < len; i++) b[i] = r() & 0xff;
    b.fill(0xff, 0, 16);
    b.writeUInt16BE(len, 16);
    b[18] = 1 + (r() % 5);
    return b;
  }
  if (kind === 1) { for (let n = 1 + (r() % 4); n > 0; n--) b[19 + (r() % Math.max(1, b.length - 19))] = r() & 0xff; return b; }
  if (kind === 2) { b = b.subarray(0, Math.max(19, r() % b.length)); b.writeUInt16BE(b.length, 16); return Buffer.from(b); }
  if (kind === 3) {
    const extra = Buffer.alloc(r() % 40);
    for (let i = 0; i < extra.length; i++) extra[i] = r() & 0xff;
    b = Buffer.concat([b, extra]);
    b.writeUInt16BE(Math.min(4096, b.length), 16);
    return b.subarray(0, Math.min(4096, b.length));
  }
  if (kind === 4) { const i = 19 + (r() % Math.max(1, b.length - 19)); if (i < b.length) b[i] = (b[i]! + (r() % 3) - 1) & 0xff; return b; }
  // Any byte at all, header included.
  b[r() % b.length] = r() & 0xff;
  return b;
}

test(`${N} random and mutated messages: only BgpError escapes, each maps to a NOTIFICATION`, () => {
  const r = rng(Number(process.env.TRELLIS_BGP_FUZZ_SEED ?? 0x5eed));
  const counts = { ok: 0, error: 0, treatAsWithdraw: 0 };
  for (let i = 0; i < N; i++) {
    const msg = mutate(r);
    const ctx = { fourOctetAs: (i & 1) === 0 };
    try {
      const m = decodeMessage(msg, ctx);
      counts.ok++;
      if (m.type === 'update' && m.treatAsWithdraw) {
        counts.treatAsWithdraw++;
        assert.ok(isValidNotification(m.treatAsWithdraw.code, m.treatAsWithdraw.subcode), `treat-as-withdraw ${m.treatAsWithdraw.code}/${m.treatAsWithdraw.subcode} for ${msg.toString('hex')}`);
      }
    } catch (e) {
      if (!(e instanceof BgpError)) assert.unreachable(`non-BgpError ${(e as Error).stack} for ${msg.toString('hex')}`);
      const err = e as BgpError;
      assert.ok(isValidNotification(err.code, err.subcode), `error ${err.code}/${err.subcode} (${err.message}) for ${msg.toString('hex')}`);
      counts.error++;
    }
  }
  assert.ok(counts.ok > N / 20 && counts.error > N / 20, `both outcomes exercised: ${JSON.stringify(counts)}`);
});

test('the stream framer rejects a bad header at once and splits concatenated messages', () => {
  const f = new Framer();
  const two = Buffer.concat([hex(V.keepalive), hex(V.updateIpv4)]);
  assert.equal(f.push(two.subarray(0, 25)).length, 1, 'first message out, second waits');
  assert.equal(f.push(two.subarray(25)).length, 1, 'second completes');
  const g = new Framer();
  const bad = Buffer.concat([Buffer.alloc(16, 0xff), Buffer.from([0x20, 0x00, 2])]);
  try { g.push(bad); assert.unreachable('length 8192 must be refused'); } catch (e) { assert.instance(e, BgpError); assert.is((e as BgpError).subcode, 2); }
});

test.run();
