// Metrics collector for the kernel gauges the metrics subsystem defines (agent/metrics/index.ts),
// read from the kernel status at scrape time (same pattern as agent/bgp/metrics.ts).
import { type AgentMetrics, setCounter } from '../metrics/index.js';
import type { KernelStatus } from './subsystem.js';

export function collectKernelMetrics(m: AgentMetrics, status: Record<string, unknown>): void {
  const st = (status.subsystems as Record<string, unknown> | undefined)?.kernel as KernelStatus | undefined;
  if (!st?.counters) return;
  m.kernelObjects.reset();
  const counts = new Map<string, number>();
  for (const o of st.objects ?? []) {
    const key = `${o.kind}|${o.actual}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  for (const [key, n] of counts) {
    const [kind, state] = key.split('|');
    m.kernelObjects.set({ kind, state }, n);
  }
  setCounter(m.kernelWrites, { subsystem: 'kernel' }, st.counters.writes);
  setCounter(m.reconcileErrors, { subsystem: 'kernel' }, st.counters.failedOps);
  for (const [code, n] of Object.entries(st.errorsByCode ?? {}))
    setCounter(m.netlinkErrors, { subsystem: 'kernel', kind: code }, n);
}
