// Metrics collector for the IPVS gauges the metrics subsystem defines (agent/metrics/index.ts),
// read from the IPVS status at scrape time (same pattern as agent/kernel/metrics.ts). Destination
// counters are as fresh as the last read of the table (each resync, or `refresh()`).
import { type AgentMetrics, setCounter } from '../metrics/index.js';
import type { IpvsStatus } from './index.js';
import { destKey } from './types.js';

export function collectIpvsMetrics(m: AgentMetrics, status: Record<string, unknown>): void {
  const st = (status.subsystems as Record<string, unknown> | undefined)?.ipvs as IpvsStatus | undefined;
  if (!st) return;
  m.ipvsAvailable.set(st.available ? 1 : 0);
  const owned = st.services.filter((s) => s.owned);
  m.ipvsServices.set(owned.length);
  for (const g of [m.ipvsDestWeight, m.ipvsDestActive, m.ipvsDestInactive]) g.reset();
  for (const s of owned) {
    const service = s.name ?? s.key;
    for (const d of s.dests) {
      const l = { service, destination: destKey(d) };
      m.ipvsDestWeight.set(l, d.weight);
      m.ipvsDestActive.set(l, d.activeConns);
      m.ipvsDestInactive.set(l, d.inactConns);
      if (d.stats) {
        setCounter(m.ipvsDestConns, l, d.stats.conns);
        setCounter(m.ipvsDestInBytes, l, d.stats.inbytes);
        setCounter(m.ipvsDestOutBytes, l, d.stats.outbytes);
        setCounter(m.ipvsDestInPackets, l, d.stats.inpkts);
        setCounter(m.ipvsDestOutPackets, l, d.stats.outpkts);
      }
    }
  }
  setCounter(m.kernelWrites, { subsystem: 'ipvs' }, st.counters.writes);
  setCounter(m.reconcileErrors, { subsystem: 'ipvs' }, st.counters.errors);
}
