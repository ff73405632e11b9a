// Bench helper: the health subsystem checking N TCP endpoints (127.0.0.1:from..from+N) every
// interval, as the agent would. Prints "ready" after start; on a "report" line on stdin prints
// one JSON line: false downs, lateness of check starts vs their schedule, checks run.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { pino } from 'pino';
import { parseConfig } from '../../agent/config/load.js';
import { Facts } from '../../agent/daemon/facts.js';
import { HealthSubsystem } from '../../agent/health/index.js';
import { systemClock } from '../../agent/lib/clock.js';
import { MetricsSubsystem } from '../../agent/metrics/index.js';

const [from, count, intervalMs] = process.argv.slice(2).map(Number);
const perService = 1000;
const services: string[] = [];
for (let s = 0; s * perService < count; s++) {
  const ports: string[] = [];
  for (let i = s * perService; i < Math.min(count, (s + 1) * perService); i++) {
    ports.push(`        - { address: 127.0.0.1, port: ${from + i} }`);
  }
  services.push(`    - name: s${s}
      vip: 192.0.2.1
      port: ${10 + s}
      quorum: 0
      check: { type: tcp, interval: ${intervalMs}ms, timeout: 2s, rise: 2, fall: 3, initial: up }
      backends:
${ports.join('\n')}`);
}
const cfg = parseConfig(`ipvs:\n  services:\n${services.join('\n')}\n`);
const facts = new Facts();
let falseDowns = 0;
facts.on('change', (key: string, f) => {
  if (key.startsWith('backend:') && f && !f.up) falseDowns++;
});
const log = pino({ level: 'warn' });
// The metrics sink as the daemon wires it: every check run is observed in the histogram.
const metrics = new MetricsSubsystem({ log, clock: systemClock, facts }, () => ({}), []);
const withMetrics = process.env.LBT_BENCH_METRICS !== '0';
const health = new HealthSubsystem({
  log,
  clock: systemClock,
  facts,
  metrics: withMetrics ? metrics.sink : undefined,
});
await health.start(cfg);
// Event-loop delay of this process: lateness beyond it is the scheduler's, within it the machine's.
const eld = monitorEventLoopDelay({ resolution: 10 });
eld.enable();
console.log('ready');
for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim() !== 'report') continue;
  const st = health.status();
  const runs = st.checks.reduce((a, c) => a + c.runs, 0);
  const failed = st.checks
    .filter((c) => c.lastResult && !c.lastResult.ok)
    .map((c) => `${c.target} ${c.lastResult?.reason}`);
  const eventLoopDelay = {
    p99: Math.round(eld.percentile(99) / 1e5) / 10,
    max: Math.round(eld.max / 1e5) / 10,
  };
  console.log(
    JSON.stringify({
      falseDowns,
      runs,
      checks: st.checks.length,
      tcpProber: st.scheduler.tcpProber,
      lateness: st.scheduler.lateness,
      eventLoopDelay,
      failedNow: failed.slice(0, 5),
    }),
  );
  await health.stop({ removeState: false });
  process.exit(0);
}
