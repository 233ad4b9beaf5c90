// Run by locks.test.ts under `ip netns exec <ns>`: takes trellis-cni's host lock argv[2]
// (waiting at most argv[3] ms), prints "held" and keeps it until stdin closes, then
// prints "released". A refusal is printed as "refused <code> <message>".
import { holdHostLock } from '../../src/cni/locks.js';
import { CniError } from '../../src/cni/spec.js';

try {
  const release = await holdHostLock(process.argv[2]!, Number(process.argv[3]));
  process.stdout.write('held\n');
  process.stdin.resume();
  process.stdin.on('end', () => { release(); process.stdout.write('released\n'); process.exit(0); });
} catch (e) {
  process.stdout.write(`refused ${e instanceof CniError ? e.code : '?'} ${(e as Error).message}\n`);
  process.exit(0);
}
