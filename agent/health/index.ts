// The health subsystem: runs the checks of the plan and publishes what they mean as facts
// (backend, nexthop, check, service, host). Unchanged checks keep their runner and state across
// reload; manual backend drain sits ahead of the check; undrain and recovery ramp over slowStart.
import type { Config } from '../config/schema.js';
import { type Fact, factKey } from '../daemon/facts.js';
import type { Subsystem, SubsystemContext } from '../daemon/subsystem.js';
import type { Timer } from '../lib/clock.js';
import { canonicalAddress } from '../lib/ip.js';
import type { Transition } from './machine.js';
import { backendFact, quorumUp } from './model.js';
import { type HealthState, loadHealthState, saveHealthState } from './persist.js';
import {
  type BackendSubject,
  buildPlan,
  type HealthPlan,
  type ProbeSpec,
  type ServiceSubject,
  type Subject,
} from './plan.js';
import { makeProbe, type Probe } from './probes/index.js';
import { CheckRunner, CheckWheel, LatenessStats } from './scheduler.js';

export { defaultHealthStateFile } from './persist.js';
export { buildPlan, HealthPlanError } from './plan.js';
export type { HealthStatus } from './status.js';

import type { CheckStatus, HealthStatus } from './status.js';

export interface HealthOptions {
  /** Replaces real probes (unit tests drive results by hand). */
  probeFactory?: (spec: ProbeSpec) => Probe;
  /** Start-up delay per check; default: the deterministic spread within one interval. */
  startDelay?: (id: string, interval: number) => number;
  /**
   * Check states and backend drains kept across restarts (the daemon passes
   * defaultHealthStateFile(cfg.control.socket)); without it a restart starts every check from `initial`.
   */
  stateFile?: string;
}

interface Dependents {
  backends: BackendSubject[];
  subjects: Subject[]; // nexthops and named checks
  host: boolean;
}

export class HealthSubsystem implements Subsystem {
  readonly name = 'health';
  private plan: HealthPlan = { checks: new Map(), backends: [], nexthops: [], named: [], services: [] };
  private runners = new Map<string, CheckRunner>();
  private deps = new Map<string, Dependents>();
  private serviceOf = new Map<string, ServiceSubject>();
  private backendByKey = new Map<string, BackendSubject>();
  private drained = new Set<string>();
  private ramps = new Map<string, { start: number; timer?: Timer }>();
  private published = new Set<string>();
  /** Services that have been up since they appeared: only these can "recover" (hysteresis). */
  private everUp = new Set<string>();
  private transitionReason = new Map<string, string>();
  private stats = new LatenessStats();
  private readonly wheel: CheckWheel;
  private batch = false;
  private seed?: HealthState;
  private saveTimer?: Timer;

  constructor(
    private ctx: SubsystemContext,
    private opts: HealthOptions = {},
  ) {
    this.wheel = new CheckWheel(ctx.clock);
  }

  async start(cfg: Config): Promise<void> {
    const plan = buildPlan(cfg);
    if (this.opts.stateFile) {
      try {
        this.seed = loadHealthState(this.opts.stateFile);
      } catch (err) {
        this.ctx.log.warn(
          { err: (err as Error).message },
          'health: state file unusable; checks start from their initial state',
        );
      }
    }
    for (const k of this.seed?.drained ?? []) this.drained.add(k);
    this.apply(plan);
    this.seed = undefined;
    this.save();
  }

  async reload(cfg: Config): Promise<void> {
    this.apply(buildPlan(cfg));
  }

  async stop(_opts: { removeState: boolean }): Promise<void> {
    this.saveTimer?.cancel();
    this.saveTimer = undefined;
    this.save();
    for (const r of this.runners.values()) r.stop();
    this.runners.clear();
    this.wheel.close();
    for (const r of this.ramps.values()) r.timer?.cancel();
    this.ramps.clear();
  }

