// Run inside a test namespace (ip netns exec): sets sysctls the way trellisd does in its
// own namespace, and prints what writeSysctls reported.
import { createExec } from '../../src/dataplane/exec.js';
import { desiredSysctls } from '../../src/dataplane/sysctls.js';
import { labState } from './_state.js';

const ds = labState();
const wants = desiredSysctls(ds, null);
const r = await createExec().writeSysctls(wants, process.argv[2] === 'ignore-missing');
process.stdout.write(JSON.stringify(r));
