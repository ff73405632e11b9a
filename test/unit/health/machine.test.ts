import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Damping } from '../../../agent/health/damping.js';
import { CheckMachine, type ProbeResult } from '../../../agent/health/machine.js';

const ok: ProbeResult = { ok: true, reason: 'connected', latencyMs: 1 };
const bad: ProbeResult = { ok: false, reason: 'connect ECONNREFUSED', latencyMs: 1 };

describe('CheckMachine rise/fall', () => {
  it('starts down and goes up after exactly `rise` successes', () => {
    const m = new CheckMachine({ rise: 3, fall: 2, initial: 'down' });
    assert.equal(m.record(ok, 1), undefined);
    assert.equal(m.transitional, true);
    assert.equal(m.record(ok, 2), undefined);
    assert.deepEqual(m.record(ok, 3), { from: 'down', to: 'up', reason: 'connected' });
    assert.equal(m.state, 'up');
    assert.equal(m.transitional, false);
  });

  it('goes down after exactly `fall` consecutive failures; a success in between resets', () => {
    const m = new CheckMachine({ rise: 1, fall: 3, initial: 'up' });
    m.record(bad, 1);
    m.record(bad, 2);
    m.record(ok, 3);
    assert.equal(m.state, 'up');
    m.record(bad, 4);
    m.record(bad, 5);
    assert.equal(m.state, 'up');
    assert.deepEqual(m.record(bad, 6), { from: 'up', to: 'down', reason: 'connect ECONNREFUSED' });
    const s = m.snapshot(6);
    assert.equal(s.failures, 3);
    assert.equal(s.transitions, 1);
    assert.equal(s.reason, 'connect ECONNREFUSED');
  });

  it('initial up needs no successes; initial down with rise 1 comes up on the first success', () => {
    assert.equal(new CheckMachine({ rise: 5, fall: 1, initial: 'up' }).state, 'up');
    const m = new CheckMachine({ rise: 1, fall: 1, initial: 'down' });
    assert.equal(m.record(ok, 0)?.to, 'up');
  });

  it('keeps state and counters when timing changes (reload)', () => {
    const m = new CheckMachine({ rise: 2, fall: 2, initial: 'down' });
    m.record(ok, 0);
    m.setParams({ rise: 2, fall: 5, initial: 'down' });
    assert.equal(m.record(ok, 1)?.to, 'up');
    for (let i = 0; i < 4; i++) m.record(bad, 2 + i);
    assert.equal(m.state, 'up');
    assert.equal(m.record(bad, 9)?.to, 'down');
  });

  it('carries the dynamic weight of the last successful result only', () => {
    const m = new CheckMachine({ rise: 1, fall: 1, initial: 'down' });
    m.record({ ...ok, weight: 7 }, 0);
    assert.equal(m.weight, 7);
    m.record(bad, 1);
    assert.equal(m.weight, undefined);
  });
});

describe('flap damping', () => {
  const params = { halfLife: 1000, penalty: 1000, suppress: 2000, reuse: 750, max: 8000 };

  it('penalty halves every half-life', () => {
    const d = new Damping(params);
    d.charge(0);
    assert.equal(d.penaltyAt(0), 1000);
    assert.equal(d.penaltyAt(1000), 500);
    assert.equal(d.penaltyAt(2000), 250);
  });

  it('suppresses after enough flaps and reuses when the penalty decays below reuse', () => {
    const m = new CheckMachine({ rise: 1, fall: 1, initial: 'up', damping: params });
    assert.equal(m.record(bad, 0)?.to, 'down'); // penalty 1000
    assert.equal(m.record(ok, 0)?.to, 'up');
    assert.equal(m.record(bad, 0)?.to, 'down'); // penalty 2000: suppressed
    assert.equal(m.record(ok, 3), undefined, 'held down while suppressed');
    assert.equal(m.state, 'down');
    assert.equal(m.snapshot(3).reason, 'damped (flapping)');
    const at = m.reuseAt(3)!;
    // 2000 → 750 takes log2(2000/750) = 1.415 half-lives.
    assert.ok(at > 1400 && at < 1430, `reuseAt ${at}`);
    assert.equal(m.reevaluate(at - 20), undefined);
    assert.deepEqual(m.reevaluate(at), { from: 'down', to: 'up', reason: 'damping reuse' });
  });

  it('caps the penalty at max', () => {
    const d = new Damping(params);
    for (let i = 0; i < 20; i++) d.charge(0);
    assert.equal(d.penaltyAt(0), 8000);
  });
});