  /** Applies a plan (built and validated by buildPlan, which throws before anything changes). */
  apply(plan: HealthPlan): void {
    const probeFor = this.opts.probeFactory ?? makeProbe;
    // Probes first: anything that can throw does so before state changes (never half-applied).
    const probes = new Map<string, Probe>();
    for (const [id, spec] of plan.checks) probes.set(id, probeFor(spec.probe));
    const fresh: CheckRunner[] = [];
    for (const [id, r] of this.runners) {
      if (!plan.checks.has(id)) {
        r.stop();
        this.runners.delete(id);
        this.transitionReason.delete(id);
      }
    }
    for (const [id, spec] of plan.checks) {
      const have = this.runners.get(id);
      if (have) {
        have.update(spec, probes.get(id)!);
        continue;
      }
      const seeded = this.seed?.checks[id];
      const r = new CheckRunner(
        seeded ? { ...spec, machine: { ...spec.machine, initial: seeded } } : spec,
        probes.get(id)!,
        this.ctx.clock,
        this.resultListener,
        this.stats,
        this.wheel,
      );
      this.runners.set(id, r);
      fresh.push(r);
    }
    this.plan = plan;
    this.deps.clear();
    const dep = (id: string) => {
      let d = this.deps.get(id);
      if (!d) {
        d = { backends: [], subjects: [], host: false };
        this.deps.set(id, d);
      }
      return d;
    };
    this.backendByKey = new Map(plan.backends.map((b) => [b.key, b]));
    for (const b of plan.backends) if (b.checkId) dep(b.checkId).backends.push(b);
    for (const s of [...plan.nexthops, ...plan.named]) dep(s.checkId).subjects.push(s);
    for (const id of plan.host ?? []) dep(id).host = true;
    this.serviceOf.clear();
    for (const s of plan.services) for (const k of s.backendKeys) this.serviceOf.set(k, s);
    for (const k of [...this.drained]) if (!this.backendByKey.has(k)) this.drained.delete(k);
    for (const [k, r] of this.ramps) {
      if (!this.backendByKey.has(k)) {
        r.timer?.cancel();
        this.ramps.delete(k);
      }
    }

    const wanted = new Set<string>();
    this.batch = true; // services are computed once below, not once per backend
    for (const b of plan.backends) if (this.updateBackend(b)) wanted.add(b.key);
    this.batch = false;
    for (const s of [...plan.nexthops, ...plan.named]) {
      this.updateSubject(s);
      wanted.add(s.key);
    }
    for (const s of plan.services) {
      this.updateService(s);
      wanted.add(s.key);
    }
    if (plan.host) {
      this.updateHost();
      wanted.add(factKey.host);
    }
    for (const k of this.published) {
      if (!wanted.has(k)) {
        this.ctx.facts.delete(k);
        this.published.delete(k);
        this.everUp.delete(k);
      }
    }
    // Schedules start only now, so the work above does not make the first checks late.
    for (const r of fresh) r.start(this.opts.startDelay?.(r.spec.id, r.spec.interval));
  }

  // ---------- manual override ----------

  private findBackend(service: string, address: string, port?: number): BackendSubject {
    let a: string;
    try {
      a = canonicalAddress(address);
    } catch {
      throw new Error(`backend address "${address}" is not an IP address`);
    }
    const matches = this.plan.backends.filter(
      (b) => b.service === service && b.address === a && (port === undefined || b.port === port),
    );
    if (matches.length === 1) return matches[0];
    if (!this.plan.services.some((s) => s.name === service))
      throw new Error(`no ipvs service named "${service}"`);
    if (matches.length === 0)
      throw new Error(`service "${service}" has no backend ${a}${port !== undefined ? ` port ${port}` : ''}`);
    throw new Error(`service "${service}" has several backends at ${a}; give the port`);
  }

  /** Takes a backend out (weight 0 or removal, per the service's onDown) ahead of its check. */
  drainBackend(service: string, address: string, port?: number): Fact {
    const b = this.findBackend(service, address, port);
    if (!this.drained.has(b.key)) {
      this.drained.add(b.key);
      this.stopRamp(b.key);
      this.ctx.log.info({ event: 'backend_drained', kind: 'backend', id: b.key }, `backend ${b.key} drained`);
      this.scheduleSave();
      this.updateBackend(b);
    }
    return this.ctx.facts.get(b.key)!;
  }

  /** Puts a drained backend back; its weight ramps up over the service's slowStart. */
  undrainBackend(service: string, address: string, port?: number): Fact | undefined {
    const b = this.findBackend(service, address, port);
    if (this.drained.delete(b.key)) {
      this.ctx.log.info(
        { event: 'backend_undrained', kind: 'backend', id: b.key },
        `backend ${b.key} undrained`,
      );
      this.scheduleSave();
      if (b.slowStart > 0) this.ramps.set(b.key, { start: this.ctx.clock.now() });
      this.updateBackend(b);
    }
    return this.ctx.facts.get(b.key);
  }

  // ---------- persistence ----------

  private scheduleSave(): void {
    if (!this.opts.stateFile || this.saveTimer) return;
    // Coalesces bursts of transitions into one write.
    this.saveTimer = this.ctx.clock.setTimeout(() => {
      this.saveTimer = undefined;
      this.save();
    }, 1000);
  }

