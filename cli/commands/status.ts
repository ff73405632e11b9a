// lbctl status: the agent, its config, and one block per subsystem.
import { Argument, type Command } from 'commander';
import { LOG_LEVELS } from '../../agent/control/protocol.js';
import type { CliContext } from '../context.js';
import { duration } from '../render.js';

export type StatusRenderer = (status: unknown) => string;
export const subsystemRenderers = new Map<string, StatusRenderer>();

interface AgentStatus {
  version: string;
  pid: number;
  node: string;
  config: { path: string; hash: string };
  uptimeSeconds: number;
  reloads: { ok: number; failed: number; last?: { at: string; ok: boolean; message: string } };
  subsystems: Record<string, unknown>;
}

export function renderStatus(st: AgentStatus): string {
  const lines = [
    `lbagent ${st.version} on ${st.node} (pid ${st.pid}), up ${duration(st.uptimeSeconds)}`,
    `config  ${st.config.path} sha256 ${st.config.hash.slice(0, 12)}`,
    `reloads ${st.reloads.ok} ok, ${st.reloads.failed} failed${st.reloads.last ? ` (last: ${st.reloads.last.message})` : ''}`,
  ];
  for (const [name, sub] of Object.entries(st.subsystems)) {
    const render = subsystemRenderers.get(name);
    lines.push('', `== ${name}`);
    if (render) lines.push(render(sub));
    else {
      const summary = (sub as { summary?: string })?.summary;
      lines.push(summary ?? JSON.stringify(sub));
    }
  }
  return lines.join('\n');
}

export function registerStatusCommands(program: Command, ctx: () => CliContext): void {
  program
    .command('status')
    .description('agent version, config, uptime and per-subsystem state')
    .action(async () => {
      const c = ctx();
      const st = (await c.call('status')) as AgentStatus;
      c.out(c.json ? JSON.stringify(st, null, 2) : renderStatus(st));
    });

  program
    .command('reload')
    .description('re-read the config file; an invalid file is rejected and the running config stays')
    .action(async () => {
      const c = ctx();
      const r = (await c.call('reload', {}, 60_000)) as {
        ok: boolean;
        message: string;
        errors?: { path: string; message: string }[];
      };
      if (c.json) c.out(JSON.stringify(r, null, 2));
      else {
        c.out(r.message);
        for (const e of r.errors ?? []) c.out(`  ${e.path ? `${e.path}: ` : ''}${e.message}`);
      }
      if (!r.ok) process.exitCode = 1;
    });

  program
    .command('log-level')
    .description('show or change the agent log level at runtime')
    .addArgument(new Argument('[level]', 'the new level').choices(LOG_LEVELS))
    .action(async (level?: string) => {
      const c = ctx();
      const r = (await c.call('log.level', level ? { level } : {})) as { level: string; from?: string };
      c.out(
        c.json ? JSON.stringify(r) : r.from ? `log level ${r.from} -> ${r.level}` : `log level ${r.level}`,
      );
    });

  program
    .command('facts')
    .description('the facts subsystems publish to each other (health, drain, VRRP roles)')
    .argument('[prefix]', 'only facts whose key starts with this (host, drain, backend:web, vrrp, ...)')
    .action(async (prefix?: string) => {
      const c = ctx();
      const all = (await c.call('facts')) as Record<
        string,
        { up: boolean; weight?: number; reason?: string }
      >;
      const f = prefix ? Object.fromEntries(Object.entries(all).filter(([k]) => k.startsWith(prefix))) : all;
      if (c.json) c.out(JSON.stringify(f, null, 2));
      else
        for (const [k, v] of Object.entries(f).sort()) {
          c.out(
            `${k}  ${v.up ? 'up' : 'down'}${v.weight !== undefined ? ` weight=${v.weight}` : ''}${v.reason ? ` (${v.reason})` : ''}`,
          );
        }
    });
}
