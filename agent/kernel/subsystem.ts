// KernelSubsystem: the imperative shell. One persistent rtnetlink socket for dumps and writes,
// one for multicast events (watch). Reconciles on start/reload, on fact changes (vrrp:* →
// addresses at once; nexthop:* → routes), on watch events that concern wanted objects, on a
// periodic resync, and on retry with backoff after failures. Reconciles never overlap: requests
// made while one runs are merged into the next run.

import type { Config } from '../config/schema.js';
import { type Fact, factKey } from '../daemon/facts.js';
import type { Subsystem, SubsystemContext } from '../daemon/subsystem.js';
import type { Timer } from '../lib/clock.js';
import { applyOps, describeFailure, type OpFailure } from './apply.js';
import { ObservedCache } from './cache.js';
import { logKernelChanges } from './change-log.js';
import type { LinkInfo } from './codec.js';
import { decodeAddress, decodeNexthop, decodeRoute, NLM_F, RTM } from './codec.js';
import {
  addressKey,
  DEFAULT_ROUTE_PROTOCOL,
  desiredKernelState,
  routeKey,
  vrrpAddresses,
} from './desired.js';
import { formatPlan } from './format.js';
import { observeWith } from './observe.js';
import { planAddressAdds, planKernel } from './plan.js';
import { prepareFrames, SyncRtnlWriter } from './sync-writer.js';
import { applyArpTune } from './sysctl.js';
import { RtnlSocket } from './transport.js';
import type {
  DesiredKernelState,
  KernelOp,
  KernelPlan,
  KernelProblem,
  ObjectState,
  ObservedKernel,
} from './types.js';
import { KernelWatcher, type WatchEvent, type WatchStats } from './watch.js';

export interface ReconcileScope {
  addresses: boolean;
  routes: boolean;
}

const FULL: ReconcileScope = { addresses: true, routes: true };
const RETRY_MIN_MS = 1000;
/** Errors that, on a run planned from the cache, mean the cache was behind the kernel. */
const STALE_CACHE_CODES = new Set(['EEXIST', 'ENOENT', 'ESRCH']);
const RETRY_MAX_MS = 30_000;

export interface KernelStatus {
  protocol: number;
  /** IFA_PROTO ownership marks: supported (seen on our addresses), unsupported (kernel dropped
   * it: ownership falls back to the in-memory record of addresses this process created). */
  addressProto: 'supported' | 'unsupported' | 'unknown';
  objects: ObjectState[];
  problems: KernelProblem[];
  errors: { object: string; code: string; message: string }[];
  arpTune: string[];
  lastReconcile?: {
    at: string;
    durationMs: number;
    /** Where the time went: dumps (or the cache), desired + plan (pure), writes. */
    observeMs?: number;
    /** dump: the kernel was dumped; cache: planned from the observed-state cache. */
    observed?: 'dump' | 'cache';
    planMs?: number;
    applyMs?: number;
    reason: string;
    scope: string;
    planned: number;
    applied: number;
    failed: number;
  };
  retryInMs?: number;
  /** Failed operations since start by errno name (EEXIST, ENETUNREACH, ...). */
  errorsByCode: Record<string, number>;
  /** The rtnetlink listener (child process): subscribed now, times started, and where the echo of
   * our own additions is dropped ('kernel' socket filter or 'child: <why not>'). */
  watch: { running: boolean; starts: number; echoDrop?: string };
  counters: {
    reconciles: number;
    writes: number;
    dumps: number;
    dumpRetries: number;
    failedOps: number;
    restoredByWatch: number;
    /** Times the netlink listener died or overran (each followed by a full resync). */
    watchLost: number;
    malformed: number;
    overruns: number;
    /** Reconciles planned from the observed-state cache (no dump). */
    cachedReconciles: number;
    /** Cache-planned runs that met EEXIST/ENOENT/ESRCH and were planned again from a dump. */
    staleCacheReplans: number;
    /** VIP adds sent ahead of the plan on a VRRP takeover (see sendTakeoverAdds). */
    takeoverFastAdds: number;
    /** Of those, written by the synchronous writer (acked before the fact listener returned). */
    takeoverSyncAdds: number;
  };
}

