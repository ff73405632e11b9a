import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '../../../agent/lib/clock.js';
import {
  AnnounceRun,
  arpingArgv,
  encodeGratuitousArp,
  encodeSockaddrLl,
  encodeUnsolicitedNa,
} from '../../../agent/vrrp/announce.js';

test('unsolicited NA: type 136, Override set, Solicited clear, target and link-layer option', () => {
  const mac = Buffer.from('3abccffa1ec4', 'hex');
  const na = encodeUnsolicitedNa('fd00::100', mac);
  assert.equal(
    na.toString('hex'),
    '88000000' + '20000000' + 'fd000000000000000000000000000100' + '0201' + '3abccffa1ec4',
  );
});

test('gratuitous ARP: the frame keepalived 2.2.7 sends (captured with tcpdump -xx), minus the Ethernet header', () => {
  // 18:00:01.512109 02:11:22:33:44:55 > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 42:
  //   Request who-has 10.77.0.100 (ff:ff:ff:ff:ff:ff) tell 10.77.0.100, length 28
  const captured = [
    'ffffffffffff021122334455' + '0806', // Ethernet header (the kernel writes it)
    '0001' + '0800' + '06' + '04' + '0001', // Ethernet/IPv4, request
    '021122334455' + '0a4d0064', // sender: our MAC, VIP
    'ffffffffffff' + '0a4d0064', // target: broadcast, VIP
  ].join('');
  const arp = encodeGratuitousArp(Buffer.from('021122334455', 'hex'), '10.77.0.100');
  assert.equal(arp.toString('hex'), captured.slice(28));
  assert.throws(() => encodeGratuitousArp(Buffer.alloc(5), '10.0.0.1'), /MAC must be 6 bytes/);
  assert.throws(() => encodeGratuitousArp(Buffer.alloc(6), 'fd00::1'), /needs an IPv4 address/);
});

test('sockaddr_ll: AF_PACKET, ETH_P_ARP, ifindex, halen 6, broadcast (little and big endian hosts)', () => {
  assert.equal(
    encodeSockaddrLl(3, true).toString('hex'),
    '1100' + '0806' + '03000000' + '0000' + '00' + '06' + 'ffffffffffff' + '0000',
  );
  assert.equal(
    encodeSockaddrLl(0x01020304, false).toString('hex'),
    '0011' + '0806' + '01020304' + '0000' + '00' + '06' + 'ffffffffffff' + '0000',
  );
});

test('GARP fallback argv: arping unsolicited (request with sender = target = VIP), one packet', () => {
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
