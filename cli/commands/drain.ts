// lbctl drain / undrain: maintenance of the whole host (the disable file) and of one backend.
//   lbctl drain [--owner NAME] [--reason TEXT] [--ttl DURATION] [--wait] [--timeout DURATION] [--force]
//   lbctl undrain [--owner NAME] [--force]
// A drain with an owner is undone only by the same owner (or --force); an existing drain is
// never overwritten. Refusals exit 1 and say who drained the host, when and why.
//   lbctl drain backend SERVICE ADDRESS[:PORT]   /   lbctl undrain backend SERVICE ADDRESS[:PORT]
import { userInfo } from 'node:os';
import { type Command, InvalidArgumentError } from 'commander';
import { parseDuration } from '../../agent/config/duration.js';
import type { DrainProgress } from '../../agent/drain/progress.js';
import { formatProgress } from '../../agent/drain/progress.js';
import { AgentError } from '../client.js';
import type { CliContext } from '../context.js';

function durationArg(v: string): number {
  const ms = parseDuration(v);
  if (ms === null || ms <= 0) throw new InvalidArgumentError(`"${v}" is not a duration (e.g. 30s, 10m, 2h)`);
  return ms;
}

function backendArg(v: string): { address: string; port?: number } {
  // 10.0.0.5, 10.0.0.5:8080, [2001:db8::5]:8080, 2001:db8::5
  const m6 = /^\[([0-9a-fA-F:.]+)\](?::(\d+))?$/.exec(v);
  if (m6) return { address: m6[1], port: m6[2] ? Number(m6[2]) : undefined };
  const m4 = /^(\d+\.\d+\.\d+\.\d+)(?::(\d+))?$/.exec(v);
  if (m4) return { address: m4[1], port: m4[2] ? Number(m4[2]) : undefined };
  if (v.includes(':')) return { address: v };
  throw new InvalidArgumentError(`"${v}" is not ADDRESS or ADDRESS:PORT`);
}

function who(): string {
  const sudo = process.env.SUDO_USER;
  let name = 'unknown';
  try {
    name = userInfo().username;
  } catch {}
  return sudo && sudo !== name ? `${sudo} (as ${name})` : name;
}

/** A refusal the agent explained (another owner's drain, --force needed): exit 1, on stderr. */
function refused(c: CliContext, err: AgentError): void {
  c.fail(err.error.code, err.message, 1, err.error.details);
}

/** Polls drain.progress until done or the timeout; exit code 0 drained, 1 timed out. */
export async function waitForDrain(
  ctx: CliContext,
  timeoutMs: number,
  opts: { tty?: boolean; intervalMs?: number } = {},
): Promise<number> {
  const tty = opts.tty ?? Boolean(process.stderr.isTTY);
  const interval = opts.intervalMs ?? 200;
  const start = Date.now();
  let lastLine = '';
  let last: DrainProgress | undefined;
  for (let i = 0; i < 1_000_000; i++) {
    last = (await ctx.call('drain.progress')) as DrainProgress;
    const elapsed = Date.now() - start;
    const line = formatProgress(last, elapsed);
    if (tty) process.stderr.write(`\r\x1b[K${line}`);
    else {
      // Plain lines only when something other than the clock changed.
      const key = line.replace(/^\[[^\]]*\] /, '');
      if (key !== lastLine) ctx.progress(line);
      lastLine = key;
    }
    if (last.done) break;
    if (elapsed >= timeoutMs) break;
    await new Promise((r) => setTimeout(r, Math.min(interval, Math.max(1, timeoutMs - elapsed))));
  }
  if (tty) process.stderr.write('\n');
  for (const n of last?.notes ?? []) process.stderr.write(`lbctl: note: ${n}\n`);
  if (ctx.json) ctx.out(JSON.stringify(last));
  if (last?.done) return 0;
  ctx.fail(
    'timeout',
    `drain not complete after ${Math.round(timeoutMs / 1000)}s; left:`,
    1,
    last?.left ?? [],
  );
  return 1;
}