  private save(): void {
    if (!this.opts.stateFile) return;
    const checks: Record<string, 'up' | 'down'> = {};
    for (const [id, r] of this.runners) checks[id] = r.machine.state;
    try {
      saveHealthState(this.opts.stateFile, { checks, drained: [...this.drained] });
    } catch (err) {
      this.ctx.log.warn(
        { err: (err as Error).message, file: this.opts.stateFile },
        'health: cannot write state file',
      );
    }
  }

  // ---------- results → facts ----------

  private readonly resultListener = (runner: CheckRunner, t: Transition | undefined) =>
    this.onResult(runner, t);

  private onResult(runner: CheckRunner, t: Transition | undefined): void {
    const id = runner.spec.id;
    this.ctx.metrics?.checkRun(id, runner.spec.kind, runner.machine.latencyMs / 1000);
    if (t) {
      this.transitionReason.set(id, t.reason);
      this.ctx.log.info(
        { event: 'check_transition', kind: 'check', id, from: t.from, to: t.to, reason: t.reason },
        `check ${id}: ${t.from} -> ${t.to}`,
      );
      this.scheduleSave();
    } else if (runner.machine.weight === undefined && runner.runs > 1) {
      return; // nothing a fact depends on changed (the first result only refines the reason)
    }
    // No ramp out of the initial state: at start-up the backend was never serving at all.
    const recovered =
      t?.to === 'up' && (runner.spec.machine.initial === 'up' || runner.machine.snapshot(0).transitions > 1);
    const d = this.deps.get(id);
    if (!d) return;
    for (const b of d.backends) {
      if (recovered && b.slowStart > 0 && !this.drained.has(b.key))
        this.ramps.set(b.key, { start: this.ctx.clock.now() });
      this.updateBackend(b);
    }
    for (const s of d.subjects) this.updateSubject(s);
    if (d.host) this.updateHost();
  }

  private checkView(id: string): { up: boolean; reason: string; weight?: number } | undefined {
    const r = this.runners.get(id);
    if (!r) return undefined;
    const up = r.machine.state === 'up';
    const reason = up
      ? 'healthy'
      : (this.transitionReason.get(id) ?? r.machine.snapshot(this.ctx.clock.now()).reason);
    return { up, reason, weight: r.machine.weight };
  }

  private publish(key: string, fact: Fact, kind: string): void {
    const prev = this.ctx.facts.get(key);
    const now = this.ctx.clock.now();
    if (prev && prev.up !== fact.up) {
      this.ctx.log.info(
        {
          event: 'health_transition',
          kind,
          id: key,
          from: prev.up ? 'up' : 'down',
          to: fact.up ? 'up' : 'down',
          reason: fact.reason,
        },
        `${key}: ${prev.up ? 'up' : 'down'} -> ${fact.up ? 'up' : 'down'}`,
      );
    }
    this.ctx.facts.set(key, { ...fact, since: prev && prev.up === fact.up ? prev.since : now });
    this.published.add(key);
  }

  private stopRamp(key: string): void {
    this.ramps.get(key)?.timer?.cancel();
    this.ramps.delete(key);
  }

  /** Recomputes a backend fact; returns whether the backend has one. */
  private updateBackend(b: BackendSubject): boolean {
    const ramp = this.ramps.get(b.key);
    const { fact, rampNextAt } = backendFact({
      check: b.checkId ? this.checkView(b.checkId) : undefined,
      drained: this.drained.has(b.key),
      configuredWeight: b.weight,
      rampStart: ramp?.start,
      slowStart: b.slowStart,
      now: this.ctx.clock.now(),
    });
    if (ramp) {
      ramp.timer?.cancel();
      ramp.timer = undefined;
      if (rampNextAt === undefined) this.ramps.delete(b.key);
      else
        ramp.timer = this.ctx.clock.setTimeout(
          () => this.updateBackend(b),
          rampNextAt - this.ctx.clock.now(),
        );
    }
    if (!b.checkId && !this.drained.has(b.key) && !this.ramps.has(b.key) && !this.published.has(b.key))
      return false;
    const before = this.ctx.facts.get(b.key)?.up;
    this.publish(b.key, fact, 'backend');
    const svc = this.serviceOf.get(b.key);
    if (svc && before !== fact.up && !this.batch) this.updateService(svc);
    return true;
  }

  private updateSubject(s: Subject): void {
    const v = this.checkView(s.checkId);
    if (v)
      this.publish(s.key, { up: v.up, reason: v.reason }, s.key.startsWith('nexthop:') ? 'nexthop' : 'check');
  }

