// Pure rules from check states to facts: a backend's manual drain sits ahead of its check, an
// undrained or recovered backend ramps its weight over slowStart, a service follows a quorum of
// healthy backends with hysteresis.
import type { Fact } from '../daemon/facts.js';

export const RAMP_STEPS = 10;

/** Slow-start weight at `now`, and when it next changes (undefined once the ramp is over). */
export function rampWeight(
  base: number,
  start: number,
  slowStart: number,
  now: number,
): { weight: number; nextAt?: number } {
  const elapsed = now - start;
  if (slowStart <= 0 || elapsed >= slowStart || base <= 0) return { weight: base };
  const step = Math.floor((Math.max(0, elapsed) * RAMP_STEPS) / slowStart) + 1; // 1..RAMP_STEPS
  const weight = Math.max(1, Math.ceil((base * step) / RAMP_STEPS));
  const nextAt = start + Math.ceil((slowStart * step) / RAMP_STEPS);
  return { weight: Math.min(base, weight), nextAt };
}

export interface BackendInputs {
  /** Check state; undefined when the backend has no check. */
  check?: { up: boolean; reason: string; weight?: number };
  drained: boolean;
  configuredWeight: number;
  rampStart?: number;
  slowStart: number;
  now: number;
}

export function backendFact(i: BackendInputs): { fact: Fact; rampNextAt?: number } {
  if (i.drained) return { fact: { up: false, reason: 'drained' } };
  if (i.check && !i.check.up) return { fact: { up: false, reason: i.check.reason } };
  const dynamic = i.check?.weight;
  const base = dynamic ?? i.configuredWeight;
  const reason = i.check ? 'healthy' : 'undrained';
  if (i.rampStart !== undefined) {
    const r = rampWeight(base, i.rampStart, i.slowStart, i.now);
    if (r.nextAt !== undefined)
      return { fact: { up: true, weight: r.weight, reason: 'slow start' }, rampNextAt: r.nextAt };
  }
  return { fact: dynamic !== undefined ? { up: true, weight: dynamic, reason } : { up: true, reason } };
}

/**
 * Service quorum with hysteresis: up while healthy >= quorum; once down it needs quorum + 1
 * (capped at the number of backends) to come back, so one flapping backend cannot flap the service.
 */
export function quorumUp(prev: boolean | undefined, healthy: number, quorum: number, total: number): boolean {
  if (quorum <= 0) return true;
  if (prev === false) return healthy >= Math.min(quorum + 1, Math.max(total, quorum));
  return healthy >= quorum;
}

/**
 * Weight quorum as keepalived's virtual_server `quorum`/`hysteresis`: an up service goes down when
 * the healthy weight drops below quorum - hysteresis; a down one comes back at quorum + hysteresis.
 */
export function weightQuorumUp(
  prev: boolean | undefined,
  healthyWeight: number,
  quorum: number,
  hysteresis: number,
): boolean {
  if (prev === false) return healthyWeight >= quorum + hysteresis;
  if (prev === true) return healthyWeight >= quorum - hysteresis;
  return healthyWeight >= quorum;
}