export function registerDrainCommands(program: Command, ctx: () => CliContext): void {
  const drain = program
    .command('drain')
    .description('drain this host (writes the disable file); see also `drain backend`')
    .option('-o, --owner <name>', 'who owns this drain: only the same --owner (or --force) undrains it')
    .option('-r, --reason <text>', 'why (stored in the disable file)')
    .option('--ttl <duration>', 'undrain automatically after this long', durationArg)
    .option('-w, --wait', 'wait until drained, showing progress')
    .option(
      '-t, --timeout <duration>',
      'with --wait: give up after this long (default maintenance.drainTimeout)',
      durationArg,
    )
    .option(
      '-f, --force',
      'drain even if no peer in maintenance.peers is in service to take over (checked only with peers)',
    )
    .action(
      async (o: {
        owner?: string;
        reason?: string;
        ttl?: number;
        wait?: boolean;
        timeout?: number;
        force?: boolean;
      }) => {
        const c = ctx();
        let st: { drained: boolean; expires?: string; kept?: boolean; summary?: string };
        try {
          st = (await c.call('drain.set', {
            owner: o.owner,
            reason: o.reason,
            ttlMs: o.ttl,
            who: who(),
            force: Boolean(o.force),
          })) as typeof st;
        } catch (err) {
          if (
            err instanceof AgentError &&
            ((err.error.details as { needForce?: boolean } | undefined)?.needForce ||
              (err.error.details as { drainedBy?: unknown } | undefined)?.drainedBy)
          ) {
            refused(c, err);
            return;
          }
          throw err;
        }
        if (st.kept) process.stderr.write(`lbctl: already ${st.summary ?? 'drained'}; left as it is\n`);
        if (!o.wait) {
          if (c.json) c.out(JSON.stringify(st));
          else if (st.kept) c.out(st.summary ?? 'drained');
          else
            c.out(`drained${o.reason ? ` (${o.reason})` : ''}${st.expires ? `, expires ${st.expires}` : ''}`);
          return;
        }
        const full = (await c.call('drain.status')) as { drainTimeoutMs?: number };
        process.exitCode = await waitForDrain(c, o.timeout ?? full.drainTimeoutMs ?? 60_000);
      },
    );

  drain
    .command('backend')
    .description('set a backend to weight 0 while its connections finish')
    .argument('<service>', 'IPVS service name')
    .argument('<address>', 'ADDRESS or ADDRESS:PORT', backendArg)
    .action(async (service: string, b: { address: string; port?: number }) => {
      const c = ctx();
      const r = await c.call('drain.backend', { service, address: b.address, port: b.port });
      c.out(c.json ? JSON.stringify(r) : `backend ${b.address} of ${service} drained (weight 0)`);
    });

  const undrain = program
    .command('undrain')
    .description('undrain this host (removes the disable file); see also `undrain backend`')
    .option('-o, --owner <name>', 'remove the drain only if NAME owns it')
    .option('-f, --force', "remove the drain whoever owns it (someone else's maintenance!)")
    .action(async (o: { owner?: string; force?: boolean }) => {
      const c = ctx();
      let r: { kept?: boolean };
      try {
        r = (await c.call('drain.clear', { owner: o.owner, force: Boolean(o.force) })) as typeof r;
      } catch (err) {
        if (
          err instanceof AgentError &&
          (err.error.details as { drainedBy?: unknown } | undefined)?.drainedBy
        ) {
          refused(c, err);
          return;
        }
        throw err;
      }
      c.out(c.json ? JSON.stringify(r) : r.kept ? 'not drained' : 'undrained');
    });

  undrain
    .command('backend')
    .description('bring a drained backend back (slow-start ramp if the service has slowStart)')
    .argument('<service>', 'IPVS service name')
    .argument('<address>', 'ADDRESS or ADDRESS:PORT', backendArg)
    .action(async (service: string, b: { address: string; port?: number }) => {
      const c = ctx();
      const r = await c.call('undrain.backend', { service, address: b.address, port: b.port });
      c.out(c.json ? JSON.stringify(r) : `backend ${b.address} of ${service} undrained`);
    });
}
