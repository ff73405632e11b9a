// Parent side of the rtnetlink listener (see watch-child.ts for why it is a child process).
// Emits 'event' ({type, flags, payload}) for deletions, link changes and foreign additions, 'ready' each time a listener is
// subscribed (the caller resyncs then: events before that moment are unknown), and 'lost' when a
// listener died (overrun or crash). Restarts with backoff until stop().
import { type ChildProcess, fork } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { Clock, Timer } from '../lib/clock.js';

const CHILD = fileURLToPath(
  new URL(`./watch-child${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url),
);

export interface WatchEvent {
  type: number;
  /** nlmsg_flags (NLM_F_REPLACE on a NEWROUTE that replaced a route). */
  flags: number;
  payload: Buffer;
}

/** What the listener read and what it passed on (the rest was the echo of our own additions). */
export interface WatchStats {
  received: number;
  forwarded: number;
  echoDrop: string;
}

/** What watch-child.ts sends. */
interface ChildMessage {
  ready?: boolean;
  echoDrop?: string;
  stats?: WatchStats;
  overrun?: string;
  events?: { type: number; flags: number; payload: Uint8Array }[];
}

export class KernelWatcher extends EventEmitter {
  private child?: ChildProcess;
  private stopped = true;
  private restartTimer?: Timer;
  private backoffMs = 0;
  readonly counters = { starts: 0, lost: 0 };
  /** A listener is subscribed right now. */
  running = false;
  /** Where the echo of our own additions is dropped: 'kernel' (socket filter) or 'child: <why not>'. */
  echoDrop?: string;

  constructor(
    private readonly clock: Clock,
    private protocol = 199,
  ) {
    super();
  }

  /**
   * The listener drops the echo of additions with this protocol (ours). Resolves once the child
   * has its new filter (it answers with echoDrop; bounded by timeoutMs), so that writes made after
   * it are judged by the new program in the kernel.
   */
  async setProtocol(protocol: number, timeoutMs = 2000): Promise<void> {
    if (protocol === this.protocol) return;
    this.protocol = protocol;
    await this.ask({ protocol }, (m) => m.echoDrop, timeoutMs);
  }

  /** Starts the listener; resolves when it is subscribed (or after timeoutMs, then false). */
  start(timeoutMs = 10_000): Promise<boolean> {
    this.stopped = false;
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.once('ready', () => {
        clearTimeout(timer);
        resolve(true);
      });
      this.spawn();
    });
  }

  private spawn(): void {
    if (this.stopped) return;
    this.counters.starts++;
    const child = fork(CHILD, [String(this.protocol)], {
      serialization: 'advanced',
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    this.child = child;
    child.on('message', (m: ChildMessage) => {
      if (m.echoDrop !== undefined) this.echoDrop = m.echoDrop;
      if (m.ready) {
        this.backoffMs = 0;
        this.running = true;
        this.emit('ready');
      }
      if (m.events)
        for (const e of m.events)
          this.emit('event', {
            type: e.type,
            flags: e.flags,
            payload: Buffer.from(e.payload.buffer, e.payload.byteOffset, e.payload.byteLength),
          });
      if (m.overrun) this.emit('lost', `netlink listener overrun: ${m.overrun}`);
    });
    child.on('exit', (code, signal) => {
      if (this.child !== child) return;
      this.child = undefined;
      this.running = false;
      if (this.stopped) return;
      this.counters.lost++;
      if (code !== 3) this.emit('lost', `netlink listener exited (${signal ?? `code ${code}`})`);
      this.backoffMs = Math.min(30_000, this.backoffMs ? this.backoffMs * 2 : 200);
      this.restartTimer = this.clock.setTimeout(() => this.spawn(), this.backoffMs);
    });
  }

  /** The running listener's counters (tests, diagnostics); undefined without one. */
  stats(timeoutMs = 5000): Promise<WatchStats | undefined> {
    return this.ask({ stats: true }, (m) => m.stats, timeoutMs);
  }

  /** Sends `msg` to the listener and resolves with the first answer `pick` accepts, or undefined
   * (no listener, or none within timeoutMs). */
  private ask<T>(
    msg: object,
    pick: (m: ChildMessage) => T | undefined,
    timeoutMs: number,
  ): Promise<T | undefined> {
    const child = this.child;
    if (!child?.connected) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const finish = (v: T | undefined) => {
        clearTimeout(timer);
        child.off('message', onMessage);
        resolve(v);
      };
      const onMessage = (m: ChildMessage) => {
        const v = pick(m);
        if (v !== undefined) finish(v);
      };
      const timer = setTimeout(() => finish(undefined), timeoutMs);
      child.on('message', onMessage);
      child.send(msg);
    });
  }

  stop(): void {
    this.stopped = true;
    this.running = false;
    this.restartTimer?.cancel();
    const c = this.child;
    this.child = undefined;
    if (c && c.exitCode === null) {
      c.disconnect?.();
      c.kill('SIGTERM');
    }
  }
}
