// lbctl verbs that show one subsystem's part of the status: vrrp, health, ipvs, kernel.
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import type { StatusRenderer } from './status.js';

export function registerSubsystemView(
  program: Command,
  ctx: () => CliContext,
  verb: string,
  subsystem: string,
  description: string,
  render: StatusRenderer,
): void {
  program
    .command(verb)
    .description(description)
    .action(async () => {
      const c = ctx();
      const st = (await c.call('status')) as { subsystems: Record<string, unknown> };
      const part = st.subsystems[subsystem];
      if (part === undefined) throw new Error(`the agent runs no ${subsystem} subsystem`);
      c.out(c.json ? JSON.stringify(part, null, 2) : render(part));
    });
}
