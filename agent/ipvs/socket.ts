// The IPVS netlink shell: one persistent generic netlink socket, family "IPVS" resolved once (with
// the npm `netlink` package's controller support), requests pipelined many to a datagram, every
// ack matched by sequence number and checked. Errors name the object the request was about.
import { createGenericNetlink, type GenericNetlinkSocket, genl } from 'netlink';
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
  genlMessage,
  NLM_F_ACK,
  NLM_F_DUMP,
  NLM_F_REQUEST,
  NLMSG_DONE,
  NLMSG_ERROR,
  type NlMessage,
  parseError,
  splitMessages,
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
  dump: boolean;
  replies: Buffer[];
  resolve: (r: RequestResult) => void;
}

export interface IpvsSocketOptions {
  /** Most requests sent but not yet acked (their acks must fit the receive buffer). */
  window?: number;
  /** Per-request timeout. */
  timeoutMs?: number;
}

/** Counters for tests and metrics: writes are NEW/SET/DEL requests. */
export interface SocketCounters {
  requests: number;
  writes: number;
  datagrams: number;
  malformed: number;
}

export class IpvsSocket {
  private seq = 0x10000;
  private pending = new Map<number, Pending>();
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
    // (family resolution is done) so each reply is parsed once — it matters at 60,000 acks.
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
    this.failAll(new Error('IPVS socket closed'));
    this.sock.socket.close();
  }

  private failAll(err: Error): void {
    for (const [seq, p] of this.pending) {
      this.pending.delete(seq);
      p.resolve({ what: p.what, error: new IpvsError(p.what, 0, err.message), replies: p.replies });
    }
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
        p.replies.push(m.payload.subarray(4)); // skip genlmsghdr
      } else {
        this.counters.malformed++;
      }
    }
  }

  private finish(seq: number, p: Pending, error?: IpvsError): void {
    this.pending.delete(seq);
    p.resolve({ what: p.what, error, replies: p.replies });
    if (this.pending.size <= this.window / 2) this.wake();
  }

  private nextSeq(): number {
    this.seq = this.seq >= 0x7fffffff ? 0x10000 : this.seq + 1;
    return this.seq;
  }

  /**
   * Sends requests pipelined: many per datagram, at most `window` unacked. Resolves with one result
   * per request in order; never rejects for a kernel error (each result carries its own).
   */
  async run(reqs: IpvsRequest[]): Promise<RequestResult[]> {
    if (this.closed) throw new Error('IPVS socket closed');
    const results: Promise<RequestResult>[] = [];
    const maxBytes = 128 * 1024;
    let batch: Buffer[] = [];
    let batchBytes = 0;
    const flush = async () => {
      if (!batch.length) return;
      const bufs = batch;
      batch = [];
      batchBytes = 0;
      this.counters.datagrams++;
      await new Promise<void>((resolve) => {
        this.sock.socket.socket.send(bufs, {}, (err) => {
          if (err) this.failAll(err);
          resolve();
        });
      });
    };
    for (const req of reqs) {
      while (this.pending.size >= this.window) {
        await flush();
        if (this.pending.size < this.window) break;
        await this.waitForRoom();
      }
      const seq = this.nextSeq();
      const flags = NLM_F_REQUEST | NLM_F_ACK | (req.dump ? NLM_F_DUMP : 0);
      const msg = genlMessage({
        family: this.familyId,
        cmd: req.cmd,
        version: IPVS_GENL_VERSION,
        flags,
        seq,
        attrs: req.attrs,
      });
      this.counters.requests++;
      if (req.cmd !== 4 && req.cmd !== 8 && req.cmd !== 11 && req.cmd !== 13 && req.cmd !== 15)
        this.counters.writes++;
      results.push(
        new Promise<RequestResult>((resolve) => {
          this.pending.set(seq, { what: req.what, dump: !!req.dump, replies: [], resolve });
        }),
      );
      if (batchBytes + msg.length > maxBytes) await flush();
      batch.push(msg);
      batchBytes += msg.length;
      // The kernel runs one dump per socket at a time (a second gets EBUSY): wait for it to end.
      if (req.dump) {
        await flush();
        await this.withTimeout(results[results.length - 1]);
      }
    }
    await flush();
    return this.withTimeout(Promise.all(results));
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
