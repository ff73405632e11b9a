// lbctl plan: what applying a config would change in the kernel, without applying it.
// `-c FILE` is read here, with the caller's own permissions, and its text sent to the agent.

import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';

export function registerPlanCommand(program: Command, ctx: () => CliContext): void {
  program
    .command('plan')
    .description('print the kernel operations that applying a config would perform (nothing is applied)')
    .option('-c, --config <file>', 'plan this config file instead of the running one')
    .action(async (o: { config?: string }) => {
      const c = ctx();
      let params: Record<string, unknown> = {};
      if (o.config) {
        const path = resolve(o.config);
        let configText: string;
        try {
          configText = await readFile(path, 'utf8');
        } catch (err) {
          c.fail(
            'usage',
            `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
            2,
          );
          return;
        }
        params = { configText, source: path };
      }
      const plans = (await c.call('plan', params, 60_000)) as Record<
        string,
        { text: string; operations: number }
      >;
      if (c.json) {
        c.out(JSON.stringify(plans, null, 2));
        return;
      }
      for (const [name, p] of Object.entries(plans)) {
        c.out(`== ${name}: ${p.operations} operation(s)`);
        if (p.text.trim()) c.out(p.text.trimEnd());
      }
    });
}
