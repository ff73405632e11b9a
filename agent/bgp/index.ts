// BgpSubsystem: decides what each announcement should look like (policy.ts) whenever a fact it
// depends on changes, and keeps every connected ExaBGP bridge in sync over the bridge socket.
//
// What is reported as "on the wire" is checked, not assumed. ExaBGP's `done` only says a line
// was parsed: a route of a family no neighbor carries is acked and silently never sent, and
// ExaBGP 4.2.21's outgoing RIB sends *both* of two changes of one prefix queued before its peer
// loop runs, in insertion order (an announce replaced by one with other attributes is not
// removed from the pending set), so a router can end on the older one. So, per bridge, changes
// go out in cycles: at most one command per prefix per cycle (the latest state; intermediate
// states are coalesced away), then - after every ack of the cycle - ExaBGP is asked for its
// neighbors and its adj-rib-out (`show neighbor extensive`, `show adj-rib out extensive`), and
// the next cycle starts only after that answer. ExaBGP answers a command after its peers ran
// once more, so each cycle's changes have left the pending set before the next is sent.
// A prefix is "on the wire" when ExaBGP's adj-rib-out holds exactly its intent for a neighbor
// whose session is established with the prefix's family negotiated; "rejected" when no neighbor
// has the family configured (logged, in status and /metrics).
import { chmod, chown, lstat, mkdir, unlink } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import type { AnnouncementConfig, Config } from '../config/schema.js';
import type { Handler } from '../control/server.js';
import type { Fact, Facts } from '../daemon/facts.js';
import type { Subsystem, SubsystemContext } from '../daemon/subsystem.js';
import type { Clock, Timer } from '../lib/clock.js';
import { lookupGroupId } from '../lib/nss.js';
import { claimSocketPath } from '../lib/unix-socket.js';
import { defaultBridgeSocket } from './bridge.js';
import {
  type AgentToBridge,
  BRIDGE_PROTOCOL_VERSION,
  MAX_BRIDGE_REPLY_LINE,
  parseBridgeMessage,
} from './bridge-protocol.js';
import { renderCommand, renderWithdraw } from './commands.js';
import {
  type ExabgpNeighbor,
  familyOf,
  liveTargets,
  parseAdjRibOut,
  parseNeighborExtensive,
  type Verdict,
  verifyIntent,
} from './exabgp-show.js';
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

/** How often the bridge socket path is checked (re-created when removed) and neighbors re-read. */
export const SOCKET_CHECK_MS = 2000;
export const NEIGHBOR_REFRESH_MS = 10_000;
/** A cycle ExaBGP does not finish answering in this long is abandoned (logged) and restarted. */
export const CYCLE_TIMEOUT_MS = 15_000;
/** A command whose adj-rib-out check disagrees is sent again at most this many times. */
export const MAX_RESENDS = 3;

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
  lastAck?: AckInfo;
  stateSince: number;
  /** Gone from the config: withdrawn, then forgotten once every bridge verified the withdraw. */
  removed?: boolean;
}

type Check = Verdict | { kind: 'unverified'; detail: string };

/** What one bridge's ExaBGP was told for one key, and what came of it. */
interface Sent {
  command: string;
  intent: RouteIntent;
  id: number;
  decidedAt: number;
  ack?: AckInfo;
  check?: Check;
  attempts: number;
  resend?: boolean;
}

interface NeighborEvent {
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
  caps: Set<string>;
  /** Session states as ExaBGP's neighbor-changes reported them. */
  events: Map<string, NeighborEvent>;
  /** `show neighbor extensive` (undefined until the first answer). */
  neighbors?: ExabgpNeighbor[];
  neighborsStale: boolean;
  needCheck: boolean;
  synced: boolean;
  sent: Map<string, Sent>;
  phase: 'idle' | 'sending' | 'checking';
  inflight: Set<number>;
  queries: Map<number, 'neighbors' | 'rib'>;
  cycleTimer?: Timer;
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
  /** Announcements whose drained state is in every bridge's ExaBGP (checked), or never on the wire. */
  settled: number;
  pending: string[];
  /** Settled announcements worth a word (never on the wire: rejected). */
  notes?: string[];
  /** Prefixes on the wire now (what a drain of this host takes away). */
  onWire?: string[];
}

