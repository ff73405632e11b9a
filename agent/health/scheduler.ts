// Runs checks on their schedule: fixed rate (due times advance by the interval, not by the probe's
// duration), a faster interval while rising/falling, a deterministic start-up spread so thousands
// of checks do not fire in the same millisecond, and a hard timeout that aborts the probe.
// One wheel (one timer) serves every check of the subsystem; TCP connect checks go through the
// epoll prober without a promise, closure or timer per run (docs/health.md "Bench").
import type { Clock, Timer } from '../lib/clock.js';
import { CheckMachine, type Transition } from './machine.js';
import type { CheckSpec } from './plan.js';
import { EpollConnector, errnoCode, START_CONNECTED } from './probes/epoll.js';
import { Cancel, type Probe, type ProbeOutcome } from './probes/types.js';

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

export type ResultListener = (runner: CheckRunner, transition: Transition | undefined) => void;

const connectReasons = new Map<number, string>();
/** "connected" / "connect ECONNREFUSED", one string per errno (no string per failed run). */
function connectReason(errno: number): string {
  let r = connectReasons.get(errno);
  if (r === undefined) {
    r = errno === 0 ? 'connected' : `connect ${errnoCode(errno)}`;
    connectReasons.set(errno, r);
  }
  return r;
}

/**
 * One timer for all checks: a hashed timing wheel. Events (a run due, a run's timeout) fall into
 * slots of `quantum` ms, rounded up; slot s lives in bucket s mod BUCKETS (events further away than
 * the wheel's span stay in their bucket until their round). Bucket arrays are reused, so the
 * schedule allocates nothing per run (no garbage that survives to the old generation). The clock
 * timer is armed for the next non-empty slot only; while TCP connects are in flight the wheel also
 * polls the epoll prober every slot, so a connect's latency is known to a slot.
 */
export class CheckWheel {
  private static readonly BUCKETS = 1024;
  private readonly buckets: CheckRunner[][] = [];
  private entries = 0;
  private done = -1; // last slot processed
  private timer?: Timer;
  private timerSlot = Number.POSITIVE_INFINITY;
  private epoll?: EpollConnector<CheckRunner> | null;
  /** Bumped by close(): a result listener may close the wheel while a slot is being processed. */
  private generation = 0;

  /**
   * `tcpFastPath`: connects that finish inside connect() (loopback, local addresses) complete in
   * the run itself, without epoll (EpollConnector `fastPath`); default on, LBAGENT_TCP_FASTPATH=0
   * turns it off (every connect then goes through the epoll set, as remote ones do).
   */
  constructor(
    private readonly clock: Clock,
    readonly quantum = 10,
    private readonly tcpFastPath = process.env.LBAGENT_TCP_FASTPATH !== '0',
  ) {
    for (let i = 0; i < CheckWheel.BUCKETS; i++) this.buckets.push([]);
  }

  /** The TCP connect prober: epoll (koffi) when it opens, else null (net.connect per probe). */
  connector(): EpollConnector<CheckRunner> | null {
    if (this.epoll === undefined)
      this.epoll = EpollConnector.open<CheckRunner>({ fastPath: this.tcpFastPath }) ?? null;
    return this.epoll;
  }

  /** "epoll", "net", or "unused" (no TCP check has run yet). */
  get tcpProber(): string {
    return this.epoll === undefined ? 'unused' : this.epoll ? 'epoll' : 'net';
  }

  cancelConnect(fd: number): void {
    this.epoll?.cancel(fd);
  }

  schedule(r: CheckRunner, at: number): void {
    let slot = Math.ceil(at / this.quantum);
    if (slot <= this.done) slot = this.done + 1; // never into a slot already processed
    r.slot = slot;
    this.buckets[slot % CheckWheel.BUCKETS].push(r);
    this.entries++;
    if (slot < this.timerSlot) this.arm(slot);
  }

  /** Stops the timer and closes the sockets in flight (runners are stopped by their owner). */
  close(): void {
    this.generation++;
    this.timer?.cancel();
    this.timer = undefined;
    this.timerSlot = Number.POSITIVE_INFINITY;
    for (const b of this.buckets) b.length = 0;
    this.entries = 0;
    this.epoll?.close();
    this.epoll = undefined;
  }

  private arm(slot: number): void {
    this.timer?.cancel();
    this.timerSlot = slot;
    this.timer = this.clock.setTimeout(this.tick, Math.max(0, slot * this.quantum - this.clock.now()));
  }

  private readonly connected = (r: CheckRunner, errno: number) => r.connectDone(errno);

