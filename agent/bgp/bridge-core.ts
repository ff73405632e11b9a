// The bridge's logic, free of I/O: relays the agent's commands to ExaBGP, matches ExaBGP's
// in-order `done`/`error` acks to command ids, remembers what is announced so that it can
// withdraw it when the agent is gone for longer than the grace period (never a silent black
// hole), and reconciles after an agent (re)connect (sync-begin .. sync-end = the whole set).
// Queries (`show ...`) collect ExaBGP's output lines up to their ack and go back as one reply.
// Once ExaBGP is gone (stdin closed, stdout broken) nothing is written to it any more: its RIB
// died with it, so there is nothing to withdraw and no reason to wait for a grace period.
import type { Clock, Timer } from '../lib/clock.js';
import { type AgentToBridge, type BridgeToAgent, MAX_REPLY_BYTES } from './bridge-protocol.js';
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
  /** Commands in the order they went to ExaBGP: the agent's id (null for the bridge's own
   * withdraws, or once the agent that sent it is gone) and, for a query, its output so far. */
  private pending: Array<{
    id: number | null;
    reply?: { lines: string[]; bytes: number; truncated: boolean };
  }> = [];
  private exabgpGone = false;
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
    this.pending = this.pending.map((p) => ({ ...p, id: null }));
    this.graceTimer?.cancel();
    if (this.announced.size === 0 || this.exabgpGone) return;
    this.io.log(
      `agent gone; withdrawing ${this.announced.size} route(s) in ${this.graceMs} ms unless it returns`,
    );
    this.graceTimer = this.clock.setTimeout(() => this.withdrawAll('agent gone'), this.graceMs);
  }

  /** ExaBGP closed our stdin or our stdout broke: its RIB is gone with it; write nothing more. */
  exabgpDown(): void {
    this.exabgpGone = true;
    this.graceTimer?.cancel();
    this.graceTimer = undefined;
    this.announced.clear();
    this.pending = [];
  }

  withdrawAll(why: string): void {
    this.graceTimer = undefined;
    if (this.exabgpGone) return;
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
      case 'query':
        this.send(msg.id, msg.cmd, true);
        return;
    }
  }

  fromExabgp(line: string): void {
    const l = parseExabgpLine(line);
    switch (l.kind) {
      case 'ack': {
        if (l.ok) this.counters.acksDone++;
        else this.counters.acksError++;
        const head = this.pending.shift();
        if (!head) {
          this.counters.unmatchedAcks++;
          return;
        }
        if (head.id !== null && head.reply)
          this.io.sendAgent({
            t: 'reply',
            id: head.id,
            ok: l.ok,
            lines: head.reply.lines,
            truncated: head.reply.truncated || undefined,
          });
        else if (head.id !== null) this.io.sendAgent({ t: 'ack', id: head.id, ok: l.ok });
        else if (!l.ok && !head.reply) this.io.log('ExaBGP rejected a withdraw sent by the bridge');
        return;
      }
      case 'neighbor':
        this.io.sendAgent({ t: 'neighbor', neighbor: l.neighbor, event: l.event, detail: l.detail });
        return;
      case 'shutdown':
        this.io.sendAgent({ t: 'shutdown' });
        return;
      case 'other': {
        // Output of the query at the head of the queue (ExaBGP answers in order, then acks).
        const r = this.pending[0]?.reply;
        if (r) {
          if (r.bytes + line.length > MAX_REPLY_BYTES) r.truncated = true;
          else {
            r.lines.push(line);
            r.bytes += line.length + 1;
          }
          return;
        }
        if (l.text) this.io.sendAgent({ t: 'notice', text: l.text.slice(0, 500) });
        return;
      }
    }
  }

  pendingAcks(): number {
    return this.pending.length;
  }

  private send(id: number | null, cmd: string, query = false): void {
    if (this.exabgpGone) return;
    this.counters.commands++;
    this.pending.push(query ? { id, reply: { lines: [], bytes: 0, truncated: false } } : { id });
    if (this.pending.length > MAX_PENDING_ACKS) {
      this.pending.shift();
      this.counters.droppedAcks++;
    }
    this.io.writeExabgp(cmd);
  }
}
