// The daemon: loads the config, wires subsystems through Facts, serves the control socket,
// and handles signals. Reload validates first and keeps the running config on any error.
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import {
  ConfigError,
  type ConfigIssue,
  type LoadedConfig,
  loadConfigFile,
  parseConfig,
} from '../config/load.js';
import type { Config } from '../config/schema.js';
import { LOG_LEVELS } from '../control/protocol.js';
import { ControlFailure, ControlServer } from '../control/server.js';
import { type Clock, systemClock, type Timer } from '../lib/clock.js';
import { VERSION } from '../version.js';
import { ConfigWatch } from './config-watch.js';
import { Facts, factKey } from './facts.js';
import { acquireInstanceLock, acquireNamespaceGuard, type InstanceLock } from './instance-lock.js';
import { statusLine } from './status-line.js';
import type { Subsystem, SubsystemContext } from './subsystem.js';

/** What subsystems may ask of the daemon itself (metrics read the aggregated status). */
export interface DaemonView {
  status(): Record<string, unknown>;
  subsystem<T extends Subsystem>(name: string): T | undefined;
}

export type SubsystemFactory = (ctx: SubsystemContext, cfg: Config, daemon: DaemonView) => Subsystem[];

export interface DaemonOptions {
  configPath: string;
  log: Logger;
  clock?: Clock;
  /** Builds the subsystems in start order; stop runs in reverse. */
  subsystems: SubsystemFactory;
  /** Called after the first successful reconcile (systemd READY=1) and after each reload. */
  onReady?: (summary: string) => void;
  /**
   * Called when the status line changes between reloads (a drain, a degraded subsystem): systemd's
   * STATUS=. Checked on every drain change and every STATUS_REFRESH_MS.
   */
  onStatus?: (line: string) => void;
  /** Called when a reload (SIGHUP or lbctl reload) begins; onReady follows when it ends. */
  onReloading?: () => void;
}

export interface ReloadOutcome {
  ok: boolean;
  changed: boolean;
  hash: string;
  errors?: ConfigIssue[];
  message: string;
}

export class Daemon implements DaemonView {
  readonly facts = new Facts();
  readonly control: ControlServer;
  private loaded!: LoadedConfig;
  private subsystems: Subsystem[] = [];
  /** Subsystems whose start() was called: stop() stops only these. */
  private started: Subsystem[] = [];
  private lock?: InstanceLock;
  private nsGuard?: { close(): void };
  private startedAt = Date.now();
  private reloads = {
    ok: 0,
    failed: 0,
    last: undefined as undefined | { at: string; ok: boolean; message: string },
  };
  private reloading: Promise<ReloadOutcome> | null = null;
  private reloadsRunning = 0;
  private stopping = false;
  private watch?: ConfigWatch;
  private statusTimer?: Timer;
  private lastStatusLine = '';
  private onFactForStatus = (key: string) => {
    if (key === factKey.drain) this.refreshStatusLine();
  };
  /** Hash of the file the last reload read, accepted or not (the watch skips it). */
  private lastSeenHash = '';

  constructor(private opts: DaemonOptions) {
    this.control = new ControlServer(opts.log);
  }

  get config(): Config {
    return this.loaded.config;
  }

  get log(): Logger {
    return this.opts.log;
  }

  /**
   * Loads the config (throws ConfigError), takes the single-instance lock (throws InstanceLocked),
   * opens the control socket and starts every subsystem. Nothing is written anywhere before the
   * lock is held.
   */
  async start(): Promise<void> {
    this.loaded = await loadConfigFile(this.opts.configPath);
    const cfg = this.loaded.config;
    const lock = acquireInstanceLock(dirname(cfg.control.socket));
    if (lock instanceof Error) {
      this.opts.log.warn(
        { err: lock.message },
        'single-instance lock unavailable; relying on the live-socket check alone',
      );
    } else {
      this.lock = lock;
      if (lock.tookOverFrom)
        this.opts.log.info(
          { lock: lock.path, deadPid: lock.tookOverFrom },
          'took over the lock of a dead agent',
        );
    }
    this.nsGuard = await acquireNamespaceGuard(cfg.kernel.routeProtocol);
    this.opts.log.level = cfg.log.level;
    const ctx: SubsystemContext = {
      log: this.opts.log,
      clock: this.opts.clock ?? systemClock,
      facts: this.facts,
    };
    this.subsystems = this.opts.subsystems(ctx, cfg, this);
    this.registerControl();
    await this.control.listen(cfg.control.socket, cfg.control.mode, cfg.control.group);
    for (const s of this.subsystems) {
      const t0 = performance.now();
      this.started.push(s);
      await s.start(cfg);
      this.opts.log.info({ subsystem: s.name, ms: Math.round(performance.now() - t0) }, 'subsystem started');
    }
    this.opts.log.info(
      {
        version: VERSION,
        config: this.loaded.path,
        hash: this.loaded.hash.slice(0, 12),
        subsystems: this.subsystems.map((s) => s.name),
      },
      'lbagent running',
    );
    this.lastSeenHash = this.loaded.hash;
    this.startWatch(cfg);
    this.lastStatusLine = this.summaryLine();
    this.opts.onReady?.(this.lastStatusLine);
    this.facts.on('change', this.onFactForStatus);
    this.scheduleStatusRefresh();
  }

