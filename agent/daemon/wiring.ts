// Which subsystems the daemon runs, in start order (stop runs in reverse). Producers of facts
// start first so consumers see a full picture on their first reconcile.
import type { Config } from '../config/schema.js';
import type { Subsystem, SubsystemContext } from './subsystem.js';

export function buildSubsystems(_ctx: SubsystemContext, _cfg: Config): Subsystem[] {
  return [];
}
