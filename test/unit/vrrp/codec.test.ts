import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  decodeAdvert,
  type Expect,
  encodeAdvert,
  encodeIpv4Header,
  inetChecksum,
  parseIpv4,
  pseudoHeaderV4,
  pseudoHeaderV6,
} from '../../../agent/vrrp/codec.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// Captured from keepalived 2.2.7 (tcpdump -xx), VRID 51, priority 150, VIPs 10.77.0.100/101, source 10.77.0.1.
const KA_V2_PASS_IP = hex('45c0 002c 0003 0000 ff70 d03e 0a4d 0001 e000 0012');
const KA_V2_PASS = hex('2133 9602 0101 f619 0a4d 0064 0a4d 0065 7365 6372 6574 0000');
const KA_V3_IP = hex('45c0 0024 0029 0000 ff70 d020 0a4d 0001 e000 0012');
const KA_V3 = hex('3133 9602 000a 387c 0a4d 0064 0a4d 0065');
const VIPS = ['10.77.0.100', '10.77.0.101'];

test('v2 PASS advert encodes byte for byte as keepalived sends it', () => {
  const b = encodeAdvert(
    { version: 2, vrid: 51, priority: 150, intervalMs: 1000, addresses: VIPS },
    { family: 4, password: 'secret' },
  );
  assert.equal(b.toString('hex'), KA_V2_PASS.toString('hex'));
});

test('v3 IPv4 advert with pseudo-header checksum matches keepalived', () => {
  const b = encodeAdvert(
    { version: 3, vrid: 51, priority: 150, intervalMs: 100, addresses: VIPS },
    { family: 4, src: '10.77.0.1', dst: '224.0.0.18' },
  );
  assert.equal(b.toString('hex'), KA_V3.toString('hex'));
});

test('v3 checksumAsV2 covers the VRRP message only', () => {
  const b = encodeAdvert(
    { version: 3, vrid: 51, priority: 150, intervalMs: 100, addresses: VIPS },
    { family: 4, src: '10.77.0.1', dst: '224.0.0.18', checksumAsV2: true },
  );
  assert.equal(inetChecksum(b), 0);
  assert.notEqual(b.readUInt16BE(6), KA_V3.readUInt16BE(6));
  assert.equal(b.readUInt16BE(6), 0x235d); // fixed vector: sum over the message alone
});

test('IPv4 header as the kernel would complete it (same bytes as keepalived but id)', () => {
  const h = encodeIpv4Header('10.77.0.1', '224.0.0.18', KA_V2_PASS.length);
  const ka = Buffer.from(KA_V2_PASS_IP);
  ka.writeUInt16BE(0, 4); // id: the kernel fills it
  ka.writeUInt16BE(0, 10);
  ka.writeUInt16BE(inetChecksum(ka), 10);
  assert.equal(h.toString('hex'), ka.toString('hex'));
});

test('v3 IPv6 advert: 16-byte addresses, RFC 2460 pseudo-header checksum verifies', () => {
  const src = 'fe80::38bc:cfff:fefa:1ec4';
  const b = encodeAdvert(
    { version: 3, vrid: 51, priority: 150, intervalMs: 100, addresses: ['fd00::100'] },
    { family: 6, src, dst: 'ff02::12' },
  );
  assert.equal(b.length, 8 + 16);
  assert.equal(b.subarray(0, 6).toString('hex'), '31339601000a');
  assert.equal(inetChecksum(pseudoHeaderV6(src, 'ff02::12', b.length), b), 0);
});

test('decode keepalived packets: fields and intervals', () => {
  const v2 = parseIpv4(Buffer.concat([KA_V2_PASS_IP, KA_V2_PASS]));
  assert.ok(!('drop' in v2));
  assert.equal(v2.ttl, 255);
  const d2 = decodeAdvert(v2, { family: 4, version: 2, intervalMs: 1000, password: 'secret' });
  assert.ok('advert' in d2);
  assert.deepEqual(d2.advert.addresses, VIPS);
  assert.equal(d2.advert.priority, 150);
  assert.equal(d2.advert.intervalMs, 1000);
  const v3 = parseIpv4(Buffer.concat([KA_V3_IP, KA_V3]));
  assert.ok(!('drop' in v3));
  const d3 = decodeAdvert(v3, { family: 4, version: 3, intervalMs: 1000 });
  assert.ok('advert' in d3);
  assert.equal(d3.advert.intervalMs, 100, 'v3 reports the sender interval even if ours differs');
});