  /**
   * Fires the events of one slot and compacts its bucket in place (keeps later rounds). Result
   * listeners run inside (timeouts, connects finished at once) and may stop runners (their slot
   * is then -1: skipped), schedule new events, or close the wheel (returns false: stop here).
   */
  private process(slot: number): boolean {
    const list = this.buckets[slot % CheckWheel.BUCKETS];
    const len = list.length;
    const gen = this.generation;
    let keep = 0;
    for (let i = 0; i < len; i++) {
      const r = list[i];
      if (r.slot === slot) {
        r.slot = -1;
        r.fire(); // may schedule into this bucket: appended after len
        if (this.generation !== gen) return false;
      } else if (
        r.slot > slot &&
        r.slot % CheckWheel.BUCKETS === slot % CheckWheel.BUCKETS &&
        r.kept !== slot
      ) {
        r.kept = slot; // a later round (once, even if listed twice)
        list[keep++] = r;
      }
    }
    for (let i = len; i < list.length; i++) list[keep++] = list[i];
    this.entries -= list.length - keep;
    list.length = keep;
    return true;
  }

  private readonly tick = (): void => {
    this.timer = undefined;
    this.timerSlot = Number.POSITIVE_INFINITY;
    const gen = this.generation;
    // Completions first: a connect that finished before its deadline's slot is not a timeout.
    this.epoll?.poll(this.connected);
    if (this.generation !== gen) return;
    const nowSlot = Math.floor((this.clock.now() + 1) / this.quantum); // timers may fire a hair early
    // After a long stall every bucket is due at most once.
    for (let s = Math.max(this.done + 1, nowSlot - CheckWheel.BUCKETS + 1); s <= nowSlot; s++) {
      this.done = s;
      if (!this.process(s)) return;
    }
    this.done = Math.max(this.done, nowSlot);
    // Connects that were not finished inside connect() (fast path off, or one that was just
    // slower): on loopback their results still go out in this tick.
    this.epoll?.poll(this.connected);
    if (this.generation !== gen) return;
    let next = Number.POSITIVE_INFINITY;
    if (this.entries > 0) {
      for (let s = nowSlot + 1; s <= nowSlot + CheckWheel.BUCKETS; s++) {
        if (this.buckets[s % CheckWheel.BUCKETS].length > 0) {
          next = s;
          break;
        }
      }
    }
    if (this.epoll && this.epoll.pending > 0) next = Math.min(next, nowSlot + 1);
    if (next !== Number.POSITIVE_INFINITY) this.arm(next);
  };
}

export class CheckRunner {
  readonly machine: CheckMachine;
  /** Slot of this runner's pending wheel event (-1: none). */
  slot = -1;
  /** Wheel bookkeeping: the slot at which this runner's entry was last carried to a later round. */
  kept = -1;
  private reuseTimer?: Timer;
  private abort?: Cancel;
  private fd = -1;
  /** Whether this target's last TCP connect finished inside connect() (the prober's hint). */
  private connectsAtOnce = true;
  private tcpRuns = 0;
  private gen = 0;
  private startedAt = 0;
  private due = 0;
  private stopped = true;
  private readonly ownWheel?: CheckWheel;
  private readonly wheel: CheckWheel;
  private timeoutReason = '';
  private timeoutReasonFor = -1;
  inflight = false;
  runs = 0;

  constructor(
    public spec: CheckSpec,
    private probe: Probe,
    private clock: Clock,
    private onResult: ResultListener,
    private stats?: LatenessStats,
    wheel?: CheckWheel,
  ) {
    this.machine = new CheckMachine(spec.machine);
    if (!wheel) this.ownWheel = new CheckWheel(clock);
    this.wheel = wheel ?? this.ownWheel!;
  }

  /** Starts after `delay` ms (default: the spread offset within one interval). */
  start(delay = spreadOffset(this.spec.id, this.spec.interval)): void {
    this.stopped = false;
    this.due = this.clock.now() + delay;
    this.wheel.schedule(this, this.due);
  }

  /** New timing for the same probe (reload): state is kept; the next schedule uses it. */
  update(spec: CheckSpec, probe: Probe): void {
    this.spec = spec;
    this.probe = probe;
    this.machine.setParams(spec.machine);
  }

  stop(): void {
    this.stopped = true;
    this.slot = -1;
    this.reuseTimer?.cancel();
    this.cancelInflight();
    this.inflight = false;
    this.ownWheel?.close();
  }

  /** Wheel event: the next run is due, or the run in flight reached its timeout. */
  fire(): void {
    if (this.stopped) return;
    if (this.inflight) this.timedOut();
    else this.run();
  }