/** One announcement on one bridge. */
export type WireState =
  | 'pending'
  | 'error'
  | 'rejected'
  | 'mismatch'
  | 'on-wire'
  | 'no-session'
  | 'withdrawn'
  | 'unverified';

const SETTLED: WireState[] = ['on-wire', 'no-session', 'withdrawn', 'unverified'];

export class BgpSubsystem implements Subsystem {
  readonly name = 'bgp';
  private log: Logger;
  private clock: Clock;
  private facts: Facts;
  private cfg?: Config;
  private entries = new Map<string, Entry>();
  private conns = new Map<number, BridgeConn>();
  private outstanding = new Map<number, { key: string; conn: number }>();
  private server?: Server;
  private socketPath?: string;
  private socketIno?: number;
  private socketWarned = false;
  private tickTimer?: Timer;
  private ticks = 0;
  private nextId = 1;
  private nextConn = 1;
  private readySeen = false;
  private recomputeQueued = false;
  private loadLevel: LoadLevel = { level: 0, overloaded: false };
  private loadTimer?: Timer;
  private lastLoad?: number;
  private stopped = false;
  private waiters = new Set<() => void>();
  private lastWire = new Map<string, string>();
  private onFact = (key: string) => this.factChanged(key);
  readonly counters = {
    commandsSent: 0,
    acksDone: 0,
    acksError: 0,
    unknownAcks: 0,
    malformedBridgeMessages: 0,
    resyncs: 0,
    cycles: 0,
    /** States that never went out: replaced by a newer one while a cycle was in flight. */
    coalesced: 0,
    /** Changes held for the next cycle (another change of the same prefix was in this one). */
    deferred: 0,
    checks: 0,
    mismatches: 0,
    cycleTimeouts: 0,
    socketRecreated: 0,
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
    this.scheduleTick();
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
    // SIGHUP is what an operator tries when ExaBGP cannot connect: make sure the socket is there.
    await this.checkSocket();
  }

  async stop(_opts: { removeState: boolean }): Promise<void> {
    this.stopped = true;
    this.facts.off('change', this.onFact);
    this.loadTimer?.cancel();
    this.tickTimer?.cancel();
    // stopGrace 0: withdraw now and wait (bounded) for ExaBGP to take it, so a stopped agent never
    // leaves traffic pointed at it. stopGrace > 0: the bridge keeps the routes that long, then
    // withdraws them itself (a restart within the grace is hitless).
    if ((this.cfg?.bgp.stopGrace ?? 0) === 0 && [...this.conns.values()].some((c) => c.ready)) {
      const now = wallNow();
      for (const e of this.entries.values()) {
        if (e.intent.withdraw) continue;
        e.intent = { ...e.intent, withdraw: true };
        e.command = renderWithdraw(e.intent);
        e.decidedAt = now;
      }
      this.kickAll();
      await this.waitFor(
        () => [...this.entries.values()].every((e) => this.acked(e) || this.wire(e).rejected),
        this.opts.stopAckWaitMs ?? 2000,
      );
    }
    for (const c of this.conns.values()) {
      c.cycleTimer?.cancel();
      c.sock.destroy();
    }
    this.conns.clear();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = undefined;
    if (this.socketPath && (await this.socketIsOurs())) await unlink(this.socketPath).catch(() => {});
  }

