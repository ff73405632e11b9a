import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '../../../agent/lib/clock.js';
import { AnnounceRun, arpingArgv, encodeUnsolicitedNa } from '../../../agent/vrrp/announce.js';

test('unsolicited NA: type 136, Override set, Solicited clear, target and link-layer option', () => {
  const mac = Buffer.from('3abccffa1ec4', 'hex');
  const na = encodeUnsolicitedNa('fd00::100', mac);
  assert.equal(
    na.toString('hex'),
    '88000000' + '20000000' + 'fd000000000000000000000000000100' + '0201' + '3abccffa1ec4',
  );
});

test('GARP argv: arping unsolicited (request with sender = target = VIP), one packet', () => {
  assert.deepEqual(arpingArgv('eth0', '10.0.0.1'), [
    'arping',
    '-U',
    '-c',
    '1',
    '-I',
    'eth0',
    '-s',
    '10.0.0.1',
    '10.0.0.1',
  ]);
});

test('burst, second burst after the delay, refresh while master, nothing after cancel', () => {
  const clock = new FakeClock();
  const sent: number[] = [];
  const run = new AnnounceRun(
    clock,
    { sendOnce: () => sent.push(clock.now()), close() {} },
    () => ['10.0.0.1'],
    {
      count: 5,
      repeatDelayMs: 5000,
      repeatCount: 3,
      refreshMs: 60_000,
    },
  );
  run.start();
  assert.equal(sent.length, 5);
  clock.advance(4999);
  assert.equal(sent.length, 5);
  clock.advance(1);
  assert.equal(sent.length, 8);
  clock.advance(55_000);
  assert.equal(sent.length, 9);
  run.cancel();
  clock.advance(600_000);
  assert.equal(sent.length, 9);
  assert.equal(clock.pending(), 0);
});