interface Phases {
  observeMs: number;
  planMs: number;
  applyMs: number;
  observed: 'dump' | 'cache';
}

export class KernelSubsystem implements Subsystem {
  readonly name = 'kernel';
  private cfg?: Config;
  private sock?: RtnlSocket;
  private watch?: KernelWatcher;
  private pendingScope: ReconcileScope | null = null;
  private pendingReason = '';
  /** The pending run must dump (start, periodic resync, retry, listener restarted, links). */
  private pendingDump = false;
  private readonly cache = new ObservedCache();
  /** The desired state of the last run, reused while the config and the facts it reads stand. */
  private desiredMemo?: { cfg: Config; factGen: number; desired: DesiredKernelState };
  private factGen = 0;
  private loop: Promise<void> | null = null;
  private resyncTimer?: Timer;
  private retryTimer?: Timer;
  private retryMs = 0;
  private stopped = true;
  private readonly ownedAddressKeys = new Set<string>();
  private lastDesired?: DesiredKernelState;
  private ifnames = new Map<number, string>();
  private readonly counters = {
    reconciles: 0,
    failedOps: 0,
    restoredByWatch: 0,
    watchLost: 0,
    malformedEvents: 0,
    cachedReconciles: 0,
    staleCacheReplans: 0,
    takeoverFastAdds: 0,
    takeoverSyncAdds: 0,
  };
  private readonly errorsByCode: Record<string, number> = {};
  private wantedAddr = new Set<string>();
  private wantedRoute = new Set<string>();
  private readonly ownDeletes = new Map<string, number>();
  /** vrrp:<name> facts that went up since the last run (their VIP adds go first). */
  private readonly pendingTakeovers = new Set<string>();
  /** Each VRRP instance's VIP adds, planned and encoded ahead of any takeover (rebuilt after a run
   * when the config or the links changed), so that a takeover only copies and sends them. */
  private takeoverPrep?: {
    cfg: Config;
    links: LinkInfo[];
    byFact: Map<string, { op: KernelOp & { op: 'add-address' }; frame: Buffer }[]>;
    /** Instances (fact keys) some of whose VIPs have no interface now: never confirmed. */
    incomplete: Set<string>;
  };
  /** Writes a takeover's VIP adds synchronously (null: koffi unavailable, use the socket). */
  private syncWriter?: SyncRtnlWriter | null;
  private removedSample: string[] = [];
  private removedCount = 0;
  private st: Omit<KernelStatus, 'counters' | 'protocol' | 'errorsByCode' | 'watch'> = {
    addressProto: 'unknown',
    objects: [],
    problems: [],
    errors: [],
    arpTune: [],
  };
  private readonly onFact = (key: string, fact?: Fact) => {
    if (this.stopped) return;
    // bgp:* only matters to VIPs that follow their announcement.
    const bgp = key.startsWith('bgp:') && this.cfg?.vips.some((v) => v.followAnnouncement) === true;
    if (key.startsWith('vrrp:') || key.startsWith('nexthop:') || bgp) this.factGen++;
    if (key.startsWith('vrrp:') && fact?.up === true) this.pendingTakeovers.add(key);
    // Leaving master: that instance's VIPs are no longer confirmed (the plan removes them).
    const vips = key.startsWith('vrrp:') && fact?.up !== true ? factKey.vrrpVips(key.slice(5)) : undefined;
    if (vips && this.ctx.facts.get(vips)?.up) this.ctx.facts.set(vips, { up: false, reason: 'not master' });
    if (key.startsWith('vrrp:') || bgp)
      void this.reconcile({ addresses: true, routes: false }, `fact ${key}`);
    else if (key.startsWith('nexthop:'))
      void this.reconcile({ addresses: false, routes: true }, `fact ${key}`);
  };

  constructor(private readonly ctx: SubsystemContext) {}

