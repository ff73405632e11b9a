#!/usr/bin/env node
// lbagent: the daemon (`run`) and its offline helpers (`check-config`, `schema`, `import`).
// Exit codes: 0 ok, 1 failed (invalid config, start refused, crash), 2 usage error.
import { Command, CommanderError, Option } from 'commander';
import { runExabgpBridge } from './bgp/bridge.js';
import { configJsonSchema } from './config/json-schema.js';
import { ConfigError, DEFAULT_CONFIG_PATH, formatIssue, loadConfigFile } from './config/load.js';
import { configReference } from './config/reference.js';
import { configSummary } from './config/summary.js';
import { runDaemon } from './daemon/run.js';
import { importCommand } from './import/cli.js';
import { VERSION } from './version.js';

const program = new Command('lbagent')
  .description('Linux load-balancer host agent')
  .version(VERSION)
  .showHelpAfterError()
  .exitOverride();

program
  .command('run')
  .description('run the agent (the systemd unit runs this)')
  .addOption(
    new Option('-c, --config <file>', 'config file').default(DEFAULT_CONFIG_PATH).env('LBAGENT_CONFIG'),
  )
  .option('--log-level <level>', 'override log.level from the config')
  .action(async (o: { config: string; logLevel?: string }) => {
    process.exitCode = await runDaemon({ configPath: o.config, logLevel: o.logLevel });
  });

program
  .command('check-config')
  .description('validate a config file and print a summary (exit 0 valid, 1 invalid), like keepalived -t')
  .argument('[file]', 'config file', DEFAULT_CONFIG_PATH)
  .option('-q, --quiet', 'print nothing when valid')
  .action(async (file: string, o: { quiet?: boolean }) => {
    try {
      const { config, hash } = await loadConfigFile(file);
      if (!o.quiet) {
        console.log(`${file}: OK (sha256 ${hash.slice(0, 12)})`);
        for (const line of configSummary(config)) console.log(`  ${line}`);
      }
    } catch (err) {
      if (!(err instanceof ConfigError)) {
        // Whatever the loader tripped on, one line naming the file, never a stack trace.
        console.error(`${file}: cannot be loaded: ${(err as Error)?.message ?? String(err)}`);
        process.exitCode = 1;
        return;
      }
      console.error(`${file}: ${err.issues.length} error(s)`);
      for (const i of err.issues) console.error(`  ${formatIssue(i)}`);
      process.exitCode = 1;
    }
  });

program
  .command('schema')
  .description('print the JSON Schema of the config file')
  .action(() => {
    console.log(JSON.stringify(configJsonSchema(), null, 2));
  });

program
  .command('exabgp-bridge')
  .description('the process ExaBGP runs: relays announcements from the agent (see docs/bgp.md)')
  .option('--socket <path>', 'the agent bridge socket', '/run/lbagent/exabgp.sock')
  .option('--grace-ms <ms>', 'keep routes this long when the agent is gone before withdrawing', '0')
  .action(async (o: { socket: string; graceMs: string }) => {
    // stdout is ExaBGP's command channel: nothing else may be written there.
    const code = await runExabgpBridge({ socket: o.socket, graceMs: Number(o.graceMs) });
    // ExaBGP is gone: exit now, whatever handle (a half-closed socket, a pipe) is still open.
    process.exit(code);
  });

// Built apart, so it does not inherit exitOverride(): set it on the whole subtree (exit 2 on usage).
const importCmd = importCommand();
for (const c of [importCmd, ...importCmd.commands]) c.exitOverride();
program.addCommand(importCmd);

program
  .command('config-reference')
  .description('print the config reference (Markdown) generated from the schema')
  .action(() => {
    process.stdout.write(configReference());
  });

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (!(err instanceof CommanderError)) throw err;
  // --help and --version exit 0; usage errors (unknown command or option) exit 2, like lbctl.
  process.exitCode = err.exitCode === 0 ? 0 : 2;
}
