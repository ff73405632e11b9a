// VRRP metrics, filled at scrape time from VrrpSubsystem.status().
import { type AgentMetrics, setCounter } from '../metrics/index.js';
import type { VrrpStats } from './machine.js';

const STATES = ['init', 'backup', 'master', 'fault', 'stopped'];
const NOT_DROPS = new Set([
  'advert_rcvd',
  'advert_sent',
  'become_master',
  'release_master',
  'pri_zero_rcvd',
  'pri_zero_sent',
]);

interface InstanceStatus {
  name: string;
  state: string;
  transitions: number;
  priority: { effective: number };
  stats?: VrrpStats;
}

export function collectVrrpMetrics(m: AgentMetrics, status: Record<string, unknown>): void {
  const vrrp = (status.subsystems as Record<string, unknown> | undefined)?.vrrp as
    | { instances?: InstanceStatus[] }
    | undefined;
  m.vrrpState.reset();
  m.vrrpPriority.reset();
  for (const i of vrrp?.instances ?? []) {
    // `iname`, never `instance`: Prometheus's target label (agent/metrics/index.ts).
    const iname = i.name;
    for (const s of STATES) m.vrrpState.set({ iname, state: s }, i.state.toLowerCase() === s ? 1 : 0);
    m.vrrpPriority.set({ iname }, i.priority.effective);
    setCounter(m.vrrpTransitions, { iname }, i.transitions);
    if (!i.stats) continue;
    setCounter(m.vrrpAdvertsSent, { iname }, i.stats.advert_sent);
    setCounter(m.vrrpAdvertsReceived, { iname }, i.stats.advert_rcvd);
    for (const [reason, n] of Object.entries(i.stats)) {
      if (!NOT_DROPS.has(reason)) setCounter(m.vrrpDrops, { iname, reason }, n);
    }
  }
}
