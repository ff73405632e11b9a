// The metrics subsystem: a prom-client registry served on metrics.listen. Values are filled at
// scrape time from the daemon's status (collect callbacks); histograms from events as they happen.
//
// Conventions (every subsystem's collector follows them):
// - a number that only grows is a Counter named *_total (rate() and increase() need the type),
//   even when its value is read from a subsystem's own total at scrape time (setCounter);
// - a VRRP instance is labelled `iname` (keepalived's exporter does the same): a label named
//   `instance` would collide with the target label Prometheus adds to every series;
// - one prefix, lbagent_, also for the default process metrics (lbagent_process_cpu_...).
import type { Server } from 'node:http';
import { Counter, collectDefaultMetrics, Gauge, Histogram, type LabelValues, Registry } from 'prom-client';
import type { Config } from '../config/schema.js';
import type { MetricsSink, Subsystem, SubsystemContext } from '../daemon/subsystem.js';
import { VERSION } from '../version.js';
import { closeMetricsServer, startMetricsServer } from './server.js';

export type StatusSource = () => Record<string, unknown>;
export type MetricsCollector = (m: AgentMetrics, status: Record<string, unknown>) => void;

/**
 * Sets a counter to a total a subsystem keeps itself (prom-client counters only have inc()). The
 * counter must be in AgentMetrics.scrapedCounters, which collect() resets before every scrape.
 */
export function setCounter<T extends string>(c: Counter<T>, labels: LabelValues<T>, value: number): void {
  if (Number.isFinite(value) && value > 0) c.inc(labels, value);
  else c.inc(labels, 0);
}

/** Every metric the agent exports, namespace lbagent_. */
export class AgentMetrics {
  readonly registry = new Registry();
  private g = <T extends string>(name: string, help: string, labelNames: T[] = []) =>
    new Gauge({ name: `lbagent_${name}`, help, labelNames, registers: [this.registry] });
  private c = <T extends string>(name: string, help: string, labelNames: T[] = []) =>
    new Counter({ name: `lbagent_${name}`, help, labelNames, registers: [this.registry] });

