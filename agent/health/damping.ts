// Flap damping on top of rise/fall, BGP style (RFC 2439): every fall adds a penalty that decays
// with a half-life; above `suppress` the check is held down until the penalty decays below `reuse`.
// Pure: time comes in as an argument.

export interface DampingParams {
  halfLife: number; // ms
  penalty: number;
  suppress: number;
  reuse: number;
  max: number;
}

export interface DampingSnapshot {
  penalty: number;
  suppressed: boolean;
}

export class Damping {
  private value = 0;
  private at = 0;
  private suppressedFlag = false;

  constructor(public params: DampingParams) {}

  /** Penalty decayed to `now`. */
  penaltyAt(now: number): number {
    const dt = Math.max(0, now - this.at);
    return this.value * 2 ** (-dt / this.params.halfLife);
  }

  /** A flap (a fall): add the penalty, cap it, maybe suppress. */
  charge(now: number): void {
    this.value = Math.min(this.params.max, this.penaltyAt(now) + this.params.penalty);
    this.at = now;
    if (this.value >= this.params.suppress) this.suppressedFlag = true;
  }

  /** Re-evaluates suppression at `now`; returns whether it is (still) suppressed. */
  suppressed(now: number): boolean {
    if (this.suppressedFlag && this.penaltyAt(now) < this.params.reuse) this.suppressedFlag = false;
    return this.suppressedFlag;
  }

  /** When suppressed: the time the penalty reaches `reuse` (to schedule a re-evaluation). */
  reuseAt(now: number): number | undefined {
    if (!this.suppressed(now)) return undefined;
    const p = this.penaltyAt(now);
    return now + Math.ceil(this.params.halfLife * Math.log2(p / this.params.reuse)) + 1;
  }

  snapshot(now: number): DampingSnapshot {
    return { penalty: Math.round(this.penaltyAt(now)), suppressed: this.suppressed(now) };
  }
}