  async start(cfg: Config): Promise<void> {
    this.cfg = cfg;
    this.stopped = false;
    this.sock = new RtnlSocket();
    this.cache.invalidate();
    const watch = new KernelWatcher(this.ctx.clock, cfg.kernel.routeProtocol);
    this.watch = watch;
    watch.on('event', (m: WatchEvent) => this.onEvent(m));
    watch.on('lost', (why: string) => {
      this.counters.watchLost++;
      this.cache.invalidate(); // events were missed
      this.ctx.log.warn({ why }, 'kernel: netlink listener lost events; full resync when it is back');
    });
    // Every (re)subscription after the first: events may have been missed, so resync.
    let first = true;
    watch.on('ready', () => {
      if (!first) void this.reconcile(FULL, 'netlink listener restarted', { dump: true });
      first = false;
    });
    if (!(await watch.start()))
      this.ctx.log.warn('kernel: netlink listener did not start; relying on periodic resync');
    this.ctx.facts.on('change', this.onFact);
    await this.reconcile(FULL, 'start', { dump: true });
    this.scheduleResync();
  }

  /** The netlink listener's counters (tests, diagnostics). */
  watchStats(): Promise<WatchStats | undefined> {
    return this.watch?.stats() ?? Promise.resolve(undefined);
  }

  async reload(cfg: Config): Promise<void> {
    if (this.cfg && cfg.kernel.routeProtocol !== this.cfg.kernel.routeProtocol) {
      // Ownership changed: what the cache and the listener knew as ours no longer is.
      this.cache.invalidate();
      await this.watch?.setProtocol(cfg.kernel.routeProtocol);
    }
    this.cfg = cfg;
    await this.reconcile(FULL, 'reload');
    this.scheduleResync();
  }

  async stop(opts: { removeState: boolean }): Promise<void> {
    this.stopped = true;
    this.ctx.facts.off('change', this.onFact);
    this.resyncTimer?.cancel();
    this.retryTimer?.cancel();
    this.watch?.stop();
    this.watch = undefined;
    if (this.loop) await this.loop;
    if (opts.removeState && this.sock && this.cfg) {
      // Plan against "want nothing": deletes exactly what we own.
      const observed = await observeWith(this.sock);
      const empty: DesiredKernelState = {
        protocol: this.cfg.kernel.routeProtocol,
        addresses: [],
        routes: [],
        arpTune: [],
        withdrawnRoutes: [],
      };
      const plan = planKernel(empty, observed, { ownedAddressKeys: this.ownedAddressKeys });
      const res = await applyOps(this.sock, plan.ops, observed.links);
      logKernelChanges(this.ctx.log, 'removeOnStop', plan.ops, new Set(res.failures.map((f) => f.op.key)));
      this.ctx.log.info(
        { removed: res.applied, failed: res.failures.length },
        'kernel: removed owned state on stop',
      );
      for (const f of res.failures) this.ctx.log.warn({ code: f.code }, f.message);
    }
    this.sock?.close();
    this.sock = undefined;
    this.syncWriter?.close();
    this.syncWriter = undefined;
    this.takeoverPrep = undefined;
  }

  /** What applying `cfg` (default: the running config) would do now, with the live facts and
   * ownership record, without applying (`lbctl plan`). */
  async planFor(cfg: Config | undefined = this.cfg): Promise<{ text: string; plan: KernelPlan }> {
    if (!cfg || !this.sock) throw new Error('kernel subsystem is not running');
    const observed = await observeWith(this.sock);
    const plan = planKernel(desiredKernelState(cfg, this.ctx.facts), observed, {
      ownedAddressKeys: this.ownedAddressKeys,
    });
    return { text: formatPlan(plan, observed.links), plan };
  }

  /** Resolves when no reconcile is running or queued (e.g. after publishing a fact). */
  async idle(): Promise<void> {
    // Let every listener of the current event run first: a fact listener registered before ours
    // may call idle() before our own listener has requested the reconcile.
    await new Promise<void>((resolve) => setImmediate(resolve));
    for (let i = 0; i < 100 && this.loop; i++) await this.loop;
  }

