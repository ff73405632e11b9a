// What the daemon needs from each subsystem (kernel, ipvs, health, vrrp, bgp, drain, metrics).
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { Clock } from '../lib/clock.js';
import type { Facts } from './facts.js';

/** Events worth a histogram; the metrics subsystem implements it (absent in unit tests). */
export interface MetricsSink {
  reconcile(subsystem: string, seconds: number, ok: boolean): void;
  checkRun(check: string, kind: string, seconds: number): void;
}

export interface SubsystemContext {
  log: Logger;
  clock: Clock;
  facts: Facts;
  metrics?: MetricsSink;
}

export interface Subsystem {
  readonly name: string;
  /** Adopt what is already in the kernel and converge to cfg. Resolves after the first reconcile. */
  start(cfg: Config): Promise<void>;
  /** Converge to a new, already validated config; touch only what changed. */
  reload(cfg: Config): Promise<void>;
  /** Stop timers and sockets. Kernel state stays unless removeState (kernel.removeOnStop). */
  stop(opts: { removeState: boolean }): Promise<void>;
  /** JSON-able state for `lbctl status` (and the subsystem's own lbctl verb). */
  status(): unknown;
}
