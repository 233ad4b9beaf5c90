#!/usr/bin/env node
// trellisctl entry point.
import { runCli } from './program.js';

const code = await runCli(process.argv);
// Let stdout drain before leaving: output may be piped into another tool.
process.stdout.write("", () => process.exit(code));