  /** Requests a reconcile; resolves when a run that covers this request has finished. It plans
   * from the observed-state cache when that is valid and the listener is running, unless
   * `dump` asks for a fresh view of the kernel. */
  reconcile(scope: ReconcileScope = FULL, reason = 'manual', opts: { dump?: boolean } = {}): Promise<void> {
    if (opts.dump) this.pendingDump = true;
    this.pendingScope = this.pendingScope
      ? {
          addresses: this.pendingScope.addresses || scope.addresses,
          routes: this.pendingScope.routes || scope.routes,
        }
      : { ...scope };
    this.pendingReason = this.pendingReason ? `${this.pendingReason}; ${reason}` : reason;
    if (!this.loop) {
      this.loop = (async () => {
        try {
          for (let i = 0; i < 1000 && this.pendingScope && this.sock; i++) {
            const s = this.pendingScope;
            const why = this.pendingReason;
            const dump = this.pendingDump;
            this.pendingScope = null;
            this.pendingReason = '';
            this.pendingDump = false;
            await this.runOnce(s, why, dump);
          }
        } finally {
          this.loop = null;
        }
      })();
      return this.loop;
    }
    // A run is in progress: the loop picks the merged request up after it.
    return this.loop;
  }

  private async runOnce(scope: ReconcileScope, reason: string, dump: boolean): Promise<void> {
    const cfg = this.cfg;
    const sock = this.sock;
    if (!cfg || !sock || (!scope.addresses && !scope.routes)) return;
    const t0 = this.ctx.clock.now();
    this.counters.reconciles++;
    let ops: KernelOp[] = [];
    let failures: OpFailure[] = [];
    let applied = 0;
    let phases: Phases | undefined;
    try {
      const fromCache = !dump && this.watch?.running === true && this.cache.valid(scope);
      // A VRRP takeover's VIP adds go first, before the plan of everything else (which grows with
      // the config): with nothing else in flight, the kernel has them when this call returns.
      const takeovers = [...this.pendingTakeovers];
      this.pendingTakeovers.clear();
      const fast = fromCache && takeovers.length ? this.sendTakeoverAdds(sock, cfg, takeovers) : undefined;
      // Hand control back to whoever published the fact (the VRRP instance announces its VIPs
      // now that they are in the kernel); the plan of everything else continues in a microtask.
      if (fast) await null;
      let observed: ObservedKernel;
      if (fromCache) {
        observed = this.cache.view();
        this.counters.cachedReconciles++;
      } else {
        observed = await observeWith(sock, scope);
        this.cache.reset(observed, scope);
        this.ifnames = new Map(observed.links.map((l) => [l.index, l.name]));
      }
      const t1 = this.ctx.clock.now();
      if (this.removedCount) {
        this.ctx.log.warn(
          { count: this.removedCount, sample: this.removedSample },
          'kernel: restoring objects removed from outside',
        );
        this.removedCount = 0;
        this.removedSample = [];
      }
      const memo = this.desiredMemo;
      const desired =
        memo && memo.cfg === cfg && memo.factGen === this.factGen
          ? memo.desired
          : desiredKernelState(cfg, this.ctx.facts);
      if (desired !== this.lastDesired) {
        this.desiredMemo = { cfg, factGen: this.factGen, desired };
        this.lastDesired = desired;
        this.wantedAddr = new Set(desired.addresses.map((a) => a.key));
        this.wantedRoute = new Set(desired.routes.map((r) => r.key));
      }
      if (!fromCache) this.noteAddressProto(observed.addresses, desired.protocol);
      const plan = planKernel(desired, observed, {
        ownedAddressKeys: this.ownedAddressKeys,
        addressesOnly: !scope.routes,
      });
      ops = plan.ops;
      const t2 = this.ctx.clock.now();
      if (this.ownDeletes.size > 100_000) this.ownDeletes.clear();
      for (const op of ops) if (op.op.startsWith('del-')) this.ownDeletes.set(op.key, t2);
      const res = ops.length ? await applyOps(sock, ops, observed.links) : { applied: 0, failures: [] };
      applied = res.applied;
      failures = res.failures;
      if (fast) {
        const f = await fast.result;
        applied += f.applied;
        failures = [...f.failures, ...failures];
        ops = [...fast.ops, ...ops];
      }
      const failedKeys = new Set(failures.map((f) => f.op.key));
      // The cache follows what the kernel acknowledged; after a failure the retry dumps.
      if (failures.length) this.cache.invalidate();
      else this.cache.applied(ops, desired.protocol);
      phases = {
        observeMs: t1 - t0,
        planMs: t2 - t1,
        applyMs: this.ctx.clock.now() - t2,
        observed: fromCache ? 'cache' : 'dump',
      };
      for (const op of ops) {
        if (failedKeys.has(op.key)) continue;
        if (op.op === 'add-address') this.ownedAddressKeys.add(op.key);
        if (op.op === 'del-address') this.ownedAddressKeys.delete(op.key);
      }
      // The plan's objects are this run's own: updated in place (thousands on a cold apply).
      const objects: ObjectState[] = [];
      for (const o of plan.objects) {
        const failed = failures.length > 0 && failedKeys.has(o.key);
        if (o.actual === 'stale' && !failed) continue;
        if (failed) o.detail = failures.find((f) => f.op.key === o.key)?.message;
        else if (o.actual === 'missing' || o.actual === 'differs') {
          o.actual = 'ok';
          o.owned = true;
        }
        objects.push(o);
      }
      // An addresses-only run keeps the route/nexthop view of the last full run.
      this.st.objects = scope.routes
        ? objects
        : [...objects, ...this.st.objects.filter((o) => o.kind !== 'address')];
      this.st.problems = plan.problems;
      if (scope.routes) this.st.arpTune = this.applyArp(desired.arpTune);
      for (const f of failures) this.ctx.log.warn({ code: f.code, object: f.op.key }, `kernel: ${f.message}`);
      for (const p of plan.problems) this.ctx.log.debug({ object: p.object }, `kernel: ${p.message}`);
    } catch (err) {
      failures = [];
      this.cache.invalidate();
      this.st.errors = [{ object: 'reconcile', code: 'ERROR', message: (err as Error).message }];
      this.ctx.log.error({ err }, 'kernel: reconcile failed');
      this.scheduleRetry();
      this.recordRun(t0, reason, scope, ops.length, applied, 1);
      return;
    }
    if (phases?.observed === 'cache' && failures.some((f) => STALE_CACHE_CODES.has(f.code))) {
      // The cache was behind the kernel (an event not read yet when we planned): plan again
      // from a dump at once instead of reporting an error and waiting for the backoff.
      this.counters.staleCacheReplans++;
      this.ctx.log.debug({ failed: failures.length }, 'kernel: cache was stale; replanning from a dump');
      this.recordRun(t0, reason, scope, ops.length, applied, failures.length, phases);
      void this.reconcile(scope, 'stale cache', { dump: true });
      return;
    }
    this.counters.failedOps += failures.length;
    for (const f of failures) this.errorsByCode[f.code] = (this.errorsByCode[f.code] ?? 0) + 1;
    this.st.errors = failures.map((f) => ({ object: f.op.key, code: f.code, message: f.message }));
    this.recordRun(t0, reason, scope, ops.length, applied, failures.length, phases);
    // Logged after the run is timed: the duration is the kernel work, not the log sink.
    if (ops.length) {
      const r = this.st.lastReconcile;
      logKernelChanges(this.ctx.log, reason, ops, new Set(failures.map((f) => f.op.key)));
      this.ctx.log.info(
        { reason, planned: ops.length, applied, failed: failures.length, ms: r?.durationMs },
        'kernel: reconciled',
      );
    }
    // Off the takeover path: have the next takeover's requests ready.
    this.prepareTakeovers(cfg);
    if (failures.length) this.scheduleRetry();
    else {
      this.retryMs = 0;
      this.retryTimer?.cancel();
      this.retryTimer = undefined;
      this.st.retryInMs = undefined;
    }
  }

