// A thin rtnetlink socket on top of the `netlink` package's RawNetlinkSocket: sequence numbers,
// acks, dumps (retried when the kernel flags NLM_F_DUMP_INTR), and batching: many requests go
// out in ONE datagram (one sendmsg), and only failures and the datagram's last message are
// answered, so 1,000 writes cost a handful of syscalls and callbacks (see batch()).
import { EventEmitter } from 'node:events';
import { constants as osConstants } from 'node:os';
import { RawNetlinkSocket } from 'netlink';
import { NETLINK_ROUTE } from '../lib/libc.js';
import { frame, NLM_F, NLMSG_DONE, NLMSG_ERROR, type RawMessage, Writer } from './codec.js';

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
  done: (errno: number, p: Pending) => void;
}

export interface RtnlSocketOptions {
  /** Multicast groups to join (RTNLGRP_*); events arrive as 'event' (RawMessage). */
  groups?: number[];
  /** At most this many messages per datagram in batch() (the socket buffers may allow fewer). */
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
  /** The write datagram waiting for its replies (one at a time: batch() calls are chained). */
  private win?: { base: number; n: number; onReply: (seq: number, errno: number) => void };
  private writeChain: Promise<void> = Promise.resolve();
  private batchesInFlight = 0;
  private readonly maxDatagram: number;
  private readonly replyBudget: number;
  /** Counters for status/metrics. */
  readonly counters = { writes: 0, dumps: 0, dumpRetries: 0, datagrams: 0, malformed: 0, overruns: 0 };

  constructor(opts: RtnlSocketOptions = {}) {
    super();
    this.window = opts.window ?? 1024;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    // No peeking: one recvmsg per datagram into a 64 KB buffer, and dumps come in skbs of up to
    // 32 KB (the kernel sizes them after the reader's buffer) instead of 4 KB.
    this.raw = new RawNetlinkSocket(NETLINK_ROUTE, {
      recvBufferSize: 1 << 20,
      sendBufferSize: 1 << 20,
      messagePeeking: false,
      msgBufferSize: 1 << 16,
    });
    // What the kernel granted (capped by net.core.[rw]mem_max): a datagram must fit the send
    // buffer, and the replies it can cause (every message failing) the receive buffer, else the
    // kernel drops replies and flags the socket (ENOBUFS).
    this.maxDatagram = Math.max(4096, Math.min(1 << 18, this.raw.getSendBufferSize() / 2));
    this.replyBudget = Math.max(8192, this.raw.getRecvBufferSize() / 2);
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
      const isEnd = type === NLMSG_ERROR || type === NLMSG_DONE;
      const win = this.win;
      if (win && type === NLMSG_ERROR && seq - win.base >= 0 && seq - win.base < win.n) {
        win.onReply(seq, len >= 20 ? -buf.readInt32LE(off + 16) || 0 : 0);
        off += (len + 3) & ~3;
        continue;
      }
      const p = seq !== 0 ? this.pending.get(seq) : undefined;
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
    if (this.pending.size === 0 && !this.win && !this.closed) this.maybeUnref();
  }

  private maybeUnref(): void {
    if (this.listenerCount('event') === 0) this.raw.unref();
  }

  private register(seq: number, done: Pending['done']): void {
    if (this.pending.size === 0) this.raw.ref();
    this.pending.set(seq, { parts: [], intr: false, done });
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

  /** Sends write requests in as few datagrams as the socket buffers allow; resolves with the
   * errno of each request in order (0 = success). The kernel processes a datagram's messages in
   * order, synchronously inside sendmsg, and keeps going after a failed one. Only the LAST message
   * of a datagram asks for an ack (NLM_F_ACK); a message without it is answered only when it
   * fails (NLMSG_ERROR with its seq), so 2,000 successful writes cost a few sendmsg and a few
   * receive callbacks instead of 2,000 acks. The final ack comes after every earlier error (one
   * socket, one queue, in order), so when it arrives the datagram's results are complete. */
  batch(reqs: NlRequest[]): Promise<number[]> {
    // Nothing in flight: start now, so that the sendmsg happens inside this call (a VRRP takeover
    // finds its VIPs on the interface in the same turn); otherwise wait for the earlier batches.
    const run =
      this.batchesInFlight === 0 ? this.batchNow(reqs) : this.writeChain.then(() => this.batchNow(reqs));
    this.batchesInFlight++;
    this.writeChain = run.then(
      () => {
        this.batchesInFlight--;
      },
      () => {
        this.batchesInFlight--;
      },
    );
    return run;
  }

  private async batchNow(reqs: NlRequest[]): Promise<number[]> {
    if (this.closed) throw new Error('netlink socket is closed');
    const results = new Array<number>(reqs.length).fill(0);
    let first = 0;
    while (first < reqs.length) {
      // Consecutive seqs: a reply's seq minus the base is the request's index.
      if (this.seq > 0xfffffff0 - this.window) this.seq = 0;
      const base = this.seq + 1;
      const w = new Writer(Math.min(this.maxDatagram, 128 * Math.min(this.window, reqs.length - first)));
      let last = first;
      let budget = 0; // receive-buffer bytes the failure replies of this datagram could take
      let lastAt = 0;
      while (last < reqs.length && last - first < this.window) {
        const at = w.off;
        const r = reqs[last];
        w.beginMessage(r.type, r.flags | NLM_F.REQUEST, base + (last - first));
        r.write(w);
        w.endMessage(at);
        const len = w.off - at;
        // An error reply echoes the request (no NETLINK_CAP_ACK) in its own skb.
        budget += 1024 + 2 * len;
        lastAt = at;
        last++;
        if (w.off >= this.maxDatagram || budget >= this.replyBudget) break;
      }
      const n = last - first;
      this.seq = base + n - 1;
      // The last message asks for the ack that closes the datagram.
      w.patchFlags(lastAt, NLM_F.ACK);
      this.counters.writes += n;
      let timer: NodeJS.Timeout | undefined;
      const acked = new Promise<void>((resolve, reject) => {
        this.win = {
          base,
          n,
          onReply: (seq, errno) => {
            results[first + (seq - base)] = errno;
            if (seq === base + n - 1) resolve();
          },
        };
        timer = setTimeout(
          () => reject(new Error(`netlink: ${n} writes not acknowledged within ${this.timeoutMs} ms`)),
          this.timeoutMs,
        );
      });
      this.raw.ref();
      try {
        await this.send([w.done()]);
        await acked;
      } finally {
        clearTimeout(timer);
        this.win = undefined;
        if (this.pending.size === 0 && !this.closed) this.maybeUnref();
      }
      first = last;
    }
    return results;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.raw.close();
  }
}
