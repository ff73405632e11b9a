// BgpSubsystem: decides what each announcement should look like (policy.ts) whenever a fact it
// depends on changes, and keeps every connected ExaBGP bridge in sync over the bridge socket.
// Each command carries an id; the bridge relays ExaBGP's done/error ack for it, so status shows
// per prefix whether ExaBGP has taken the current state, and drain can wait for it.
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { AnnouncementConfig, Config } from '../config/schema.js';
import type { Handler } from '../control/server.js';
import type { Fact, Facts } from '../daemon/facts.js';
import type { Subsystem, SubsystemContext } from '../daemon/subsystem.js';
import type { Clock, Timer } from '../lib/clock.js';
import { listenUnix, type UnixListener } from '../lib/unix-socket.js';
import { defaultBridgeSocket } from './bridge.js';
import {
  type AgentToBridge,
  BRIDGE_PROTOCOL_VERSION,
  MAX_BRIDGE_LINE,
  parseBridgeMessage,
} from './bridge-protocol.js';
import { renderCommand, renderWithdraw } from './commands.js';
import {
  type AnnouncementState,
  announcementState,
  type LoadLevel,
  loadAdjust,
  nextLoadLevel,
  type RouteIntent,
  routeIntent,
} from './policy.js';

/** Wall-clock milliseconds with sub-ms precision (comparable across processes on this host). */
export const wallNow = (): number => performance.timeOrigin + performance.now();

export const bgpFactKey = (prefix: string) => `bgp:${prefix}`;

export interface AckInfo {
  ok: boolean;
  at: number;
  /** From the moment the agent decided the change (fact change seen) to the ack. */
  latencyMs: number;
}

interface Entry {
  cfg: AnnouncementConfig;
  state: AnnouncementState;
  reasons: string[];
  intent: RouteIntent;
  command: string;
  /** Wall time the current command was decided. */
  decidedAt: number;
  /** Bridge connection id -> ack of the current command. */
  acks: Map<number, AckInfo>;
  lastAck?: AckInfo;
  stateSince: number;
  /** Bridge connection id -> id of the last command sent for this entry (older acks are stale). */
  lastSentId: Map<number, number>;
}

interface NeighborState {
  state: 'up' | 'down' | 'connected';
  since: number;
  detail?: string;
}

interface BridgeConn {
  id: number;
  sock: Socket;
  ready: boolean;
  pid: number;
  exabgpPid: number;
  connectedAt: number;
  neighbors: Map<string, NeighborState>;
  acks: { done: number; error: number };
}

export interface BgpOptions {
  /** Bridge socket path; default dirname(control.socket)/exabgp.sock. */
  socketPath?: string;
  /** Load for dynamic MED (0..100 CPU percent or a connection count); default: CPU via systeminformation. */
  loadSource?: (metric: 'cpu' | 'connections') => Promise<number | undefined>;
  /** How long stop() waits for withdraw acks when stopGrace is 0. */
  stopAckWaitMs?: number;
}

export interface BgpDrainView {
  total: number;
  /** Announcements whose current (disabled/withdrawn) state ExaBGP acked on every bridge. */
  settled: number;
  pending: string[];
}

export class BgpSubsystem implements Subsystem {
  readonly name = 'bgp';
  private log: Logger;
  private clock: Clock;
  private facts: Facts;
  private cfg?: Config;
  private entries = new Map<string, Entry>();
  private conns = new Map<number, BridgeConn>();
  private outstanding = new Map<number, { key: string; conn: number }>();
  private listener?: UnixListener;
  private socketPath?: string;
  private nextId = 1;
  private nextConn = 1;
  private readySeen = false;
  private recomputeQueued = false;
  private loadLevel: LoadLevel = { level: 0, overloaded: false };
  private loadTimer?: Timer;
  private lastLoad?: number;
  private stopped = false;
  private onFact = (key: string) => this.factChanged(key);
  readonly counters = {
    commandsSent: 0,
    acksDone: 0,
    acksError: 0,
    unknownAcks: 0,
    malformedBridgeMessages: 0,
    resyncs: 0,
  };

