import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { collectIpvsMetrics } from '../../../agent/ipvs/metrics.js';
import { AgentMetrics } from '../../../agent/metrics/index.js';

describe('collectIpvsMetrics', () => {
  it('exports availability, owned services and per-destination gauges', async () => {
    const m = new AgentMetrics();
    const stats = {
      conns: 9,
      inpkts: 10,
      outpkts: 11,
      inbytes: 12,
      outbytes: 13,
      cps: 0,
      inpps: 0,
      outpps: 0,
      inbps: 0,
      outbps: 0,
    };
    collectIpvsMetrics(m, {
      subsystems: {
        ipvs: {
          available: true,
          stateFile: '/run/x',
          services: [
            {
              key: 'tcp:10.0.0.1:80',
              name: 'web',
              owned: true,
              dests: [
                { family: 4, address: '10.1.0.2', port: 80, weight: 3, activeConns: 2, inactConns: 1, stats },
              ],
            },
            {
              key: 'tcp:10.9.9.9:80',
              owned: false,
              dests: [{ family: 4, address: '10.1.0.9', port: 80, weight: 1, activeConns: 0, inactConns: 0 }],
            },
          ],
          counters: { reconciles: 1, writes: 4, errors: 0, requests: 6 },
        },
      },
    });
    const text = await m.registry.metrics();
    assert.match(text, /lbagent_ipvs_available 1/);
    assert.match(text, /lbagent_ipvs_services 1/);
    assert.match(text, /lbagent_ipvs_destination_weight\{service="web",destination="10.1.0.2:80"\} 3/);
    assert.match(
      text,
      /lbagent_ipvs_destination_in_bytes_total\{service="web",destination="10.1.0.2:80"\} 12/,
    );
    assert.doesNotMatch(text, /10\.1\.0\.9/, 'foreign services are not exported');
  });
});
