// Runs one check on its schedule: fixed rate (due times advance by the interval, not by the probe's
// duration), a faster interval while rising/falling, a deterministic start-up spread so thousands
// of checks do not fire in the same millisecond, and a hard timeout that aborts the probe.
import type { Clock, Timer } from '../lib/clock.js';
import { CheckMachine, type ProbeResult, type Transition } from './machine.js';
import type { CheckSpec } from './plan.js';
import { Cancel, type Probe } from './probes/types.js';

/** Start-up offset in [0, interval): FNV-1a of the check id, so it is stable across restarts. */
export function spreadOffset(id: string, interval: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return interval > 0 ? h % interval : 0;
}

/** Lateness of check starts vs their schedule: a ring of recent samples for percentiles. */
export class LatenessStats {
  private ring: Float64Array;
  private n = 0;
  count = 0;
  max = 0;

  constructor(size = 1 << 16) {
    this.ring = new Float64Array(size);
  }

  record(ms: number): void {
    this.ring[this.n++ % this.ring.length] = ms;
    this.count++;
    if (ms > this.max) this.max = ms;
  }

  percentile(p: number): number {
    const len = Math.min(this.n, this.ring.length);
    if (len === 0) return 0;
    const s = this.ring.slice(0, len).sort();
    return s[Math.min(len - 1, Math.floor((p / 100) * len))];
  }

  snapshot(): { samples: number; p50: number; p99: number; max: number } {
    const r = (x: number) => Math.round(x * 10) / 10;
    return {
      samples: this.count,
      p50: r(this.percentile(50)),
      p99: r(this.percentile(99)),
      max: r(this.max),
    };
  }
}

export type ResultListener = (
  runner: CheckRunner,
  result: ProbeResult,
  transition: Transition | undefined,
) => void;

export class CheckRunner {
  readonly machine: CheckMachine;
  private timer?: Timer;
  private reuseTimer?: Timer;
  private abort?: Cancel;
  private due = 0;
  private stopped = true;
  inflight = false;
  runs = 0;

  constructor(
    public spec: CheckSpec,
    private probe: Probe,
    private clock: Clock,
    private onResult: ResultListener,
    private stats?: LatenessStats,
  ) {
    this.machine = new CheckMachine(spec.machine);
  }

  /** Starts after `delay` ms (default: the spread offset within one interval). */
  start(delay = spreadOffset(this.spec.id, this.spec.interval)): void {
    this.stopped = false;
    this.due = this.clock.now() + delay;
    this.timer = this.clock.setTimeout(() => this.run(), delay);
  }

  /** New timing for the same probe (reload): state is kept; the next schedule uses it. */
  update(spec: CheckSpec, probe: Probe): void {
    this.spec = spec;
    this.probe = probe;
    this.machine.setParams(spec.machine);
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.reuseTimer?.cancel();
    this.abort?.abort();
  }

  private run(): void {
    if (this.stopped) return;
    const start = this.clock.now();
    this.stats?.record(Math.max(0, start - this.due));
    this.inflight = true;
    this.runs++;
    const ac = new Cancel();
    this.abort = ac;
    const timeout = this.spec.timeout;
    let settled = false;
    const settle = (outcome: { ok: boolean; reason: string; weight?: number; latencyMs?: number }) => {
      if (settled) return;
      settled = true;
      timeoutTimer.cancel();
      this.inflight = false;
      if (this.stopped) return;
      const result: ProbeResult = {
        ...outcome,
        latencyMs: outcome.latencyMs ?? Math.max(0, this.clock.now() - start),
      };
      const t = this.machine.record(result, this.clock.now());
      this.onResult(this, result, t);
      if (this.stopped) return; // stopped by the listener
      this.scheduleReuse();
      this.scheduleNext();
    };
    // The timeout settles at once: a probe that ignores abort cannot stall the schedule.
    const timeoutTimer = this.clock.setTimeout(() => {
      ac.abort();
      settle({ ok: false, reason: `timeout after ${timeout}ms`, latencyMs: timeout });
    }, timeout);
    let p: Promise<{ ok: boolean; reason: string; weight?: number }>;
    try {
      p = this.probe(ac, timeout);
    } catch (err) {
      p = Promise.reject(err);
    }
    p.then(settle, (err) =>
      settle({ ok: false, reason: `probe error: ${(err as Error)?.message ?? String(err)}` }),
    );
  }

  private scheduleNext(): void {
    const now = this.clock.now();
    const fast = this.machine.transitional && this.spec.fastInterval !== undefined;
    const step = fast ? this.spec.fastInterval! : this.spec.interval;
    this.due += step;
    // Fell behind (slow probe, busy loop): skip missed slots instead of bursting.
    if (this.due < now) this.due += Math.ceil((now - this.due) / step) * step;
    this.timer = this.clock.setTimeout(() => this.run(), this.due - now);
  }

  /** With damping, a suppressed check is re-evaluated when its penalty reaches `reuse`. */
  private scheduleReuse(): void {
    this.reuseTimer?.cancel();
    const at = this.machine.reuseAt(this.clock.now());
    if (at === undefined) return;
    this.reuseTimer = this.clock.setTimeout(() => {
      if (this.stopped) return;
      const t = this.machine.reevaluate(this.clock.now());
      if (t) this.onResult(this, this.machine.snapshot(this.clock.now()).lastResult!, t);
      else this.scheduleReuse();
    }, at - this.clock.now());
  }
}
