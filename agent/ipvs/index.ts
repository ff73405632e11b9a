// IPVS subsystem: reconciles the kernel's virtual services with the config and backend health
// facts over generic netlink (desired → observe → plan → apply, plus periodic resync).
import { existsSync } from 'node:fs';
import type { Config } from '../config/schema.js';
import type { Fact } from '../daemon/facts.js';
import type { Subsystem, SubsystemContext } from '../daemon/subsystem.js';
import type { Timer } from '../lib/clock.js';
import { decodeService, encode } from './codec.js';
import { type DesiredIpvs, desiredIpvs } from './desired.js';
import { defaultStateFile, OwnedServices } from './ownership.js';
import { applyOps, type IpvsOp, type ObservedIpvs, opRequest, planIpvs } from './plan.js';
import { IpvsSocket } from './socket.js';
import {
  destKey,
  type IpvsInfo,
  type ObservedDest,
  type ObservedService,
  type ServiceId,
  SVC_F_ONEPACKET,
  SVC_F_PERSISTENT,
  SVC_F_SCHED1,
  SVC_F_SCHED2,
  SVC_F_SCHED3,
  serviceKey,
} from './types.js';

export { type DesiredIpvs, desiredIpvs, maglevOrder } from './desired.js';
export { type IpvsOp, type ObservedIpvs, planIpvs } from './plan.js';

export interface IpvsStatusDest extends ObservedDest {}
export interface IpvsStatusService extends ObservedService {
  key: string;
  /** Config name when the service is in the config. */
  name?: string;
  owned: boolean;
  flagNames: string[];
  dests: ObservedDest[];
}
export interface IpvsStatus {
  available: boolean;
  reason?: string;
  /** One line for `lbctl status` and systemd's STATUS=. */
  summary: string;
  /** Set while services are configured but the kernel cannot take them (sd_notify STATUS=). */
  degraded?: string;
  info?: IpvsInfo;
  stateFile: string;
  services: IpvsStatusService[];
  lastReconcile?: {
    at: string;
    ops: number;
    writes: number;
    errors: string[];
    durationMs: number;
    phasesMs?: { desired: number; prepare: number; observe: number; plan: number; apply: number };
    /** The first writes, e.g. "setDest tcp:10.0.0.1:80 10.1.0.2:80 (weight 1 → 0)". */
    changes: string[];
  };
  counters: { reconciles: number; writes: number; errors: number; requests: number };
}

export interface IpvsSubsystemOptions {
  /** Ownership state file (default /run/lbagent/ipvs-owned-netns<inode>.json). */
  stateFile?: string;
  /** Run modprobe (default: cfg.ipvs.loadModules). */
  modprobe?: (module: string) => Promise<void>;
}

export function flagNames(scheduler: string, flags: number): string[] {
  const out: string[] = [];
  if (flags & SVC_F_PERSISTENT) out.push('persistent');
  if (flags & SVC_F_ONEPACKET) out.push('ops');
  const sched = scheduler === 'mh' || scheduler === 'sh' ? scheduler : '';
  if (flags & SVC_F_SCHED1) out.push(sched ? `${sched}-fallback` : 'flag-1');
  if (flags & SVC_F_SCHED2) out.push(sched ? `${sched}-port` : 'flag-2');
  if (flags & SVC_F_SCHED3) out.push('flag-3');
  return out;
}

function describeOp(op: IpvsOp): string {
  const what = 'dest' in op ? `${op.key} ${destKey(op.dest)}` : op.key;
  const why = 'reason' in op && op.reason ? ` (${op.reason})` : '';
  return `${op.kind} ${what}${why}`;
}

async function defaultModprobe(module: string): Promise<void> {
  // Loaded on demand: execa costs seconds of startup under TCG and is rarely needed.
  const { execa } = await import('execa');
  await execa('modprobe', [module], { timeout: 30_000 });
}

