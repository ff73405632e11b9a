import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { drainReason, drainState, parseDrainFile, renderDrainFile } from '../../../agent/drain/file.js';
import { drainProgress } from '../../../agent/drain/progress.js';

describe('disable file', () => {
  it('round-trips what lbctl writes', () => {
    const r = {
      reason: 'kernel upgrade',
      who: 'alice',
      when: Date.UTC(2026, 10, 23, 15, 0),
      expires: Date.UTC(2026, 10, 23, 16, 0),
    };
    const text = renderDrainFile(r);
    assert.equal(
      text,
      '# lbagent drain: this host is drained while this file exists (lbctl undrain or rm to undrain)\nreason: kernel upgrade\nwho: alice\nwhen: 2026-11-23T15:00:00.000Z\nexpires: 2026-11-23T16:00:00.000Z\n',
    );
    assert.deepEqual(parseDrainFile(text), r);
  });
  it('an empty or hand-written file means drained', () => {
    assert.deepEqual(drainState('', 0), { drained: true, record: {}, expired: false });
    const s = drainState('swapping the PSU\n', 0);
    assert.equal(s.drained, true);
    assert.equal(drainReason(s), 'swapping the PSU');
    assert.deepEqual(drainState(null, 0), { drained: false, expired: false });
  });
  it('expiry undrains; an unreadable expiry does not', () => {
    const t = Date.UTC(2026, 0, 1);
    assert.equal(drainState(`expires: ${new Date(t).toISOString()}\n`, t + 1).drained, false);
    assert.equal(drainState(`expires: ${new Date(t).toISOString()}\n`, t + 1).expired, true);
    assert.equal(drainState(`expires: ${new Date(t).toISOString()}\n`, t - 1).drained, true);
    assert.equal(drainState('expires: soon\n', t).drained, true);
  });
  it('never lets a newline in the reason add a field', () => {
    const text = renderDrainFile({ reason: 'x\nexpires: 2000-01-01T00:00:00Z' });
    assert.equal(parseDrainFile(text).expires, undefined);
  });
});

describe('drain progress', () => {
  it('walks the stages and says what is left', () => {
    const p = drainProgress({
      drained: true,
      bgp: { total: 2, settled: 1, pending: ['192.0.2.2/32: waiting for ExaBGP ack'] },
      vrrp: [{ name: 'vi1', master: true }],
      activeConnections: 12,
      connectionsAtStart: 40,
    });
    assert.equal(p.done, false);
    assert.deepEqual(p.left, [
      'announcements: 1/2 acked',
      'vrrp: still master of vi1',
      'connections: 12 active (from 40)',
      '  192.0.2.2/32: waiting for ExaBGP ack',
    ]);
    const q = drainProgress({
      drained: true,
      bgp: { total: 2, settled: 2, pending: [] },
      vrrp: [{ name: 'vi1', master: false }],
      activeConnections: 0,
    });
    assert.equal(q.done, true);
    assert.deepEqual(q.left, []);
  });
  it('counts stale connections as drained once no packet has arrived for 5 s', () => {
    const base = { drained: true, activeConnections: 19, connectionsAtStart: 4 };
    assert.equal(drainProgress({ ...base, idleMs: 1200 }).done, false);
    assert.equal(drainProgress({ ...base }).done, false);
    const idle = drainProgress({ ...base, idleMs: 6000 });
    assert.equal(idle.done, true);
    assert.match(idle.stages[2].detail, /19 active \(from 4\), no packets for 6s/);
  });

  it('is not done while the host is not drained, even with nothing to do', () => {
    assert.equal(drainProgress({ drained: false }).done, false);
    assert.equal(drainProgress({ drained: true }).done, true);
  });
});
