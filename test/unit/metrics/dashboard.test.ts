// The Grafana dashboard only uses metrics the agent really exports.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { AgentMetrics } from '../../../agent/metrics/index.js';

it('every metric in docs/grafana-dashboard.json is exported by the agent', async () => {
  const repoRoot = join(import.meta.dirname, '..', '..', '..', '..');
  const dash = readFileSync(join(repoRoot, 'docs', 'grafana-dashboard.json'), 'utf8');
  const used = new Set(
    [...dash.matchAll(/lbagent_[a-z0-9_]+/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, '')),
  );
  const exported = new Set((await new AgentMetrics().registry.getMetricsAsJSON()).map((m) => m.name));
  const missing = [...used].filter((n) => !exported.has(n));
  assert.deepEqual(missing, []);
  assert.ok(used.size >= 15);
});
