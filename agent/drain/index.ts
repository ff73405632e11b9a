// DrainSubsystem: the disable file is the source of truth for maintenance (it survives restarts
// and can be touched by hand). Watched with inotify on its directory and the directory's parent
// chain (agent/drain/watch.ts: a removed and re-created directory is watched again), with a slow
// poll as the fallback. Read only through agent/drain/read.ts: lstat first, a non-regular file
// (FIFO, directory, symlink, device) means drained without opening it, at most 4 KiB read,
// asynchronously, and only when the file changed. Publishes facts `drain` {up: !drained, reason}
// and `ready` {up} (readyFile), plus `backend-drain:` facts for manual backend drains; TTL expiry
// removes the file. Drains may have an owner (`owner:` in the file): only that owner (or
// --force) undrains them. Writes are durable before the ack (agent/lib/durable-file.ts).
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { ControlFailure, type Handler } from '../control/server.js';
import { type Fact, type Facts, factKey } from '../daemon/facts.js';
import type { Subsystem, SubsystemContext } from '../daemon/subsystem.js';
import type { Clock, Timer } from '../lib/clock.js';
import { unlinkDurable, writeFileDurable } from '../lib/durable-file.js';
import {
  type DrainRecord,
  type DrainState,
  describeDrain,
  drainReason,
  drainState,
  renderDrainFile,
  validOwner,
} from './file.js';
import { fetchPeers, uncovered } from './peers.js';
import { type DrainProgress, drainProgress, type VrrpInstanceView } from './progress.js';
import { type FileSnapshot, probePath, readSnapshot } from './read.js';
import { ChainWatcher } from './watch.js';

/** What drain progress reads from the other subsystems (wired by the daemon). */
export interface DrainSources {
  bgp?: () => { total: number; settled: number; pending: string[]; notes?: string[]; onWire?: string[] };
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

/** The drain as `lbctl status --json` shows it at the top level (`.drain`), for scripts. */
export interface DrainBrief {
  drained: boolean;
  owner: string | null;
  reason: string | null;
  who: string | null;
  since: string | null;
  expires: string | null;
}

/** Drain state of a snapshot: a file we did not read is a drain without details. */
function stateOf(snap: FileSnapshot, now: number): DrainState {
  if (!snap.present) return drainState(null, now);
  if (snap.text === undefined)
    return {
      drained: true,
      record: { reason: `disable file present (${snap.unread ?? 'unreadable'}; content not read)` },
      expired: false,
    };
  return drainState(snap.text, now);
}

export class DrainSubsystem implements Subsystem {
  readonly name = 'drain';
  private log: Logger;
  private clock: Clock;
  private facts: Facts;
  private cfg?: Config;
  private state: DrainState = { drained: false, expired: false };
  private snapshot: FileSnapshot = { present: false };
  private ready?: boolean;
  private drainedSince?: number;
  private connectionsAtStart?: number;
  private watcher: ChainWatcher;
  private pollTimer?: Timer;
  private expiryTimer?: Timer;
  private stopped = false;
  private refreshing?: Promise<void>;
  private refreshAgain?: string;
  readonly counters = { fileEvents: 0, polls: 0, changes: 0, expiries: 0, fileReads: 0, watchErrors: 0 };

  constructor(
    ctx: SubsystemContext,
    private sources: DrainSources = {},
  ) {
    this.log = ctx.log.child({ subsystem: 'drain' });
    this.clock = ctx.clock;
    this.facts = ctx.facts;
    this.watcher = new ChainWatcher(
      (source) => {
        this.counters.fileEvents++;
        void this.refresh(source);
      },
      (dir, message) => {
        this.counters.watchErrors++;
        this.log.warn(
          { event: 'drain_watch_failed', dir, err: message },
          'watch failed; re-arming, polling meanwhile',
        );
      },
    );
  }

  setSources(s: DrainSources): void {
    this.sources = { ...this.sources, ...s };
  }

  async start(cfg: Config): Promise<void> {
    this.stopped = false;
    this.cfg = cfg;
    await this.watcher.setTargets(this.targets());
    await this.refresh('start');
    this.schedulePoll();
  }

  async reload(cfg: Config): Promise<void> {
    const old = this.cfg?.maintenance;
    this.cfg = cfg;
    const m = cfg.maintenance;
    if (old?.disableFile !== m.disableFile || old?.readyFile !== m.readyFile) {
      if (old?.disableFile !== m.disableFile) this.snapshot = { present: false };
      await this.watcher.setTargets(this.targets());
      if (!m.readyFile) {
        this.ready = undefined;
        this.facts.delete(factKey.ready);
      }
    }
    await this.refresh('reload');
    this.pollTimer?.cancel();
    this.schedulePoll();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.pollTimer?.cancel();
    this.expiryTimer?.cancel();
    this.watcher.close();
    await this.refreshing;
  }

  get drained(): boolean {
    return this.state.drained;
  }

  private targets(): string[] {
    const m = this.cfg?.maintenance;
    if (!m) return [];
    return [m.disableFile, ...(m.readyFile ? [m.readyFile] : [])];
  }

