import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AttrWriter,
  attr,
  NLM_F_ACK_TLVS,
  NLMSG_ERROR,
  parseAttrs,
  parseError,
  readString,
  readUint,
  splitMessages,
  str,
  u8,
} from '../../../agent/ipvs/netlink.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('netlink framing', () => {
  it('pads attributes to 4 bytes and keeps the unpadded length', () => {
    assert.equal(u8(13, 1).toString('hex'), '05000d0001000000');
    assert.equal(str(6, 'mh').toString('hex'), '070006006d680000');
    assert.equal(attr(3, Buffer.alloc(0)).toString('hex'), '04000300');
  });

  it('parses attributes, masking NLA_F_NESTED', () => {
    const a = parseAttrs(hex('0800 0180 2a000000 0700 0600 6d6800 00'));
    assert.equal(readUint(a.get(1)), 42);
    assert.equal(readString(a.get(6)), 'mh');
  });

  it('splits a datagram with several messages and rejects a bad length', () => {
    const ack = (seq: number) =>
      hex(
        `24000000 0200 0001 ${seq.toString(16).padStart(2, '0')}000000 7d000008 00000000 1c000000 2000 0500 01000000 00000000`,
      );
    const msgs = splitMessages(Buffer.concat([ack(1), ack(2)]));
    assert.deepEqual(
      msgs.map((m) => [m.type, m.seq]),
      [
        [NLMSG_ERROR, 1],
        [NLMSG_ERROR, 2],
      ],
    );
    assert.equal(parseError(msgs[0]).error, 0);
    assert.throws(
      () => splitMessages(hex('ff000000 0200 0000 01000000 00000000')),
      /malformed netlink message length/,
    );
  });

  it('reads errno and the extended-ack message', () => {
    // error -17, capped echo (flags 0x100 | ACK_TLVS), then NLMSGERR_ATTR_MSG "exists".
    const payload = hex('efffffff 14000000 2000 0500 01000000 00000000 0b00 0100 657869737473 00 00');
    const e = parseError({ type: NLMSG_ERROR, flags: 0x100 | NLM_F_ACK_TLVS, seq: 1, port: 0, payload });
    assert.deepEqual(e, { error: -17, message: 'exists' });
  });

  it('AttrWriter writes what the allocating helpers write, nests, and zeroes reused padding', () => {
    const w = new AttrWriter();
    w.str(6, 'abcdefg'); // fills the first 12 bytes with non-zero data
    w.take();
    const n = w.begin(1);
    w.u8(13, 1).str(6, 'mh');
    const got = w.end(n).take();
    assert.equal(
      got.toString('hex'),
      Buffer.concat([Buffer.from('14000100', 'hex'), u8(13, 1), str(6, 'mh')]).toString('hex'),
    );
    // Growing past the first buffer keeps what was written.
    const big = 'x'.repeat(3000);
    assert.deepEqual(w.u8(1, 7).str(2, big).take(), Buffer.concat([u8(1, 7), str(2, big)]));
  });
});
