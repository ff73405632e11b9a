// Golden bytes for the rtnetlink codec (layouts from /usr/include/linux/{if_addr,rtnetlink,
// nexthop}.h, host order little-endian), plus decode round trips and malformed input.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  decodeAddress,
  decodeLink,
  decodeNexthop,
  decodeRoute,
  encodeAddress,
  encodeNexthop,
  encodeNexthopDelete,
  encodeRoute,
  frame,
  parseAttrs,
  parseErrno,
  splitMessages,
  Writer,
  writeAddress,
  writeAddressGeneric,
  writeRoute,
  writeRouteGeneric,
} from '../../../agent/kernel/codec.js';

const hex = (b: Buffer) => b.toString('hex');

describe('rtnetlink codec', () => {
  it('frames a message: nlmsghdr len/type/flags/seq/pid + payload', () => {
    assert.equal(
      hex(frame(24, 0x405, 7, Buffer.from([1, 2, 3, 4]))),
      '14000000' + '1800' + '0504' + '07000000' + '00000000' + '01020304',
    );
  });

  it('encodes an IPv4 VIP: ifaddrmsg + IFA_LOCAL + IFA_ADDRESS + IFA_PROTO 199', () => {
    const b = encodeAddress({
      family: 4,
      address: '192.0.2.10',
      prefixLen: 32,
      ifindex: 1,
      flags: 0,
      proto: 199,
      scope: 0,
    });
    assert.equal(
      hex(b),
      '02200000' + '01000000' + '08000200c000020a' + '08000100c000020a' + '05000b00c7000000',
    );
    assert.deepEqual(decodeAddress(b), {
      family: 4,
      address: '192.0.2.10',
      prefixLen: 32,
      ifindex: 1,
      flags: 0,
      proto: 199,
      scope: 0,
    });
  });

  it('encodes an IPv6 VIP with IFA_F_NODAD', () => {
    const b = encodeAddress({
      family: 6,
      address: '2001:db8::10',
      prefixLen: 128,
      ifindex: 1,
      flags: 2,
      proto: 199,
      scope: 0,
    });
    assert.equal(
      hex(b),
      '0a800200' + '01000000' + '1400010020010db8000000000000000000000010' + '05000b00c7000000',
    );
    assert.equal(decodeAddress(b)?.address, '2001:db8::10');
    assert.equal(decodeAddress(b)?.flags, 2);
  });

  it('an address without IFA_PROTO decodes with proto undefined (pre-6.1 kernels)', () => {
    const b = encodeAddress({
      family: 4,
      address: '192.0.2.10',
      prefixLen: 32,
      ifindex: 1,
      flags: 0,
      scope: 0,
    });
    assert.equal(decodeAddress(b)?.proto, undefined);
  });

  it('encodes a multipath route: rtmsg + RTA_TABLE + RTA_DST + RTA_MULTIPATH of rtnexthops', () => {
    const b = encodeRoute({
      family: 4,
      dst: '198.51.100.0',
      dstLen: 24,
      table: 254,
      protocol: 199,
      type: 1,
      hops: [
        { via: '10.0.1.2', ifindex: 3, weight: 1 },
        { via: '10.0.2.2', ifindex: 0, weight: 3 },
      ],
    });
    assert.equal(
      hex(b),
      '02180000fec70001' +
        '00000000' +
        '08000f00fe000000' +
        '08000100c6336400' +
        '24000900' +
        '1000' +
        '00' +
        '00' +
        '03000000' +
        '080005000a000102' +
        '1000' +
        '00' +
        '02' +
        '00000000' +
        '080005000a000202',
    );
    const d = decodeRoute(b);
    assert.deepEqual(d?.hops, [
      { via: '10.0.1.2', ifindex: 3, weight: 1 },
      { via: '10.0.2.2', ifindex: 0, weight: 3 },
    ]);
    assert.equal(d?.table, 254);
    assert.equal(d?.protocol, 199);
  });

  it('encodes a route to a nexthop group in a table above 255 (rtm_table 0 + RTA_TABLE) with a metric', () => {
    const b = encodeRoute({
      family: 4,
      dst: '203.0.113.0',
      dstLen: 24,
      table: 1000,
      protocol: 199,
      type: 1,
      metric: 10,
      hops: [],
      nhid: 0x10000001,
    });
    assert.equal(
      hex(b),
      '02180000' +
        '00c70001' +
        '00000000' +
        '08000f00e8030000' +
        '08000100cb007100' +
        '080006000a000000' +
        '08001e0001000010',
    );
    const d = decodeRoute(b);
    assert.equal(d?.table, 1000);
    assert.equal(d?.metric, 10);
    assert.equal(d?.nhid, 0x10000001);
  });

  it('encodes an IPv4 route over an IPv6 next hop with RTA_VIA (RFC 5549)', () => {
    const b = encodeRoute({
      family: 4,
      dst: '198.51.100.0',
      dstLen: 24,
      table: 254,
      protocol: 199,
      type: 1,
      hops: [{ via: 'fe80::1', ifindex: 2, weight: 1 }],
    });
    const attrs = parseAttrs(b.subarray(12));
    assert.equal(hex(attrs.get(18)!), '0a00' + 'fe800000000000000000000000000001');
    assert.equal(decodeRoute(b)?.hops[0].via, 'fe80::1');
  });

  it('encodes a single nexthop object: nhmsg + NHA_ID + NHA_OIF + NHA_GATEWAY', () => {
    const b = encodeNexthop({ id: 0x10000002, family: 4, protocol: 199, via: '10.0.1.3', ifindex: 3 });
    assert.equal(
      hex(b),
      '0200c700' + '00000000' + '0800010002000010' + '0800050003000000' + '080006000a000103',
    );
    assert.deepEqual(decodeNexthop(b), {
      id: 0x10000002,
      family: 4,
      protocol: 199,
      via: '10.0.1.3',
      ifindex: 3,
    });
  });

  it('encodes a resilient group: NHA_GROUP (weight-1) + NHA_GROUP_TYPE + nested NHA_RES_GROUP in centiseconds', () => {
    const msg = {
      id: 0x10000001,
      family: 0 as const,
      protocol: 199,
      group: [
        { id: 0x10000002, weight: 1 },
        { id: 0x10000003, weight: 2 },
      ],
      groupType: 1,
      resilient: { buckets: 32, idleTimerMs: 120_000, unbalancedTimerMs: 0 },
    };
    const b = encodeNexthop(msg);
    assert.equal(
      hex(b),
      '0000c700' +
        '00000000' +
        '0800010001000010' +
        '14000200' +
        '0200001000000000' +
        '0300001001000000' +
        '0600030001000000' +
        '1c000c80' +
        '0600010020000000' +
        '08000200e02e0000' +
        '0800030000000000',
    );
    assert.deepEqual(decodeNexthop(b), msg);
  });

  it('encodes a nexthop delete with the id only', () => {
    assert.equal(hex(encodeNexthopDelete(5)), '0000000000000000' + '0800010005000000');
  });

  it('decodes links and errors, splits datagrams', () => {
    const ifinfo = Buffer.alloc(16);
    ifinfo.writeInt32LE(7, 4);
    ifinfo.writeUInt32LE(1, 8);
    const name = Buffer.from('eth0\0');
    const a = Buffer.alloc(12);
    a.writeUInt16LE(4 + name.length, 0);
    a.writeUInt16LE(3, 2);
    name.copy(a, 4);
    assert.deepEqual(decodeLink(Buffer.concat([ifinfo, a])), { index: 7, name: 'eth0', up: true });
    const err = Buffer.alloc(4);
    err.writeInt32LE(-17, 0);
    const dgram = Buffer.concat([frame(2, 0, 9, err), frame(3, 2, 10, Buffer.alloc(4))]);
    const msgs = splitMessages(dgram);
    assert.equal(msgs.length, 2);
    assert.equal(msgs[0].seq, 9);
    assert.equal(parseErrno(msgs[0].payload), 17); // EEXIST
    assert.equal(parseErrno(msgs[1].payload), 0);
  });

  it('rejects malformed input with an error instead of reading past the end', () => {
    assert.throws(
      () => parseAttrs(Buffer.from([0xff, 0x00, 0x01, 0x00, 0x00])),
      /malformed attribute length/,
    );
    assert.throws(
      () => splitMessages(Buffer.from('ff000000180000000000000000000000', 'hex')),
      /malformed netlink message/,
    );
    const route = encodeRoute({
      family: 4,
      dst: '198.51.100.0',
      dstLen: 24,
      table: 254,
      protocol: 199,
      type: 1,
      hops: [],
    });
    const bad = Buffer.concat([route, Buffer.from('0c000900ff00000000000000', 'hex')]); // rtnexthop len 255
    assert.throws(() => decodeRoute(bad), /malformed rtnexthop/);
    assert.equal(decodeAddress(Buffer.alloc(3)), null);
  });
});