  readonly buildInfo = this.g('build_info', 'lbagent version (always 1)', ['version', 'node']);
  readonly configReloads = this.c('config_reload_events_total', 'config reloads by outcome since start', [
    'result',
  ]);
  readonly configLastReloadOk = this.g('config_last_reload_successful', '1 if the last reload was applied');
  readonly fact = this.g('fact_up', 'facts subsystems publish (health, drain, VRRP role): 1 up, 0 down', [
    'kind',
    'id',
  ]);
  readonly drained = this.g('drained', '1 while the host is drained (disable file present)');
  // kernel
  readonly kernelObjects = this.g('kernel_objects', 'kernel objects the agent wants / has', [
    'kind',
    'state',
  ]);
  readonly reconcileDuration = new Histogram({
    name: 'lbagent_reconcile_duration_seconds',
    help: 'time to reconcile one subsystem with the kernel',
    labelNames: ['subsystem'],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [this.registry],
  });
  readonly reconcileErrors = this.c('reconcile_errors_total', 'kernel operations that failed since start', [
    'subsystem',
  ]);
  readonly reconcileFailures = this.c('reconcile_failures_total', 'reconciles that left an error', [
    'subsystem',
  ]);
  readonly checkDurationHist = new Histogram({
    name: 'lbagent_check_duration_seconds',
    // Per kind, not per check: at 20,000 checks a per-check histogram is ~280,000 series and a
    // scrape blocks the event loop for most of a second. Per-check latency is the gauge
    // check_last_duration_seconds.
    help: 'latency of every health check run, by check kind',
    labelNames: ['kind'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly netlinkErrors = this.c('netlink_errors_total', 'netlink errors since start by errno name', [
    'subsystem',
    'kind',
  ]);
  readonly kernelWrites = this.c('kernel_write_ops_total', 'netlink write operations sent since start', [
    'subsystem',
  ]);
  // ipvs
  readonly ipvsAvailable = this.g('ipvs_available', '1 if the kernel has IPVS');
  readonly ipvsServices = this.g('ipvs_services', 'IPVS virtual services owned by the agent');
  readonly ipvsDestWeight = this.g('ipvs_destination_weight', 'IPVS destination weight in the kernel', [
    'service',
    'destination',
  ]);
  readonly ipvsDestActive = this.g('ipvs_destination_active_connections', 'active connections', [
    'service',
    'destination',
  ]);
  readonly ipvsDestInactive = this.g('ipvs_destination_inactive_connections', 'inactive connections', [
    'service',
    'destination',
  ]);
  readonly ipvsDestConns = this.c(
    'ipvs_destination_connections_total',
    'connections scheduled (kernel counter)',
    ['service', 'destination'],
  );
  readonly ipvsDestInBytes = this.c('ipvs_destination_in_bytes_total', 'bytes in (kernel counter)', [
    'service',
    'destination',
  ]);
  readonly ipvsDestOutBytes = this.c('ipvs_destination_out_bytes_total', 'bytes out (kernel counter)', [
    'service',
    'destination',
  ]);
  readonly ipvsDestInPackets = this.c('ipvs_destination_in_packets_total', 'packets in (kernel counter)', [
    'service',
    'destination',
  ]);
  readonly ipvsDestOutPackets = this.c('ipvs_destination_out_packets_total', 'packets out (kernel counter)', [
    'service',
    'destination',
  ]);
  // health
  readonly checkUp = this.g('check_up', 'health check state: 1 up, 0 down', ['check', 'kind']);
  readonly checkDuration = this.g('check_last_duration_seconds', 'latency of the last check', [
    'check',
    'kind',
  ]);
  readonly checkTransitions = this.c('check_transitions_total', 'state transitions since start', [
    'check',
    'kind',
  ]);
  // vrrp (label iname: see the conventions above)
  readonly vrrpState = this.g('vrrp_state', 'VRRP state: 1 for the current state', ['iname', 'state']);
  readonly vrrpPriority = this.g('vrrp_effective_priority', 'effective VRRP priority', ['iname']);
  readonly vrrpAdvertsSent = this.c('vrrp_adverts_sent_total', 'adverts sent', ['iname']);
  readonly vrrpAdvertsReceived = this.c('vrrp_adverts_received_total', 'adverts received', ['iname']);
  readonly vrrpDrops = this.c('vrrp_drops_total', 'received packets dropped, by keepalived stat name', [
    'iname',
    'reason',
  ]);
  readonly vrrpTransitions = this.c('vrrp_transitions_total', 'state transitions since start', ['iname']);
  // bgp
  readonly bgpAnnounced = this.g('bgp_prefix_announced', '1 if the prefix is announced (0 withdrawn)', [
    'prefix',
  ]);
  readonly bgpState = this.g('bgp_prefix_state', 'announcement state: 1 for the current state', [
    'prefix',
    'state',
  ]);
  readonly bgpAcks = this.c('bgp_acks_total', 'ExaBGP acks by result', ['result']);
  readonly bgpBridgeConnected = this.g('bgp_bridge_connected', '1 while the ExaBGP bridge is connected');
  readonly bgpSessionUp = this.g(
    'bgp_session_up',
    "1 while ExaBGP's BGP session with the neighbor is established",
    ['neighbor'],
  );
  readonly bgpPrefixOnWire = this.g(
    'bgp_prefix_on_wire',
    "1 if ExaBGP's adj-rib-out holds the prefix for an established neighbor with its family negotiated",
    ['prefix'],
  );
  readonly bgpPrefixRejected = this.g(
    'bgp_prefix_rejected',
    '1 if no ExaBGP neighbor has the prefix family configured (announced, never sent)',
    ['prefix'],
  );

  /** Counters filled from subsystem totals at scrape time: all reset before the collectors run. */
  readonly scrapedCounters: Counter<string>[] = [
    this.configReloads,
    this.reconcileErrors,
    this.netlinkErrors,
    this.kernelWrites,
    this.ipvsDestConns,
    this.ipvsDestInBytes,
    this.ipvsDestOutBytes,
    this.ipvsDestInPackets,
    this.ipvsDestOutPackets,
    this.checkTransitions,
    this.vrrpAdvertsSent,
    this.vrrpAdvertsReceived,
    this.vrrpDrops,
    this.vrrpTransitions,
    this.bgpAcks,
  ];
}

export class MetricsSubsystem implements Subsystem {
  readonly name = 'metrics';
  readonly metrics = new AgentMetrics();
  /** Handed to the other subsystems (SubsystemContext.metrics) for per-event histograms. */
  readonly sink: MetricsSink = {
    reconcile: (subsystem, seconds, ok) => {
      this.metrics.reconcileDuration.observe({ subsystem }, seconds);
      if (!ok) this.metrics.reconcileFailures.inc({ subsystem });
    },
    checkRun: (_check, kind, seconds) => this.checkRunObserver(kind).observe(seconds),
  };
  /** Labelled histogram children bound once per kind (label lookup per run is the costly part). */
  private readonly checkRunByKind = new Map<string, { observe(v: number): void }>();
  private checkRunObserver(kind: string): { observe(v: number): void } {
    let o = this.checkRunByKind.get(kind);
    if (!o) {
      o = this.metrics.checkDurationHist.labels(kind);
      this.checkRunByKind.set(kind, o);
    }
    return o;
  }
  private server?: Server;
  private listen?: string;

  constructor(
    private ctx: SubsystemContext,
    private statusSource: StatusSource,
    private collectors: MetricsCollector[],
  ) {
    collectDefaultMetrics({ register: this.metrics.registry, prefix: 'lbagent_' });
    // prom-client exports these three gauges with a counter's suffix (promtool rejects that); the
    // same numbers by type stay as lbagent_nodejs_active_{handles,requests,resources}.
    for (const n of ['handles', 'requests', 'resources'])
      this.metrics.registry.removeSingleMetric(`lbagent_nodejs_active_${n}_total`);
  }

  /** Refreshes every gauge from the current status; runs right before each scrape. */
  collect(): void {
    const st = this.statusSource();
    const m = this.metrics;
    for (const c of m.scrapedCounters) c.reset();
    m.buildInfo.reset();
    m.buildInfo.set({ version: VERSION, node: String(st.node ?? '') }, 1);
    const reloads = st.reloads as { ok: number; failed: number; last?: { ok: boolean } } | undefined;
    if (reloads) {
      setCounter(m.configReloads, { result: 'ok' }, reloads.ok);
      setCounter(m.configReloads, { result: 'failed' }, reloads.failed);
      m.configLastReloadOk.set(reloads.last ? (reloads.last.ok ? 1 : 0) : 1);
    }
    m.fact.reset();
    for (const [key, f] of Object.entries((st.facts ?? {}) as Record<string, { up: boolean }>)) {
      const i = key.indexOf(':');
      m.fact.set({ kind: i < 0 ? key : key.slice(0, i), id: i < 0 ? '' : key.slice(i + 1) }, f.up ? 1 : 0);
    }
    const drain = (st.facts as Record<string, { up: boolean }> | undefined)?.drain;
    m.drained.set(drain && !drain.up ? 1 : 0);
    for (const c of this.collectors) {
      try {
        c(m, st);
      } catch (err) {
        this.ctx.log.debug({ err }, 'metrics collector failed');
      }
    }
  }

  async start(cfg: Config): Promise<void> {
    await this.apply(cfg);
  }

  async reload(cfg: Config): Promise<void> {
    await this.apply(cfg);
  }

  private async apply(cfg: Config): Promise<void> {
    const want = cfg.metrics.enabled ? cfg.metrics.listen : undefined;
    if (want === this.listen) return;
    await this.close();
    if (want) {
      try {
        this.server = await startMetricsServer(this.metrics.registry, want, this.ctx.log, () =>
          this.collect(),
        );
        this.listen = want;
      } catch (err) {
        // Metrics are not worth failing the agent for: say so and keep balancing.
        this.ctx.log.error({ err, listen: want }, 'metrics endpoint could not listen');
      }
    }
  }

  private async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    this.listen = undefined;
    if (s) await closeMetricsServer(s);
  }

  async stop(): Promise<void> {
    await this.close();
  }

  status(): unknown {
    return { listen: this.listen ?? null, summary: this.listen ? `on ${this.listen}` : 'off' };
  }
}