  /** Plans and encodes every VRRP instance's VIP adds for the current config and links, unless
   * that is already done. */
  private prepareTakeovers(cfg: Config): NonNullable<KernelSubsystem['takeoverPrep']> {
    const links = this.cache.linkList();
    const prep = this.takeoverPrep;
    if (prep && prep.cfg === cfg && prep.links === links) return prep;
    const ifindexOf = new Map(links.map((l) => [l.name, l.index]));
    const protocol = cfg.kernel.routeProtocol ?? DEFAULT_ROUTE_PROTOCOL;
    const byFact = new Map<string, { op: KernelOp & { op: 'add-address' }; frame: Buffer }[]>();
    const incomplete = new Set<string>();
    for (const inst of cfg.vrrp.instances) {
      const wanted = vrrpAddresses(inst);
      const ops = planAddressAdds(
        wanted,
        (n) => ifindexOf.get(n),
        () => false,
        protocol,
      ) as (KernelOp & {
        op: 'add-address';
      })[];
      if (ops.length !== wanted.length) incomplete.add(factKey.vrrp(inst.name));
      const frames = prepareFrames(ops);
      byFact.set(
        factKey.vrrp(inst.name),
        ops.map((op, i) => ({ op, frame: frames[i] })),
      );
    }
    this.takeoverPrep = { cfg, links, byFact, incomplete };
    return this.takeoverPrep;
  }

