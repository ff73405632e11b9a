// DrainSubsystem: the disable file is the source of truth for maintenance (it survives restarts
// and can be touched by hand). Watched with inotify on its directory (fs.watch) for millisecond
// reaction, with a slow poll as the fallback for missed events or a directory that does not
// exist yet. Publishes facts `drain` {up: !drained, reason} and `ready` {up} (readyFile), plus
// `backend-drain:` facts for manual backend drains; TTL expiry removes the file.
import { type FSWatcher, readFileSync, unlinkSync, watch } from 'node:fs';
import { mkdir, rename, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { ControlFailure, type Handler } from '../control/server.js';
import { type Fact, type Facts, factKey } from '../daemon/facts.js';
import type { Subsystem, SubsystemContext } from '../daemon/subsystem.js';
import type { Clock, Timer } from '../lib/clock.js';
import { type DrainRecord, type DrainState, drainReason, drainState, renderDrainFile } from './file.js';
import { type DrainProgress, drainProgress, forceNeeded, type VrrpInstanceView } from './progress.js';

/** What drain progress reads from the other subsystems (wired by the daemon). */
export interface DrainSources {
  bgp?: () => { total: number; settled: number; pending: string[] };
  vrrp?: () => VrrpInstanceView[];
  activeConnections?: () => number | undefined;
  /** Milliseconds since a packet last arrived for this host's IPVS services. */
  trafficIdleMs?: () => number | undefined;
  /** Manual backend drains (the health subsystem's drainBackend / undrainBackend). */
  backends?: {
    drain(service: string, address: string, port?: number): Fact;
    undrain(service: string, address: string, port?: number): Fact | undefined;
  };
}

function readOrNull(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    // Present but unreadable (EACCES, EISDIR): it exists, so the host is drained.
    return `reason: disable file unreadable (${code})`;
  }
}

export class DrainSubsystem implements Subsystem {
  readonly name = 'drain';
  private log: Logger;
  private clock: Clock;
  private facts: Facts;
  private cfg?: Config;
  private state: DrainState = { drained: false, expired: false };
  private ready?: boolean;
  private drainedSince?: number;
  private connectionsAtStart?: number;
  private watchers = new Map<string, FSWatcher>();
  private pollTimer?: Timer;
  private expiryTimer?: Timer;
  private stopped = false;
  readonly counters = { fileEvents: 0, polls: 0, changes: 0, expiries: 0 };

  constructor(
    ctx: SubsystemContext,
    private sources: DrainSources = {},
  ) {
    this.log = ctx.log.child({ subsystem: 'drain' });
    this.clock = ctx.clock;
    this.facts = ctx.facts;
  }

  setSources(s: DrainSources): void {
    this.sources = { ...this.sources, ...s };
  }

  async start(cfg: Config): Promise<void> {
    this.stopped = false;
    this.cfg = cfg;
    this.setupWatches();
    this.refresh('start');
    this.schedulePoll();
  }

  async reload(cfg: Config): Promise<void> {
    const old = this.cfg?.maintenance;
    this.cfg = cfg;
    const m = cfg.maintenance;
    if (old?.disableFile !== m.disableFile || old?.readyFile !== m.readyFile) {
      for (const w of this.watchers.values()) w.close();
      this.watchers.clear();
      this.setupWatches();
      if (!m.readyFile) {
        this.ready = undefined;
        this.facts.delete(factKey.ready);
      }
    }
    this.refresh('reload');
    this.pollTimer?.cancel();
    this.schedulePoll();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.pollTimer?.cancel();
    this.expiryTimer?.cancel();
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
  }

  get drained(): boolean {
    return this.state.drained;
  }

