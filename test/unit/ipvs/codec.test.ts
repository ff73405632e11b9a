// Golden byte vectors for the IPVS generic netlink codec. The hand-annotated vectors follow
// linux/ip_vs.h; the same encoder output was accepted by the Debian 6.1 kernel in the VM suite.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CMD,
  decodeDest,
  decodeInfo,
  decodeService,
  decodeTimeouts,
  encode,
  encodeReply,
} from '../../../agent/ipvs/codec.js';
import { attr, genlMessage, nested, u32 } from '../../../agent/ipvs/netlink.js';
import type { DestSpec, ObservedDest, ObservedService, ServiceSpec } from '../../../agent/ipvs/types.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const body = (r: { attrs: Buffer[] }) => Buffer.concat(r.attrs).toString('hex');

const svc: ServiceSpec = {
  family: 4,
  protocol: 'tcp',
  address: '10.0.0.1',
  port: 80,
  scheduler: 'mh',
  flags: 0x18,
  timeout: 0,
  netmask: 0xffffffff,
};
const svc6: ServiceSpec = {
  family: 6,
  protocol: 'udp',
  address: '2001:db8::1',
  port: 53,
  scheduler: 'sh',
  flags: 1,
  timeout: 300,
  netmask: 64,
  pe: 'sip',
};
const fw: ServiceSpec = {
  family: 4,
  protocol: 'tcp',
  fwmark: 7,
  scheduler: 'wlc',
  flags: 0,
  timeout: 0,
  netmask: 0xffffffff,
};
const nat: DestSpec = {
  family: 4,
  address: '10.1.0.2',
  port: 8080,
  forwarding: 'nat',
  weight: 3,
  upperThreshold: 100,
  lowerThreshold: 10,
};
const gue: DestSpec = {
  family: 4,
  address: '10.1.0.4',
  port: 80,
  forwarding: 'tun',
  weight: 1,
  upperThreshold: 0,
  lowerThreshold: 0,
  tunnelType: 'gue',
  tunnelPort: 6080,
  tunnelFlags: 1,
};

// IPVS_CMD_ATTR_SERVICE identifying tcp 10.0.0.1:80, annotated.
const SVC_ID_V4 =
  '3000 0100' + // nested SERVICE, len 48
  '0600 0100 0200 0000' + // AF = AF_INET (2), padded
  '0600 0200 0600 0000' + // PROTOCOL = 6 (tcp)
  '1400 0300 0a000001 000000000000000000000000' + // ADDR: union nf_inet_addr, 16 bytes
  '0600 0400 0050 0000'; // PORT = 80, network order

