// Real kernel, read-only: the synchronous RTM_GETADDR probe used on a VRRP takeover lists the
// loopback's addresses of this host (reads only, never writes).
import assert from 'node:assert/strict';
import { networkInterfaces } from 'node:os';
import { test } from 'node:test';
import { AddressProbe } from '../../../agent/vrrp/addr-probe.js';

test('AddressProbe lists the addresses of one interface, as getifaddrs sees them', () => {
  const p = AddressProbe.open();
  if (p instanceof Error) return assert.fail(p.message);
  try {
    const v4 = p.list(1, 4); // ifindex 1 is always lo
    assert.ok(v4 instanceof Set, String(v4));
    const expected = (networkInterfaces().lo ?? []).filter((a) => a.family === 'IPv4').map((a) => a.address);
    assert.deepEqual([...v4].sort(), expected.sort());
    assert.ok(v4.has('127.0.0.1'));
    for (let i = 0; i < 100; i++) assert.ok(p.list(1, 4) instanceof Set, 'repeatable');
    const none = p.list(0x7ffffff0, 4); // no such interface: nothing, or the kernel's ENODEV
    assert.ok(none instanceof Error ? /ENODEV/.test(none.message) : none.size === 0, String(none));
  } finally {
    p.close();
  }
  assert.ok(p.list(1, 4) instanceof Error, 'closed');
});