  status(): unknown {
    const m = this.cfg?.maintenance;
    const r = this.state.record;
    return {
      summary: this.state.drained
        ? `drained${drainReason(this.state) ? ` (${drainReason(this.state)})` : ''}`
        : 'not drained',
      disableFile: m?.disableFile,
      drainTimeoutMs: m?.drainTimeout,
      drained: this.state.drained,
      reason: r?.reason,
      who: r?.who,
      when: r?.when !== undefined ? new Date(r.when).toISOString() : undefined,
      expires: r?.expires !== undefined ? new Date(r.expires).toISOString() : undefined,
      readyFile: m?.readyFile,
      ready: this.ready,
      watching: [...this.watchers.keys()],
      progress: this.progress(),
      counters: this.counters,
    };
  }

  progress(): DrainProgress {
    return drainProgress({
      drained: this.state.drained,
      bgp: this.sources.bgp?.(),
      vrrp: this.sources.vrrp?.(),
      activeConnections: this.sources.activeConnections?.(),
      connectionsAtStart: this.connectionsAtStart,
      idleMs: this.sources.trafficIdleMs?.(),
    });
  }

  controlHandlers(): Record<string, Handler> {
    return {
      'drain.status': () => this.status(),
      'drain.progress': () => this.progress(),
      'drain.set': (p) => this.drain(p),
      'drain.clear': () => this.undrain(),
      'drain.backend': (p) => this.backendDrain(p, true),
      'undrain.backend': (p) => this.backendDrain(p, false),
    };
  }

  /** Writes the disable file (atomically) and applies it at once, without waiting for inotify. */
  async drain(p: Record<string, unknown>): Promise<unknown> {
    const m = this.requireCfg().maintenance;
    const reason = optString(p, 'reason');
    const who = optString(p, 'who');
    const ttlMs = p.ttlMs;
    if (ttlMs !== undefined && (typeof ttlMs !== 'number' || !Number.isFinite(ttlMs) || ttlMs <= 0)) {
      throw new ControlFailure(
        'ttlMs must be a positive number of milliseconds',
        undefined,
        'invalid_params',
      );
    }
    if (p.force !== true && this.sources.vrrp) {
      const f = forceNeeded(this.sources.vrrp());
      if (f.needed) {
        throw new ControlFailure(
          `draining would leave VRRP instance(s) ${f.instances.join(', ')} with no eligible master; use --force`,
          { needForce: true, instances: f.instances },
        );
      }
    }
    const now = Date.now();
    const record: DrainRecord = {
      reason,
      who,
      when: now,
      expires: typeof ttlMs === 'number' ? now + ttlMs : undefined,
    };
    const dir = dirname(m.disableFile);
    await mkdir(dir, { recursive: true });
    const tmp = `${dir}/.${basename(m.disableFile)}.${process.pid}.tmp`;
    await writeFile(tmp, renderDrainFile(record), { mode: 0o644 });
    await rename(tmp, m.disableFile);
    this.refresh('control');
    return this.status();
  }