export class IpvsSubsystem implements Subsystem {
  readonly name = 'ipvs';
  private cfg?: Config;
  private sock?: IpvsSocket;
  private owned: OwnedServices;
  private reason?: string;
  private info?: IpvsInfo;
  private observed?: ObservedIpvs;
  private refreshing?: Promise<unknown>;
  private refreshedAt = Number.NEGATIVE_INFINITY;
  private lastInpkts = -1;
  private lastTrafficAt?: number;
  private lastReconcile?: IpvsStatus['lastReconcile'];
  private counters = { reconciles: 0, writes: 0, errors: 0 };
  private resyncTimer?: Timer;
  private factTimer?: Timer;
  private running?: Promise<void>;
  /** What the next run covers: every service, or only the services named (health changes). */
  private nextScope: Set<string> | 'all' | undefined;
  private stopped = false;
  private readonly onFact = (key: string, _f?: Fact) => {
    if (!key.startsWith('backend:')) return;
    const slash = key.indexOf('/');
    if (slash > 8) this.scheduleSoon(key.slice(8, slash));
  };

  constructor(
    private readonly ctx: SubsystemContext,
    private readonly opts: IpvsSubsystemOptions = {},
  ) {
    this.owned = new OwnedServices(opts.stateFile ?? defaultStateFile());
  }

  async start(cfg: Config): Promise<void> {
    this.cfg = cfg;
    this.warnConfig(cfg);
    this.stopped = false;
    try {
      this.owned.load();
    } catch (err) {
      // Without the list we only touch configured services, which is safe.
      this.ctx.log.error(
        { err: (err as Error).message },
        'IPVS ownership file unreadable; treating as empty',
      );
    }
    this.ctx.facts.on('change', this.onFact);
    await this.reconcile();
    this.armResync();
  }

  async reload(cfg: Config): Promise<void> {
    this.cfg = cfg;
    this.warnConfig(cfg);
    await this.reconcile();
  }

  async stop(opts: { removeState: boolean }): Promise<void> {
    this.stopped = true;
    this.ctx.facts.off('change', this.onFact);
    this.resyncTimer?.cancel();
    this.factTimer?.cancel();
    await this.running?.catch(() => {});
    if (opts.removeState && this.sock && this.observed) {
      const ops: IpvsOp[] = [];
      for (const [key, s] of this.observed.services) {
        if (this.owned.has(key)) ops.push({ kind: 'delService', key, service: s.spec });
      }
      const res = await this.sock.run(ops.map(opRequest));
      const failed = res.filter((r) => r.error);
      for (const r of failed) this.ctx.log.error({ err: r.error!.message }, 'IPVS removal failed');
      this.owned.save(ops.filter((_, i) => res[i].error).map((o) => o.key));
    }
    this.sock?.close();
    this.sock = undefined;
  }

  status(): IpvsStatus {
    const names = new Map<string, string>();
    if (this.cfg && this.sock) {
      try {
        for (const s of desiredIpvs(this.cfg, this.ctx.facts).services) names.set(s.key, s.name);
      } catch {
        // config errors are reported by reconcile
      }
    }
    const services: IpvsStatusService[] = [];
    for (const [key, s] of this.observed?.services ?? []) {
      services.push({
        ...s.spec,
        key,
        name: names.get(key),
        owned: names.has(key) || this.owned.has(key),
        flagNames: flagNames(s.spec.scheduler, s.spec.flags),
        dests: s.dests,
      });
    }
    const configured = this.cfg?.ipvs.services.length ?? 0;
    const owned = services.filter((s) => s.owned).length;
    return {
      available: !!this.sock,
      reason: this.reason,
      summary: this.sock
        ? `${owned} service(s)`
        : configured
          ? 'unavailable'
          : 'unavailable, none configured',
      degraded:
        !this.sock && configured > 0
          ? `IPVS unavailable, ${configured} service(s) not programmed${this.reason ? `: ${this.reason}` : ''}`
          : undefined,
      info: this.info,
      stateFile: this.owned.path,
      services,
      lastReconcile: this.lastReconcile,
      counters: { ...this.counters, requests: this.sock?.counters.requests ?? 0 },
    };
  }