  status(): unknown {
    const now = wallNow();
    const live = [...this.entries.values()].filter((e) => !e.removed);
    const announced = live.filter((e) => !e.intent.withdraw).length;
    const acked = live.filter((e) => this.acked(e)).length;
    const onWire = live.filter((e) => this.wire(e).onWire).length;
    const rejected = live.filter((e) => this.wire(e).rejected).length;
    const bridges = [...this.conns.values()].filter((c) => c.ready).length;
    return {
      summary:
        `${announced}/${live.length} announced, ${acked} acked, ${onWire} on the wire` +
        `${rejected ? `, ${rejected} REJECTED` : ''}, ${bridges ? `${bridges} ExaBGP bridge(s)` : 'no ExaBGP bridge'}`,
      socket: this.socketPath,
      socketListening: this.socketIno !== undefined,
      stopGraceMs: this.cfg?.bgp.stopGrace ?? 0,
      dynamicMed: this.cfg?.bgp.dynamicMed ? { load: this.lastLoad, ...this.loadLevel } : undefined,
      bridges: [...this.conns.values()].map((c) => ({
        id: c.id,
        pid: c.pid,
        exabgpPid: c.exabgpPid,
        connectedForMs: Math.round(now - c.connectedAt),
        checks: c.caps.has('query'),
        acks: c.acks,
        neighbors: Object.fromEntries([...this.neighborView(c)]),
      })),
      announcements: [...this.entries.values()].map((e) => {
        const w = this.wire(e);
        return {
          prefix: e.intent.prefix,
          key: e.intent.key,
          state: e.state,
          reasons: e.reasons,
          announced: !e.intent.withdraw,
          removed: e.removed || undefined,
          attributes: attributesOf(e.intent),
          command: e.command,
          decidedAt: e.decidedAt,
          acked: this.acked(e),
          onWire: w.onWire,
          rejected: w.rejected,
          wire: w.text,
          lastAck: e.lastAck ?? null,
        };
      }),
      counters: this.counters,
    };
  }

  controlHandlers(): Record<string, Handler> {
    return { 'bgp.status': () => this.status() };
  }

  /** For drain progress: how many announcements are in their drained state, checked in ExaBGP. */
  drainView(): BgpDrainView {
    const pending: string[] = [];
    const notes: string[] = [];
    let settled = 0;
    for (const e of this.entries.values()) {
      const drained = e.state === 'disabled' || e.state === 'not-ready' || e.intent.withdraw;
      const w = this.wire(e);
      if (drained && w.rejected) {
        settled++;
        notes.push(`${e.intent.prefix}: never on the wire (${w.text})`);
      } else if (drained && this.acked(e)) settled++;
      else pending.push(`${e.intent.prefix}: ${drained ? w.text : `state ${e.state}`}`);
    }
    const onWire = [...this.entries.values()]
      .filter((e) => !e.removed && this.wire(e).onWire)
      .map((e) => e.intent.prefix);
    return { total: this.entries.size, settled, pending, notes, onWire: [...new Set(onWire)] };
  }