  async undrain(): Promise<unknown> {
    const m = this.requireCfg().maintenance;
    await unlink(m.disableFile).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw new ControlFailure(`cannot remove ${m.disableFile}: ${err.message}`);
    });
    this.refresh('control');
    return this.status();
  }

  private backendDrain(p: Record<string, unknown>, drained: boolean): unknown {
    const service = optString(p, 'service');
    const address = optString(p, 'address');
    if (!service || !address)
      throw new ControlFailure('service and address are required', undefined, 'invalid_params');
    const port = typeof p.port === 'number' ? p.port : undefined;
    const backends = this.sources.backends;
    if (!backends) throw new ControlFailure('backend drains need the health subsystem, which is not running');
    // The health model owns backend state: a drain sits ahead of the check result there, is
    // persisted across restarts, and undrain ramps the weight up over the service's slowStart.
    try {
      const fact = drained
        ? backends.drain(service, address, port)
        : backends.undrain(service, address, port);
      this.log.info(
        { event: drained ? 'backend_drain' : 'backend_undrain', service, address, port },
        'backend drain changed',
      );
      return { service, address, port, drained, fact: fact ?? null };
    } catch (err) {
      throw new ControlFailure((err as Error).message, undefined, 'invalid_params');
    }
  }

  private requireCfg(): Config {
    if (!this.cfg) throw new ControlFailure('drain subsystem not started');
    return this.cfg;
  }

  // ---------- watching ----------

  private setupWatches(): void {
    const m = this.cfg?.maintenance;
    if (!m) return;
    const dirs = new Set([dirname(m.disableFile), ...(m.readyFile ? [dirname(m.readyFile)] : [])]);
    for (const dir of dirs) {
      if (this.watchers.has(dir)) continue;
      try {
        const names = new Set([basename(m.disableFile), ...(m.readyFile ? [basename(m.readyFile)] : [])]);
        const w = watch(dir, { persistent: false }, (_event, filename) => {
          // filename can be null on some platforms: refresh anyway.
          if (filename === null || names.has(filename.toString())) {
            this.counters.fileEvents++;
            this.refresh('inotify');
          }
        });
        w.on('error', (err) => {
          this.log.warn({ dir, err: err.message }, 'watch failed; relying on polling');
          w.close();
          this.watchers.delete(dir);
        });
        this.watchers.set(dir, w);
      } catch (err) {
        // Directory missing: the poll retries the watch.
        this.log.debug({ dir, err: (err as Error).message }, 'cannot watch directory yet; polling');
      }
    }
  }

  private schedulePoll(): void {
    if (this.stopped) return;
    const ms = this.cfg?.maintenance.pollInterval ?? 5000;
    this.pollTimer = this.clock.setTimeout(() => {
      this.counters.polls++;
      this.setupWatches();
      this.refresh('poll');
      this.schedulePoll();
    }, ms);
  }

  /** Reads both files and publishes what changed. */
  refresh(source: string): void {
    const m = this.cfg?.maintenance;
    if (!m || this.stopped) return;
    const text = readOrNull(m.disableFile);
    let next = drainState(text, Date.now());
    if (next.expired) {
      this.counters.expiries++;
      this.log.info(
        { event: 'drain_expired', file: m.disableFile, record: next.record },
        'drain expired; removing the disable file',
      );
      try {
        // Remove only the file we judged; a new drain written meanwhile has another expiry.
        if (readOrNull(m.disableFile) === text) {
          unlinkSync(m.disableFile);
        }
      } catch (err) {
        this.log.warn(
          { err: (err as Error).message },
          'cannot remove expired disable file; treating host as undrained',
        );
      }
      next = { drained: false, expired: false };
    }
    const changed = next.drained !== this.state.drained || drainReason(next) !== drainReason(this.state);
    this.state = next;
    if (changed) {
      this.counters.changes++;
      if (next.drained && this.drainedSince === undefined) {
        this.drainedSince = Date.now();
        this.connectionsAtStart = this.sources.activeConnections?.();
      }
      if (!next.drained) {
        this.drainedSince = undefined;
        this.connectionsAtStart = undefined;
      }
      this.log.info(
        {
          event: next.drained ? 'host_drained' : 'host_undrained',
          drained: next.drained,
          reason: drainReason(next),
          source,
        },
        next.drained ? 'host drained' : 'host undrained',
      );
    }
    this.facts.set(factKey.drain, { up: !next.drained, reason: drainReason(next) });
    this.scheduleExpiry();
    if (m.readyFile) {
      const ready = readOrNull(m.readyFile) !== null;
      if (ready !== this.ready) this.log.info({ file: m.readyFile, ready, source }, 'ready file');
      this.ready = ready;
      this.facts.set(factKey.ready, { up: ready });
    }
  }

  private scheduleExpiry(): void {
    this.expiryTimer?.cancel();
    this.expiryTimer = undefined;
    const exp = this.state.drained ? this.state.record?.expires : undefined;
    if (exp === undefined) return;
    // Wall-clock expiry, checked again by refresh (the clock may be a FakeClock in tests).
    this.expiryTimer = this.clock.setTimeout(() => this.refresh('expiry'), Math.max(0, exp - Date.now()) + 5);
  }
}

function optString(p: Record<string, unknown>, key: string): string | undefined {
  const v = p[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new ControlFailure(`${key} must be a string`, undefined, 'invalid_params');
  return v;
}
