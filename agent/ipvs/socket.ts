// The IPVS netlink shell: one persistent generic netlink socket, family "IPVS" resolved once (with
// the npm `netlink` package's controller support), requests pipelined many to a datagram, every
// result matched by sequence number and checked. Errors name the object the request was about.
//
// Writes are sent without NLM_F_ACK: the kernel still answers a failed one with an error carrying
// its sequence number (netlink_rcv_skb acks on NLM_F_ACK *or* error), and it handles the messages
// of a socket in order, inside sendmsg. So the last message of every datagram asks for an ack, and
// when that ack (or any later reply) arrives, every earlier write without an error has succeeded.
// That saves the kernel an ack skb per write, and us a receive and a parse per write.
import { createGenericNetlink, type GenericNetlinkSocket, genl } from 'netlink';
import { BulkSender, type BulkWriter, settleDatagram } from '../lib/netlink-bulk.js';
import {
  decodeDest,
  decodeInfo,
  decodeService,
  decodeTimeouts,
  encode,
  IPVS_GENL_NAME,
  IPVS_GENL_VERSION,
  type IpvsRequest,
} from './codec.js';
import {
  NLM_F_ACK,
  NLM_F_DUMP,
  NLM_F_REQUEST,
  NLMSG_DONE,
  NLMSG_ERROR,
  type NlMessage,
  parseError,
  splitMessages,
  writeGenlMessage,
} from './netlink.js';
import type { IpvsInfo, ObservedDest, ObservedService, ServiceId, Timeouts } from './types.js';

export class IpvsError extends Error {
  constructor(
    readonly what: string,
    readonly errno: number,
    detail?: string,
  ) {
    super(`${what}: ${errnoName(errno)}${detail ? ` (${detail})` : ''}`);
    this.name = 'IpvsError';
  }
}

const ERRNO: Record<number, string> = {
  1: 'EPERM operation not permitted',
  2: 'ENOENT not found (or scheduler / persistence engine module missing)',
  3: 'ESRCH no such service',
  12: 'ENOMEM',
  17: 'EEXIST already exists',
  22: 'EINVAL invalid argument',
  95: 'EOPNOTSUPP not supported',
  97: 'EAFNOSUPPORT address family not supported',
  16: 'EBUSY',
  105: 'ENOBUFS netlink buffer overrun',
};
const errnoName = (e: number): string => ERRNO[-e] ?? ERRNO[e] ?? `errno ${e}`;

export interface RequestResult {
  what: string;
  error?: IpvsError;
  /** Message bodies (after the genl header) of a dump or a reply. */
  replies: Buffer[];
}

interface Pending {
  what: string;
  replies: Buffer[];
  /** Send order (never wraps, unlike seq). */
  n: number;
  resolve: (r: RequestResult) => void;
}

/** GET_SERVICE, GET_DEST, GET_DAEMON, GET_CONFIG, GET_INFO: answered with data, always acked. */
const isRead = (cmd: number): boolean => cmd === 4 || cmd === 8 || cmd === 11 || cmd === 13 || cmd === 15;
/** Writes get no data back: one shared empty list instead of one per write (never pushed to). */
const NO_REPLIES: Buffer[] = [];
/** Largest datagram we send (the kernel handles it in one sendmsg). */
const MAX_DATAGRAM = 128 * 1024;

export interface IpvsSocketOptions {
  /** Most requests sent but not yet acked (their acks must fit the receive buffer). */
  window?: number;
  /** Per-request timeout. */
  timeoutMs?: number;
  /** Bulk-write socket for runWrites (default: opened on first use; an Error disables it). */
  bulk?: BulkWriter | Error;
}

/** Counters for tests and metrics: writes are NEW/SET/DEL requests. */
export interface SocketCounters {
  requests: number;
  writes: number;
  datagrams: number;
  malformed: number;
}

const bodyLength = (r: IpvsRequest): number => {
  let n = 0;
  for (const a of r.attrs) n += a.length;
  return n;
};

export class IpvsSocket {
  private seq = 0x10000;
  private pending = new Map<number, Pending>();
  private sentCount = 0;
  /** The bulk-write socket (opened on first use); an Error when koffi is unusable: run() instead. */
  private bulk?: BulkWriter | Error;
  /** Writes sent without an ack request (sequence, send order) until a later reply settles them. */
  private quietSeq: number[] = [];
  private quietN: number[] = [];
  private quietHead = 0;
  private waiters: (() => void)[] = [];
  readonly counters: SocketCounters = { requests: 0, writes: 0, datagrams: 0, malformed: 0 };
  private closed = false;