  /** Per neighbor: 1 while its session is established (for lbagent_bgp_session_up). */
  sessions(): Map<string, boolean> {
    const m = new Map<string, boolean>();
    for (const c of this.conns.values())
      if (c.ready)
        for (const [peer, v] of this.neighborView(c)) m.set(peer, (m.get(peer) ?? false) || v.state === 'up');
    return m;
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
    if (!cfg || this.stopped) return;
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
      if (prev && !prev.removed && prev.command === command) {
        prev.cfg = a;
        prev.reasons = d.reasons;
        if (prev.state !== d.state) {
          prev.state = d.state;
          prev.stateSince = now;
        }
        continue;
      }
      if (prev && !prev.removed)
        for (const c of this.conns.values())
          if (c.ready && c.sent.get(intent.key)?.command !== prev.command) {
            this.counters.coalesced++;
            break;
          }
      const e: Entry = {
        cfg: a,
        state: d.state,
        reasons: d.reasons,
        intent,
        command,
        decidedAt: now,
        lastAck: prev?.lastAck,
        stateSince: prev?.state === d.state ? prev.stateSince : now,
      };
      this.entries.set(intent.key, e);
      // A prefix that was never announced needs no word in the log.
      if (prev || !intent.withdraw)
        this.log.info(
          {
            event: 'announcement_changed',
            prefix: intent.prefix,
            state: d.state,
            reasons: d.reasons,
            command,
          },
          'announcement changed',
        );
    }
    for (const [key, e] of this.entries) {
      if (wanted.has(key) || e.removed) continue;
      e.removed = true;
      e.intent = { ...e.intent, withdraw: true };
      e.command = renderWithdraw(e.intent);
      e.decidedAt = now;
      this.log.info(
        { event: 'announcement_removed', prefix: e.intent.prefix },
        'announcement removed from config; withdrawing',
      );
    }
    this.publishFacts();
    this.kickAll();
  }

  private publishFacts(): void {
    const byPrefix = new Map<string, boolean>();
    for (const e of this.entries.values())
      if (!e.removed)
        byPrefix.set(e.intent.prefix, (byPrefix.get(e.intent.prefix) ?? false) || !e.intent.withdraw);
    for (const [prefix, up] of byPrefix)
      this.facts.set(bgpFactKey(prefix), { up, reason: up ? undefined : 'withdrawn' } satisfies Fact);
    for (const [k] of this.facts.entries('bgp:')) if (!byPrefix.has(k.slice(4))) this.facts.delete(k);
  }

  // ---------- what is true on each bridge ----------

  private wireOn(c: BridgeConn, e: Entry): { state: WireState; detail: string } {
    const s = c.sent.get(e.intent.key);
    if (!s || s.command !== e.command) return { state: 'pending', detail: 'queued for ExaBGP' };
    if (!s.ack) return { state: 'pending', detail: 'waiting for the ExaBGP ack' };
    if (!s.ack.ok) return { state: 'error', detail: 'ExaBGP answered error' };
    const v = s.check;
    if (!v) return { state: 'pending', detail: "checking ExaBGP's adj-rib-out" };
    if (v.kind === 'unverified') return { state: 'unverified', detail: v.detail };
    if (v.kind === 'rejected') return { state: 'rejected', detail: v.detail };
    if (v.kind === 'mismatch') return { state: 'mismatch', detail: `adj-rib-out differs: ${v.detail}` };
    if (e.intent.withdraw) return { state: 'withdrawn', detail: "not in ExaBGP's adj-rib-out" };
    const family = familyOf(e.intent.prefix);
    const live = liveTargets(family, v.targets, c.neighbors ?? []);
    return live.length
      ? { state: 'on-wire', detail: `to ${live.join(', ')}` }
      : {
          state: 'no-session',
          detail: `in ExaBGP's adj-rib-out; no established neighbor with ${family} negotiated`,
        };
  }

  private wire(e: Entry): { onWire: boolean; rejected: boolean; text: string; states: WireState[] } {
    const ready = [...this.conns.values()].filter((c) => c.ready);
    if (ready.length === 0) return { onWire: false, rejected: false, text: 'no ExaBGP bridge', states: [] };
    const per = ready.map((c) => this.wireOn(c, e));
    const states = per.map((p) => p.state);
    const text = per
      .map(
        (p, i) =>
          `${ready.length > 1 ? `bridge ${ready[i].id}: ` : ''}${p.state === 'rejected' ? 'rejected: ' : ''}${p.detail}`,
      )
      .join('; ');
    return {
      onWire: states.includes('on-wire'),
      rejected: states.every((s) => s === 'rejected'),
      text,
      states,
    };
  }

  /** ExaBGP took the current command on every bridge and its adj-rib-out agrees. */
  private acked(e: Entry): boolean {
    const w = this.wire(e);
    return w.states.length > 0 && w.states.every((s) => SETTLED.includes(s));
  }

  private neighborView(
    c: BridgeConn,
  ): Map<string, { state: string; fsm?: string; since?: string; detail?: string; families?: string[] }> {
    const m = new Map<
      string,
      { state: string; fsm?: string; since?: string; detail?: string; families?: string[] }
    >();
    for (const n of c.neighbors ?? [])
      m.set(n.peer, {
        state: n.state === 'established' ? 'up' : 'down',
        fsm: n.state,
        families: n.families
          .filter((f) => f.local)
          .map((f) => `${f.family}${f.remote === false ? ' (not negotiated)' : ''}`),
      });
    for (const [peer, ev] of c.events) {
      const cur = m.get(peer) ?? { state: ev.state };
      m.set(peer, {
        ...cur,
        // An event newer than the last `show neighbor` answer wins until the next answer.
        state: c.neighborsStale ? ev.state : cur.state,
        since: new Date(ev.since).toISOString(),
        detail: ev.detail,
      });
    }
    return m;
  }

  /** Logs each announcement's wire state when it changes (rejections at error level). */
  private logWireChanges(): void {
    for (const e of this.entries.values()) {
      const w = this.wire(e);
      const key = `${e.command}|${w.text}`;
      if (this.lastWire.get(e.intent.key) === key) continue;
      const prev = this.lastWire.get(e.intent.key);
      this.lastWire.set(e.intent.key, key);
      if (w.states.includes('pending')) continue;
      if (w.rejected)
        this.log.error(
          { event: 'announcement_rejected', prefix: e.intent.prefix, why: w.text },
          `announcement not on the wire: ${w.text}`,
        );
      else if (w.states.includes('mismatch') || w.states.includes('error'))
        this.log.warn(
          { event: 'announcement_unconfirmed', prefix: e.intent.prefix, why: w.text },
          'ExaBGP disagrees',
        );
      else if (prev !== undefined)
        this.log.info(
          { event: 'announcement_confirmed', prefix: e.intent.prefix, onWire: w.onWire, detail: w.text },
          w.onWire ? 'announcement on the wire' : 'announcement confirmed in ExaBGP',
        );
    }
    for (const k of this.lastWire.keys()) if (!this.entries.has(k)) this.lastWire.delete(k);
  }

  // ---------- cycles: send, ack, check ----------

  private kickAll(): void {
    for (const c of this.conns.values()) this.kick(c);
  }

  /** Starts the next cycle on an idle bridge: the latest state of every key that changed. */
  private kick(c: BridgeConn): void {
    if (!c.ready || c.phase !== 'idle' || c.sock.destroyed) return;
    const initial = !c.synced;
    const batch: Entry[] = [];
    const groups = new Set<string>();
    // Withdraws of removed keys first: a new key for the same prefix waits for the next cycle.
    const order = [...this.entries.values()].sort(
      (a, b) => Number(Boolean(b.removed)) - Number(Boolean(a.removed)),
    );
    for (const e of order) {
      const s = c.sent.get(e.intent.key);
      if (s && s.command === e.command && !s.resend) continue;
      // One change per prefix per cycle (ExaBGP 4.2.21 would send two in insertion order). The
      // first sync sends every key: the bridge withdraws whatever is missing from it.
      const g = `${e.intent.prefix}|${e.intent.pathId ?? 0}`;
      if (!initial && groups.has(g)) {
        this.counters.deferred++;
        continue;
      }
      groups.add(g);
      batch.push(e);
    }
    if (initial) {
      c.synced = true;
      this.write(c, { t: 'sync-begin' });
      for (const e of batch) this.sendEntry(c, e);
      this.write(c, { t: 'sync-end' });
    } else for (const e of batch) this.sendEntry(c, e);
    if (batch.length) {
      this.counters.cycles++;
      c.phase = 'sending';
      this.armCycleTimer(c);
      return;
    }
    if (c.needCheck || c.neighborsStale) this.check(c);
  }

  private sendEntry(c: BridgeConn, e: Entry): void {
    const id = this.nextId++;
    const prev = c.sent.get(e.intent.key);
    this.outstanding.set(id, { key: e.intent.key, conn: c.id });
    c.sent.set(e.intent.key, {
      command: e.command,
      intent: e.intent,
      id,
      decidedAt: e.decidedAt,
      attempts: prev && prev.command === e.command ? prev.attempts + 1 : 1,
    });
    c.inflight.add(id);
    this.counters.commandsSent++;
    this.write(c, {
      t: 'cmd',
      id,
      key: e.intent.key,
      cmd: e.command,
      undo: e.intent.withdraw ? undefined : renderWithdraw(e.intent),
    });
  }

  /** Asks ExaBGP what it has: neighbors (when stale) and adj-rib-out; old bridges cannot. */
  private check(c: BridgeConn): void {
    c.needCheck = false;
    if (!c.caps.has('query')) {
      c.neighborsStale = false;
      for (const s of c.sent.values())
        if (s.ack?.ok && !s.check)
          s.check = {
            kind: 'unverified',
            detail: 'acked; this bridge cannot show adj-rib-out (restart ExaBGP to update it)',
          };
      this.cycleDone(c);
      return;
    }
    this.counters.checks++;
    c.phase = 'checking';
    this.armCycleTimer(c);
    if (c.neighborsStale || !c.neighbors) this.query(c, 'neighbors', 'show neighbor extensive');
    this.query(c, 'rib', 'show adj-rib out extensive');
  }

  private query(c: BridgeConn, kind: 'neighbors' | 'rib', cmd: string): void {
    const id = this.nextId++;
    c.queries.set(id, kind);
    this.write(c, { t: 'query', id, cmd });
  }

  private armCycleTimer(c: BridgeConn): void {
    c.cycleTimer?.cancel();
    c.cycleTimer = this.clock.setTimeout(() => {
      if (c.phase === 'idle') return;
      this.counters.cycleTimeouts++;
      this.log.warn(
        { event: 'exabgp_slow', bridge: c.id, phase: c.phase, waiting: c.inflight.size + c.queries.size },
        `ExaBGP did not answer within ${CYCLE_TIMEOUT_MS} ms; starting over`,
      );
      c.inflight.clear();
      c.queries.clear();
      c.needCheck = true;
      this.cycleDone(c);
    }, CYCLE_TIMEOUT_MS);
  }

  private cycleDone(c: BridgeConn): void {
    c.phase = 'idle';
    c.cycleTimer?.cancel();
    c.cycleTimer = undefined;
    // Removed keys whose withdraw every bridge confirmed are forgotten.
    for (const [key, e] of this.entries)
      if (e.removed && this.acked(e)) {
        this.entries.delete(key);
        for (const x of this.conns.values()) x.sent.delete(key);
      }
    this.logWireChanges();
    for (const w of [...this.waiters]) w();
    this.kick(c);
  }

  private onAck(c: BridgeConn, id: number, ok: boolean): void {
    if (ok) {
      c.acks.done++;
      this.counters.acksDone++;
    } else {
      c.acks.error++;
      this.counters.acksError++;
    }
    const o = this.outstanding.get(id);
    if (!o) {
      this.counters.unknownAcks++;
      return;
    }
    this.outstanding.delete(id);
    c.inflight.delete(id);
    const s = c.sent.get(o.key);
    const e = this.entries.get(o.key);
    // An ack for a superseded command is not an ack of the current one.
    if (s && s.id === id) {
      const at = wallNow();
      s.ack = { ok, at, latencyMs: Math.round((at - s.decidedAt) * 1000) / 1000 };
      if (e && e.command === s.command) e.lastAck = s.ack;
      if (!ok)
        this.log.error(
          { event: 'exabgp_error', prefix: s.intent.prefix, command: s.command },
          'ExaBGP rejected the command',
        );
    }
    if (c.phase === 'sending' && c.inflight.size === 0) this.check(c);
  }

  private onReply(c: BridgeConn, id: number, ok: boolean, lines: string[], truncated: boolean): void {
    const kind = c.queries.get(id);
    if (!kind) return;
    c.queries.delete(id);
    if (kind === 'neighbors') {
      if (ok) {
        c.neighbors = parseNeighborExtensive(lines);
        c.neighborsStale = false;
      }
    } else {
      const usable = ok && !truncated;
      const rib = usable ? parseAdjRibOut(lines) : [];
      for (const [key, s] of c.sent) {
        if (!s.ack?.ok) continue;
        if (!usable) {
          s.check ??= {
            kind: 'unverified',
            detail: truncated
              ? 'acked; adj-rib-out too large to check'
              : 'acked; ExaBGP would not show adj-rib-out',
          };
          continue;
        }
        const v = verifyIntent(s.intent, c.neighbors ?? [], rib);
        s.check = v;
        if (v.kind === 'mismatch') {
          this.counters.mismatches++;
          const e = this.entries.get(key);
          if (e && e.command === s.command && s.attempts < MAX_RESENDS) s.resend = true;
        }
      }
    }
    if (c.phase === 'checking' && c.queries.size === 0) this.cycleDone(c);
  }

  private waitFor(done: () => boolean, limitMs: number): Promise<void> {
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(t);
        this.waiters.delete(check);
        resolve();
      };
      const check = () => {
        if (done()) finish();
      };
      const t = setTimeout(finish, limitMs);
      this.waiters.add(check);
      check();
    });
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

  // ---------- periodic: socket present, neighbors fresh ----------

  private scheduleTick(): void {
    if (this.stopped) return;
    this.tickTimer = this.clock.setTimeout(() => {
      this.ticks++;
      void this.checkSocket();
      if ((this.ticks * SOCKET_CHECK_MS) % NEIGHBOR_REFRESH_MS === 0)
        for (const c of this.conns.values()) {
          // Sessions change without neighbor-changes (not configured): look again now and then.
          c.neighborsStale = true;
          c.needCheck = true;
          this.kick(c);
        }
      this.scheduleTick();
    }, SOCKET_CHECK_MS);
  }

  // ---------- bridge socket ----------

  private async socketIsOurs(): Promise<boolean> {
    if (!this.socketPath || this.socketIno === undefined) return false;
    const st = await lstat(this.socketPath).catch(() => undefined);
    return st?.isSocket() === true && st.ino === this.socketIno;
  }

  /**
   * The socket path removed (rm, a tmpfiles clean-up): listen again, or a restarted ExaBGP's
   * bridge can never connect. Something else at the path is left alone (never ours to remove).
   */
  private async checkSocket(): Promise<void> {
    const path = this.socketPath;
    if (!path || this.stopped || !this.server) return;
    const st = await lstat(path).catch((err: NodeJS.ErrnoException) =>
      err.code === 'ENOENT' ? null : undefined,
    );
    if (st === undefined || this.stopped) return;
    if (st === null) {
      this.log.warn(
        { event: 'bridge_socket_missing', path },
        'ExaBGP bridge socket was removed; listening again',
      );
      const old = this.server;
      this.server = undefined;
      this.socketIno = undefined;
      old.close();
      try {
        // Never unlink here: whatever appeared at the path since the lstat is not ours.
        await this.listen(path, false);
        this.counters.socketRecreated++;
      } catch (err) {
        this.log.error(
          { event: 'bridge_socket_failed', path, err: (err as Error).message },
          'cannot listen again',
        );
      }
      return;
    }
    if (st.ino !== this.socketIno) {
      if (!this.socketWarned)
        this.log.warn(
          { event: 'bridge_socket_replaced', path },
          'something else now occupies the ExaBGP bridge socket path; left alone (bridges cannot reach this agent)',
        );
      this.socketWarned = true;
    } else this.socketWarned = false;
  }

  private async listen(path: string, removeStale = true): Promise<void> {
    await mkdir(dirname(path), { recursive: true, mode: 0o755 });
    // Only a dead socket is replaced: a live one (another agent's) or a non-socket file at the
    // path is refused with an error naming it, never unlinked (agent/lib/unix-socket.ts).
    if (removeStale) await claimSocketPath(path, 'ExaBGP bridge socket');
    const server = createServer((sock) => this.accept(sock));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) =>
        reject(new Error(`bgp bridge socket ${path}: ${(err as Error).message}`)),
      );
      server.listen(path, () => resolve());
    });
    // Same access as the control socket: Debian runs ExaBGP (and so the bridge) as user
    // `exabgp`, which must be in control.group to connect (docs/bgp.md).
    const ctl = this.cfg?.control;
    await chmod(path, Number.parseInt(ctl?.mode ?? '0600', 8));
    if (ctl?.group) {
      const gid = lookupGroupId(ctl.group);
      if (gid !== undefined) await chown(path, process.getuid?.() ?? 0, gid);
      else
        this.log.warn(
          { group: ctl.group },
          'bridge socket group not found; socket left with the default group',
        );
    }
    this.server = server;
    this.socketIno = (await lstat(path)).ino;
    this.log.info({ event: 'bridge_socket_listening', path }, 'ExaBGP bridge socket listening');
  }

  private accept(sock: Socket): void {
    const c: BridgeConn = {
      id: this.nextConn++,
      sock,
      ready: false,
      pid: 0,
      exabgpPid: 0,
      connectedAt: wallNow(),
      caps: new Set(),
      events: new Map(),
      neighborsStale: true,
      needCheck: true,
      synced: false,
      sent: new Map(),
      phase: 'idle',
      inflight: new Set(),
      queries: new Map(),
      acks: { done: 0, error: 0 },
    };
    this.conns.set(c.id, c);
    sock.setEncoding('utf8');
    sock.setNoDelay?.(true);
    let buf = '';
    sock.on('data', (chunk: string) => {
      // Scan only the new chunk for line ends (a reply can be one multi-megabyte line).
      let nl = chunk.indexOf('\n');
      if (nl < 0) {
        buf += chunk;
        if (buf.length > MAX_BRIDGE_REPLY_LINE) {
          this.counters.malformedBridgeMessages++;
          sock.destroy();
        }
        return;
      }
      let rest = chunk;
      while (nl >= 0) {
        const line = buf + rest.slice(0, nl);
        buf = '';
        rest = rest.slice(nl + 1);
        if (line.trim()) this.fromBridge(c, line);
        nl = rest.indexOf('\n');
      }
      buf = rest;
    });
    sock.on('error', () => {});
    sock.on('close', () => {
      c.cycleTimer?.cancel();
      this.conns.delete(c.id);
      for (const [id, o] of this.outstanding) if (o.conn === c.id) this.outstanding.delete(id);
      this.log.info({ event: 'bridge_disconnected', bridge: c.id, pid: c.pid }, 'ExaBGP bridge disconnected');
      for (const w of [...this.waiters]) w();
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
        c.caps = new Set(msg.caps ?? []);
        c.ready = true;
        this.counters.resyncs++;
        this.log.info(
          { event: 'bridge_connected', bridge: c.id, pid: c.pid, exabgpPid: c.exabgpPid, caps: [...c.caps] },
          'ExaBGP bridge connected; sending the whole set',
        );
        this.write(c, { t: 'hello', v: BRIDGE_PROTOCOL_VERSION, graceMs: this.cfg?.bgp.stopGrace ?? 0 });
        this.kick(c);
        return;
      case 'ack':
        this.onAck(c, msg.id, msg.ok);
        return;
      case 'reply':
        this.onReply(c, msg.id, msg.ok, msg.lines, msg.truncated === true);
        return;
      case 'neighbor': {
        c.events.set(msg.neighbor, { state: msg.event, since: Date.now(), detail: msg.detail });
        c.neighborsStale = true;
        c.needCheck = true;
        this.log.info(
          { event: `bgp_session_${msg.event}`, neighbor: msg.neighbor, detail: msg.detail },
          `BGP neighbor ${msg.neighbor} ${msg.event}`,
        );
        this.kick(c);
        return;
      }
      case 'shutdown':
        this.log.info({ event: 'exabgp_shutdown', bridge: c.id }, 'ExaBGP is shutting down');
        return;
      case 'notice':
        this.log.debug({ bridge: c.id, text: msg.text }, 'ExaBGP said');
        return;
    }
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
