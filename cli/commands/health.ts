// `lbctl health`: every check with state, last result and reason, latency, consecutive counts and
// transitions; then backends, nexthops, named checks, services and the host. Takes the JSON of
// HealthSubsystem.status().
import type { HealthStatus } from '../../agent/health/status.js';
import { table } from '../render.js';

function isStatus(x: unknown): x is HealthStatus {
  return typeof x === 'object' && x !== null && Array.isArray((x as HealthStatus).checks);
}

function ago(ms: number | undefined): string | undefined {
  if (ms === undefined) return undefined;
  if (ms < 1000) return `${ms}ms`;
  const s = Math.round(ms / 1000);
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.round(s / 60)}m` : `${Math.round(s / 3600)}h`;
}

function state(up: boolean): string {
  return up ? 'up' : 'DOWN';
}

export function renderHealth(status: unknown): string {
  if (!isStatus(status)) return 'health: no status (subsystem not running?)\n';
  const s = status;
  const out: string[] = [];
  const l = s.scheduler.lateness;
  out.push(
    `health: ${s.scheduler.checks} checks, ${s.scheduler.inflight} in flight; start lateness p50 ${l.p50} ms, p99 ${l.p99} ms, max ${l.max} ms`,
  );
  if (s.checks.length) {
    out.push(
      '',
      table(
        ['CHECK', 'STATE', 'OK/FAIL', 'RISE/FALL', 'LAST', 'LATENCY', 'AGO', 'FLIPS', 'REASON'],
        s.checks.map((c) => {
          let st = state(c.state === 'up');
          if (c.transitional) st += c.raw === 'up' ? ' (falling)' : ' (rising)';
          if (c.damping?.suppressed) st += ' (damped)';
          return [
            c.id,
            st,
            `${c.successes}/${c.failures}`,
            `${c.rise}/${c.fall}`,
            c.lastResult ? (c.lastResult.ok ? 'ok' : 'fail') : 'never',
            c.lastResult ? `${c.lastResult.latencyMs}ms` : undefined,
            ago(c.lastResult?.ageMs),
            c.transitions,
            c.lastResult?.reason ?? c.reason,
          ];
        }),
      ),
    );
  }
  if (s.backends.length) {
    out.push(
      '',
      table(
        ['SERVICE', 'BACKEND', 'STATE', 'WEIGHT', 'REASON'],
        s.backends.map((b) => [
          b.service,
          b.address.includes(':') ? `[${b.address}]:${b.port}` : `${b.address}:${b.port}`,
          b.drained ? 'DRAINED' : state(b.up),
          b.weight !== undefined ? `${b.weight}/${b.configuredWeight}` : String(b.configuredWeight),
          b.reason,
        ]),
      ),
    );
  }
  const subjects = [...s.nexthops, ...s.named];
  if (subjects.length) {
    out.push(
      '',
      table(
        ['FACT', 'STATE', 'REASON'],
        subjects.map((n) => [n.key, state(n.up), n.reason]),
      ),
    );
  }
  if (s.services.length) {
    out.push(
      '',
      table(
        ['SERVICE', 'STATE', 'HEALTHY', 'QUORUM', 'WEIGHT'],
        s.services.map((v) => [
          v.name,
          state(v.up),
          `${v.healthy}/${v.total}`,
          v.quorum,
          v.quorumWeight === undefined ? '-' : `${v.healthyWeight ?? '?'}/${v.quorumWeight}`,
        ]),
      ),
    );
  }
  if (s.host) out.push('', `host: ${state(s.host.up)} (${s.host.reason})`);
  return `${out.join('\n')}\n`;
}
