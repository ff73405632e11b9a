// The STATUS= line: what an operator must see first comes first.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { statusLine } from '../../../agent/daemon/status-line.js';

describe('statusLine', () => {
  const subsystems = {
    metrics: { summary: 'off' },
    drain: { summary: 'not drained' },
    ipvs: { summary: 'unavailable', degraded: 'IPVS unavailable, 1 service(s) not programmed' },
    bgp: { summary: '1/1 announced' },
  };

  it('leads with a failed reload, a drain and degraded subsystems, then the summaries', () => {
    assert.equal(
      statusLine(
        subsystems,
        { up: false, reason: 'kernel upgrade' },
        { ok: false, message: 'config rejected' },
      ),
      'reload failed: config rejected; DRAINED (kernel upgrade); DEGRADED: IPVS unavailable, 1 service(s) not programmed; metrics: off; ipvs: unavailable; bgp: 1/1 announced',
    );
  });

  it('says nothing of a drain or a reload while all is well', () => {
    assert.equal(
      statusLine({ metrics: { summary: 'off' }, kernel: {} }, { up: true }, { ok: true, message: 'applied' }),
      'metrics: off; kernel',
    );
    assert.equal(statusLine({}), 'running');
  });
});
