// VRRP metrics, filled at scrape time from VrrpSubsystem.status().
import type { AgentMetrics } from '../metrics/index.js';
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
  m.vrrpDrops.reset();
  for (const i of vrrp?.instances ?? []) {
    for (const s of STATES)
      m.vrrpState.set({ instance: i.name, state: s }, i.state.toLowerCase() === s ? 1 : 0);
    m.vrrpPriority.set({ instance: i.name }, i.priority.effective);
    m.vrrpTransitions.set({ instance: i.name }, i.transitions);
    if (!i.stats) continue;
    m.vrrpAdvertsSent.set({ instance: i.name }, i.stats.advert_sent);
    m.vrrpAdvertsReceived.set({ instance: i.name }, i.stats.advert_rcvd);
    for (const [reason, n] of Object.entries(i.stats)) {
      if (!NOT_DROPS.has(reason)) m.vrrpDrops.set({ instance: i.name, reason }, n);
    }
  }
}
