import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backendFact, type QuorumState, quorumUp, rampWeight } from '../../../agent/health/model.js';
import { answerTexts } from '../../../agent/health/probes/dns.js';
import { execVerdict } from '../../../agent/health/probes/exec.js';
import { fsFor } from '../../../agent/health/probes/host.js';
import { statusMatcher } from '../../../agent/health/probes/http.js';
import { lookupUser } from '../../../agent/health/probes/user.js';
import { LatenessStats, spreadOffset } from '../../../agent/health/scheduler.js';

describe('slow-start ramp', () => {
  it('ramps in 10 steps from >=1 to the base weight', () => {
    assert.deepEqual(rampWeight(100, 0, 10_000, 0), { weight: 10, nextAt: 1000 });
    assert.deepEqual(rampWeight(100, 0, 10_000, 4500), { weight: 50, nextAt: 5000 });
    assert.deepEqual(rampWeight(100, 0, 10_000, 9999), { weight: 100, nextAt: 10_000 });
    assert.deepEqual(rampWeight(100, 0, 10_000, 10_000), { weight: 100 });
    assert.deepEqual(rampWeight(3, 0, 10_000, 0), { weight: 1, nextAt: 1000 });
    assert.deepEqual(rampWeight(5, 0, 0, 0), { weight: 5 });
  });
});

describe('backendFact', () => {
  const base = { drained: false, configuredWeight: 10, slowStart: 0, now: 0 };
  it('drain wins over a healthy check', () => {
    assert.deepEqual(backendFact({ ...base, drained: true, check: { up: true, reason: 'healthy' } }).fact, {
      up: false,
      reason: 'drained',
    });
  });
  it('a down check gives its reason; a dynamic weight passes through', () => {
    assert.deepEqual(backendFact({ ...base, check: { up: false, reason: 'status 500' } }).fact, {
      up: false,
      reason: 'status 500',
    });
    assert.deepEqual(backendFact({ ...base, check: { up: true, reason: 'healthy', weight: 3 } }).fact, {
      up: true,
      weight: 3,
      reason: 'healthy',
    });
  });
  it('ramps from the dynamic weight when there is one', () => {
    const r = backendFact({
      ...base,
      slowStart: 1000,
      rampStart: 0,
      check: { up: true, reason: '', weight: 20 },
    });
    assert.deepEqual(r, { fact: { up: true, weight: 2, reason: 'slow start' }, rampNextAt: 100 });
  });
});

describe('service quorum', () => {
  const count = (state: QuorumState, healthy: number, quorum: number, total: number) =>
    quorumUp({ state, healthy, total, quorum, healthyWeight: healthy, totalWeight: total, hysteresis: 0 });
  const weight = (state: QuorumState, healthyWeight: number, q: number, h: number, totalWeight = 100) =>
    quorumUp({
      state,
      healthy: 1,
      total: 1,
      quorum: 1,
      healthyWeight,
      totalWeight,
      quorumWeight: q,
      hysteresis: h,
    });

  it('count quorum: up iff healthy >= quorum, in every state (no hidden hysteresis)', () => {
    for (const state of ['fresh', 'up', 'down'] as const) {
      assert.equal(count(state, 2, 2, 4), true, state);
      assert.equal(count(state, 1, 2, 4), false, state);
    }
    // Issue 15.2: 2 backends, quorum 1, one dead from the start, and after a recovery.
    assert.equal(count('fresh', 1, 1, 2), true);
    assert.equal(count('down', 1, 1, 2), true);
    assert.equal(count('down', 0, 0, 2), true, 'quorum 0 is always up');
    assert.equal(count('fresh', 0, 1, 0), false, 'no backends, quorum 1: down');
  });
  it('weight quorum follows keepalived: down below q-h, back at q+h; fresh judged on q', () => {
    assert.equal(weight('fresh', 20, 20, 5), true, 'a fresh start is not a recovery');
    assert.equal(weight('fresh', 19, 20, 5), false);
    assert.equal(weight('up', 15, 20, 5), true, 'within the tolerance stays up');
    assert.equal(weight('up', 14, 20, 5), false);
    assert.equal(weight('down', 24, 20, 5), false, 'needs q+h to come back');
    assert.equal(weight('down', 25, 20, 5), true);
    assert.equal(weight('up', 19, 20, 0), false, 'no hysteresis: plain threshold');
    assert.equal(weight('up', 0, 1, 1), false, 'no healthy weight is down (keepalived: !weight_sum)');
  });
  it('hysteresis never asks for more than all the backends weigh', () => {
    assert.equal(weight('down', 30, 25, 10, 30), true, 'q+h = 35 > 30 backends: all healthy is enough');
    assert.equal(weight('down', 29, 25, 10, 30), false);
  });
});