  /** The epoll prober finished this runner's connect (errno 0: connected). */
  connectDone(errno: number): void {
    this.fd = -1;
    this.complete(errno === 0, connectReason(errno), undefined, this.clock.now() - this.startedAt);
  }

  private run(): void {
    const now = this.clock.now();
    this.stats?.record(now > this.due ? now - this.due : 0);
    this.inflight = true;
    this.runs++;
    this.startedAt = now;
    const timeout = this.spec.timeout;
    const addr = this.probe.connectTo;
    const epoll = addr ? this.wheel.connector() : null;
    if (addr && epoll) {
      // Remembered per target: a remote one stops paying for the at-once attempt (asked again
      // every 32nd run, in case the target became local).
      const fd = epoll.start(addr, this, this.connectsAtOnce || (++this.tcpRuns & 31) === 0);
      this.connectsAtOnce = fd < 0;
      if (fd < 0) {
        // Finished inside connect() (loopback: connected or refused; or ENETUNREACH...): the result
        // is settled here, in this run, like a timeout is (the owner is not called by the prober).
        // Its latency is the time connect() took (microseconds on loopback, but not 0: a check's
        // latency gauge and histogram must say what the connect cost).
        const latency = this.clock.now() - now;
        if (fd === START_CONNECTED) this.complete(true, connectReason(0), undefined, latency, now);
        else this.complete(false, connectReason(-fd), undefined, latency, now);
        return;
      }
      this.fd = fd;
      this.wheel.schedule(this, now + timeout);
      return;
    }
    // Other kinds (and TCP without the epoll prober): a promise per run.
    const ac = new Cancel();
    this.abort = ac;
    const gen = ++this.gen;
    this.wheel.schedule(this, now + timeout);
    let p: Promise<ProbeOutcome>;
    try {
      p = this.probe(ac, timeout);
    } catch (err) {
      p = Promise.reject(err);
    }
    p.then(
      (o) => {
        if (gen === this.gen) this.complete(o.ok, o.reason, o.weight, o.latencyMs);
      },
      (err) => {
        if (gen === this.gen)
          this.complete(false, `probe error: ${(err as Error)?.message ?? String(err)}`, undefined);
      },
    );
  }

  /** The timeout settles at once: a probe that ignores abort cannot stall the schedule. */
  private timedOut(): void {
    const timeout = this.spec.timeout;
    this.cancelInflight();
    if (this.timeoutReasonFor !== timeout) {
      this.timeoutReason = `timeout after ${timeout}ms`;
      this.timeoutReasonFor = timeout;
    }
    this.complete(false, this.timeoutReason, undefined, timeout);
  }

  private cancelInflight(): void {
    this.gen++;
    if (this.fd >= 0) {
      this.wheel.cancelConnect(this.fd);
      this.fd = -1;
    }
    const ac = this.abort;
    this.abort = undefined;
    ac?.abort();
  }

  private complete(
    ok: boolean,
    reason: string,
    weight: number | undefined,
    latencyMs?: number,
    now = this.clock.now(),
  ): void {
    if (!this.inflight) return;
    this.inflight = false;
    this.abort = undefined;
    this.gen++;
    this.slot = -1; // the pending timeout event is void
    if (this.stopped) return;
    const t = this.machine.recordOutcome(
      ok,
      reason,
      latencyMs ?? Math.max(0, now - this.startedAt),
      weight,
      now,
    );
    this.onResult(this, t);
    if (this.stopped) return; // stopped by the listener
    if (this.spec.machine.damping) this.scheduleReuse();
    this.scheduleNext(now);
  }

  private scheduleNext(now: number): void {
    const fast = this.spec.fastInterval !== undefined && this.machine.transitional;
    const step = fast ? this.spec.fastInterval! : this.spec.interval;
    this.due += step;
    // Fell behind (slow probe, busy loop): skip missed slots instead of bursting.
    if (this.due < now) this.due += Math.ceil((now - this.due) / step) * step;
    this.wheel.schedule(this, this.due);
  }

  /** With damping, a suppressed check is re-evaluated when its penalty reaches `reuse`. */
  private scheduleReuse(): void {
    this.reuseTimer?.cancel();
    const at = this.machine.reuseAt(this.clock.now());
    if (at === undefined) return;
    this.reuseTimer = this.clock.setTimeout(() => {
      if (this.stopped) return;
      const t = this.machine.reevaluate(this.clock.now());
      if (t) this.onResult(this, t);
      else this.scheduleReuse();
    }, at - this.clock.now());
  }
}