  /** Sends the adds of the taken-over instances' missing VIPs now, and marks them in the cache
   * (the plan that follows then leaves them out; a failure invalidates the cache below). The
   * requests were encoded ahead (prepareTakeovers); the synchronous writer has them acked before
   * this returns, so the instance's gratuitous ARPs can follow at once. */
  private sendTakeoverAdds(
    sock: RtnlSocket,
    cfg: Config,
    keys: string[],
  ): { ops: KernelOp[]; result: Promise<{ applied: number; failures: OpFailure[] }> } | undefined {
    const prep = this.prepareTakeovers(cfg);
    const ops: KernelOp[] = [];
    const frames: Buffer[] = [];
    for (const key of keys) {
      for (const p of prep.byFact.get(key) ?? []) {
        const m = p.op.msg;
        if (this.cache.hasAddress(m.ifindex, m.address, m.prefixLen)) continue;
        ops.push(p.op);
        frames.push(p.frame);
      }
    }
    if (!ops.length) {
      this.confirmTakeovers(keys, prep.incomplete);
      return undefined;
    }
    this.counters.takeoverFastAdds += ops.length;
    const protocol = cfg.kernel.routeProtocol ?? DEFAULT_ROUTE_PROTOCOL;
    if (this.syncWriter === undefined) {
      const w = SyncRtnlWriter.open();
      this.syncWriter = w instanceof Error ? null : w;
      if (w instanceof Error) this.ctx.log.debug({ err: w.message }, 'kernel: no synchronous writer');
    }
    const errnos = this.syncWriter?.write(frames);
    this.cache.applied(ops, protocol); // a failure below invalidates it, as for any write
    if (Array.isArray(errnos)) {
      this.counters.takeoverSyncAdds += ops.length;
      const failures: OpFailure[] = [];
      errnos.forEach((e, i) => {
        if (e !== 0) failures.push(describeFailure(ops[i], e, this.ifnames));
      });
      if (!failures.length) this.confirmTakeovers(keys, prep.incomplete);
      return { ops, result: Promise.resolve({ applied: ops.length - failures.length, failures }) };
    }
    // Not acked (no koffi, or the writer could not tell): the pipelined socket. If the adds did
    // go through, its EEXIST makes the run replan from a dump (stale cache).
    if (errnos) this.ctx.log.debug({ err: errnos.message }, 'kernel: synchronous takeover write');
    const result = applyOps(sock, ops, this.cache.linkList());
    result.catch(() => {}); // awaited by the run; never an unhandled rejection if the run throws first
    return { ops, result };
  }

