// The listener's in-kernel echo filter: golden program bytes, and its verdict on notifications laid
// out as the kernel sends them (checked with the reference interpreter; the netns test checks the
// real kernel runs it the same way).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { echoFilter } from '../../../agent/kernel/watch-filter.js';
import { encodeBpf, runSocketFilter } from '../../../agent/lib/bpf.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** nlmsghdr (multicast: seq 0, pid 0) + payload. */
function notification(type: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt32LE(16 + payload.length, 0);
  h.writeUInt16LE(type, 4);
  return Buffer.concat([h, payload]);
}

function attr(type: number, value: Buffer): Buffer {
  const len = 4 + value.length;
  const a = Buffer.alloc((len + 3) & ~3);
  a.writeUInt16LE(len, 0);
  a.writeUInt16LE(type, 2);
  value.copy(a, 4);
  return a;
}

/** RTM_NEWADDR as inet_fill_ifaddr writes it: ADDRESS, LOCAL, LABEL (variable), FLAGS, PROTO?, CACHEINFO. */
function newAddr(proto: number | undefined, label = 'lo'): Buffer {
  const ip = hex('0ac80001');
  return notification(
    20,
    Buffer.concat([
      hex('02 20 80 fe 01000000'), // AF_INET /32 flags scope host? ifindex 1
      attr(1, ip),
      attr(2, ip),
      attr(3, Buffer.from(`${label}\0`)),
      attr(8, hex('80000000')),
      ...(proto === undefined ? [] : [attr(11, Buffer.from([proto]))]),
      attr(6, Buffer.alloc(16)),
    ]),
  );
}

/** RTM_NEWROUTE: rtmsg {family, dst_len, src_len, tos, table, protocol, scope, type, flags}. */
function newRoute(protocol: number, type: number): Buffer {
  const rt = Buffer.from([2, 24, 0, 0, 254, protocol, 0, type, 0, 0, 0, 0]);
  return notification(24, Buffer.concat([rt, attr(15, hex('fe000000')), attr(1, hex('ac100000'))]));
}

/** RTM_NEWNEXTHOP: nhmsg {family, scope, protocol, resvd, flags}. */
function newNexthop(protocol: number): Buffer {
  return notification(
    104,
    Buffer.concat([Buffer.from([2, 0, protocol, 0, 0, 0, 0, 0]), attr(1, hex('10000001'))]),
  );
}

const prog = echoFilter(199);
const kept = (msg: Buffer) => runSocketFilter(prog, msg) > 0;

describe('watch echo filter', () => {
  it('encodes to the golden program (protocol 199)', () => {
    assert.equal(
      encodeBpf(prog).toString('hex'),
      [
        '3000 00 00 05000000', // 0  ldb [5] (type, high byte)
        '1500 00 11 00000000', // 1  jeq #0, else keep
        '3000 00 00 04000000', // 2  ldb [4]
        '1500 02 00 18000000', // 3  NEWROUTE -> 6
        '1500 05 00 68000000', // 4  NEWNEXTHOP -> 10
        '1500 06 0d 14000000', // 5  NEWADDR -> 12, else keep
        '3000 00 00 17000000', // 6  ldb [23] (rtm_type)
        '1500 00 0c 01000000', // 7  unicast, else drop
        '3000 00 00 15000000', // 8  ldb [21] (rtm_protocol)
        '1500 0a 09 c7000000', // 9  ours -> drop, else keep
        '3000 00 00 12000000', // 10 ldb [18] (nh_protocol)
        '1500 08 07 c7000000', // 11 ours -> drop, else keep
        '0000 00 00 18000000', // 12 ld #24 (first attribute)
        '0100 00 00 0b000000', // 13 ldx #11 (IFA_PROTO)
        '2000 00 00 0cf0ffff', // 14 ld #nla
        '1500 03 00 00000000', // 15 not found -> keep
        '0700 00 00 00000000', // 16 tax
        '5000 00 00 04000000', // 17 ldb [x+4]
        '1500 01 00 c7000000', // 18 ours -> drop, else keep
        '0600 00 00 00000400', // 19 keep
        '0600 00 00 00000000', // 20 drop
      ]
        .join('')
        .replace(/ /g, ''),
    );
  });

  it('drops the echo of our own additions', () => {
    assert.equal(kept(newAddr(199)), false);
    assert.equal(kept(newAddr(199, 'lo:averylonglabel')), false, 'IFA_PROTO found after a longer label');
    assert.equal(kept(newRoute(199, 1)), false);
    assert.equal(kept(newNexthop(199)), false);
  });

  it("drops the local routes the kernel adds with an address (not unicast: not the agent's business)", () => {
    assert.equal(kept(newRoute(2, 2)), false); // RTN_LOCAL, proto kernel
  });

  it('keeps what others add, and anything it cannot tell', () => {
    assert.equal(kept(newAddr(0)), true);
    assert.equal(kept(newAddr(undefined)), true, 'no IFA_PROTO (older kernel): the child decides');
    assert.equal(kept(newRoute(4, 1)), true); // static, unicast
    assert.equal(kept(newNexthop(3)), true);
  });

  it('keeps deletions and link changes whatever their protocol', () => {
    for (const type of [16, 17, 21, 25, 105]) {
      const m = newRoute(199, 1);
      m.writeUInt16LE(type, 4);
      assert.equal(kept(m), true, `type ${type}`);
    }
    const big = newRoute(199, 1);
    big.writeUInt16LE(0x100 + 24, 4); // not an rtnetlink type we know: keep
    assert.equal(kept(big), true);
  });

  it('follows the protocol it is built for', () => {
    assert.equal(runSocketFilter(echoFilter(42), newRoute(199, 1)) > 0, true);
    assert.equal(runSocketFilter(echoFilter(42), newRoute(42, 1)) > 0, false);
  });
});
