// Golden text for `lbctl status` (kernel part).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KernelStatus } from '../../../agent/kernel/subsystem.js';
import { renderKernelStatus } from '../../../cli/commands/kernel.js';

const status: KernelStatus = {
  protocol: 199,
  addressProto: 'supported',
  objects: [
    { kind: 'address', key: 'lo|192.0.2.1/32', desired: true, actual: 'ok', owned: true, source: 'vips[0]' },
    {
      kind: 'address',
      key: 'lo|192.0.2.9/32',
      desired: true,
      actual: 'foreign',
      owned: false,
      source: 'vips[1]',
      detail: 'present, not created by lbagent (left alone)',
    },
    {
      kind: 'route',
      key: '254|198.51.100.0/24|0',
      desired: true,
      actual: 'ok',
      owned: true,
      source: 'routes[0]',
    },
  ],
  problems: [],
  errors: [
    {
      object: '254|203.0.113.0/24|0',
      code: 'ENETUNREACH',
      message:
        '+ route 203.0.113.0/24 table 254 via 10.77.0.2: ENETUNREACH: gateway is not on a connected network',
    },
  ],
  arpTune: [],
  errorsByCode: { ENETUNREACH: 1 },
  watch: { running: true, starts: 1 },
  lastReconcile: {
    at: '2026-01-01T00:00:00.000Z',
    durationMs: 3.2,
    observeMs: 1,
    planMs: 0.2,
    applyMs: 2,
    reason: 'start',
    scope: 'full',
    planned: 3,
    applied: 2,
    failed: 1,
  },
  retryInMs: 2000,
  counters: {
    reconciles: 1,
    writes: 3,
    dumps: 4,
    dumpRetries: 0,
    staleCacheReplans: 0,
    takeoverFastAdds: 0,
    takeoverSyncAdds: 0,
    cachedReconciles: 0,
    failedOps: 1,
    restoredByWatch: 0,
    watchLost: 0,
    malformed: 0,
    overruns: 0,
  },
};

describe('renderKernelStatus', () => {
  it('golden', () => {
    assert.equal(
      renderKernelStatus(status),
      `kernel: route/nexthop protocol 199, address ownership IFA_PROTO 199
last reconcile 2026-01-01T00:00:00.000Z: full, 3.2 ms (observe 1 / plan 0.2 / apply 2), 3 planned, 2 applied, 1 failed — start
retrying failed operations in 2000 ms

KIND     OBJECT                 DESIRED  ACTUAL   OWNED  SOURCE     DETAIL
address  lo|192.0.2.1/32        yes      ok       yes    vips[0]
address  lo|192.0.2.9/32        yes      foreign  no     vips[1]    present, not created by lbagent (left alone)
route    254|198.51.100.0/24|0  yes      ok       yes    routes[0]

errors:
  254|203.0.113.0/24|0: + route 203.0.113.0/24 table 254 via 10.77.0.2: ENETUNREACH: gateway is not on a connected network

counters: reconciles 1, writes 3, failed ops 1, dumps 4 (retried 0), restored by watch 0, malformed 0, overruns 0
`,
    );
  });

  it('warns when the netlink listener is down', () => {
    const text = renderKernelStatus({ ...status, watch: { running: false, starts: 3 } });
    assert.match(text, /netlink listener: NOT running/);
  });

  it('says so when there is no status', () => {
    assert.equal(renderKernelStatus(undefined), 'kernel: no status (subsystem not running?)\n');
  });
});
