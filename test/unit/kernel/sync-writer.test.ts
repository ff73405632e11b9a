// The synchronous writer's pure parts, byte for byte: the prepared RTM_NEWADDR frame, the datagram
// with consecutive seqs, and the acks read back per request.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { datagramOf, prepareFrames, readAcks } from '../../../agent/kernel/sync-writer.js';
import type { KernelOp } from '../../../agent/kernel/types.js';

const op = (address: string, ifindex = 2): KernelOp => ({
  op: 'add-address',
  key: `eth0 ${address}/24`,
  phase: 0,
  msg: { family: 4, address, prefixLen: 24, ifindex, flags: 0, proto: 0xfd, scope: 0 },
});

// nlmsghdr: len 48, RTM_NEWADDR (20), REQUEST|ACK|EXCL|CREATE (0x605), seq 0, pid 0;
// ifaddrmsg: AF_INET, /24, flags 0, scope 0, ifindex 2; IFA_LOCAL, IFA_ADDRESS, IFA_PROTO 0xfd.
const GOLDEN = Buffer.from(
  [
    '30000000 1400 0506 00000000 00000000',
    '02 18 00 00 02000000',
    '0800 0200 0a010064',
    '0800 0100 0a010064',
    '0500 0b00 fd000000',
  ]
    .join('')
    .replace(/ /g, ''),
  'hex',
);

/** NLMSG_ERROR with `errno` (negative on the wire) answering `seq`; the echoed header only. */
function ack(seq: number, errno: number): Buffer {
  const b = Buffer.alloc(16 + 4 + 16);
  b.writeUInt32LE(b.length, 0);
  b.writeUInt16LE(2, 4); // NLMSG_ERROR
  b.writeUInt32LE(seq, 8);
  b.writeInt32LE(-errno, 16);
  return b;
}

describe('sync writer codec', () => {
  it('prepares the same RTM_NEWADDR the pipelined path writes, asking for an ack', () => {
    const [f] = prepareFrames([op('10.1.0.100')]);
    assert.equal(f.toString('hex'), GOLDEN.toString('hex'));
  });

  it('numbers the requests of a datagram from base, leaving the prepared frames as they were', () => {
    const frames = prepareFrames([op('10.1.0.100'), op('10.1.0.101', 3)]);
    const before = frames.map((f) => Buffer.from(f));
    const d = datagramOf(frames, 0x01020304);
    assert.equal(d.length, 96);
    assert.equal(d.readUInt32LE(8), 0x01020304);
    assert.equal(d.readUInt32LE(48 + 8), 0x01020305);
    assert.equal(d.readUInt32LE(48 + 16 + 4), 3, 'second request, its own ifindex');
    assert.deepEqual(frames, before);
  });

  it('reads one errno per request by seq, ignores replies to other requests', () => {
    const results: (number | undefined)[] = [undefined, undefined];
    const n = readAcks(Buffer.concat([ack(99, 0), ack(11, 17), ack(10, 0)]), 10, results);
    assert.equal(n, 2);
    assert.deepEqual(results, [0, 17]);
    assert.equal(readAcks(Buffer.concat([ack(10, 1)]), 10, results), 0, 'an answered request stays answered');
    const truncated = ack(12, 0).subarray(0, 18); // says 36 bytes, has 18
    assert.equal(typeof readAcks(truncated, 10, [undefined]), 'string', 'bad framing is an error text');
  });
});
