// lbctl with only the drain and bgp verbs, for the namespace tests until cli/lbctl.ts wires them.
import { Command } from 'commander';
import { AgentError, AgentUnreachable, callAgent } from '../../../cli/client.js';
import { registerBgpCommands } from '../../../cli/commands/bgp.js';
import { registerDrainCommands } from '../../../cli/commands/drain.js';
import type { CliContext } from '../../../cli/context.js';

const program = new Command('lbctl')
  .option('-s, --socket <path>', 'socket', '/run/lbagent/lbagent.sock')
  .option('--json')
  .exitOverride();
const ctx = (): CliContext => {
  const o = program.opts<{ socket: string; json?: boolean }>();
  return {
    socketPath: o.socket,
    json: Boolean(o.json),
    call: (m, p, t) => callAgent(o.socket, m, p, t),
    out: (t) => process.stdout.write(`${t}\n`),
  };
};
registerDrainCommands(program, ctx);
registerBgpCommands(program, ctx);
try {
  await program.parseAsync(process.argv);
} catch (err) {
  process.stderr.write(`lbctl: ${(err as Error).message}\n`);
  process.exitCode = err instanceof AgentUnreachable ? 3 : err instanceof AgentError ? 1 : 2;
}
