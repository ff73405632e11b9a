// The age of a received advert from its kernel stamp (rx-stamp.ts): plain arithmetic on
// timespecs, and the implausible cases that must fall back to timing on arrival.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { stampAgeMs } from '../../../agent/vrrp/rx-stamp.js';

test('age of a stamp in ms, across a second boundary', () => {
  assert.equal(stampAgeMs(100n, 999_800_000n, 101n, 200_000n), 0.4);
  assert.equal(stampAgeMs(5n, 0n, 5n, 250_000n), 0.25);
});

test('no stamp, a stamp from the future (clock stepped back) or a stale one: unknown', () => {
  assert.equal(stampAgeMs(0n, 0n, 101n, 0n), undefined);
  assert.equal(stampAgeMs(101n, 1n, 101n, 0n), undefined);
  assert.equal(stampAgeMs(90n, 0n, 101n, 0n), undefined);
});
