// Which subsystems the daemon runs, in start order (stop runs in reverse). Producers of facts
// start first so consumers see a full picture on their first reconcile.
import type { Config } from '../config/schema.js';
import { MetricsSubsystem } from '../metrics/index.js';
import type { DaemonView } from './daemon.js';
import type { Subsystem, SubsystemContext } from './subsystem.js';

export function buildSubsystems(ctx: SubsystemContext, _cfg: Config, daemon: DaemonView): Subsystem[] {
  const metrics = new MetricsSubsystem(ctx, () => daemon.status(), []);
  return [metrics];
}
