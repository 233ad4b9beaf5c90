#!/usr/bin/env node
// trellisd: the Trellis agent. `trellisd --config /etc/trellis/trellisd.yaml`.
// SIGTERM/SIGINT stop it cleanly and leave the dataplane in place, so a restart (or an
// upgrade) never drops established traffic.
//
// The composition root: settings, checked whole before anything connects (preflight),
// the logger, and the real subsystems (wiring.ts) handed to the agent core.
import { Command, Option } from 'commander';
import { ConfigError, DEFAULT_CONFIG_FILE, loadDaemonConfig } from '../config/index.js';
import { createLogger } from '../log/index.js';
import { VERSION } from '../model/index.js';
import { startAgent } from './agent.js';
import { preflight } from './preflight.js';
import { realParts } from './wiring.js';

async function main(argv: string[]): Promise<number> {
  const program = new Command('trellisd')
    .description('Trellis agent: programs routes, policy and BGP for this host from etcd')
    .version(VERSION)
    .addOption(new Option('--config <file>', `settings file (YAML; default ${DEFAULT_CONFIG_FILE} when it exists)`))
    .option('--node-name <name>', 'this host\'s Node name (overrides the file)')
    .option('--log-level <level>', 'trace, debug, info, warn, error')
    .exitOverride();
  try {
    program.parse(argv);
  } catch (err) {
    const code = (err as { code?: string }).code;
    return code === 'commander.helpDisplayed' || code === 'commander.version' ? 0 : 2;
  }
  const flags = program.opts<{ config?: string; nodeName?: string; logLevel?: string }>();
  let loaded;
  try {
    loaded = loadDaemonConfig({
      file: flags.config,
      env: process.env,
      overrides: {
        ...(flags.nodeName ? { nodeName: flags.nodeName } : {}),
        ...(flags.logLevel ? { logLevel: flags.logLevel as never } : {}),
      },
    });
    preflight(loaded.config, { api: true, sources: loaded.sources });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`trellisd: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const log = createLogger({ name: 'trellisd', level: loaded.config.logLevel });
  log.info({ node: loaded.config.nodeName, file: loaded.file, version: VERSION }, 'starting');
  let agent;
  try {
    agent = await startAgent(loaded.config, { logger: log, parts: realParts, sources: loaded.sources });
  } catch (err) {
    log.fatal({ err: (err as Error).message }, 'cannot start');
    process.stderr.write(`trellisd: ${(err as Error).message}\n`);
    return 1;
  }
  const stopping = new Promise<number>((resolve) => {
    let once = false;
    const onSignal = (sig: NodeJS.Signals) => {
      if (once) return;
      once = true;
      log.info({ signal: sig }, 'stopping');
      const force = setTimeout(() => resolve(1), 10_000);
      force.unref();
      void agent.stop().then(() => { clearTimeout(force); resolve(0); }, () => resolve(1));
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  return stopping;
}

process.on('unhandledRejection', (reason) => {
  process.stderr.write(`trellisd: unhandled rejection: ${reason instanceof Error ? reason.stack : String(reason)}\n`);
});

main(process.argv).then((code) => process.exit(code), (err: unknown) => {
  process.stderr.write(`trellisd: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
