// Which subsystems the daemon runs, in start order (stop runs in reverse). Producers of facts
// (drain, health) start first so consumers (kernel, ipvs, vrrp, bgp) see a full picture on their
// first reconcile.

import { BgpSubsystem } from '../bgp/index.js';
import { collectBgpMetrics } from '../bgp/metrics.js';
import type { Config } from '../config/schema.js';
import { DrainSubsystem } from '../drain/index.js';
import { KernelSubsystem } from '../kernel/index.js';
import { collectKernelMetrics } from '../kernel/metrics.js';
import { MetricsSubsystem } from '../metrics/index.js';
import type { DaemonView } from './daemon.js';
import type { Subsystem, SubsystemContext } from './subsystem.js';

export function buildSubsystems(ctx: SubsystemContext, _cfg: Config, daemon: DaemonView): Subsystem[] {
  const metrics = new MetricsSubsystem(ctx, () => daemon.status(), [collectBgpMetrics, collectKernelMetrics]);
  const drain = new DrainSubsystem(ctx);
  const kernel = new KernelSubsystem(ctx);
  const bgp = new BgpSubsystem(ctx);
  drain.setSources({ bgp: () => bgp.drainView() });
  return [metrics, drain, kernel, bgp];
}
