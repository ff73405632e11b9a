// The rise/fall state machine of one check, with optional flap damping. Pure: results and time
// come in as arguments; the scheduler (./scheduler.ts) is the shell around it.
import { Damping, type DampingParams, type DampingSnapshot } from './damping.js';

export type Health = 'up' | 'down';

/** What one probe found. */
export interface ProbeResult {
  ok: boolean;
  /** Short human text: "connected", "status 500", "connect ECONNREFUSED", "timeout after 1000ms". */
  reason: string;
  latencyMs: number;
  /** Dynamic weight (exec checks, keepalived misc_dynamic). */
  weight?: number;
}

export interface MachineParams {
  rise: number;
  fall: number;
  initial: Health;
  damping?: DampingParams;
}

export interface Transition {
  from: Health;
  to: Health;
  reason: string;
}

export interface MachineSnapshot {
  state: Health;
  /** rise/fall state before damping. */
  raw: Health;
  /** A first contrary result was seen and rise/fall has not completed yet. */
  transitional: boolean;
  successes: number;
  failures: number;
  transitions: number;
  lastResult?: ProbeResult & { at: number };
  lastTransitionAt?: number;
  reason: string;
  damping?: DampingSnapshot;
}

export class CheckMachine {
  private raw: Health;
  private effective: Health;
  private successes = 0;
  private failures = 0;
  private transitions = 0;
  // The last result as fields, not an object per run (thousands of runs per second).
  private lastOk = false;
  private lastReason = '';
  private lastLatencyMs = 0;
  private lastWeight: number | undefined;
  private lastAt = -1;
  private lastTransitionAt?: number;
  private reason: string;
  private damping?: Damping;

  constructor(private params: MachineParams) {
    this.raw = params.initial;
    this.effective = params.initial;
    this.reason = `initial ${params.initial}`;
    if (params.damping) this.damping = new Damping(params.damping);
  }

  /** New timing on reload: keeps state and counters (an unchanged check keeps its state). */
  setParams(params: MachineParams): void {
    this.params = params;
    if (!params.damping) this.damping = undefined;
    else if (this.damping) this.damping.params = params.damping;
    else this.damping = new Damping(params.damping);
  }

  get state(): Health {
    return this.effective;
  }

  get weight(): number | undefined {
    return this.lastOk ? this.lastWeight : undefined;
  }

  /** Latency of the last result (ms); 0 before the first. */
  get latencyMs(): number {
    return this.lastLatencyMs;
  }

  get lastResult(): (ProbeResult & { at: number }) | undefined {
    if (this.lastAt < 0) return undefined;
    const r: ProbeResult & { at: number } = {
      ok: this.lastOk,
      reason: this.lastReason,
      latencyMs: this.lastLatencyMs,
      at: this.lastAt,
    };
    if (this.lastWeight !== undefined) r.weight = this.lastWeight;
    return r;
  }

  get transitional(): boolean {
    return (this.raw === 'down' && this.successes > 0) || (this.raw === 'up' && this.failures > 0);
  }

  /** Feeds one probe result; returns the transition of the effective state, if any. */
  record(result: ProbeResult, now: number): Transition | undefined {
    return this.recordOutcome(result.ok, result.reason, result.latencyMs, result.weight, now);
  }

  /** record() without a result object (the scheduler's hot path). */
  recordOutcome(
    ok: boolean,
    reason: string,
    latencyMs: number,
    weight: number | undefined,
    now: number,
  ): Transition | undefined {
    this.lastOk = ok;
    this.lastReason = reason;
    this.lastLatencyMs = latencyMs;
    this.lastWeight = weight;
    this.lastAt = now;
    if (ok) {
      this.successes++;
      this.failures = 0;
      if (this.raw === 'down' && this.successes >= this.params.rise) this.raw = 'up';
    } else {
      this.failures++;
      this.successes = 0;
      if (this.raw === 'up' && this.failures >= this.params.fall) {
        this.raw = 'down';
        this.damping?.charge(now);
      }
    }
    if (this.raw === 'down' || !ok) this.reason = reason;
    return this.settle(now, reason);
  }

  /** Re-evaluates damping at `now` (call at reuseAt()); returns a transition if suppression ended. */
  reevaluate(now: number): Transition | undefined {
    return this.settle(now, 'damping reuse');
  }

  /** When the damped state may change next, if suppressed. */
  reuseAt(now: number): number | undefined {
    return this.damping?.reuseAt(now);
  }

  private settle(now: number, why: string): Transition | undefined {
    const suppressed = this.damping?.suppressed(now) ?? false;
    const next: Health = this.raw === 'up' && !suppressed ? 'up' : 'down';
    if (next === this.effective) {
      if (next === 'down' && suppressed && this.raw === 'up') this.reason = 'damped (flapping)';
      return undefined;
    }
    const from = this.effective;
    this.effective = next;
    this.transitions++;
    this.lastTransitionAt = now;
    const reason = next === 'down' && suppressed && this.raw === 'up' ? 'damped (flapping)' : why;
    this.reason = reason;
    return { from, to: next, reason };
  }

  snapshot(now: number): MachineSnapshot {
    return {
      state: this.effective,
      raw: this.raw,
      transitional: this.transitional,
      successes: this.successes,
      failures: this.failures,
      transitions: this.transitions,
      lastResult: this.lastResult,
      lastTransitionAt: this.lastTransitionAt,
      reason: this.reason,
      damping: this.damping?.snapshot(now),
    };
  }
}