  private constructor(
    private readonly sock: GenericNetlinkSocket,
    readonly familyId: number,
    private readonly window: number,
    private readonly timeoutMs: number,
  ) {
    // Our own receive path on the raw socket: we need sequence-level ack matching and empty-dump
    // DONE handling, which the package's request() collapses. The package's parser is detached
    // (family resolution is done) so each reply is parsed once.
    sock.socket.socket.removeAllListeners('message');
    sock.socket.socket.on('message', (buf: Buffer) => this.receive(buf));
    sock.socket.on('error', (err: Error) => this.failAll(err));
    sock.socket.on('truncatedMessage', () => {
      this.counters.malformed++;
      this.failAll(new Error('netlink reply truncated'));
    });
    // Keep the event loop alive while the socket is open: the package unrefs it between its own
    // requests, and a process exiting with replies in flight aborts inside the native binding.
    sock.socket.ref(true);
  }

  /** Wraps an open socket whose family is already resolved (tests drive it with a fake kernel). */
  static over(sock: GenericNetlinkSocket, familyId: number, opts: IpvsSocketOptions = {}): IpvsSocket {
    const s = new IpvsSocket(sock, familyId, opts.window ?? 200, opts.timeoutMs ?? 30_000);
    s.bulk = opts.bulk;
    return s;
  }

  /** Opens the socket and resolves the IPVS family; throws a plain error when IPVS is absent. */
  static async open(opts: IpvsSocketOptions = {}): Promise<IpvsSocket> {
    // No MSG_PEEK: one recvmsg per datagram into a buffer larger than any the kernel sends (a dump
    // skb is at most 32 KiB).
    const sock = createGenericNetlink({
      recvBufferSize: 4 << 20,
      sendBufferSize: 1 << 20,
      messagePeeking: false,
      msgBufferSize: 64 << 10,
    });
    try {
      const fams = await sock.ctrlRequest(
        genl.Commands.GET_FAMILY,
        { familyName: IPVS_GENL_NAME },
        { timeout: 5000 },
      );
      const id = fams[0]?.familyId;
      if (!id) throw new Error('no family id in reply');
      return new IpvsSocket(sock, id, opts.window ?? 200, opts.timeoutMs ?? 30_000);
    } catch (err) {
      sock.socket.close();
      const msg = (err as Error).message;
      throw new Error(
        /ENOENT/.test(msg)
          ? 'IPVS is not available in this kernel (generic netlink family "IPVS" not found; is ip_vs loaded?)'
          : `cannot resolve generic netlink family IPVS: ${msg}`,
      );
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.bulk && !(this.bulk instanceof Error)) this.bulk.close();
    this.failAll(new Error('IPVS socket closed'));
    this.sock.socket.close();
  }