  constructor(
    ctx: SubsystemContext,
    private opts: BgpOptions = {},
  ) {
    this.log = ctx.log.child({ subsystem: 'bgp' });
    this.clock = ctx.clock;
    this.facts = ctx.facts;
  }

  async start(cfg: Config): Promise<void> {
    this.stopped = false;
    this.cfg = cfg;
    this.facts.on('change', this.onFact);
    this.recompute();
    this.socketPath = this.opts.socketPath ?? defaultBridgeSocket(cfg.control.socket);
    await this.listen(this.socketPath);
    this.scheduleLoad();
  }

  async reload(cfg: Config): Promise<void> {
    const graceChanged = cfg.bgp.stopGrace !== this.cfg?.bgp.stopGrace;
    this.cfg = cfg;
    this.recompute();
    if (graceChanged)
      for (const c of this.conns.values())
        if (c.ready) this.write(c, { t: 'hello', v: BRIDGE_PROTOCOL_VERSION, graceMs: cfg.bgp.stopGrace });
    this.loadTimer?.cancel();
    this.scheduleLoad();
  }

  async stop(_opts: { removeState: boolean }): Promise<void> {
    this.stopped = true;
    this.facts.off('change', this.onFact);
    this.loadTimer?.cancel();
    // stopGrace 0: withdraw now and wait (bounded) for ExaBGP to ack, so a stopped agent never
    // leaves traffic pointed at it. stopGrace > 0: the bridge keeps the routes that long, then
    // withdraws them itself (a restart within the grace is hitless).
    if ((this.cfg?.bgp.stopGrace ?? 0) === 0 && this.conns.size > 0) {
      const waits: Promise<void>[] = [];
      for (const e of this.entries.values()) {
        if (e.intent.withdraw) continue;
        e.intent = { ...e.intent, withdraw: true };
        e.command = renderWithdraw(e.intent);
        e.decidedAt = wallNow();
        waits.push(this.sendAndWait(e));
      }
      const limit = this.opts.stopAckWaitMs ?? 2000;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(waits), new Promise((r) => (timer = setTimeout(r, limit)))]);
      clearTimeout(timer);
    }
    for (const c of this.conns.values()) c.sock.destroy();
    this.conns.clear();
    await this.listener?.close();
    this.listener = undefined;
  }

  status(): unknown {
    const now = wallNow();
    const list = [...this.entries.values()];
    const announced = list.filter((e) => !e.intent.withdraw).length;
    const acked = list.filter((e) => this.isAcked(e)).length;
    const bridges = [...this.conns.values()].filter((c) => c.ready).length;
    return {
      summary: `${announced}/${list.length} announced, ${acked} acked, ${bridges ? `${bridges} ExaBGP bridge(s)` : 'no ExaBGP bridge'}`,
      socket: this.socketPath,
      stopGraceMs: this.cfg?.bgp.stopGrace ?? 0,
      dynamicMed: this.cfg?.bgp.dynamicMed ? { load: this.lastLoad, ...this.loadLevel } : undefined,
      bridges: [...this.conns.values()].map((c) => ({
        id: c.id,
        pid: c.pid,
        exabgpPid: c.exabgpPid,
        connectedForMs: Math.round(now - c.connectedAt),
        acks: c.acks,
        neighbors: Object.fromEntries(
          [...c.neighbors].map(([n, s]) => [n, { ...s, since: new Date(s.since).toISOString() }]),
        ),
      })),
      announcements: [...this.entries.values()].map((e) => ({
        prefix: e.intent.prefix,
        key: e.intent.key,
        state: e.state,
        reasons: e.reasons,
        announced: !e.intent.withdraw,
        attributes: attributesOf(e.intent),
        command: e.command,
        decidedAt: e.decidedAt,
        acked: this.isAcked(e),
        lastAck: e.lastAck ?? null,
      })),
      counters: this.counters,
    };
  }

  controlHandlers(): Record<string, Handler> {
    return { 'bgp.status': () => this.status() };
  }

  /** For drain progress: how many announcements are in their drained state and acked. */
  drainView(): BgpDrainView {
    const pending: string[] = [];
    let settled = 0;
    for (const e of this.entries.values()) {
      const drained = e.state === 'disabled' || e.state === 'not-ready' || e.intent.withdraw;
      if (drained && this.isAcked(e)) settled++;
      else pending.push(`${e.intent.prefix}: ${drained ? 'waiting for ExaBGP ack' : `state ${e.state}`}`);
    }
    return { total: this.entries.size, settled, pending };
  }

  // ---------- policy ----------

  private factChanged(key: string): void {
    if (key.startsWith('bgp:')) return;
    if (!this.recomputeQueued) {
      this.recomputeQueued = true;
      queueMicrotask(() => {
        this.recomputeQueued = false;
        this.recompute();
      });
    }
  }

  private recompute(): void {
    const cfg = this.cfg;
    if (!cfg) return;
    const readyRequired = cfg.maintenance.readyFile !== undefined;
    if (!readyRequired || this.facts.get('ready')?.up) this.readySeen = true;
    const dyn = cfg.bgp.dynamicMed;
    const load = dyn ? loadAdjust(this.loadLevel, dyn) : undefined;
    const wanted = new Set<string>();
    const now = wallNow();
    for (const a of cfg.bgp.announcements) {
      const d = announcementState(a, this.facts, { readyRequired, readySeen: this.readySeen });
      const intent = routeIntent(a, d.state, d.state === 'up' ? load : undefined);
      wanted.add(intent.key);
      const command = renderCommand(intent);
      const prev = this.entries.get(intent.key);
      if (prev && prev.command === command) {
        prev.cfg = a;
        prev.reasons = d.reasons;
        if (prev.state !== d.state) {
          prev.state = d.state;
          prev.stateSince = now;
        }
        continue;
      }
      // A prefix that was never announced needs no withdraw.
      if (!prev && intent.withdraw) {
        this.entries.set(intent.key, {
          cfg: a,
          state: d.state,
          reasons: d.reasons,
          intent,
          command,
          decidedAt: now,
          acks: new Map(),
          stateSince: now,
          lastSentId: new Map(),
        });
        continue;
      }
      const e: Entry = {
        cfg: a,
        state: d.state,
        reasons: d.reasons,
        intent,
        command,
        decidedAt: now,
        acks: new Map(),
        lastAck: prev?.lastAck,
        stateSince: prev?.state === d.state ? prev.stateSince : now,
        lastSentId: new Map(),
      };
      this.entries.set(intent.key, e);
      this.log.info(
        { event: 'bgp_announcement', prefix: intent.prefix, state: d.state, reasons: d.reasons, command },
        `announcement ${intent.prefix}: ${d.state}`,
      );
      for (const c of this.conns.values()) if (c.ready) this.sendEntry(c, e);
    }
    for (const [key, e] of this.entries) {
      if (wanted.has(key)) continue;
      this.entries.delete(key);
      if (e.intent.withdraw) continue;
      const w: Entry = {
        ...e,
        intent: { ...e.intent, withdraw: true },
        command: renderWithdraw(e.intent),
        acks: new Map(),
        lastSentId: new Map(),
      };
      this.log.info(
        { event: 'bgp_withdraw', prefix: e.intent.prefix },
        `announcement ${e.intent.prefix} removed from config; withdrawing`,
      );
      for (const c of this.conns.values()) if (c.ready) this.sendEntry(c, w);
    }
    this.publishFacts();
  }

  private publishFacts(): void {
    const byPrefix = new Map<string, boolean>();
    for (const e of this.entries.values())
      byPrefix.set(e.intent.prefix, (byPrefix.get(e.intent.prefix) ?? false) || !e.intent.withdraw);
    for (const [prefix, up] of byPrefix)
      this.facts.set(bgpFactKey(prefix), { up, reason: up ? undefined : 'withdrawn' } satisfies Fact);
    for (const [k] of this.facts.entries('bgp:')) if (!byPrefix.has(k.slice(4))) this.facts.delete(k);
  }

  private isAcked(e: Entry): boolean {
    const ready = [...this.conns.values()].filter((c) => c.ready);
    if (ready.length === 0) return false;
    return ready.every((c) => e.acks.get(c.id)?.ok === true);
  }

  // ---------- dynamic MED ----------

  private scheduleLoad(): void {
    const dyn = this.cfg?.bgp.dynamicMed;
    if (!dyn || this.stopped) return;
    this.loadTimer = this.clock.setTimeout(async () => {
      try {
        const v = await (this.opts.loadSource ?? defaultLoadSource)(dyn.metric);
        if (v !== undefined) {
          this.lastLoad = v;
          const next = nextLoadLevel(this.loadLevel, v, dyn);
          if (next.level !== this.loadLevel.level || next.overloaded !== this.loadLevel.overloaded) {
            this.loadLevel = next;
            this.recompute();
          }
        }
      } catch (err) {
        this.log.warn({ err }, 'reading load for dynamic MED failed');
      }
      this.scheduleLoad();
    }, dyn.interval);
  }

  // ---------- bridge socket ----------

  private async listen(path: string): Promise<void> {
    // Same access as the control socket: Debian runs ExaBGP (and so the bridge) as user
    // `exabgp`, which must be in control.group to connect (docs/bgp.md). A live socket (another
    // agent's) or a non-socket file at the path is refused, never unlinked (agent/lib/unix-socket.ts).
    const ctl = this.cfg?.control;
    this.listener = await listenUnix(path, {
      what: 'ExaBGP bridge socket',
      mode: ctl?.mode ?? '0600',
      group: ctl?.group,
      log: this.log,
    });
    this.listener.server.on('connection', (sock) => this.accept(sock));
    this.log.info({ path }, 'ExaBGP bridge socket listening');
  }

  private accept(sock: Socket): void {
    const c: BridgeConn = {
      id: this.nextConn++,
      sock,
      ready: false,
      pid: 0,
      exabgpPid: 0,
      connectedAt: wallNow(),
      neighbors: new Map(),
      acks: { done: 0, error: 0 },
    };
    this.conns.set(c.id, c);
    sock.setEncoding('utf8');
    sock.setNoDelay?.(true);
    let buf = '';
    sock.on('data', (chunk: string) => {
      buf += chunk;
      if (buf.length > MAX_BRIDGE_LINE) {
        this.counters.malformedBridgeMessages++;
        sock.destroy();
        return;
      }
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.trim()) this.fromBridge(c, line);
      }
    });
    sock.on('error', () => {});
    sock.on('close', () => {
      this.conns.delete(c.id);
      for (const [id, o] of this.outstanding) if (o.conn === c.id) this.outstanding.delete(id);
      this.log.info({ bridge: c.id, pid: c.pid }, 'ExaBGP bridge disconnected');
    });
  }

  private fromBridge(c: BridgeConn, line: string): void {
    const msg = parseBridgeMessage(line);
    if (typeof msg === 'string') {
      this.counters.malformedBridgeMessages++;
      this.log.warn({ bridge: c.id, error: msg }, 'dropped malformed bridge message');
      return;
    }
    switch (msg.t) {
      case 'hello':
        c.pid = msg.pid;
        c.exabgpPid = msg.exabgpPid;
        c.ready = true;
        this.log.info(
          { bridge: c.id, pid: c.pid, exabgpPid: c.exabgpPid },
          'ExaBGP bridge connected; sending the whole set',
        );
        this.resync(c);
        return;
      case 'ack': {
        const o = this.outstanding.get(msg.id);
        if (msg.ok) {
          c.acks.done++;
          this.counters.acksDone++;
        } else {
          c.acks.error++;
          this.counters.acksError++;
        }
        if (!o) {
          this.counters.unknownAcks++;
          return;
        }
        this.outstanding.delete(msg.id);
        const e = this.entries.get(o.key);
        // An ack for a superseded command only counts if no newer command is pending.
        if (!e || e.lastSentId.get(c.id) !== msg.id) return;
        const at = wallNow();
        const info: AckInfo = { ok: msg.ok, at, latencyMs: Math.round((at - e.decidedAt) * 1000) / 1000 };
        e.acks.set(c.id, info);
        e.lastAck = info;
        if (!msg.ok)
          this.log.error({ prefix: e.intent.prefix, command: e.command }, 'ExaBGP rejected the command');
        for (const w of this.ackWaiters.get(o.key) ?? []) w();
        return;
      }
      case 'neighbor':
        c.neighbors.set(msg.neighbor, { state: msg.event, since: Date.now(), detail: msg.detail });
        this.log.info({ neighbor: msg.neighbor, event: msg.event, detail: msg.detail }, 'BGP neighbor');
        return;
      case 'shutdown':
        this.log.info({ bridge: c.id }, 'ExaBGP is shutting down');
        return;
      case 'notice':
        this.log.debug({ bridge: c.id, text: msg.text }, 'ExaBGP said');
        return;
    }
  }

  private ackWaiters = new Map<string, Set<() => void>>();

  private sendAndWait(e: Entry): Promise<void> {
    e.acks = new Map();
    return new Promise((resolve) => {
      const set = this.ackWaiters.get(e.intent.key) ?? new Set();
      const done = () => {
        if (this.isAcked(e)) {
          set.delete(done);
          resolve();
        }
      };
      set.add(done);
      this.ackWaiters.set(e.intent.key, set);
      for (const c of this.conns.values()) if (c.ready) this.sendEntry(c, e);
    });
  }

  private resync(c: BridgeConn): void {
    this.counters.resyncs++;
    this.write(c, { t: 'hello', v: BRIDGE_PROTOCOL_VERSION, graceMs: this.cfg?.bgp.stopGrace ?? 0 });
    this.write(c, { t: 'sync-begin' });
    for (const e of this.entries.values()) {
      e.acks.delete(c.id);
      // Withdrawn entries go too: the bridge forgets them, ExaBGP acks a no-op withdraw.
      this.sendEntry(c, e);
    }
    this.write(c, { t: 'sync-end' });
  }

  private sendEntry(c: BridgeConn, e: Entry): void {
    const id = this.nextId++;
    this.outstanding.set(id, { key: e.intent.key, conn: c.id });
    e.lastSentId.set(c.id, id);
    e.acks.delete(c.id);
    this.counters.commandsSent++;
    this.write(c, {
      t: 'cmd',
      id,
      key: e.intent.key,
      cmd: e.command,
      undo: e.intent.withdraw ? undefined : renderWithdraw(e.intent),
    });
  }

  private write(c: BridgeConn, msg: AgentToBridge): void {
    if (!c.sock.destroyed) c.sock.write(`${JSON.stringify(msg)}\n`);
  }
}

function attributesOf(r: RouteIntent): Record<string, unknown> {
  return {
    nextHop: r.nextHop,
    med: r.med,
    localPreference: r.localPreference,
    communities: r.communities.length ? r.communities : undefined,
    largeCommunities: r.largeCommunities.length ? r.largeCommunities : undefined,
    extendedCommunities: r.extendedCommunities.length ? r.extendedCommunities : undefined,
    asPath: r.asPath.length ? r.asPath : undefined,
    pathId: r.pathId,
    neighbors: r.neighbors.length ? r.neighbors : undefined,
  };
}

async function defaultLoadSource(metric: 'cpu' | 'connections'): Promise<number | undefined> {
  const si = await import('systeminformation');
  if (metric === 'cpu') return (await si.currentLoad()).currentLoad;
  const conns = await si.networkConnections();
  return conns.filter((c) => c.state === 'ESTABLISHED').length;
}
