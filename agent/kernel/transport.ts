// A thin rtnetlink socket on top of the `netlink` package's RawNetlinkSocket: sequence numbers,
// acks, dumps (retried when the kernel flags NLM_F_DUMP_INTR), and batching: many requests go
// out in ONE datagram (one sendmsg); the kernel processes each message and acks each one, so
// 1,000 writes cost a handful of syscalls (this is what makes cold apply beat `ip -batch`).
import { EventEmitter } from 'node:events';
import { constants as osConstants } from 'node:os';
import { RawNetlinkSocket } from 'netlink';
import { frame, NLM_F, NLMSG_DONE, NLMSG_ERROR, type RawMessage, Writer } from './codec.js';

const NETLINK_ROUTE = 0;

function message(buf: Buffer, off: number, len: number): RawMessage {
  return {
    type: buf.readUInt16LE(off + 4),
    flags: buf.readUInt16LE(off + 6),
    seq: buf.readUInt32LE(off + 8),
    port: buf.readUInt32LE(off + 12),
    payload: buf.subarray(off + 16, off + len),
  };
}

export interface NlRequest {
  type: number;
  flags: number;
  /** Writes the payload (after the nlmsghdr) into the window's shared buffer. */
  write: (w: Writer) => void;
}

export function errnoName(errno: number): string {
  for (const [name, n] of Object.entries(osConstants.errno)) if (n === errno) return name;
  return `errno ${errno}`;
}

export class NetlinkError extends Error {
  constructor(
    readonly errno: number,
    message: string,
  ) {
    super(message);
    this.name = 'NetlinkError';
  }
  get code(): string {
    return errnoName(this.errno);
  }
}

interface Pending {
  parts: RawMessage[];
  intr: boolean;
  /** Position in a batch (for its results array). */
  index: number;
  done: (errno: number, p: Pending) => void;
}

export interface RtnlSocketOptions {
  /** Multicast groups to join (RTNLGRP_*); events arrive as 'event' (RawMessage). */
  groups?: number[];
  /** Messages per datagram in batch(); acks of one window must fit the receive buffer. */
  window?: number;
  timeoutMs?: number;
}

export class RtnlSocket extends EventEmitter {
  private readonly raw: RawNetlinkSocket;
  private seq = Math.floor(Math.random() * 0x7fff0000) + 1;
  private readonly pending = new Map<number, Pending>();
  private readonly window: number;
  private readonly timeoutMs: number;
  private closed = false;
  /** Counters for status/metrics. */
  readonly counters = { writes: 0, dumps: 0, dumpRetries: 0, datagrams: 0, malformed: 0, overruns: 0 };

  constructor(opts: RtnlSocketOptions = {}) {
    super();
    this.window = opts.window ?? 64;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.raw = new RawNetlinkSocket(NETLINK_ROUTE, { recvBufferSize: 1 << 20, sendBufferSize: 1 << 20 });
    this.raw.on('message', (buf) => this.receive(buf));
    this.raw.on('truncatedMessage', () => this.counters.malformed++);
    // ENOBUFS on a socket means the kernel dropped messages for us: the caller must resync.
    this.raw.on('error', (err) => {
      this.counters.overruns++;
      this.emit('overrun', err);
    });
    for (const g of opts.groups ?? []) this.raw.addMembership(g);
    if (opts.groups?.length) this.raw.ref();
    else this.raw.unref();
  }

  private nextSeq(): number {
    this.seq = (this.seq % 0xfffffff0) + 1;
    return this.seq;
  }

  /** Called from the native socket: an exception escaping here would abort the process. */
  private receive(buf: Buffer): void {
    try {
      this.receiveMessages(buf);
    } catch (err) {
      this.counters.malformed++;
      this.emit('receiveError', err);
    }
  }