  private startWatch(cfg: Config): void {
    this.watch?.stop();
    this.watch = undefined;
    if (!cfg.reload.watch) return;
    this.watch = new ConfigWatch(
      {
        path: this.opts.configPath,
        debounceMs: cfg.reload.debounce,
        pollMs: cfg.reload.pollInterval,
        currentHash: () => this.lastSeenHash,
        reload: (why) => {
          this.opts.log.info({ event: 'reload', trigger: why }, 'config file changed; reloading');
          void this.reload();
        },
      },
      this.opts.clock ?? systemClock,
      this.opts.log,
    );
    this.watch.start();
  }

  /** Re-reads the config file. Invalid config: keep running the old one and report why. */
  reload(): Promise<ReloadOutcome> {
    // Reloads are serialised: a SIGHUP during a reload waits for it, then runs once more.
    const run = async (): Promise<ReloadOutcome> => {
      let next: LoadedConfig;
      try {
        next = await loadConfigFile(this.opts.configPath);
      } catch (err) {
        if (err instanceof ConfigError && err.hash) this.lastSeenHash = err.hash;
        const errors =
          err instanceof ConfigError ? err.issues : [{ path: '', message: (err as Error).message }];
        this.reloads.failed++;
        const message = `config rejected, still running ${this.loaded.hash.slice(0, 12)}`;
        this.reloads.last = { at: new Date().toISOString(), ok: false, message };
        this.opts.log.error({ event: 'reload', ok: false, errors }, message);
        return { ok: false, changed: false, hash: this.loaded.hash, errors, message };
      }
      if (next.hash === this.loaded.hash) {
        this.reloads.ok++;
        this.reloads.last = { at: new Date().toISOString(), ok: true, message: 'unchanged' };
        this.opts.log.info({ event: 'reload', ok: true, changed: false }, 'config unchanged');
        return { ok: true, changed: false, hash: next.hash, message: 'config unchanged' };
      }
      const prev = this.loaded;
      this.loaded = next;
      this.lastSeenHash = next.hash;
      if (
        prev.config.reload.watch !== next.config.reload.watch ||
        prev.config.reload.pollInterval !== next.config.reload.pollInterval
      ) {
        this.startWatch(next.config);
      }
      this.opts.log.level = next.config.log.level;
      const failures: string[] = [];
      for (const s of this.subsystems) {
        try {
          await s.reload(next.config);
        } catch (err) {
          failures.push(`${s.name}: ${(err as Error).message}`);
          this.opts.log.error({ event: 'reload', subsystem: s.name, err }, 'subsystem reload failed');
        }
      }
      const ok = failures.length === 0;
      ok ? this.reloads.ok++ : this.reloads.failed++;
      const message = ok
        ? `config ${prev.hash.slice(0, 12)} -> ${next.hash.slice(0, 12)} applied`
        : `config ${next.hash.slice(0, 12)} partly applied: ${failures.join('; ')}`;
      this.reloads.last = { at: new Date().toISOString(), ok, message };
      this.opts.log.info(
        { event: 'reload', ok, changed: true, from: prev.hash.slice(0, 12), to: next.hash.slice(0, 12) },
        message,
      );
      return {
        ok,
        changed: true,
        hash: next.hash,
        message,
        errors: failures.map((f) => ({ path: '', message: f })),
      };
    };
    const notified = async (): Promise<ReloadOutcome> => {
      this.opts.onReloading?.();
      this.reloadsRunning++;
      const r = await run().finally(() => this.reloadsRunning--);
      this.lastStatusLine = this.summaryLine();
      this.opts.onReady?.(this.lastStatusLine);
      return r;
    };
    const chained = (this.reloading ?? Promise.resolve()).then(notified, notified);
    this.reloading = chained;
    return chained;
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.watch?.stop();
    this.statusTimer?.cancel();
    this.facts.off('change', this.onFactForStatus);
    const removeState = this.loaded?.config.kernel.removeOnStop ?? false;
    // Said only when something ran: a start refused for a bad config or a held lock touched nothing.
    if (this.started.length) {
      this.opts.log.info(
        { event: 'stopping', removeState },
        removeState ? 'stopping, removing owned kernel state' : 'stopping, kernel state stays in place',
      );
    }
    for (const s of [...this.started].reverse()) {
      try {
        await s.stop({ removeState });
      } catch (err) {
        this.opts.log.error({ subsystem: s.name, err }, 'subsystem stop failed');
      }
    }
    await this.control.close();
    this.nsGuard?.close();
    this.nsGuard = undefined;
    this.lock?.release();
    this.lock = undefined;
  }