  /** The top-level `.drain` of `lbctl status --json`: stable keys, null when absent. */
  brief(): DrainBrief {
    const r = this.state.drained ? this.state.record : undefined;
    return {
      drained: this.state.drained,
      owner: r?.owner ?? null,
      reason: r?.reason ?? null,
      who: r?.who ?? null,
      since: r?.when !== undefined ? new Date(r.when).toISOString() : null,
      expires: r?.expires !== undefined ? new Date(r.expires).toISOString() : null,
    };
  }

  status(): unknown {
    const m = this.cfg?.maintenance;
    const r = this.state.record;
    const watching = this.watcher.watching();
    const fileDir = m ? dirname(m.disableFile) : undefined;
    const inotify = watching.some((w) => w.dir === fileDir);
    return {
      summary: this.state.drained
        ? `drained${drainReason(this.state) ? ` (${drainReason(this.state)})` : ''}`
        : 'not drained',
      disableFile: m?.disableFile,
      disableFileKind: this.snapshot.present ? this.snapshot.kind : null,
      drainTimeoutMs: m?.drainTimeout,
      drained: this.state.drained,
      owner: r?.owner,
      reason: r?.reason,
      who: r?.who,
      when: r?.when !== undefined ? new Date(r.when).toISOString() : undefined,
      expires: r?.expires !== undefined ? new Date(r.expires).toISOString() : undefined,
      readyFile: m?.readyFile,
      ready: this.ready,
      // Live inotify watches only (a directory removed under its watch is not listed).
      watching: watching.map((w) => w.dir),
      watches: watching,
      detection: inotify
        ? 'inotify'
        : `poll every ${m?.pollInterval ?? 0} ms (${fileDir} does not exist or cannot be watched)`,
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
      'drain.clear': (p) => this.undrain(p ?? {}),
      'drain.backend': (p) => this.backendDrain(p, true),
      'undrain.backend': (p) => this.backendDrain(p, false),
    };
  }

  /**
   * Drains the host: writes the disable file durably (fsync + rename + directory fsync) before
   * answering, and applies it at once. An existing drain is never overwritten: with an owner,
   * the same owner's drain is kept (ok) and anyone else's is refused; without one, the existing
   * drain is kept as it is.
   */
  async drain(p: Record<string, unknown>): Promise<unknown> {
    const m = this.requireCfg().maintenance;
    const reason = optString(p, 'reason');
    const who = optString(p, 'who');
    const owner = optOwner(p);
    const ttlMs = p.ttlMs;
    if (ttlMs !== undefined && (typeof ttlMs !== 'number' || !Number.isFinite(ttlMs) || ttlMs <= 0)) {
      throw new ControlFailure(
        'ttlMs must be a positive number of milliseconds',
        undefined,
        'invalid_params',
      );
    }
    await this.refresh('control');
    if (this.state.drained) {
      const cur = this.state.record;
      if (owner !== undefined && cur?.owner !== owner)
        throw new ControlFailure(
          `host is already drained by someone else (${describeDrain(cur)}); not changed`,
          { drainedBy: this.brief() },
        );
      // Same owner, or no owner asked: the drain in place stays exactly as it is.
      return { ...(this.status() as object), kept: true };
    }
    if (p.force !== true) await this.guard();
    const now = Date.now();
    const record: DrainRecord = {
      owner,
      reason,
      who,
      when: now,
      expires: typeof ttlMs === 'number' ? now + ttlMs : undefined,
    };
    try {
      await mkdir(dirname(m.disableFile), { recursive: true });
      await writeFileDurable(m.disableFile, renderDrainFile(record), 0o644);
    } catch (err) {
      throw new ControlFailure(`cannot write ${m.disableFile}: ${(err as Error).message}`);
    }
    this.log.info(
      { event: 'drain_requested', file: m.disableFile, owner, reason, who, expires: record.expires },
      'drain written',
    );
    await this.refresh('control');
    return this.status();
  }

  /**
   * Undrains: removes the disable file (durably) if the caller may: its owner, anyone when the
   * drain has no owner, or --force. Not drained is success (nothing to do).
   */
  async undrain(p: Record<string, unknown>): Promise<unknown> {
    const m = this.requireCfg().maintenance;
    const owner = optOwner(p);
    const force = p.force === true;
    await this.refresh('control');
    if (!this.state.drained) return { ...(this.status() as object), kept: true };
    const cur = this.state.record;
    if (!force) {
      if (owner !== undefined && cur?.owner !== owner)
        throw new ControlFailure(
          `host is drained by someone else (${describeDrain(cur)}); not undrained (use --force to remove it anyway)`,
          { drainedBy: this.brief() },
        );
      if (owner === undefined && cur?.owner !== undefined)
        throw new ControlFailure(
          `host is drained by owner ${cur.owner} (${describeDrain(cur)}); undrain with --owner ${cur.owner}, or --force`,
          { drainedBy: this.brief() },
        );
    }
    // Remove only the file we judged: a drain written meanwhile is someone else's decision.
    const judged = this.snapshot;
    const now = await probePath(m.disableFile);
    if (now.present && judged.present && now.identity !== judged.identity)
      throw new ControlFailure(`${m.disableFile} changed while undraining; not removed, try again`);
    try {
      await unlinkDurable(m.disableFile);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code !== 'ENOENT') throw new ControlFailure(`cannot remove ${m.disableFile}: ${e.message}`);
    }
    this.log.info(
      { event: 'undrain_requested', file: m.disableFile, owner, force, drainOwner: cur?.owner },
      'disable file removed',
    );
    await this.refresh('control');
    return this.status();
  }