function rx(vrrp: Buffer, ttl = 255, dst = '224.0.0.18') {
  return { src: '10.77.0.1', dst, ttl, vrrp };
}

test('every validation failure has its keepalived stat name', () => {
  const ex2: Expect = { family: 4, version: 2, intervalMs: 1000, password: 'secret' };
  const drop = (r: ReturnType<typeof rx>, ex: Expect = ex2) => {
    const d = decodeAdvert(r, ex);
    return 'drop' in d ? d.drop : 'accepted';
  };
  assert.equal(drop(rx(KA_V2_PASS)), 'accepted');
  assert.equal(drop(rx(KA_V2_PASS, 254)), 'ip_ttl_err');
  assert.equal(drop(rx(KA_V2_PASS, 64, '10.77.0.2')), 'accepted', 'unicast: TTL not checked (routed peers)');
  assert.equal(drop(rx(KA_V2_PASS.subarray(0, 7))), 'packet_len_err');
  assert.equal(drop(rx(KA_V2_PASS.subarray(0, 20))), 'packet_len_err');
  const bad = (i: number, v: number) => {
    const b = Buffer.from(KA_V2_PASS);
    b[i] = v;
    return b;
  };
  assert.equal(drop(rx(bad(0, 0x22))), 'invalid_type_rcvd');
  assert.equal(drop(rx(bad(0, 0x31))), 'version_err');
  assert.equal(drop(rx(bad(2, 0x97))), 'checksum_err');
  assert.equal(drop(rx(KA_V2_PASS), { ...ex2, password: 'other' }), 'auth_failure');
  assert.equal(drop(rx(KA_V2_PASS), { ...ex2, password: undefined }), 'authtype_mismatch');
  const fix = (b: Buffer) => {
    b.writeUInt16BE(0, 6);
    b.writeUInt16BE(inetChecksum(b), 6);
    return b;
  };
  assert.equal(drop(rx(fix(bad(4, 7)))), 'invalid_authtype');
  assert.equal(drop(rx(KA_V2_PASS), { ...ex2, intervalMs: 2000 }), 'advert_interval_err');
  // v3: pseudo-header checksum depends on the addresses
  const ex3: Expect = { family: 4, version: 3, intervalMs: 100 };
  assert.equal(drop({ ...rx(KA_V3), src: '10.77.0.9' }, ex3), 'checksum_err');
  assert.equal(drop(rx(KA_V3), { ...ex3, checksumAsV2: true }), 'checksum_err');
  const zeroInterval = Buffer.from(KA_V3).fill(0, 4, 8);
  zeroInterval.writeUInt16BE(
    inetChecksum(pseudoHeaderV4('10.77.0.1', '224.0.0.18', zeroInterval.length), zeroInterval),
    6,
  );
  assert.equal(drop(rx(zeroInterval), ex3), 'advert_interval_err');
});

test('parseIpv4 rejects short and inconsistent headers', () => {
  assert.deepEqual(parseIpv4(Buffer.alloc(10)), { drop: 'packet_len_err' });
  const p = Buffer.concat([KA_V3_IP, KA_V3]);
  const long = Buffer.from(p);
  long.writeUInt16BE(200, 2);
  assert.deepEqual(parseIpv4(long), { drop: 'packet_len_err' });
  const v6 = Buffer.from(p);
  v6[0] = 0x65;
  assert.deepEqual(parseIpv4(v6), { drop: 'packet_len_err' });
});

test('encode refuses what the wire cannot carry', () => {
  assert.throws(
    () =>
      encodeAdvert(
        { version: 2, vrid: 1, priority: 1, intervalMs: 1000, addresses: ['fd00::1'] },
        { family: 6 },
      ),
    /IPv4 only/,
  );
  assert.throws(
    () =>
      encodeAdvert(
        { version: 3, vrid: 1, priority: 1, intervalMs: 1000, addresses: ['10.0.0.1'] },
        { family: 4 },
      ),
    /needs source and destination/,
  );
});
