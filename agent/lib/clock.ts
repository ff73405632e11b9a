// An injectable clock so that state machines and schedulers run under a fake clock in tests.
export interface Timer {
  cancel(): void;
}

export interface TimerOptions {
  /** Fire at the deadline to a few tens of microseconds, never before it (see PRECISE_LEAD_MS). */
  precise?: boolean;
}

export interface Clock {
  now(): number; // milliseconds, monotonic
  setTimeout(fn: () => void, ms: number, opts?: TimerOptions): Timer;
}

/**
 * Node's timers have millisecond granularity and, after a long idle (seconds), fire 1-3 ms late
 * here (measured: a 3.6 s VRRP master-down timer fired up to 2.9 ms late, a 180 ms one up to
 * 0.8 ms early). A precise timer is armed this much early and waits out the rest on the CPU. Only
 * for rare deadlines that a protocol measures (VRRP takeover): at most ~PRECISE_LEAD_MS + 1 ms
 * of busy-waiting per expiry, and none while the timer keeps being re-armed.
 */
export const PRECISE_LEAD_MS = 4;

/** Busy-waits until performance.now() >= due (bounded: gives up after maxMs). */
export function spinUntil(due: number, maxMs = PRECISE_LEAD_MS + 5): void {
  const start = performance.now();
  for (let now = start; now < due && now - start < maxMs; now = performance.now()) {
    // spin
  }
}

export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout(fn, ms, opts) {
    if (!opts?.precise) {
      const t = setTimeout(fn, ms);
      return { cancel: () => clearTimeout(t) };
    }
    const due = performance.now() + ms;
    const t = setTimeout(
      () => {
        spinUntil(due);
        fn();
      },
      Math.max(0, ms - PRECISE_LEAD_MS),
    );
    return { cancel: () => clearTimeout(t) };
  },
};

/** Deterministic clock for tests: time moves only when advance() is called. */
export class FakeClock implements Clock {
  private t = 0;
  private seq = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number, _opts?: TimerOptions): Timer {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + Math.max(0, ms), fn });
    return { cancel: () => this.timers.delete(id) };
  }

  /** Moves time forward, firing due timers in time order (timers set while firing included). */
  advance(ms: number): void {
    const end = this.t + ms;
    for (let guard = 0; guard < 1_000_000; guard++) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.timers) if (e[1].at <= end && (!next || e[1].at < next[1].at)) next = e;
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
    }
    this.t = end;
  }

  pending(): number {
    return this.timers.size;
  }
}
