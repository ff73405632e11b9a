// Health metrics, filled at scrape time from HealthSubsystem.status().
import { type AgentMetrics, setCounter } from '../metrics/index.js';
import type { HealthStatus } from './status.js';

export function collectHealthMetrics(m: AgentMetrics, status: Record<string, unknown>): void {
  const h = (status.subsystems as Record<string, unknown> | undefined)?.health as HealthStatus | undefined;
  m.checkUp.reset();
  m.checkDuration.reset();
  for (const c of h?.checks ?? []) {
    const labels = { check: c.id, kind: c.kind };
    m.checkUp.set(labels, c.state === 'up' ? 1 : 0);
    setCounter(m.checkTransitions, labels, c.transitions);
    if (c.lastResult) m.checkDuration.set(labels, c.lastResult.latencyMs / 1000);
  }
}