  /** Re-reads the kernel table so status() shows fresh counters (for `lbctl ipvs`). */
  async refresh(): Promise<IpvsStatus> {
    if (this.sock) this.observed = await this.observe(undefined);
    const st = this.status();
    // Inbound packets over owned services: when the count stops moving, no traffic is left.
    let inpkts = 0;
    for (const s of st.services) if (s.owned) for (const d of s.dests) inpkts += d.stats?.inpkts ?? 0;
    if (inpkts !== this.lastInpkts) {
      this.lastInpkts = inpkts;
      this.lastTrafficAt = this.ctx.clock.now();
    }
    return st;
  }

  /** Time since the last inbound packet for an owned service (from refreshes; undefined before one). */
  trafficIdleMs(): number | undefined {
    this.activeConnections(); // keeps the counters fresh while someone is watching
    return this.lastTrafficAt === undefined ? undefined : this.ctx.clock.now() - this.lastTrafficAt;
  }

  /** `lbctl ipvs` reads a fresh table (connection counters move between reconciles). */
  controlHandlers(): Record<string, () => Promise<IpvsStatus>> {
    return { 'ipvs.status': () => this.refresh() };
  }

  /**
   * Active connections over the services the agent owns (drain progress counts them down). The
   * count comes from the last table read; a read older than a second is refreshed in the
   * background, so a caller polling it (lbctl drain --wait) sees the count fall.
   */
  activeConnections(): number | undefined {
    if (!this.sock) return undefined;
    const now = this.ctx.clock.now();
    if (!this.refreshing && now - this.refreshedAt > 1000) {
      this.refreshedAt = now;
      this.refreshing = this.refresh()
        .catch((err) => this.ctx.log.debug({ err }, 'ipvs refresh failed'))
        .finally(() => {
          this.refreshing = undefined;
        });
    }
    let n = 0;
    for (const s of this.status().services) if (s.owned) for (const d of s.dests) n += d.activeConns;
    return n;
  }

  /** Socket counters (tests and the bench check that a no-op reconcile writes nothing). */
  socketCounters() {
    return this.sock?.counters;
  }

  /** ip_vs_mh keeps a weight-0 destination in its table (so other flows never move) and drops the
   * flows hashed to it unless mh-fallback is set: say so, since onDown weight0 is the default. */
  private warnConfig(cfg: Config): void {
    for (const s of cfg.ipvs.services) {
      if (s.scheduler === 'mh' && s.onDown === 'weight0' && s.mhFallback === false) {
        this.ctx.log.warn(
          { service: s.name },
          'mh without mhFallback: new flows hashed to a weight-0 (down or drained) backend are dropped; set mhFallback: true to send them to the next backend',
        );
      }
    }
  }

  private armResync(): void {
    if (this.stopped || !this.cfg) return;
    this.resyncTimer = this.ctx.clock.setTimeout(() => {
      this.reconcile()
        .catch(() => {})
        .finally(() => this.armResync());
    }, this.cfg.kernel.resyncInterval);
  }

  private factScope = new Set<string>();

  private scheduleSoon(service: string): void {
    if (this.stopped) return;
    this.factScope.add(service);
    if (this.factTimer) return;
    // Coalesce bursts of health changes into one reconcile of just the services they concern.
    this.factTimer = this.ctx.clock.setTimeout(() => {
      this.factTimer = undefined;
      const scope = this.factScope;
      this.factScope = new Set();
      this.reconcile(scope).catch(() => {});
    }, 20);
  }

  private mergeScope(scope: Set<string> | 'all'): void {
    if (scope === 'all' || this.nextScope === 'all') this.nextScope = 'all';
    else this.nextScope = new Set([...(this.nextScope ?? []), ...scope]);
  }

