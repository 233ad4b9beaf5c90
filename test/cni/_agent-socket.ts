// A stand-in for trellisd's CNI side, run by socket.test.ts under `ip netns exec <host>`:
// the very server trellisd starts (src/cni startCniServer), on the socket path in argv[2],
// until SIGTERM. It must run inside the host namespace: the calls it runs create veths there.
// Its log (warn and above, as trellisd's JSON lines) goes to the file in argv[3], if given.
import { pino, destination } from 'pino';
import { startCniServer } from '../../src/cni/index.js';
import { openStore } from '../../src/store/index.js';

const server = await startCniServer({ path: process.argv[2]!, log: process.argv[3] ? pino({ level: 'warn' }, destination({ dest: process.argv[3], sync: true })) : pino({ level: 'silent' }), openStore: (s) => openStore({ ...s, dialTimeoutMs: 5000 }) });
process.stdout.write('serving\n');
process.on('SIGTERM', () => { void server.close().finally(() => process.exit(0)); });
