// Runs inside a test namespace: one TCP check per target through the production scheduler (a
// CheckWheel, so the epoll prober), prints the first result of each, the prober used and the fd
// count before and after as one JSON line. argv: JSON [{name, address, port, timeout}].
import { readdirSync } from 'node:fs';
import type { CheckSpec } from '../../../agent/health/plan.js';
import { makeProbe } from '../../../agent/health/probes/index.js';
import { CheckRunner, CheckWheel } from '../../../agent/health/scheduler.js';
import { systemClock } from '../../../agent/lib/clock.js';

interface Target {
  name: string;
  address: string;
  port: number;
  timeout: number;
}
const targets = JSON.parse(process.argv[2]) as Target[];
const fds = () => readdirSync('/proc/self/fd').length;
const fdsBefore = fds();
const wheel = new CheckWheel(systemClock);
const results: Record<string, { ok: boolean; reason: string; latencyMs: number }> = {};
await new Promise<void>((resolve) => {
  let left = targets.length;
  for (const t of targets) {
    const probe = { kind: 'tcp' as const, address: t.address, port: t.port };
    const spec: CheckSpec = {
      id: t.name,
      kind: 'tcp',
      target: t.name,
      interval: 60_000,
      timeout: t.timeout,
      machine: { rise: 1, fall: 1, initial: 'down' },
      probe,
      origins: [],
    };
    const r = new CheckRunner(
      spec,
      makeProbe(probe),
      systemClock,
      (run) => {
        const last = run.machine.lastResult!;
        results[t.name] = { ok: last.ok, reason: last.reason, latencyMs: last.latencyMs };
        run.stop();
        if (--left === 0) resolve();
      },
      undefined,
      wheel,
    );
    r.start(0);
  }
});
const prober = wheel.tcpProber;
wheel.close();
await new Promise((r) => setTimeout(r, 50));
console.log(JSON.stringify({ results, prober, fdsBefore, fdsAfter: fds() }));