  /**
   * Refuses a drain that would take the last host out: with `maintenance.peers`, every prefix
   * this host has on the wire must be on the wire at a peer in service, and every VRRP instance
   * it is master of needs a peer in service (agent/drain/peers.ts). Without peers there is
   * nothing to ask, and nothing is promised.
   */
  private async guard(): Promise<void> {
    const peers = this.cfg?.maintenance.peers ?? [];
    if (peers.length === 0) return;
    const local = {
      onWire: this.sources.bgp?.().onWire ?? [],
      vrrpMasters: (this.sources.vrrp?.() ?? []).filter((v) => v.master).map((v) => v.name),
    };
    if (local.onWire.length === 0 && local.vrrpMasters.length === 0) return;
    const problems = uncovered(local, await fetchPeers(peers));
    if (problems.length === 0) return;
    this.log.warn({ event: 'drain_refused', problems }, 'drain refused: no peer in service would take over');
    throw new ControlFailure(
      `draining would take the last host out (use --force to drain anyway):\n${problems.join('\n')}`,
      { needForce: true, problems },
    );
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

  // ---------- polling ----------

  private schedulePoll(): void {
    if (this.stopped) return;
    const ms = this.cfg?.maintenance.pollInterval ?? 5000;
    this.pollTimer = this.clock.setTimeout(() => {
      this.counters.polls++;
      // A missed event or a re-created directory: plan the watches again, then look.
      void this.watcher.replan().then(() => this.refresh('poll'));
      this.schedulePoll();
    }, ms);
  }

  /**
   * Looks at both files and publishes what changed. Serialised: a refresh asked for while one
   * runs makes one more run after it (the caller's promise covers that run too).
   */
  refresh(source: string): Promise<void> {
    if (this.refreshing) {
      this.refreshAgain = source;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      try {
        let next: string | undefined = source;
        while (next !== undefined && !this.stopped) {
          this.refreshAgain = undefined;
          await this.refreshOnce(next);
          next = this.refreshAgain;
        }
      } catch (err) {
        this.log.error({ err }, 'drain refresh failed');
      } finally {
        this.refreshing = undefined;
      }
    })();
    return this.refreshing;
  }

  private async refreshOnce(source: string): Promise<void> {
    const m = this.cfg?.maintenance;
    if (!m || this.stopped) return;
    const prevSnap = this.snapshot;
    const snap = await readSnapshot(m.disableFile, prevSnap);
    if (snap !== prevSnap && snap.present && snap.text !== undefined) this.counters.fileReads++;
    this.snapshot = snap;
    let next = stateOf(snap, Date.now());
    if (next.expired) {
      this.counters.expiries++;
      this.log.info(
        { event: 'drain_expired', file: m.disableFile, record: next.record },
        'drain expired; removing the disable file',
      );
      try {
        // Remove only the file we judged; a new drain written meanwhile has another expiry.
        const again = await probePath(m.disableFile);
        if (again.present && snap.present && again.identity === snap.identity)
          await unlinkDurable(m.disableFile);
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
          file: m.disableFile,
          drained: next.drained,
          owner: next.record?.owner,
          reason: drainReason(next),
          source,
        },
        next.drained ? 'host drained' : 'host undrained',
      );
    }
    this.facts.set(factKey.drain, { up: !next.drained, reason: drainReason(next) });
    this.scheduleExpiry();
    if (m.readyFile) {
      // Only its existence matters: never opened (a FIFO there must not block us either).
      const ready = (await probePath(m.readyFile)).present;
      if (ready !== this.ready)
        this.log.info({ event: 'ready_file', file: m.readyFile, ready, source }, 'ready file');
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
    this.expiryTimer = this.clock.setTimeout(
      () => void this.refresh('expiry'),
      Math.max(0, exp - Date.now()) + 5,
    );
  }
}

function optOwner(p: Record<string, unknown>): string | undefined {
  const o = optString(p, 'owner');
  if (o !== undefined && !validOwner(o))
    throw new ControlFailure(
      `owner "${o.slice(0, 100)}" is not a valid name (letters, digits and . _ @ : / -, up to 100)`,
      undefined,
      'invalid_params',
    );
  return o;
}

function optString(p: Record<string, unknown>, key: string): string | undefined {
  const v = p[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new ControlFailure(`${key} must be a string`, undefined, 'invalid_params');
  return v;
}