  /** Healthy backends, and their weight (the fact's dynamic / slow-start weight when it has one). */
  private serviceCounts(s: ServiceSubject): {
    healthy: number;
    total: number;
    healthyWeight: number;
    totalWeight: number;
  } {
    let healthy = 0;
    let healthyWeight = 0;
    let totalWeight = 0;
    s.backendKeys.forEach((k, i) => {
      const configured = s.backendWeights[i] ?? 0;
      totalWeight += configured;
      const f = this.ctx.facts.get(k);
      if (f?.up === false) return;
      healthy++;
      healthyWeight += f?.weight ?? configured;
    });
    return { healthy, total: s.backendKeys.length, healthyWeight, totalWeight };
  }

  private updateService(s: ServiceSubject): void {
    const counts = this.serviceCounts(s);
    const prev = this.published.has(s.key) ? this.ctx.facts.get(s.key)?.up : undefined;
    const state = prev === true ? 'up' : this.everUp.has(s.key) ? 'down' : 'fresh';
    const up = quorumUp({
      state,
      ...counts,
      quorum: s.quorum,
      quorumWeight: s.quorumWeight,
      hysteresis: s.quorumHysteresis,
    });
    let reason = `${counts.healthy}/${counts.total} backends healthy (quorum ${s.quorum})`;
    if (s.quorumWeight !== undefined)
      reason += `, healthy weight ${counts.healthyWeight} (quorumWeight ${s.quorumWeight}±${s.quorumHysteresis})`;
    if (up) this.everUp.add(s.key);
    this.publish(s.key, { up, reason }, 'service');
  }

  private updateHost(): void {
    const ids = this.plan.host ?? [];
    const down = ids.map((id) => [id, this.checkView(id)] as const).filter(([, v]) => !v?.up);
    const reason = down.length
      ? down.map(([id, v]) => `${id}: ${v?.reason ?? 'not running'}`).join('; ')
      : `${ids.length} host checks up`;
    this.publish(factKey.host, { up: down.length === 0, reason }, 'host');
  }

  // ---------- status ----------

  status(): HealthStatus {
    const now = this.ctx.clock.now();
    const checks: CheckStatus[] = [];
    let inflight = 0;
    for (const r of this.runners.values()) {
      if (r.inflight) inflight++;
      const s = r.machine.snapshot(now);
      checks.push({
        id: r.spec.id,
        kind: r.spec.kind,
        target: r.spec.target,
        usedBy: r.spec.origins,
        state: s.state,
        raw: s.raw,
        transitional: s.transitional,
        reason: s.state === 'up' ? (s.lastResult?.reason ?? s.reason) : s.reason,
        successes: s.successes,
        failures: s.failures,
        rise: r.spec.machine.rise,
        fall: r.spec.machine.fall,
        intervalMs: r.spec.interval,
        timeoutMs: r.spec.timeout,
        transitions: s.transitions,
        runs: r.runs,
        lastResult: s.lastResult && {
          ok: s.lastResult.ok,
          reason: s.lastResult.reason,
          // Microseconds kept: a loopback connect takes ~0.03 ms, and metrics read this value.
          latencyMs: Math.round(s.lastResult.latencyMs * 1000) / 1000,
          ageMs: Math.round(now - s.lastResult.at),
          weight: s.lastResult.weight,
        },
        lastTransitionAgoMs:
          s.lastTransitionAt !== undefined ? Math.round(now - s.lastTransitionAt) : undefined,
        damping: s.damping,
      });
    }
    const fact = (k: string) => this.ctx.facts.get(k);
    return {
      checks,
      backends: this.plan.backends.map((b) => {
        const f = fact(b.key);
        return {
          service: b.service,
          address: b.address,
          port: b.port,
          up: f?.up ?? true,
          weight: f?.weight,
          configuredWeight: b.weight,
          reason: f?.reason ?? 'unchecked',
          drained: this.drained.has(b.key),
          check: b.checkId,
        };
      }),
      nexthops: this.plan.nexthops.map((s) => ({
        key: s.key,
        up: fact(s.key)?.up ?? true,
        reason: fact(s.key)?.reason ?? '',
        check: s.checkId,
      })),
      named: this.plan.named.map((s) => ({
        key: s.key,
        up: fact(s.key)?.up ?? true,
        reason: fact(s.key)?.reason ?? '',
        check: s.checkId,
      })),
      services: this.plan.services.map((s) => ({
        name: s.name,
        up: fact(s.key)?.up ?? true,
        quorum: s.quorum,
        quorumWeight: s.quorumWeight,
        ...this.serviceCounts(s),
      })),
      host: this.plan.host
        ? {
            up: fact(factKey.host)?.up ?? true,
            reason: fact(factKey.host)?.reason ?? '',
            checks: this.plan.host,
          }
        : null,
      scheduler: {
        checks: this.runners.size,
        inflight,
        tcpProber: this.wheel.tcpProber,
        lateness: this.stats.snapshot(),
      },
    };
  }
}
