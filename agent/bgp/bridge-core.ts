// The bridge's logic, free of I/O: relays the agent's commands to ExaBGP, matches ExaBGP's
// in-order `done`/`error` acks to command ids, remembers what is announced so that it can
// withdraw it when the agent is gone for longer than the grace period (never a silent black
// hole), and reconciles after an agent (re)connect (sync-begin .. sync-end = the whole set).
import type { Clock, Timer } from '../lib/clock.js';
import type { AgentToBridge, BridgeToAgent } from './bridge-protocol.js';
import { parseExabgpLine } from './commands.js';

/** ExaBGP acks every line; if acks were disabled the queue would grow forever, so it is bounded. */
export const MAX_PENDING_ACKS = 10_000;

export interface BridgeIo {
  writeExabgp(line: string): void;
  sendAgent(msg: BridgeToAgent): void;
  log(msg: string): void;
}

export class BridgeCore {
  /** key -> withdraw command for everything currently announced through this bridge. */
  readonly announced = new Map<string, string>();
  /** Ack ids in the order commands went to ExaBGP; null for the bridge's own withdraws. */
  private pending: Array<number | null> = [];
  private syncSeen: Set<string> | null = null;
  private graceMs: number;
  private graceTimer?: Timer;
  private agentConnected = false;
  readonly counters = {
    commands: 0,
    acksDone: 0,
    acksError: 0,
    unmatchedAcks: 0,
    droppedAcks: 0,
    graceWithdraws: 0,
  };

  constructor(
    private clock: Clock,
    private io: BridgeIo,
    defaultGraceMs: number,
  ) {
    this.graceMs = defaultGraceMs;
  }

  agentUp(): void {
    this.agentConnected = true;
    this.graceTimer?.cancel();
    this.graceTimer = undefined;
  }

  /** The agent connection closed: keep routes for the grace period, then withdraw them all. */
  agentDown(): void {
    if (!this.agentConnected) return;
    this.agentConnected = false;
    this.syncSeen = null;
    // Acks still due belong to the old connection; a new agent restarts its ids, so never
    // forward them (they would ack the wrong command).
    this.pending = this.pending.map(() => null);
    this.graceTimer?.cancel();
    if (this.announced.size === 0) return;
    this.io.log(
      `agent gone; withdrawing ${this.announced.size} route(s) in ${this.graceMs} ms unless it returns`,
    );
    this.graceTimer = this.clock.setTimeout(() => this.withdrawAll('agent gone'), this.graceMs);
  }

  withdrawAll(why: string): void {
    this.graceTimer = undefined;
    for (const [key, undo] of this.announced) {
      this.send(null, undo);
      this.announced.delete(key);
      this.counters.graceWithdraws++;
    }
    this.io.log(`withdrew all routes: ${why}`);
  }

  fromAgent(msg: AgentToBridge): void {
    switch (msg.t) {
      case 'hello':
        this.graceMs = msg.graceMs;
        return;
      case 'sync-begin':
        this.syncSeen = new Set();
        return;
      case 'sync-end': {
        const seen = this.syncSeen;
        this.syncSeen = null;
        if (!seen) return;
        // Routes a previous agent announced that the current one no longer wants.
        for (const [key, undo] of this.announced) {
          if (seen.has(key)) continue;
          this.send(null, undo);
          this.announced.delete(key);
        }
        return;
      }
      case 'cmd':
        this.syncSeen?.add(msg.key);
        if (msg.undo) this.announced.set(msg.key, msg.undo);
        else this.announced.delete(msg.key);
        this.send(msg.id, msg.cmd);
        return;
    }
  }

  fromExabgp(line: string): void {
    const l = parseExabgpLine(line);
    switch (l.kind) {
      case 'ack': {
        if (l.ok) this.counters.acksDone++;
        else this.counters.acksError++;
        if (this.pending.length === 0) {
          this.counters.unmatchedAcks++;
          return;
        }
        const id = this.pending.shift() ?? null;
        if (id !== null) this.io.sendAgent({ t: 'ack', id, ok: l.ok });
        else if (!l.ok) this.io.log('ExaBGP rejected a withdraw sent by the bridge');
        return;
      }
      case 'neighbor':
        this.io.sendAgent({ t: 'neighbor', neighbor: l.neighbor, event: l.event, detail: l.detail });
        return;
      case 'shutdown':
        this.io.sendAgent({ t: 'shutdown' });
        return;
      case 'other':
        if (l.text) this.io.sendAgent({ t: 'notice', text: l.text.slice(0, 500) });
        return;
    }
  }

  pendingAcks(): number {
    return this.pending.length;
  }

  private send(id: number | null, cmd: string): void {
    this.counters.commands++;
    this.pending.push(id);
    if (this.pending.length > MAX_PENDING_ACKS) {
      this.pending.shift();
      this.counters.droppedAcks++;
    }
    this.io.writeExabgp(cmd);
  }
}
