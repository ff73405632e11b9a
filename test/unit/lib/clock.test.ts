import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock, spinUntil, systemClock } from '../../../agent/lib/clock.js';

// Correctness, not speed: a precise timer never fires before its deadline.
test('spinUntil returns at or after the deadline, and gives up after its bound', () => {
  const due = performance.now() + 2;
  spinUntil(due);
  assert.ok(performance.now() >= due);
  const far = performance.now() + 60_000;
  spinUntil(far, 1); // bounded: returns after ~1 ms, not a minute
  assert.ok(performance.now() < far);
});

test('a precise system timer fires no earlier than its deadline; cancel stops it', async () => {
  for (const ms of [3, 25]) {
    const due = performance.now() + ms;
    const at = await new Promise<number>((resolve) =>
      systemClock.setTimeout(() => resolve(performance.now()), ms, { precise: true }),
    );
    assert.ok(at >= due, `${ms} ms timer fired ${due - at} ms early`);
  }
  let fired = false;
  systemClock.setTimeout(() => (fired = true), 20, { precise: true }).cancel();
  await new Promise((r) => setTimeout(r, 40));
  assert.equal(fired, false);
});

test('the fake clock ignores precision', () => {
  const c = new FakeClock();
  let n = 0;
  c.setTimeout(() => n++, 10, { precise: true });
  c.advance(9);
  assert.equal(n, 0);
  c.advance(1);
  assert.equal(n, 1);
});
