#!/usr/bin/env node
// lbctl: the operator's CLI. Talks to the agent over its control socket.
// Exit codes: 0 ok, 1 the operation failed or timed out, 2 usage error, 3 agent unreachable.
// Results go to stdout, progress and errors to stderr; with --json an error is one JSON object
// on stderr: {"error": {"code", "message", "exit", "details"?}}.
import { Command, CommanderError, Option } from 'commander';
import { VERSION } from '../agent/version.js';
import { AgentError, AgentUnreachable, callAgent } from './client.js';
import { registerCompletionCommand } from './commands/completion.js';
import { registerStatusCommands } from './commands/status.js';
import { type CliContext, printError } from './context.js';
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

// Known before parsing, so that even a usage error is reported as JSON.
const jsonWanted = process.argv.slice(2).includes('--json');
if (jsonWanted) program.configureOutput({ writeErr: () => {} });

const ctx = (): CliContext => {
  const o = program.opts<{ socket: string; json?: boolean }>();
  return {
    socketPath: o.socket,
    json: Boolean(o.json),
    call: (method, params, timeoutMs) => callAgent(o.socket, method, params, timeoutMs),
    out: (text) => process.stdout.write(`${text}\n`),
    progress: (text) => process.stderr.write(`${text}\n`),
    fail: (code, message, exit, details) => printError(Boolean(o.json), code, message, exit, details),
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

const fail = (code: string, message: string, exit: number, details?: unknown): void =>
  printError(jsonWanted, code, message, exit, details);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // --help and --version exit 0; usage errors exit 2 (commander already printed the text).
    if (err.exitCode === 0) process.exitCode = 0;
    else if (jsonWanted) fail('usage', err.message.replace(/^error: /, ''), 2);
    else process.exitCode = 2;
  } else if (err instanceof AgentUnreachable) {
    fail('unreachable', err.message, 3);
  } else if (err instanceof AgentError) {
    fail(err.error.code, err.message, 1, err.error.details);
  } else {
    fail('failed', (err as Error).message, 1);
  }
}
