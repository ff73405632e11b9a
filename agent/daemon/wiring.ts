// Which subsystems the daemon runs, in start order (stop runs in reverse). Producers of facts
// (drain, health) start first so consumers (kernel, ipvs, vrrp, bgp) see a full picture on their
// first reconcile.

import { dirname, join } from 'node:path';
import { BgpSubsystem } from '../bgp/index.js';
import { collectBgpMetrics } from '../bgp/metrics.js';
import type { Config } from '../config/schema.js';
import { DrainSubsystem } from '../drain/index.js';
import { defaultHealthStateFile, HealthSubsystem } from '../health/index.js';
import { collectHealthMetrics } from '../health/metrics.js';
import { IpvsSubsystem } from '../ipvs/index.js';
import { collectIpvsMetrics } from '../ipvs/metrics.js';
import { KernelSubsystem } from '../kernel/index.js';
import { collectKernelMetrics } from '../kernel/metrics.js';
import { MetricsSubsystem } from '../metrics/index.js';
import { VrrpSubsystem } from '../vrrp/index.js';
import { collectVrrpMetrics } from '../vrrp/metrics.js';
import type { DaemonView } from './daemon.js';
import type { Subsystem, SubsystemContext } from './subsystem.js';

export function buildSubsystems(ctx: SubsystemContext, cfg: Config, daemon: DaemonView): Subsystem[] {
  const metrics = new MetricsSubsystem(ctx, () => daemon.status(), [
    collectBgpMetrics,
    collectKernelMetrics,
    collectVrrpMetrics,
    collectHealthMetrics,
    collectIpvsMetrics,
  ]);
  // Everything but the metrics subsystem reports per-event histograms through the sink.
  ctx = { ...ctx, metrics: metrics.sink };
  const drain = new DrainSubsystem(ctx);
  // The state file keeps check results and backend drains across restarts (hitless restart).
  const health = new HealthSubsystem(ctx, { stateFile: defaultHealthStateFile(cfg.control.socket) });
  const kernel = new KernelSubsystem(ctx);
  const ipvs = new IpvsSubsystem(ctx, { stateFile: join(dirname(cfg.control.socket), 'ipvs-owned.json') });
  const vrrp = new VrrpSubsystem(ctx);
  const bgp = new BgpSubsystem(ctx);
  drain.setSources({
    bgp: () => bgp.drainView(),
    activeConnections: () => ipvs.activeConnections(),
    trafficIdleMs: () => ipvs.trafficIdleMs(),
    backends: {
      drain: (s, a, p) => health.drainBackend(s, a, p),
      undrain: (s, a, p) => health.undrainBackend(s, a, p),
    },
    // VRRP mastership for the drain guard (agent/drain/peers.ts asks the peers who can take over).
    vrrp: () =>
      ((vrrp.status() as { instances?: { name: string; state: string }[] }).instances ?? []).map((i) => ({
        name: i.name,
        master: i.state === 'master',
      })),
  });
  return [metrics, drain, health, kernel, ipvs, vrrp, bgp];
}
