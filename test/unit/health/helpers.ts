// Test helpers: a health subsystem on a FakeClock with scripted probe results and captured logs.
import { pino } from 'pino';
import { parseConfig } from '../../../agent/config/load.js';
import { Facts } from '../../../agent/daemon/facts.js';
import { HealthSubsystem } from '../../../agent/health/index.js';
import type { ProbeSpec } from '../../../agent/health/plan.js';
import type { ProbeOutcome } from '../../../agent/health/probes/types.js';
import { FakeClock } from '../../../agent/lib/clock.js';

export type Behaviour = 'ok' | 'fail' | 'hang' | { ok: boolean; reason?: string; weight?: number };

export function targetOf(spec: ProbeSpec): string {
  if ('address' in spec)
    return spec.address.includes(':') ? `[${spec.address}]:${spec.port}` : `${spec.address}:${spec.port}`;
  if (spec.kind === 'exec') return spec.command.join(' ');
  if (spec.kind === 'file' || spec.kind === 'disk') return spec.path;
  return spec.kind;
}

export function harness(yaml: string, opts: { stateFile?: string } = {}) {
  const clock = new FakeClock();
  const facts = new Facts();
  const logs: Record<string, unknown>[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => logs.push(JSON.parse(line)) });
  const behaviour = new Map<string, Behaviour>();
  const calls = new Map<string, number>();
  const changes: { key: string; up?: boolean; weight?: number; calls: number; at: number }[] = [];
  let lastTarget = '';
  const health = new HealthSubsystem(
    { log, clock, facts },
    {
      startDelay: () => 0,
      stateFile: opts.stateFile,
      probeFactory: (spec) => async (cancel) => {
        const t = targetOf(spec);
        lastTarget = t;
        calls.set(t, (calls.get(t) ?? 0) + 1);
        const b = behaviour.get(t) ?? 'ok';
        if (b === 'hang') {
          return new Promise<ProbeOutcome>((resolve) =>
            cancel.onAbort(() => resolve({ ok: false, reason: 'aborted' })),
          );
        }
        if (b === 'ok') return { ok: true, reason: 'connected' };
        if (b === 'fail') return { ok: false, reason: 'connect ECONNREFUSED' };
        return { reason: b.ok ? 'ok' : 'failed', ...b };
      },
    },
  );
  facts.on('change', (key: string, f) => {
    changes.push({ key, up: f?.up, weight: f?.weight, calls: calls.get(lastTarget) ?? 0, at: clock.now() });
  });
  /** Advances the fake clock in steps, letting probe promises settle between steps. */
  async function advance(ms: number, step = 100): Promise<void> {
    for (let t = 0; t < ms; t += step) {
      clock.advance(Math.min(step, ms - t));
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    }
  }
  const cfg = (text: string) => parseConfig(text);
  return { clock, facts, logs, behaviour, calls, changes, health, advance, cfg, config: cfg(yaml) };
}