describe('probe helpers', () => {
  it('status matcher takes codes and ranges', () => {
    const m = statusMatcher([204, '200-299', '404']);
    assert.deepEqual([200, 204, 299, 300, 404, 500].map(m), [true, true, true, false, true, false]);
    assert.throws(() => statusMatcher(['299-200']), /reversed/);
  });

  it('exec verdict follows keepalived misc_dynamic', () => {
    assert.deepEqual(execVerdict('none', 0, ''), { ok: true, reason: 'exit 0' });
    assert.deepEqual(execVerdict('none', 1, ''), { ok: false, reason: 'exit 1' });
    assert.deepEqual(execVerdict('none', 7, ''), { ok: false, reason: 'exit 7' });
    assert.deepEqual(execVerdict('exit-code', 1, ''), { ok: false, reason: 'exit 1' });
    assert.deepEqual(execVerdict('exit-code', 12, ''), {
      ok: true,
      reason: 'exit 12 (weight 10)',
      weight: 10,
    });
    assert.deepEqual(execVerdict('stdout', 0, '42\nmore'), {
      ok: true,
      reason: 'exit 0 (weight 42)',
      weight: 42,
    });
    assert.equal(execVerdict('stdout', 0, 'busy').ok, false);
  });

  it('looks users up in a passwd file and names a missing one', () => {
    assert.deepEqual(lookupUser('root'), { uid: 0, gid: 0 });
    assert.throws(() => lookupUser('no-such-user-xyz'), /user "no-such-user-xyz" not found/);
  });

  it('dns answers compare as dig +short text', () => {
    assert.deepEqual(answerTexts('A', ['192.0.2.1']), ['192.0.2.1']);
    assert.deepEqual(answerTexts('AAAA', ['2001:DB8:0:0::1']), ['2001:db8::1']);
    assert.deepEqual(answerTexts('MX', [{ priority: 10, exchange: 'Mx.Example.' }]), [
      'mx.example',
      '10 mx.example',
    ]);
    assert.deepEqual(answerTexts('TXT', [['a', 'b']]), ['ab']);
  });

  it('finds the filesystem of a path by the longest mount prefix', () => {
    const fs = [
      { mount: '/', size: 10, available: 5 },
      { mount: '/var', size: 10, available: 1 },
      { mount: '/var/lib', size: 10, available: 2 },
    ];
    assert.equal(fsFor('/var/lib/x', fs)?.mount, '/var/lib');
    assert.equal(fsFor('/variable', fs)?.mount, '/');
    assert.equal(fsFor('/var', fs)?.mount, '/var');
  });

  it('spreads start-up offsets over the interval, stably', () => {
    const offsets = new Set<number>();
    for (let i = 0; i < 1000; i++) offsets.add(spreadOffset(`tcp 10.0.${i >> 8}.${i & 255}:80`, 5000));
    assert.ok(offsets.size > 800, `only ${offsets.size} distinct offsets of 1000`);
    for (const o of offsets) assert.ok(o >= 0 && o < 5000);
    assert.equal(spreadOffset('x', 5000), spreadOffset('x', 5000));
  });

  it('lateness stats give percentiles', () => {
    const s = new LatenessStats(1000);
    for (let i = 1; i <= 100; i++) s.record(i);
    assert.deepEqual(s.snapshot(), { samples: 100, p50: 51, p99: 100, max: 100 });
  });
});