describe('IPVS codec: requests', () => {
  it('NEW_SERVICE v4 tcp mh with mh-fallback|mh-port', () => {
    const r = encode.newService(svc);
    assert.equal(r.cmd, CMD.NEW_SERVICE);
    assert.equal(
      body(r),
      hex(
        '5400 0100' + // nested SERVICE, len 84
          '0600 0100 0200 0000' +
          '0600 0200 0600 0000' +
          '1400 0300 0a000001 000000000000000000000000' +
          '0600 0400 0050 0000' +
          '0700 0600 6d6800 00' + // SCHED_NAME "mh\0"
          '0c00 0700 18000000 ffffffff' + // FLAGS {flags 0x18, mask ~0}
          '0800 0800 00000000' + // TIMEOUT 0
          '0800 0900 ffffffff', // NETMASK 255.255.255.255
      ).toString('hex'),
    );
  });

  it('SET_SERVICE v6 udp with persistence, netmask as prefix length, sip engine', () => {
    const r = encode.setService(svc6);
    assert.equal(r.cmd, CMD.SET_SERVICE);
    assert.equal(
      body(r),
      hex(
        '5c00 0100' +
          '0600 0100 0a00 0000' + // AF_INET6
          '0600 0200 1100 0000' + // udp
          '1400 0300 20010db8000000000000000000000001' +
          '0600 0400 0035 0000' + // port 53
          '0700 0600 736800 00' + // "sh"
          '0800 0b00 73697000' + // PE_NAME "sip"
          '0c00 0700 01000000 ffffffff' + // persistent
          '0800 0800 2c010000' + // timeout 300
          '0800 0900 40000000', // prefix length 64, host order
      ).toString('hex'),
    );
  });

  it('DEL_SERVICE fwmark', () => {
    const r = encode.delService(fw);
    assert.equal(r.cmd, CMD.DEL_SERVICE);
    assert.equal(body(r), hex('1400 0100 0600 0100 0200 0000 0800 0500 07000000').toString('hex'));
  });

  it('NEW_DEST nat with thresholds', () => {
    const r = encode.newDest(svc, nat);
    assert.equal(r.cmd, CMD.NEW_DEST);
    assert.equal(
      body(r),
      hex(
        SVC_ID_V4 +
          '4800 0200' + // nested DEST, len 72
          '1400 0100 0a010002 000000000000000000000000' + // ADDR
          '0600 0200 1f90 0000' + // PORT 8080
          '0800 0300 00000000' + // FWD_METHOD masq
          '0800 0400 03000000' + // WEIGHT 3
          '0800 0500 64000000' + // U_THRESH 100
          '0800 0600 0a000000' + // L_THRESH 10
          '0600 0b00 0200 0000', // ADDR_FAMILY AF_INET
      ).toString('hex'),
    );
  });

  it('SET_DEST tunnel gue with port and csum flag', () => {
    const r = encode.setDest(svc, gue);
    assert.equal(r.cmd, CMD.SET_DEST);
    assert.equal(
      body(r),
      hex(
        SVC_ID_V4 +
          '6000 0200' +
          '1400 0100 0a010004 000000000000000000000000' +
          '0600 0200 0050 0000' +
          '0800 0300 02000000' + // tunnel
          '0800 0400 01000000' +
          '0800 0500 00000000' +
          '0800 0600 00000000' +
          '0600 0b00 0200 0000' +
          '0500 0d00 01 000000' + // TUN_TYPE gue (u8)
          '0600 0e00 17c0 0000' + // TUN_PORT 6080, network order
          '0600 0f00 0100 0000', // TUN_FLAGS csum
      ).toString('hex'),
    );
  });

  it('DEL_DEST carries only address, port and family', () => {
    const r = encode.delDest(svc, nat);
    assert.equal(r.cmd, CMD.DEL_DEST);
    assert.equal(
      body(r),
      hex(
        `${SVC_ID_V4}2800 0200 1400 0100 0a010002 000000000000000000000000 0600 0200 1f90 0000 0600 0b00 0200 0000`,
      ).toString('hex'),
    );
  });

  it('GET_DEST is a dump of one service; GET_SERVICE dump has no attributes', () => {
    const r = encode.getDests(svc);
    assert.equal(r.cmd, CMD.GET_DEST);
    assert.equal(r.dump, true);
    assert.equal(body(r), hex(SVC_ID_V4).toString('hex'));
    const s = encode.getServices();
    assert.equal(s.cmd, CMD.GET_SERVICE);
    assert.equal(s.dump, true);
    assert.deepEqual(s.attrs, []);
  });

  it('GET_INFO, GET_CONFIG, FLUSH, ZERO and SET_CONFIG timeouts', () => {
    assert.equal(encode.getInfo().cmd, CMD.GET_INFO);
    assert.equal(encode.getConfig().cmd, CMD.GET_CONFIG);
    assert.equal(encode.flush().cmd, CMD.FLUSH);
    assert.equal(encode.zero().cmd, CMD.ZERO);
    assert.equal(body(encode.zero(svc)), hex(SVC_ID_V4).toString('hex'));
    const t = encode.setConfig({ tcp: 900, tcpFin: 120, udp: 300 });
    assert.equal(t.cmd, CMD.SET_CONFIG);
    assert.equal(body(t), hex('0800 0400 84030000 0800 0500 78000000 0800 0600 2c010000').toString('hex'));
  });

  it('genlMessage frames nlmsghdr + genlmsghdr', () => {
    const m = genlMessage({
      family: 0x20,
      cmd: CMD.DEL_SERVICE,
      version: 1,
      flags: 5,
      seq: 1,
      attrs: encode.delService(fw).attrs,
    });
    assert.equal(
      m.toString('hex'),
      hex(
        '28000000 2000 0500 01000000 00000000 03 01 0000 1400 0100 0600 0100 0200 0000 0800 0500 07000000',
      ).toString('hex'),
    );
  });

  it('rejects a scheduler name the kernel cannot hold and a service without address', () => {
    assert.throws(() => encode.newService({ ...svc, scheduler: 'a-very-long-scheduler' }), /scheduler name/);
    assert.throws(
      () => encode.delService({ family: 4, protocol: 'tcp', port: 80 }),
      /address and port are required/,
    );
  });
});

