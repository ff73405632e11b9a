import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dropAllFilter, encodeBpf, hopLimitFilter, runBpf } from '../../../agent/vrrp/bpf.js';

/** An IPv6 packet (40-byte header + 8-byte payload) with the given hop limit and destination. */
function ipv6(hopLimit: number, dstFirstByte: number): Buffer {
  const p = Buffer.alloc(48);
  p[0] = 0x60;
  p.writeUInt16BE(8, 4);
  p[6] = 112;
  p[7] = hopLimit;
  p[24] = dstFirstByte;
  return p;
}

test('hop limit filters: golden struct sock_filter bytes (little endian), loads at SKF_NET_OFF', () => {
  // code(le16) jt jf k(le32); SKF_NET_OFF + 24 = 0xfff00018, + 7 = 0xfff00007
  assert.equal(
    encodeBpf(hopLimitFilter('accept')).toString('hex'),
    [
      '3000' + '00' + '00' + '1800f0ff', // ldb [net+24]      dst[0]
      '1500' + '00' + '03' + 'ff000000', // jeq #0xff, 0, 3   not multicast -> keep
      '3000' + '00' + '00' + '0700f0ff', // ldb [net+7]       hop limit
      '1500' + '01' + '00' + 'ff000000', // jeq #255, 1, 0    255 -> keep
      '0600' + '00' + '00' + '00000000', // ret #0            drop
      '0600' + '00' + '00' + '00000400', // ret #0x40000      keep
    ].join(''),
  );
  assert.equal(
    encodeBpf(hopLimitFilter('reject')).toString('hex'),
    [
      '3000' + '00' + '00' + '1800f0ff',
      '1500' + '00' + '02' + 'ff000000', // not multicast -> drop
      '3000' + '00' + '00' + '0700f0ff',
      '1500' + '00' + '01' + 'ff000000', // 255 -> drop, else keep
      '0600' + '00' + '00' + '00000000',
      '0600' + '00' + '00' + '00000400',
    ].join(''),
  );
  assert.equal(encodeBpf(hopLimitFilter('accept'), false).subarray(0, 8).toString('hex'), '00300000fff00018');
});

test('hop limit filters: multicast needs 255; unicast is not checked (keepalived); the two sides are exact complements', () => {
  const accept = hopLimitFilter('accept');
  const reject = hopLimitFilter('reject');
  assert.equal(runBpf(accept, ipv6(255, 0xff)), 8);
  assert.equal(runBpf(accept, ipv6(64, 0xff)), 0);
  assert.equal(runBpf(accept, ipv6(1, 0xfd)), 8);
  assert.equal(runBpf(reject, ipv6(64, 0xff)), 8);
  assert.equal(runBpf(reject, ipv6(255, 0xff)), 0);
  assert.equal(runBpf(reject, ipv6(64, 0xfe)), 0);
  for (let hop = 0; hop < 256; hop++) {
    for (let dst = 0; dst < 256; dst++) {
      const p = ipv6(hop, dst);
      const a = runBpf(accept, p) > 0;
      const r = runBpf(reject, p) > 0;
      assert.notEqual(a, r, `hop ${hop} dst ${dst.toString(16)}: exactly one socket takes it`);
      assert.equal(r, dst === 0xff && hop !== 255);
    }
  }
});

test('drop-all filter (the send-only IPv4 socket): ret #0', () => {
  assert.equal(encodeBpf(dropAllFilter()).toString('hex'), '0600000000000000');
  assert.equal(runBpf(dropAllFilter(), ipv6(255, 0xff)), 0);
});
