import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeAddressDumpRequest, readAddressDump } from '../../../agent/vrrp/addr-probe.js';
import { addressEvents } from '../../../agent/vrrp/links.js';

// struct ifaddrmsg + IFA_ADDRESS + IFA_LOCAL for an IPv4 address, as the kernel sends it.
const ifa = (ifindex: string, prefix: string, ip: string) =>
  `02${prefix}0000${ifindex}` + `08000100${ip}` + `08000200${ip}`;
const VIP = ifa('03000000', '18', '0a4d0064'); // 10.77.0.100/24 on ifindex 3
const OTHER = ifa('02000000', '08', '0a000001'); // 10.0.0.1/8 on ifindex 2
const msg = (type: string, seq: string, payload: string) =>
  `${(16 + payload.length / 2).toString(16).padStart(2, '0')}000000${type}0200${seq}00000000${payload}`;

test('RTM_GETADDR dump request for one interface and family: golden bytes', () => {
  assert.equal(
    encodeAddressDumpRequest(3, 4, 7).toString('hex'),
    '18000000' + '1600' + '0103' + '07000000' + '00000000' + '02000000' + '03000000',
  );
  assert.equal(encodeAddressDumpRequest(1, 6, 1).subarray(16, 17).toString('hex'), '0a');
});

test('a dump reply: addresses of the asked interface only, to NLMSG_DONE', () => {
  const into = new Set<string>();
  const part = Buffer.from(msg('1400', '07000000', VIP) + msg('1400', '07000000', OTHER), 'hex');
  assert.equal(readAddressDump(part, 3, 7, into), 'more');
  assert.deepEqual([...into], ['10.77.0.100']);
  const end = Buffer.from(msg('0300', '07000000', '00000000'), 'hex');
  assert.equal(readAddressDump(end, 3, 7, into), 'done');
});

test('a dump reply: other sequence numbers are ignored, errors and bad framing are reported', () => {
  const into = new Set<string>();
  assert.equal(readAddressDump(Buffer.from(msg('1400', '08000000', VIP), 'hex'), 3, 7, into), 'more');
  assert.equal(into.size, 0);
  const einval = Buffer.from(msg('0200', '07000000', 'eaffffff'), 'hex'); // NLMSG_ERROR, -22
  assert.equal(readAddressDump(einval, 3, 7, into), 'RTM_GETADDR: EINVAL');
  const bad = Buffer.from(msg('1400', '07000000', VIP), 'hex');
  bad.writeUInt32LE(4096, 0);
  assert.match(readAddressDump(bad, 3, 7, into), /malformed netlink message length 4096/);
});

test('address events: added and removed addresses with their interface; other messages skipped', () => {
  const events = addressEvents([
    { type: 20, data: Buffer.from(VIP, 'hex') }, // RTM_NEWADDR
    { type: 21, data: Buffer.from(OTHER, 'hex') }, // RTM_DELADDR
    { type: 16, data: Buffer.alloc(16) }, // RTM_NEWLINK
    { type: 20, data: Buffer.from('0218', 'hex') }, // truncated: skipped
  ]);
  assert.deepEqual(events, [
    { added: true, ifindex: 3, address: '10.77.0.100' },
    { added: false, ifindex: 2, address: '10.0.0.1' },
  ]);
});