  /**
   * Runs one reconcile at a time; a request during a run is merged into one more run after it.
   * `scope` limits the run to the named config services (health changes): only they are read and
   * written, so one weight change is one GET_SERVICE, one GET_DEST dump and one SET_DEST.
   */
  reconcile(scope: Set<string> | 'all' = 'all'): Promise<void> {
    this.mergeScope(scope);
    if (this.running) return this.running;
    this.running = (async () => {
      try {
        while (this.nextScope !== undefined && !this.stopped) {
          const run = this.nextScope;
          this.nextScope = undefined;
          await this.reconcileOnce(run);
        }
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }

  private async ensureSocket(cfg: Config): Promise<IpvsSocket | undefined> {
    if (this.sock) return this.sock;
    const modprobe = this.opts.modprobe ?? (cfg.ipvs.loadModules ? defaultModprobe : undefined);
    try {
      if (modprobe && !existsSync('/proc/net/ip_vs')) await modprobe('ip_vs').catch(() => {});
      this.sock = await IpvsSocket.open();
      this.info = await this.sock.info();
      if (this.reason) this.ctx.log.info({ version: this.info.version }, 'IPVS is available now');
      this.reason = undefined;
      this.ctx.log.info({ version: this.info.version, connTableSize: this.info.connTableSize }, 'IPVS ready');
      return this.sock;
    } catch (err) {
      const reason = (err as Error).message;
      if (reason !== this.reason) {
        const level = cfg.ipvs.services.length ? 'error' : 'info';
        this.ctx.log[level]({ reason }, 'IPVS unavailable; the rest of the agent keeps running');
      }
      this.reason = reason;
      this.sock?.close();
      this.sock = undefined;
      return undefined;
    }
  }

  private async loadSchedulers(cfg: Config): Promise<void> {
    const modprobe = this.opts.modprobe ?? (cfg.ipvs.loadModules ? defaultModprobe : undefined);
    if (!modprobe) return;
    const mods = new Set<string>();
    for (const s of cfg.ipvs.services) {
      mods.add(`ip_vs_${s.scheduler}`);
      if (s.persistence?.engine) mods.add(`ip_vs_pe_${s.persistence.engine}`);
    }
    for (const m of mods) {
      if (existsSync(`/sys/module/${m}`)) continue;
      // The kernel also autoloads schedulers; a failure here shows up as the service's ENOENT.
      await modprobe(m).catch((err) =>
        this.ctx.log.warn({ module: m, err: (err as Error).message }, 'modprobe failed'),
      );
    }
  }

  /** Reads services (all) and the destinations of those in `keys` (all when undefined). */
  private async observe(keys: Set<string> | undefined): Promise<ObservedIpvs> {
    const sock = this.sock!;
    const services = await sock.services();
    const interesting = services.filter((s) => !keys || keys.has(serviceKey(s)));
    const dests = await sock.dests(interesting);
    const out: ObservedIpvs = { services: new Map() };
    for (const s of services) out.services.set(serviceKey(s), { spec: s, dests: [] });
    interesting.forEach((s, i) => {
      out.services.get(serviceKey(s))!.dests = dests[i];
    });
    return out;
  }

  /** Reads the named services one by one (GET_SERVICE, pipelined) and their destinations. */
  private async observeSome(specs: ServiceId[]): Promise<ObservedIpvs> {
    const sock = this.sock!;
    const res = await sock.run(specs.map((s) => encode.getService(s)));
    const found: ObservedService[] = [];
    res.forEach((r, i) => {
      if (r.error && r.error.errno !== -3) throw r.error; // ESRCH: not there (yet)
      if (!r.error && r.replies[0]) found.push(decodeService(r.replies[0]));
      else if (!r.error) throw new Error(`${specs[i] && serviceKey(specs[i])}: empty GET_SERVICE reply`);
    });
    const dests = await sock.dests(found);
    const out: ObservedIpvs = { services: new Map() };
    found.forEach((s, i) => {
      out.services.set(serviceKey(s), { spec: s, dests: dests[i] });
    });
    return out;
  }

  private async reconcileOnce(scope: Set<string> | 'all'): Promise<void> {
    const fullCfg = this.cfg;
    if (!fullCfg || this.stopped) return;
    const scoped = scope !== 'all';
    const cfg: Config = scoped
      ? {
          ...fullCfg,
          ipvs: { ...fullCfg.ipvs, services: fullCfg.ipvs.services.filter((s) => scope.has(s.name)) },
        }
      : fullCfg;
    if (scoped && !cfg.ipvs.services.length) return;
    const t0 = Date.now();
    this.counters.reconciles++;
    let desired: DesiredIpvs;
    try {
      desired = desiredIpvs(cfg, this.ctx.facts);
    } catch (err) {
      this.counters.errors++;
      this.lastReconcile = {
        at: new Date().toISOString(),
        ops: 0,
        writes: 0,
        errors: [(err as Error).message],
        durationMs: 0,
        changes: [],
      };
      this.ctx.log.error({ err: (err as Error).message }, 'IPVS desired state invalid; kernel left as is');
      return;
    }
    const tDesired = Date.now();
    const sock = await this.ensureSocket(cfg);
    if (!sock) return;
    await this.loadSchedulers(cfg);
    const wantKeys = new Set(desired.services.map((s) => s.key));
    // Record ownership before creating anything so a crash mid-apply never leaks a service.
    this.owned.save([...this.owned.set, ...wantKeys]);
    const tPrep = Date.now();
    let observed: ObservedIpvs;
    try {
      observed = scoped
        ? await this.observeSome(desired.services.map((s) => s.spec))
        : await this.observe(new Set([...wantKeys, ...this.owned.set]));
    } catch (err) {
      this.counters.errors++;
      this.ctx.log.error({ err: (err as Error).message }, 'IPVS read failed; will retry at the next resync');
      return;
    }
    const tObserve = Date.now();
    // A scoped run never deletes services: it sees only the ones it was asked about.
    const ops = planIpvs(desired, observed, scoped ? new Set() : this.owned.set);
    const tPlan = Date.now();
    const errors: string[] = [];
    if (ops.length) {
      const res = await sock.runWrites(ops.length, (i) => opRequest(ops[i]));
      // Per-write debug lines only when asked for (a cold apply is tens of thousands of writes).
      const debug = this.ctx.log.isLevelEnabled?.('debug') ?? true;
      res.forEach((r, i) => {
        if (r.error) errors.push(r.error.message);
        else if (debug)
          this.ctx.log.debug(
            { op: ops[i].kind, key: ops[i].key, reason: 'reason' in ops[i] ? ops[i].reason : undefined },
            'IPVS write',
          );
      });
      this.counters.writes += ops.length;
      this.counters.errors += errors.length;
      for (const e of errors.slice(0, 20)) this.ctx.log.error({ err: e }, 'IPVS write failed');
      if (errors.length > 20) this.ctx.log.error({ more: errors.length - 20 }, 'more IPVS write failures');
      observed = applyOps(observed, ops, (i) => !res[i].error);
    }
    if (scoped) {
      const merged = new Map(this.observed?.services ?? []);
      for (const [k, v] of observed.services) merged.set(k, v);
      this.observed = { services: merged };
    } else {
      this.observed = observed;
      // Owned from now on: what the config wants, plus owned services still in the kernel (a failed delete).
      const stillThere = [...this.owned.set].filter((k) => observed.services.has(k));
      this.owned.save([...wantKeys, ...stillThere]);
    }
    this.ctx.metrics?.reconcile('ipvs', (Date.now() - t0) / 1000, errors.length === 0);
    this.lastReconcile = {
      at: new Date().toISOString(),
      ops: ops.length,
      writes: ops.length,
      errors,
      durationMs: Date.now() - t0,
      phasesMs: {
        desired: tDesired - t0,
        prepare: tPrep - tDesired,
        observe: tObserve - tPrep,
        plan: tPlan - tObserve,
        apply: Date.now() - tPlan,
      },
      changes: ops.slice(0, 20).map(describeOp),
    };
    if (ops.length) this.ctx.log.info({ writes: ops.length, errors: errors.length }, 'IPVS reconciled');
  }
}
