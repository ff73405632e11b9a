import assert from 'node:assert/strict';
import { test } from 'node:test';
import { computePriority, parseTrackFile, RiseFall } from '../../../agent/vrrp/track.js';

test('nothing tracked or nothing applying: configured priority', () => {
  assert.deepEqual(computePriority(100, []), { priority: 100, fault: false, reasons: [] });
  assert.equal(computePriority(100, [{ what: 'drain', weight: -254, up: true }]).priority, 100);
});

test('keepalived weights: positive while up, negative while down, clamped to 1..254', () => {
  const r = computePriority(100, [
    { what: 'interface eth1', weight: 20, up: true },
    { what: 'service web', weight: -30, up: false },
    { what: 'interface eth2', weight: 10, up: false },
    { what: 'service dns', weight: -5, up: true },
  ]);
  assert.equal(r.priority, 90);
  assert.deepEqual(r.reasons, ['interface eth1 up: +20', 'service web down: -30']);
  assert.equal(computePriority(250, [{ what: 'x', weight: 50, up: true }]).priority, 254);
  assert.equal(computePriority(100, [{ what: 'drain', weight: -254, up: false }]).priority, 1);
});

test('fault weight forces Fault while down; unknown counts as down', () => {
  const r = computePriority(100, [{ what: 'interface eth1', weight: 'fault' }]);
  assert.equal(r.fault, true);
  assert.deepEqual(r.reasons, ['interface eth1 down: fault']);
  assert.equal(computePriority(100, [{ what: 'interface eth1', weight: 'fault', up: true }]).fault, false);
});

test('track_file: value x weight; weight 0 and <= -254 are faults', () => {
  assert.equal(computePriority(100, [{ what: 'file /f', weight: 5, value: 3 }]).priority, 115);
  assert.equal(computePriority(100, [{ what: 'file /f', weight: -10, value: 2 }]).priority, 80);
  assert.equal(computePriority(100, [{ what: 'file /f', weight: 0, value: 1 }]).fault, true);
  assert.equal(computePriority(100, [{ what: 'file /f', weight: 0, value: 0 }]).fault, false);
  assert.equal(computePriority(100, [{ what: 'file /f', weight: -1, value: 254 }]).fault, true);
  assert.equal(parseTrackFile(' 12\n'), 12);
  assert.equal(parseTrackFile('-3 x'), -3);
  assert.equal(parseTrackFile('junk'), 0);
});

test('rise/fall for scripts', () => {
  const rf = new RiseFall(2, 3);
  assert.equal(rf.push(true), false);
  assert.equal(rf.push(true), true);
  assert.equal(rf.up, true);
  rf.push(false);
  rf.push(false);
  assert.equal(rf.up, true);
  assert.equal(rf.push(false), true);
  assert.equal(rf.up, false);
  rf.push(true);
  rf.push(false);
  assert.equal(rf.up, false);
});