describe('IPv4 fast paths', () => {
  const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((q) => q.join('.'));
  const bytes = (f: (w: Writer) => Writer) => Buffer.from(f(new Writer(8)).done());

  it('write the same bytes as the general encoders', () => {
    fc.assert(
      fc.property(
        fc.record({
          address: ipv4,
          prefixLen: fc.integer({ min: 0, max: 32 }),
          ifindex: fc.nat(0x7fffffff),
          flags: fc.oneof(fc.nat(0xff), fc.constant(0x100)),
          proto: fc.option(fc.nat(255), { nil: undefined }),
          scope: fc.nat(255),
        }),
        (a) => {
          const msg = { ...a, family: 4 as const };
          assert.deepEqual(
            bytes((w) => writeAddress(w, msg)),
            bytes((w) => writeAddressGeneric(w, msg)),
          );
        },
      ),
    );
    fc.assert(
      fc.property(
        fc.record({
          dst: ipv4,
          dstLen: fc.integer({ min: 0, max: 32 }),
          table: fc.oneof(fc.constant(254), fc.nat(0xffffffff)),
          protocol: fc.nat(255),
          type: fc.constant(1),
          metric: fc.option(fc.nat(0xffffffff), { nil: undefined }),
          nhid: fc.option(fc.nat(0xffffffff), { nil: undefined }),
          hops: fc.array(
            fc.record({
              via: fc.oneof(ipv4, fc.constant('2001:db8::1')),
              ifindex: fc.nat(0x7fffffff),
              weight: fc.integer({ min: 1, max: 256 }),
            }),
            { maxLength: 4 },
          ),
        }),
        (r) => {
          const msg = { ...r, family: 4 as const };
          assert.deepEqual(
            bytes((w) => writeRoute(w, msg)),
            bytes((w) => writeRouteGeneric(w, msg)),
          );
        },
      ),
    );
  });
});
