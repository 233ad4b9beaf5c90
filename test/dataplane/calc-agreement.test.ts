// The kernel-agrees-with-explain suite (_agreement-suite.ts) against every policy backend.
import { backendCases } from './_backends.js';
import { agreementSuite } from './_agreement-suite.js';

for (const b of backendCases()) agreementSuite(b);
