// Metrics collector for the BGP gauges the metrics subsystem defines (agent/metrics/index.ts):
// the daemon passes it to MetricsSubsystem; it reads the bgp status at scrape time.
import { type AgentMetrics, setCounter } from '../metrics/index.js';

interface BgpStatusView {
  bridges?: { neighbors?: Record<string, { state: string }> }[];
  announcements?: {
    prefix: string;
    state: string;
    announced: boolean;
    onWire?: boolean;
    rejected?: boolean;
  }[];
  counters?: { acksDone: number; acksError: number };
}

const STATES = ['up', 'down', 'disabled', 'not-ready'];

export function collectBgpMetrics(m: AgentMetrics, status: Record<string, unknown>): void {
  const st = (status.subsystems as Record<string, unknown> | undefined)?.bgp as BgpStatusView | undefined;
  if (!st) return;
  m.bgpAnnounced.reset();
  m.bgpState.reset();
  m.bgpPrefixOnWire.reset();
  m.bgpPrefixRejected.reset();
  m.bgpSessionUp.reset();
  const sessions = new Map<string, number>();
  for (const b of st.bridges ?? [])
    for (const [peer, n] of Object.entries(b.neighbors ?? {}))
      sessions.set(peer, Math.max(sessions.get(peer) ?? 0, n.state === 'up' ? 1 : 0));
  for (const [neighbor, up] of sessions) m.bgpSessionUp.set({ neighbor }, up);
  for (const a of st.announcements ?? []) {
    m.bgpAnnounced.set({ prefix: a.prefix }, a.announced ? 1 : 0);
    m.bgpPrefixOnWire.set({ prefix: a.prefix }, a.onWire ? 1 : 0);
    m.bgpPrefixRejected.set({ prefix: a.prefix }, a.rejected ? 1 : 0);
    for (const s of STATES) m.bgpState.set({ prefix: a.prefix, state: s }, a.state === s ? 1 : 0);
  }
  setCounter(m.bgpAcks, { result: 'done' }, st.counters?.acksDone ?? 0);
  setCounter(m.bgpAcks, { result: 'error' }, st.counters?.acksError ?? 0);
  m.bgpBridgeConnected.set((st.bridges?.length ?? 0) > 0 ? 1 : 0);
}
