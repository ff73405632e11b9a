// The check wheel on a FakeClock: one timer for every check, exact fixed-rate runs (also for
// intervals longer than the wheel's span), start-up spread within one slot of its due time, stop.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CheckSpec } from '../../../agent/health/plan.js';
import type { Probe } from '../../../agent/health/probes/types.js';
import { CheckRunner, CheckWheel, LatenessStats, spreadOffset } from '../../../agent/health/scheduler.js';
import { FakeClock } from '../../../agent/lib/clock.js';

function spec(id: string, interval: number, timeout = 1000): CheckSpec {
  return {
    id,
    kind: 'tcp',
    target: id,
    interval,
    timeout,
    machine: { rise: 1, fall: 1, initial: 'down' },
    probe: { kind: 'tcp', address: '127.0.0.1', port: 1 },
    origins: [],
  };
}

async function advance(clock: FakeClock, ms: number, step = 50): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    clock.advance(Math.min(step, ms - t));
    for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
  }
}

describe('CheckWheel', () => {
  it('runs at exact fixed-rate times, also beyond the wheel span (30 s), with one clock timer', async () => {
    const clock = new FakeClock();
    const wheel = new CheckWheel(clock);
    const at: Record<string, number[]> = { a: [], b: [] };
    const probe =
      (id: string): Probe =>
      async () => {
        at[id].push(clock.now());
        return { ok: true, reason: 'ok' };
      };
    const a = new CheckRunner(spec('a', 2000), probe('a'), clock, () => {}, undefined, wheel);
    const b = new CheckRunner(spec('b', 30_000), probe('b'), clock, () => {}, undefined, wheel);
    a.start(0);
    b.start(500);
    assert.equal(clock.pending(), 1);
    await advance(clock, 61_000);
    assert.deepEqual(at.b, [500, 30_500, 60_500]);
    assert.equal(at.a.length, 31);
    assert.deepEqual(at.a.slice(0, 3), [0, 2000, 4000]);
    assert.ok(clock.pending() <= 1, `${clock.pending()} timers`);
    a.stop();
    b.stop();
    await advance(clock, 10_000);
    assert.equal(at.a.length, 31);
  });

  it('2,000 spread checks: each runs once per interval, at most one slot after its due time', async () => {
    const clock = new FakeClock();
    const wheel = new CheckWheel(clock);
    const stats = new LatenessStats();
    const runs = new Map<string, number>();
    const runners: CheckRunner[] = [];
    for (let i = 0; i < 2000; i++) {
      const id = `tcp:10.0.${i >> 8}.${i & 255}:80`;
      const r = new CheckRunner(
        spec(id, 5000),
        async () => {
          runs.set(id, (runs.get(id) ?? 0) + 1);
          return { ok: true, reason: 'ok' };
        },
        clock,
        () => {},
        stats,
        wheel,
      );
      runners.push(r);
      r.start();
    }
    await advance(clock, 10_000);
    assert.equal(runs.size, 2000);
    // Run k of a check is at its spread offset + k intervals, rounded up to the wheel's slot.
    const expected = (id: string) => {
      let n = 0;
      for (let k = 0; k < 3; k++) if (Math.ceil((spreadOffset(id, 5000) + k * 5000) / 10) * 10 <= 10_000) n++;
      return n;
    };
    for (const [id, n] of runs) assert.equal(n, expected(id), id);
    assert.ok(stats.max <= wheel.quantum, `max lateness ${stats.max}`);
    assert.ok(clock.pending() <= 1);
    for (const r of runners) r.stop();
  });

  it('a hanging probe times out at `timeout` through the wheel and is aborted', async () => {
    const clock = new FakeClock();
    const wheel = new CheckWheel(clock);
    let aborted = 0;
    const results: string[] = [];
    const r = new CheckRunner(
      spec('h', 1000, 300),
      (cancel) =>
        new Promise(() => {
          cancel.onAbort(() => aborted++);
        }),
      clock,
      (run) => results.push(`${clock.now()} ${run.machine.lastResult?.reason}`),
      undefined,
      wheel,
    );
    r.start(0);
    await advance(clock, 2100);
    assert.deepEqual(results, ['300 timeout after 300ms', '1300 timeout after 300ms']);
    assert.equal(aborted, 2);
    r.stop();
  });
});
