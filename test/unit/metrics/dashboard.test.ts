// The Grafana dashboard only uses metrics the agent really exports, the way their types allow
// (rate/increase only over counters and histogram buckets), and each per-series legend names the
// labels that tell the series apart (VRRP's `iname`, never a second `instance`).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { AgentMetrics } from '../../../agent/metrics/index.js';

const repoRoot = join(import.meta.dirname, '..', '..', '..', '..');
const dash = JSON.parse(readFileSync(join(repoRoot, 'docs', 'grafana-dashboard.json'), 'utf8')) as {
  panels: { title: string; targets?: { expr: string; legendFormat?: string }[] }[];
};
const targets = dash.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ title: p.title, ...t })));
const metrics = new AgentMetrics();
const base = (n: string) => n.replace(/_(bucket|sum|count)$/, '');

it('every metric in docs/grafana-dashboard.json is exported by the agent', async () => {
  const used = new Set(
    targets.flatMap((t) => [...t.expr.matchAll(/lbagent_[a-z0-9_]+/g)].map((m) => base(m[0]))),
  );
  const exported = new Set((await metrics.registry.getMetricsAsJSON()).map((m) => m.name));
  const missing = [...used].filter((n) => !exported.has(n));
  assert.deepEqual(missing, []);
  assert.ok(used.size >= 15);
});

it('rate() and increase() are taken of counters and histogram buckets only', async () => {
  const types = new Map((await metrics.registry.getMetricsAsJSON()).map((m) => [m.name, String(m.type)]));
  for (const t of targets) {
    for (const m of t.expr.matchAll(/\b(rate|increase)\((lbagent_[a-z0-9_]+)/g)) {
      const type = types.get(base(m[2]));
      const ok = type === 'counter' || (type === 'histogram' && m[2].endsWith('_bucket'));
      assert.ok(ok, `${t.title}: ${m[1]}(${m[2]}) but ${m[2]} is a ${type}`);
    }
  }
});

it('legends of per-series panels name every label of their metric', () => {
  for (const t of targets) {
    // Aggregations (sum, count, histogram_quantile by ...) choose their own labels.
    if (/^\s*(sum|count|avg|max|min|histogram_quantile)\b/.test(t.expr)) continue;
    const name = /lbagent_[a-z0-9_]+/.exec(t.expr)?.[0];
    assert.ok(name, t.title);
    const metric = metrics.registry.getSingleMetric(base(name)) as unknown as { labelNames: string[] };
    const legend = t.legendFormat ?? '';
    const shown = new Set([...legend.matchAll(/\{\{\s*(\w+)\s*\}\}/g)].map((m) => m[1]));
    for (const l of metric.labelNames) {
      assert.ok(shown.has(l), `${t.title}: legend "${legend}" does not show label ${l} of ${name}`);
    }
    assert.ok(
      [...legend.matchAll(/\{\{\s*instance\s*\}\}/g)].length <= 1,
      `${t.title}: legend shows {{instance}} twice`,
    );
    assert.ok(!metric.labelNames.includes('instance'), `${name} has a label "instance"`);
  }
});
