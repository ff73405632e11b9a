import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderVrrp } from '../../../cli/commands/vrrp.js';

test('renderVrrp shows state, priority and why, master seen, auth mismatch, drops', () => {
  const text = renderVrrp({
    instances: [
      {
        name: 'VI_1',
        interface: 'eth0',
        vrid: 51,
        version: 2,
        state: 'backup',
        sinceMs: 1500,
        primaryAddress: '10.0.0.2',
        vips: ['10.0.0.100'],
        priority: { configured: 150, effective: 1, reasons: ['drain down: -254'] },
        advertIntervalMs: 1000,
        masterAdvertIntervalMs: 1000,
        masterDownIntervalMs: 3996,
        masterSeen: { address: '10.0.0.1', priority: 100, intervalMs: 1000, ageMs: 300 },
        authProblem: { reason: 'auth_failure', from: '10.0.0.9', count: 3, ageMs: 200 },
        lastError: null,
        stats: { advert_rcvd: 10, advert_sent: 2, auth_failure: 3 },
      },
    ],
    syncGroups: [{ name: 'G', instances: ['VI_1', 'VI_2'], states: ['backup', 'backup'] }],
  });
  assert.match(text, /VI_1 {2}BACKUP for 1\.5s {2}VRRPv2 vrid 51 on eth0/);
  assert.match(text, /priority 1 of 150 \(drain down: -254\)/);
  assert.match(text, /master seen 10\.0\.0\.1 priority 100 interval 1000ms/);
  assert.match(text, /AUTH MISMATCH with 10\.0\.0\.9: auth_failure x3/);
  assert.match(text, /drops: auth_failure 3/);
  assert.match(text, /sync group G: VI_1=backup VI_2=backup/);
  assert.equal(renderVrrp(undefined), 'vrrp: no status (is the vrrp subsystem running?)');
});