  /** Publishes `vrrp-vips:<instance>` up for each taken-over instance whose VIPs are all in the
   * kernel now (acked or already there): its gratuitous ARPs can leave without looking. */
  private confirmTakeovers(keys: string[], incomplete: Set<string>): void {
    const since = this.ctx.clock.now();
    for (const key of keys) {
      if (incomplete.has(key) || this.ctx.facts.get(key)?.up !== true) continue;
      this.ctx.facts.set(factKey.vrrpVips(key.slice(5)), { up: true, reason: 'acked by the kernel', since });
    }
  }

  private recordRun(
    t0: number,
    reason: string,
    scope: ReconcileScope,
    planned: number,
    applied: number,
    failed: number,
    phases?: Phases,
  ): void {
    const r3 = (x: number) => Math.round(x * 1000) / 1000;
    this.ctx.metrics?.reconcile('kernel', (this.ctx.clock.now() - t0) / 1000, failed === 0);
    this.st.lastReconcile = {
      at: new Date().toISOString(),
      durationMs: r3(this.ctx.clock.now() - t0),
      observeMs: phases && r3(phases.observeMs),
      planMs: phases && r3(phases.planMs),
      applyMs: phases && r3(phases.applyMs),
      observed: phases?.observed,
      reason,
      scope: scope.routes ? 'full' : 'addresses',
      planned,
      applied,
      failed,
    };
  }

  private applyArp(ifnames: string[]): string[] {
    const done: string[] = [];
    for (const ifname of ifnames) {
      try {
        const changed = applyArpTune(ifname);
        if (changed.length) this.ctx.log.info({ changed }, 'kernel: DSR arp sysctls set');
        done.push(ifname);
      } catch (err) {
        this.st.problems.push({ object: `arpTune ${ifname}`, message: (err as Error).message });
      }
    }
    return done;
  }

  private noteAddressProto(
    addresses: { address: string; prefixLen: number; ifindex: number; proto?: number }[],
    proto: number,
  ): void {
    for (const a of addresses) {
      const key = addressKey(this.ifnames.get(a.ifindex) ?? '', a.address, a.prefixLen);
      if (!this.ownedAddressKeys.has(key)) continue;
      this.st.addressProto =
        a.proto === proto ? 'supported' : a.proto === undefined ? 'unsupported' : this.st.addressProto;
    }
  }

  private scheduleRetry(): void {
    if (this.stopped) return;
    this.retryMs = Math.min(RETRY_MAX_MS, this.retryMs ? this.retryMs * 2 : RETRY_MIN_MS);
    this.st.retryInMs = this.retryMs;
    this.retryTimer?.cancel();
    this.retryTimer = this.ctx.clock.setTimeout(
      () => void this.reconcile(FULL, `retry after ${this.retryMs} ms`, { dump: true }),
      this.retryMs,
    );
  }

  private scheduleResync(): void {
    this.resyncTimer?.cancel();
    if (this.stopped || !this.cfg) return;
    const ms = this.cfg.kernel.resyncInterval;
    this.resyncTimer = this.ctx.clock.setTimeout(() => {
      void this.reconcile(FULL, 'periodic resync', { dump: true }).finally(() => this.scheduleResync());
    }, ms);
  }

