// Pure rules from check states to facts: a backend's manual drain sits ahead of its check, an
// undrained or recovered backend ramps its weight over slowStart, a service follows a quorum of
// healthy backends (and optionally of their weight, with keepalived's hysteresis).
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
 * Where a service stands for its quorum: `fresh` until it has been up once (start-up, a new
 * service), so the first check results judge it on the plain threshold instead of as a recovery.
 */
export type QuorumState = 'fresh' | 'up' | 'down';

export interface QuorumInputs {
  state: QuorumState;
  /** Backends counted healthy (fact up or unchecked), and how many the service has. */
  healthy: number;
  total: number;
  quorum: number;
  /** Sum of the healthy backends' weights, and of all backends' weights. */
  healthyWeight: number;
  totalWeight: number;
  quorumWeight?: number;
  hysteresis: number;
}

/**
 * Whether a service is up. Count quorum: up iff healthy >= quorum (`quorum: 0` always up); no
 * hidden hysteresis, since rise/fall already steady each backend. Weight quorum (keepalived's
 * virtual_server quorum/hysteresis, check/ipwrapper.c): an up service stays up while the healthy
 * weight is >= quorumWeight - hysteresis; a service that went down comes back at
 * quorumWeight + hysteresis, but never needs more than all its backends' weight (keepalived has
 * no such cap: with too few backends it stays down forever); a fresh one is up at quorumWeight.
 * Both quorums must hold.
 */
export function quorumUp(i: QuorumInputs): boolean {
  const byCount = i.quorum <= 0 || i.healthy >= i.quorum;
  if (i.quorumWeight === undefined) return byCount;
  const q = i.quorumWeight;
  const threshold =
    i.state === 'up'
      ? Math.max(1, q - i.hysteresis)
      : i.state === 'down'
        ? Math.min(q + i.hysteresis, Math.max(q, i.totalWeight))
        : q;
  return byCount && i.healthyWeight >= threshold;
}
