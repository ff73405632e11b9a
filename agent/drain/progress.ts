// Drain progress as a pure function of what the subsystems report, so `lbctl drain --wait`
// and tests see the same stages: announcements acked, VRRP mastership moved, IPVS active
// connections gone. A stage with nothing to do (no announcements, no VRRP) is done.
export interface VrrpInstanceView {
  name: string;
  /** This host is master of the instance now. */
  master: boolean;
}

export interface DrainInputs {
  drained: boolean;
  bgp?: { total: number; settled: number; pending: string[]; notes?: string[] };
  vrrp?: VrrpInstanceView[];
  /** IPVS active connections on this host; undefined when there is no IPVS subsystem. */
  activeConnections?: number;
  /** Active connections when the drain began (for the countdown). */
  connectionsAtStart?: number;
  /** Time since a packet last arrived for the host's IPVS services; undefined when unknown. */
  idleMs?: number;
}

/**
 * No inbound packet for this long also counts as drained. Behind ECMP, the last packets of a
 * connection (the client's FIN) may take the other LB host once the route is withdrawn, so
 * this host's entry stays ESTABLISHED until IPVS's own timeout (15 min) although no traffic is
 * left; with the same Maglev table on every director, the other host carries such flows on.
 */
export const IDLE_DRAINED_MS = 5000;

export interface DrainStage {
  name: 'announcements' | 'vrrp' | 'connections';
  done: boolean;
  detail: string;
}

export interface DrainProgress {
  drained: boolean;
  done: boolean;
  stages: DrainStage[];
  /** What is still left, one line each (empty when done). */
  left: string[];
  /** Worth knowing although done (an announcement that never was on the wire). */
  notes: string[];
}

export function drainProgress(i: DrainInputs): DrainProgress {
  const stages: DrainStage[] = [];
  const b = i.bgp ?? { total: 0, settled: 0, pending: [] };
  stages.push({
    name: 'announcements',
    done: b.settled >= b.total,
    detail:
      b.total === 0
        ? 'none configured'
        : `${b.settled}/${b.total} acked${b.notes?.length ? `, ${b.notes.length} never on the wire` : ''}`,
  });
  const v = i.vrrp ?? [];
  const masters = v.filter((x) => x.master);
  stages.push({
    name: 'vrrp',
    done: masters.length === 0,
    detail:
      v.length === 0
        ? 'none configured'
        : masters.length
          ? `still master of ${masters.map((m) => m.name).join(', ')}`
          : 'mastership moved',
  });
  const c = i.activeConnections;
  const idle = c !== undefined && c > 0 && i.idleMs !== undefined && i.idleMs >= IDLE_DRAINED_MS;
  stages.push({
    name: 'connections',
    done: c === undefined || c === 0 || idle,
    detail:
      (c === undefined
        ? 'no IPVS'
        : i.connectionsAtStart !== undefined
          ? `${c} active (from ${i.connectionsAtStart})`
          : `${c} active`) + (idle ? `, no packets for ${Math.round(i.idleMs! / 1000)}s` : ''),
  });
  const left: string[] = [];
  if (!i.drained) left.push('host is not drained (disable file absent)');
  for (const s of stages) if (!s.done) left.push(`${s.name}: ${s.detail}`);
  if (!stages[0].done) left.push(...b.pending.map((p) => `  ${p}`));
  return {
    drained: i.drained,
    done: i.drained && stages.every((s) => s.done),
    stages,
    left,
    // Counted as drained (nothing there attracts traffic), but never silently.
    notes: b.notes ?? [],
  };
}

/** One progress line for a terminal / log. */
export function formatProgress(p: DrainProgress, elapsedMs: number): string {
  const st = p.stages.map((s) => `${s.name} ${s.done ? 'ok' : '..'} (${s.detail})`).join(' | ');
  return `[${(elapsedMs / 1000).toFixed(1)}s] ${p.done ? 'drained' : 'draining'}: ${st}`;
}