  private failAll(err: Error): void {
    for (const [seq, p] of this.pending) {
      this.pending.delete(seq);
      p.resolve({ what: p.what, error: new IpvsError(p.what, 0, err.message), replies: p.replies });
    }
    this.quietSeq = [];
    this.quietN = [];
    this.quietHead = 0;
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private receive(buf: Buffer): void {
    let msgs: NlMessage[];
    try {
      msgs = splitMessages(buf);
    } catch {
      this.counters.malformed++;
      return;
    }
    for (const m of msgs) {
      const p = this.pending.get(m.seq);
      if (!p) continue; // the package's own controller traffic, or a late reply after a timeout
      if (m.type === NLMSG_ERROR) {
        let e: { error: number; message?: string };
        try {
          e = parseError(m);
        } catch {
          this.counters.malformed++;
          continue;
        }
        this.finish(m.seq, p, e.error ? new IpvsError(p.what, e.error, e.message) : undefined);
      } else if (m.type === NLMSG_DONE) {
        this.finish(m.seq, p);
      } else if (m.type === this.familyId) {
        // Dump entries end with DONE; a single reply (GET_INFO) is followed by its ack.
        if (p.replies === NO_REPLIES) p.replies = [];
        p.replies.push(m.payload.subarray(4)); // skip genlmsghdr
      } else {
        this.counters.malformed++;
      }
    }
  }

  private finish(seq: number, p: Pending, error?: IpvsError): void {
    this.pending.delete(seq);
    p.resolve({ what: p.what, error, replies: p.replies });
    // The kernel handled every message sent before this one: quiet writes still pending succeeded.
    const qs = this.quietSeq;
    const qn = this.quietN;
    let h = this.quietHead;
    while (h < qs.length && qn[h] < p.n) {
      const w = this.pending.get(qs[h]);
      if (w && w.n === qn[h]) {
        this.pending.delete(qs[h]);
        w.resolve({ what: w.what, replies: w.replies });
      }
      h++;
    }
    if (h === qs.length) {
      qs.length = 0;
      qn.length = 0;
      h = 0;
    } else if (h > 4096 && h * 2 > qs.length) {
      qs.splice(0, h);
      qn.splice(0, h);
      h = 0;
    }
    this.quietHead = h;
    if (this.pending.size <= this.window / 2) this.wake();
  }

  private nextSeq(): number {
    this.seq = this.seq >= 0x7fffffff ? 0x10000 : this.seq + 1;
    return this.seq;
  }

  /**
   * Sends requests pipelined: many per datagram, at most `window` unsettled. Resolves with one result
   * per request in order; never rejects for a kernel error (each result carries its own).
   */
  async run(reqs: IpvsRequest[]): Promise<RequestResult[]> {
    if (this.closed) throw new Error('IPVS socket closed');
    const results = new Array<RequestResult>(reqs.length);
    if (!reqs.length) return results;
    let remaining = reqs.length;
    let allDone!: () => void;
    const all = new Promise<void>((resolve) => {
      allDone = resolve;
    });
    let total = 0;
    for (const r of reqs) total += 20 + bodyLength(r);
    // Messages are written straight into one datagram buffer, reused after each send completes.
    const dg = Buffer.allocUnsafe(Math.min(MAX_DATAGRAM, Math.max(total, 64)));
    let off = 0;
    let last = -1;
    const flush = async () => {
      if (!off) return;
      // The last message asks for an ack: it settles the quiet writes before it.
      dg.writeUInt16LE(dg.readUInt16LE(last + 6) | NLM_F_ACK, last + 6);
      const bytes = dg.subarray(0, off);
      off = 0;
      this.counters.datagrams++;
      await new Promise<void>((resolve) => {
        this.sock.socket.socket.send(bytes, {}, (err) => {
          if (err) this.failAll(err);
          resolve();
        });
      });
    };
    for (let i = 0; i < reqs.length; i++) {
      const req = reqs[i];
      while (this.pending.size >= this.window) {
        await flush();
        if (this.pending.size < this.window) break;
        await this.waitForRoom();
      }
      if (this.closed) throw new Error('IPVS socket closed');
      const body = req.attrs.length === 1 ? req.attrs[0] : Buffer.concat(req.attrs);
      if (20 + body.length > dg.length) throw new Error(`${req.what}: request too large`);
      if (off + 20 + body.length > dg.length) await flush();
      const seq = this.nextSeq();
      const read = isRead(req.cmd);
      const flags = NLM_F_REQUEST | (read ? NLM_F_ACK : 0) | (req.dump ? NLM_F_DUMP : 0);
      last = off;
      off += writeGenlMessage(
        dg,
        off,
        { family: this.familyId, cmd: req.cmd, version: IPVS_GENL_VERSION, flags, seq },
        body,
      );
      this.counters.requests++;
      if (!read) this.counters.writes++;
      let dumpDone: (() => void) | undefined;
      const dumpEnd = req.dump ? new Promise<void>((resolve) => (dumpDone = resolve)) : undefined;
      const n = this.sentCount++;
      this.pending.set(seq, {
        what: req.what,
        replies: read ? [] : NO_REPLIES,
        n,
        resolve: (r) => {
          results[i] = r;
          dumpDone?.();
          if (--remaining === 0) allDone();
        },
      });
      if (!read) {
        this.quietSeq.push(seq);
        this.quietN.push(n);
      }
      // The kernel runs one dump per socket at a time (a second gets EBUSY): wait for it to end.
      if (dumpEnd) {
        await flush();
        await this.withTimeout(dumpEnd);
      }
    }
    await flush();
    await this.withTimeout(all);
    return results;
  }

  /**
   * Runs `count` writes made one at a time by `make(i)` (encoding interleaved with sending). On the
   * bulk socket, datagram k is applied by the kernel on a worker thread while datagram k+1 is
   * encoded here; without koffi it is run() of the same requests. One result per write, in order.
   */
  async runWrites(count: number, make: (i: number) => IpvsRequest): Promise<RequestResult[]> {
    if (this.closed) throw new Error('IPVS socket closed');
    this.bulk ??= BulkSender.open();
    const bulk = this.bulk;
    if (bulk instanceof Error) return this.run(Array.from({ length: count }, (_, i) => make(i)));
    const results = new Array<RequestResult>(count);
    const bufs = [Buffer.allocUnsafe(MAX_DATAGRAM), Buffer.allocUnsafe(MAX_DATAGRAM)];
    let which = 0;
    let carry: IpvsRequest | undefined;
    let next = 0;
    let inflight: Promise<void> | undefined;
    while (next < count || carry || inflight) {
      // Encode the next datagram while the previous one is in the kernel.
      const dg = bufs[which];
      const idx: number[] = [];
      const seqs: number[] = [];
      const whats: string[] = [];
      let off = 0;
      while ((carry || next < count) && idx.length < bulk.maxMessages) {
        const req = carry ?? make(next);
        if (isRead(req.cmd)) throw new Error(`${req.what}: runWrites is for writes only`);
        const body = req.attrs.length === 1 ? req.attrs[0] : Buffer.concat(req.attrs);
        if (20 + body.length > dg.length) throw new Error(`${req.what}: request too large`);
        if (off + 20 + body.length > dg.length) {
          carry = req;
          break;
        }
        // A carried request was made from `next` too, which moves on only once it fits.
        const i = next++;
        carry = undefined;
        const seq = this.nextSeq();
        off += writeGenlMessage(
          dg,
          off,
          { family: this.familyId, cmd: req.cmd, version: IPVS_GENL_VERSION, flags: NLM_F_REQUEST, seq },
          body,
        );
        idx.push(i);
        seqs.push(seq);
        whats.push(req.what);
      }
      if (inflight) await this.withTimeout(inflight);
      inflight = undefined;
      if (!idx.length) continue;
      this.counters.requests += idx.length;
      this.counters.writes += idx.length;
      this.counters.datagrams++;
      const len = off;
      inflight = bulk.send(dg, len).then(
        () => {
          const { replies, overrun } = bulk.drain();
          const { settled, malformed } = settleDatagram(seqs, replies, overrun);
          this.counters.malformed += malformed;
          settled.forEach((s, k) => {
            const what = whats[k];
            results[idx[k]] = s.error
              ? { what, error: new IpvsError(what, s.error, s.message), replies: NO_REPLIES }
              : s.lost
                ? {
                    what,
                    error: new IpvsError(what, 0, 'result lost: netlink receive buffer overrun'),
                    replies: NO_REPLIES,
                  }
                : { what, replies: NO_REPLIES };
          });
        },
        (err: Error) => {
          idx.forEach((i, k) => {
            results[i] = {
              what: whats[k],
              error: new IpvsError(whats[k], 0, err.message),
              replies: NO_REPLIES,
            };
          });
        },
      );
      which ^= 1;
    }
    return results;
  }

  private waitForRoom(): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.failAll(new Error(`no netlink reply within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.waiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  private async withTimeout<T>(p: Promise<T>): Promise<T> {
    let t: NodeJS.Timeout | undefined;
    const timer = new Promise<never>((_, reject) => {
      t = setTimeout(() => {
        this.failAll(new Error(`no netlink reply within ${this.timeoutMs} ms`));
        reject(new Error(`IPVS request timed out after ${this.timeoutMs} ms`));
      }, this.timeoutMs);
    });
    try {
      return await Promise.race([p, timer]);
    } finally {
      clearTimeout(t);
    }
  }

  /** Runs requests and throws the first error (all errors listed) — for reads and simple calls. */
  async runOrThrow(reqs: IpvsRequest[]): Promise<RequestResult[]> {
    const res = await this.run(reqs);
    const errs = res.filter((r) => r.error);
    if (errs.length) {
      const more =
        errs.length > 1
          ? ` (+${errs.length - 1} more: ${errs
              .slice(1, 4)
              .map((e) => e.error!.message)
              .join('; ')})`
          : '';
      throw new Error(errs[0].error!.message + more);
    }
    return res;
  }

  async info(): Promise<IpvsInfo> {
    const [r] = await this.runOrThrow([encode.getInfo()]);
    if (!r.replies[0]) throw new Error('IPVS info: empty reply');
    return decodeInfo(r.replies[0]);
  }

  async timeouts(): Promise<Timeouts> {
    const [r] = await this.runOrThrow([encode.getConfig()]);
    if (!r.replies[0]) throw new Error('IPVS timeouts: empty reply');
    return decodeTimeouts(r.replies[0]);
  }

  async services(): Promise<ObservedService[]> {
    const [r] = await this.runOrThrow([encode.getServices()]);
    return r.replies.map((b) => decodeService(b));
  }

  /** Destinations of many services at once (pipelined dumps), in kernel list order (head first). */
  async dests(services: ServiceId[]): Promise<ObservedDest[][]> {
    const res = await this.runOrThrow(services.map((s) => encode.getDests(s)));
    return res.map((r, i) => r.replies.map((b) => decodeDest(b, services[i].family)));
  }
}