describe('IPVS codec: dumps', () => {
  const stats = {
    conns: 5,
    inpkts: 60,
    outpkts: 40,
    inbytes: 5_000_000_000,
    outbytes: 1234,
    cps: 1,
    inpps: 2,
    outpps: 3,
    inbps: 4,
    outbps: 5,
  };

  it('decodes a service dump entry (HASHED flag dropped, STATS64)', () => {
    const s: ObservedService = { ...svc, stats };
    const decoded = decodeService(Buffer.concat(encodeReply.service(s)));
    assert.deepEqual(decoded, s);
    const v6: ObservedService = { ...svc6 };
    assert.deepEqual(decodeService(Buffer.concat(encodeReply.service(v6))), v6);
    const f: ObservedService = { ...fw };
    assert.deepEqual(decodeService(Buffer.concat(encodeReply.service(f))), f);
  });

  it('decodes 32-bit STATS when STATS64 is absent', () => {
    const u64 = (t: number, v: number) => {
      const b = Buffer.alloc(8);
      b.writeBigUInt64LE(BigInt(v));
      return attr(t, b);
    };
    const st = nested(10, [
      u32(1, 7),
      u32(2, 8),
      u32(3, 9),
      u64(4, 10),
      u64(5, 11),
      u32(6, 1),
      u32(7, 2),
      u32(8, 3),
      u32(9, 4),
      u32(10, 5),
    ]);
    const inner = Buffer.concat(encodeReply.service(svc)).subarray(4);
    const msg = nested(1, [inner, st]);
    assert.deepEqual(decodeService(msg).stats, {
      conns: 7,
      inpkts: 8,
      outpkts: 9,
      inbytes: 10,
      outbytes: 11,
      cps: 1,
      inpps: 2,
      outpps: 3,
      inbps: 4,
      outbps: 5,
    });
  });

  it('decodes destination dump entries with connection counts and tunnel attributes', () => {
    const d: ObservedDest = { ...nat, activeConns: 3, inactConns: 4, persistConns: 1, stats };
    assert.deepEqual(decodeDest(Buffer.concat(encodeReply.dest(d)), 4), d);
    const t: ObservedDest = { ...gue, activeConns: 0, inactConns: 0, persistConns: 0 };
    assert.deepEqual(decodeDest(Buffer.concat(encodeReply.dest(t)), 4), t);
    const v4in6: ObservedDest = {
      ...nat,
      forwarding: 'tun',
      tunnelType: 'ipip',
      activeConns: 0,
      inactConns: 0,
      persistConns: 0,
    };
    assert.deepEqual(decodeDest(Buffer.concat(encodeReply.dest(v4in6)), 6), v4in6);
  });

  it('decodes GET_INFO and GET_CONFIG replies', () => {
    assert.deepEqual(decodeInfo(Buffer.concat([u32(1, 0x010201), u32(2, 4096)])), {
      version: '1.2.1',
      connTableSize: 4096,
    });
    assert.deepEqual(decodeTimeouts(Buffer.concat([u32(4, 900), u32(5, 120), u32(6, 300)])), {
      tcp: 900,
      tcpFin: 120,
      udp: 300,
    });
  });

  it('names the problem in malformed input', () => {
    assert.throws(() => decodeService(Buffer.alloc(0)), /without IPVS_CMD_ATTR_SERVICE/);
    assert.throws(() => decodeDest(hex('0800 0200 0400 0100'), 4), /missing or short address/);
    assert.throws(() => decodeService(hex('ff00 0100')), /malformed attribute length/);
  });
});
