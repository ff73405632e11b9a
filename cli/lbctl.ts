#!/usr/bin/env node
// lbctl: the operator's CLI. Talks to the agent over its control socket.
// Exit codes: 0 ok, 1 the operation failed or timed out, 2 usage error, 3 agent unreachable.
import { Command, CommanderError, Option } from 'commander';
import { VERSION } from '../agent/version.js';
import { AgentError, AgentUnreachable, callAgent } from './client.js';
import { registerCompletionCommand } from './commands/completion.js';
import { registerStatusCommands } from './commands/status.js';
import type { CliContext } from './context.js';
import { registerExtensions } from './extensions.js';

const program = new Command('lbctl')
  .description('operate lbagent: status, drain/undrain, reload, health, vrrp, bgp, ipvs')
  .version(VERSION)
  .addOption(
    new Option('-s, --socket <path>', 'agent control socket')
      .default('/run/lbagent/lbagent.sock')
      .env('LBCTL_SOCKET'),
  )
  .option('--json', 'machine-readable output')
  .showHelpAfterError('(run lbctl --help for the list of verbs)')
  .exitOverride();

const ctx = (): CliContext => {
  const o = program.opts<{ socket: string; json?: boolean }>();
  return {
    socketPath: o.socket,
    json: Boolean(o.json),
    call: (method, params, timeoutMs) => callAgent(o.socket, method, params, timeoutMs),
    out: (text) => process.stdout.write(`${text}\n`),
  };
};

registerStatusCommands(program, ctx);
registerExtensions(program, ctx);
registerCompletionCommand(program);
// --json is accepted after the verb too (lbctl status --json).
for (const cmd of program.commands) {
  if (!cmd.options.some((o) => o.long === '--json')) cmd.option('--json', 'machine-readable output');
  cmd.hook('preAction', (_this, action) => {
    if (action.opts().json) program.setOptionValue('json', true);
  });
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // --help and --version exit 0; usage errors exit 2 (commander already printed the message).
    process.exitCode = err.exitCode === 0 ? 0 : 2;
  } else if (err instanceof AgentUnreachable) {
    process.stderr.write(`lbctl: ${err.message}\n`);
    process.exitCode = 3;
  } else if (err instanceof AgentError) {
    process.stderr.write(`lbctl: ${err.message}\n`);
    process.exitCode = 1;
  } else {
    process.stderr.write(`lbctl: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}
