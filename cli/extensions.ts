// Subsystem verbs of lbctl (drain, bgp, health, vrrp, ipvs), registered in one place.
import type { Command } from 'commander';
import { registerBgpCommands } from './commands/bgp.js';
import { registerDrainCommands } from './commands/drain.js';
import { renderHealth } from './commands/health.js';
import { renderIpvs } from './commands/ipvs.js';
import { renderKernelStatus } from './commands/kernel.js';
import { registerPlanCommand } from './commands/plan.js';
import { subsystemRenderers } from './commands/status.js';
import { registerSubsystemView } from './commands/subsystem-views.js';
import { renderVrrp } from './commands/vrrp.js';
import type { CliContext } from './context.js';

export function registerExtensions(program: Command, ctx: () => CliContext): void {
  registerDrainCommands(program, ctx);
  registerBgpCommands(program, ctx);
  registerPlanCommand(program, ctx);
  subsystemRenderers.set('kernel', renderKernelStatus);
  subsystemRenderers.set('vrrp', renderVrrp);
  subsystemRenderers.set('health', renderHealth);
  subsystemRenderers.set('ipvs', renderIpvs);
  program
    .command('ipvs')
    .description('IPVS services and destinations, like ipvsadm -Ln, with fresh connection counters')
    .action(async () => {
      const c = ctx();
      const st = await c.call('ipvs.status');
      c.out(c.json ? JSON.stringify(st, null, 2) : renderIpvs(st));
    });
  registerSubsystemView(
    program,
    ctx,
    'health',
    'health',
    'every check: state, last result and reason, latency, counts, transitions',
    renderHealth,
  );
  registerSubsystemView(
    program,
    ctx,
    'vrrp',
    'vrrp',
    'VRRP instances: state, effective priority and why, master seen, counters',
    renderVrrp,
  );
  registerSubsystemView(
    program,
    ctx,
    'kernel',
    'kernel',
    'VIPs, routes and nexthop groups: desired vs actual',
    renderKernelStatus,
  );
}