  /** Walks the datagram in place: acks (the bulk of the traffic) allocate nothing. */
  private receiveMessages(buf: Buffer): void {
    let off = 0;
    while (off + 16 <= buf.length) {
      const len = buf.readUInt32LE(off);
      if (len < 16 || off + len > buf.length) {
        this.counters.malformed++; // malformed: the rest of the datagram is dropped
        break;
      }
      const type = buf.readUInt16LE(off + 4);
      const flags = buf.readUInt16LE(off + 6);
      const seq = buf.readUInt32LE(off + 8);
      const p = seq !== 0 ? this.pending.get(seq) : undefined;
      const isEnd = type === NLMSG_ERROR || type === NLMSG_DONE;
      if (!p) {
        if (!isEnd) this.emit('event', message(buf, off, len));
      } else {
        if (flags & NLM_F.DUMP_INTR) p.intr = true;
        if (isEnd) {
          this.pending.delete(seq);
          p.done(len >= 20 ? -buf.readInt32LE(off + 16) || 0 : 0, p);
        } else p.parts.push(message(buf, off, len));
      }
      off += (len + 3) & ~3;
    }
    if (this.pending.size === 0 && !this.closed) this.maybeUnref();
  }

  private maybeUnref(): void {
    if (this.listenerCount('event') === 0) this.raw.unref();
  }

  private register(seq: number, done: Pending['done'], index = 0): void {
    if (this.pending.size === 0) this.raw.ref();
    this.pending.set(seq, { parts: [], intr: false, index, done });
  }

  private send(datagram: Buffer[]): Promise<void> {
    this.counters.datagrams++;
    return new Promise((resolve, reject) =>
      this.raw.send(datagram, {}, (err) => (err ? reject(err) : resolve())),
    );
  }

  /** A dump request; retried (bounded) when the kernel says the dump was interrupted. */
  async dump(type: number, payload: Buffer, what: string): Promise<RawMessage[]> {
    if (this.closed) throw new Error('netlink socket is closed');
    for (let attempt = 0; attempt < 5; attempt++) {
      this.counters.dumps++;
      const { errno, parts, intr } = await this.one(type, NLM_F.REQUEST | NLM_F.DUMP, payload, what);
      if (errno) throw new NetlinkError(errno, `dumping ${what}: ${errnoName(errno)}`);
      if (!intr) return parts;
      this.counters.dumpRetries++;
    }
    throw new Error(
      `dumping ${what}: interrupted 5 times in a row (NLM_F_DUMP_INTR), kernel state changing too fast`,
    );
  }

  private one(
    type: number,
    flags: number,
    payload: Buffer,
    what: string,
  ): Promise<{ errno: number; parts: RawMessage[]; intr: boolean }> {
    const seq = this.nextSeq();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(seq);
        reject(new Error(`netlink: no answer for ${what} within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.register(seq, (errno, p) => {
        clearTimeout(timer);
        resolve({ errno, parts: p.parts, intr: p.intr });
      });
      this.send([frame(type, flags, seq, payload)]).catch((err) => {
        clearTimeout(timer);
        this.pending.delete(seq);
        reject(err);
      });
    });
  }

  /** Sends write requests (each acked) in datagrams of `window` messages; resolves with the errno
   * of each request in order (0 = success). The kernel keeps going after a failed message. */
  async batch(reqs: NlRequest[]): Promise<number[]> {
    if (this.closed) throw new Error('netlink socket is closed');
    const results = new Array<number>(reqs.length).fill(0);
    for (let first = 0; first < reqs.length; first += this.window) {
      const last = Math.min(reqs.length, first + this.window);
      const w = new Writer(128 * (last - first));
      const seqs: number[] = [];
      let remaining = last - first;
      let wake: () => void = () => {};
      const acked = new Promise<void>((resolve) => {
        wake = resolve;
      });
      const done = (errno: number, p: Pending) => {
        results[p.index] = errno;
        if (--remaining === 0) wake();
      };
      for (let i = first; i < last; i++) {
        const r = reqs[i];
        const seq = this.nextSeq();
        seqs.push(seq);
        const at = w.beginMessage(r.type, r.flags | NLM_F.REQUEST | NLM_F.ACK, seq);
        r.write(w);
        w.endMessage(at);
        this.register(seq, done, i);
      }
      this.counters.writes += last - first;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(new Error(`netlink: ${last - first} writes not acknowledged within ${this.timeoutMs} ms`)),
          this.timeoutMs,
        );
      });
      try {
        await this.send([w.done()]);
        await Promise.race([acked, timeout]);
      } finally {
        clearTimeout(timer);
        for (const s of seqs) this.pending.delete(s);
      }
    }
    return results;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.raw.close();
  }
}
