// The kernel metrics collector reads the status the daemon gathers (status.subsystems.kernel).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { collectKernelMetrics } from '../../../agent/kernel/metrics.js';
import { AgentMetrics } from '../../../agent/metrics/index.js';

describe('collectKernelMetrics', () => {
  it('exports objects by kind/state, writes, failed ops and errors by errno', async () => {
    const m = new AgentMetrics();
    const kernel = {
      objects: [
        { kind: 'address', key: 'a', desired: true, actual: 'ok', owned: true },
        { kind: 'address', key: 'b', desired: true, actual: 'ok', owned: true },
        { kind: 'route', key: 'c', desired: true, actual: 'foreign', owned: false },
      ],
      errorsByCode: { ENETUNREACH: 2 },
      counters: { writes: 7, failedOps: 2 },
    };
    collectKernelMetrics(m, { subsystems: { kernel } });
    const text = await m.registry.metrics();
    assert.match(text, /lbagent_kernel_objects\{kind="address",state="ok"\} 2/);
    assert.match(text, /lbagent_kernel_objects\{kind="route",state="foreign"\} 1/);
    assert.match(text, /lbagent_kernel_write_ops_total\{subsystem="kernel"\} 7/);
    assert.match(text, /lbagent_reconcile_errors_total\{subsystem="kernel"\} 2/);
    assert.match(text, /lbagent_netlink_errors_total\{subsystem="kernel",kind="ENETUNREACH"\} 2/);
  });

  it('does nothing without a kernel status', () => {
    assert.doesNotThrow(() => collectKernelMetrics(new AgentMetrics(), {}));
  });
});