  /** Watch: keep the observed-state cache current, and react to events that break what we want
   * (a wanted or owned object deleted, a foreign object out of a wanted route's way, links). */
  private onEvent(m: WatchEvent): void {
    if (this.stopped || !this.lastDesired) return;
    const proto = this.lastDesired.protocol;
    try {
      switch (m.type) {
        case RTM.NEWLINK:
        case RTM.DELLINK:
          // IPv4 flushes a downed device's routes without events: only a dump can tell.
          this.cache.invalidate();
          void this.reconcile(FULL, 'link change', { dump: true });
          return;
        case RTM.NEWADDR: {
          const a = decodeAddress(m.payload);
          if (a) this.cache.addressAdded(a);
          return;
        }
        case RTM.DELADDR: {
          const a = decodeAddress(m.payload);
          const ifname = a && this.ifnames.get(a.ifindex);
          if (!a) return;
          const key = ifname ? addressKey(ifname, a.address, a.prefixLen) : '';
          if (this.isOwnDelete(key)) return;
          this.cache.addressDeleted(a);
          // The last address of a subnet takes the routes through it along, without events.
          this.cache.invalidate('routes');
          if (!this.wantedAddr.has(key)) return;
          this.noteRemoved(key);
          void this.reconcile({ addresses: true, routes: false }, 'watch: address removed');
          return;
        }
        case RTM.NEWROUTE: {
          const r = decodeRoute(m.payload);
          if (r) this.cache.routeAdded(r, (m.flags & NLM_F.REPLACE) !== 0);
          return;
        }
        case RTM.DELROUTE: {
          const r = decodeRoute(m.payload);
          if (!r) return;
          const key = routeKey(r.table, r.dst, r.dstLen, r.metric ?? 0);
          if (r.protocol !== proto) {
            // A foreign route gone: if it was in a wanted route's way, ours can go in now.
            this.cache.routeDeleted(r);
            if (this.wantedRoute.has(key)) void this.reconcile(FULL, 'watch: foreign route removed');
            return;
          }
          if (this.isOwnDelete(key)) return;
          // One of ours removed from outside (maybe one path of a multipath route): dump.
          this.cache.invalidate('routes');
          if (!this.wantedRoute.has(key)) return;
          this.noteRemoved(key);
          void this.reconcile(FULL, 'watch: route removed');
          return;
        }
        case RTM.NEWNEXTHOP: {
          const n = decodeNexthop(m.payload);
          if (n) this.cache.nexthopAdded(n);
          return;
        }
        case RTM.DELNEXTHOP: {
          const n = decodeNexthop(m.payload);
          if (!n) return;
          if (n.protocol !== proto) {
            this.cache.nexthopDeleted(n.id);
            return;
          }
          if (this.isOwnDelete(`id ${n.id}`)) return;
          // Routes and groups using it went with it, without events of their own.
          this.cache.invalidate('routes');
          if (!this.lastDesired.routes.some((r) => r.resilient)) return;
          this.noteRemoved(`nexthop id ${n.id}`);
          void this.reconcile(FULL, 'watch: nexthop removed');
          return;
        }
      }
    } catch {
      this.counters.malformedEvents++; // dropped
      this.cache.invalidate();
    }
  }

  /** The echo of a delete this agent made (events arrive after the ack, maybe after a reload). */
  private isOwnDelete(key: string): boolean {
    const at = this.ownDeletes.get(key);
    if (at === undefined) return false;
    this.ownDeletes.delete(key);
    return this.ctx.clock.now() - at < 30_000;
  }

  private noteRemoved(key: string): void {
    this.counters.restoredByWatch++;
    if (this.removedSample.length < 5) this.removedSample.push(key);
    this.removedCount++;
  }

  status(): KernelStatus {
    const s = this.sock?.counters;
    return {
      protocol: this.cfg?.kernel.routeProtocol ?? 199,
      ...this.st,
      errorsByCode: { ...this.errorsByCode },
      watch: {
        running: this.watch?.running ?? false,
        starts: this.watch?.counters.starts ?? 0,
        echoDrop: this.watch?.echoDrop,
      },
      counters: {
        reconciles: this.counters.reconciles,
        failedOps: this.counters.failedOps,
        restoredByWatch: this.counters.restoredByWatch,
        watchLost: this.counters.watchLost,
        writes: s?.writes ?? 0,
        dumps: s?.dumps ?? 0,
        dumpRetries: s?.dumpRetries ?? 0,
        malformed: (s?.malformed ?? 0) + this.counters.malformedEvents,
        overruns: s?.overruns ?? 0,
        cachedReconciles: this.counters.cachedReconciles,
        staleCacheReplans: this.counters.staleCacheReplans,
        takeoverFastAdds: this.counters.takeoverFastAdds,
        takeoverSyncAdds: this.counters.takeoverSyncAdds,
      },
    };
  }
}
