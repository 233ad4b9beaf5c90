// The packet suite (_packet-suite.ts) against every policy backend.
import { backendCases } from './_backends.js';
import { packetSuite } from './_packet-suite.js';

for (const b of backendCases()) packetSuite(b);
