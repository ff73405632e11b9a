// Subsystem verbs of lbctl (drain, bgp, health, vrrp, ipvs), registered in one place.
import type { Command } from 'commander';
import { registerBgpCommands } from './commands/bgp.js';
import { registerDrainCommands } from './commands/drain.js';
import type { CliContext } from './context.js';

export function registerExtensions(program: Command, ctx: () => CliContext): void {
  registerDrainCommands(program, ctx);
  registerBgpCommands(program, ctx);
}