  status(): Record<string, unknown> {
    const subsystems: Record<string, unknown> = {};
    for (const s of this.subsystems) {
      try {
        subsystems[s.name] = s.status();
      } catch (err) {
        subsystems[s.name] = { error: (err as Error).message };
      }
    }
    return {
      version: VERSION,
      pid: process.pid,
      node: this.loaded.config.node.name ?? hostname(),
      config: { path: this.loaded.path, hash: this.loaded.hash },
      uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000),
      reloads: this.reloads,
      facts: Object.fromEntries(this.facts.entries()),
      // The host drain at the top level (`.drain.drained`, `.drain.owner`): what scripts and
      // playbooks check before touching a host.
      ...this.drainBrief(),
      subsystems,
    };
  }

  private drainBrief(): { drain?: unknown } {
    const d = this.subsystem<Subsystem & { brief?: () => unknown }>('drain');
    return d?.brief ? { drain: d.brief() } : {};
  }

  subsystem<T extends Subsystem>(name: string): T | undefined {
    return this.subsystems.find((s) => s.name === name) as T | undefined;
  }

  /** The line systemd shows as Status: (agent/daemon/status-line.ts). */
  summaryLine(): string {
    const subsystems: Record<string, unknown> = {};
    for (const s of this.subsystems) {
      try {
        subsystems[s.name] = s.status();
      } catch (err) {
        subsystems[s.name] = { summary: `status failed: ${(err as Error).message}` };
      }
    }
    return statusLine(subsystems, this.facts.get(factKey.drain), this.reloads.last);
  }

  private scheduleStatusRefresh(): void {
    if (this.stopping) return;
    this.statusTimer = (this.opts.clock ?? systemClock).setTimeout(() => {
      this.refreshStatusLine();
      this.scheduleStatusRefresh();
    }, STATUS_REFRESH_MS);
  }

  /** Sends STATUS= when the line changed (not during a reload: its READY=1 carries the line). */
  private refreshStatusLine(): void {
    if (this.stopping || this.reloadsRunning > 0) return;
    const line = this.summaryLine();
    if (line === this.lastStatusLine) return;
    this.lastStatusLine = line;
    this.opts.onStatus?.(line);
  }

  private registerControl(): void {
    this.control.handle('status', () => this.status());
    this.control.handle('reload', () => this.reload());
    this.control.handle('facts', () => Object.fromEntries(this.facts.entries()));
    // What applying a config (the running one, or one lbctl sends) would change, without
    // applying it. lbctl reads the file and sends its text: the agent (root) never opens a path a
    // socket-group member names, so `lbctl plan -c` cannot be used to read root-only files.
    this.control.handle('plan', async (p) => {
      let cfg = this.loaded.config;
      if (p.config !== undefined) {
        throw new ControlFailure(
          'plan takes the config text (configText), not a path: update lbctl',
          undefined,
          'invalid_params',
        );
      }
      if (p.configText !== undefined) {
        if (typeof p.configText !== 'string')
          throw new ControlFailure('configText must be a string', undefined, 'invalid_params');
        const source = typeof p.source === 'string' ? p.source.slice(0, 200) : '<lbctl plan>';
        try {
          cfg = parseConfig(p.configText, source);
        } catch (err) {
          if (err instanceof ConfigError) throw new ControlFailure(err.message, err.issues, 'invalid_params');
          throw err;
        }
      }
      const plans: Record<string, { text: string; operations: number }> = {};
      for (const s of this.subsystems) {
        const planner = s as { planFor?: (c: Config) => Promise<{ text: string; plan: unknown }> };
        if (!planner.planFor) continue;
        const r = await planner.planFor(cfg);
        plans[s.name] = {
          text: r.text,
          operations: Array.isArray(r.plan) ? r.plan.length : countOps(r.plan),
        };
      }
      return plans;
    });
    this.control.handle('log.level', (p) => {
      const level = p.level;
      const levels = LOG_LEVELS;
      if (level === undefined) return { level: this.opts.log.level };
      if (typeof level !== 'string' || !levels.includes(level)) {
        throw new ControlFailure(`level must be one of ${levels.join(', ')}`, undefined, 'invalid_params');
      }
      const from = this.opts.log.level;
      this.opts.log.level = level;
      this.opts.log.info({ event: 'log_level', from, to: level }, 'log level changed');
      return { level, from };
    });
    for (const s of this.subsystems) {
      const handlers = (
        s as { controlHandlers?: () => Record<string, (p: Record<string, unknown>) => unknown> }
      ).controlHandlers?.();
      for (const [method, fn] of Object.entries(handlers ?? {})) this.control.handle(method, fn);
    }
  }
}

/** How often the status line is recomputed for changes no event announces (IPVS coming and going). */
const STATUS_REFRESH_MS = 5000;

function countOps(plan: unknown): number {
  const ops = (plan as { ops?: unknown[] })?.ops;
  return Array.isArray(ops) ? ops.length : 0;
}
