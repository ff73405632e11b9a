// A synchronous rtnetlink writer for the few requests that must be in the kernel before the
// caller's next line: a VRRP takeover's VIP adds (the gratuitous ARPs follow in the same turn).
// rtnetlink applies a request inside sendmsg and queues its ack before sendmsg returns, so one
// send and a non-blocking read of the acks tell, without an event-loop turn, which adds the
// kernel took. keepalived's netlink add is just as synchronous. The requests are encoded ahead of
// time (prepareFrames) so the takeover itself only copies them. Everything else keeps going
// through the pipelined RtnlSocket (transport.ts); this socket only writes what it is given.
import { constants } from 'node:os';
import { errnoCode, type Libc, MSG_DONTWAIT, openRtnetlink } from '../lib/libc.js';
import { toRequest } from './apply.js';
import { NLM_F, NLMSG_ERROR, parseErrno, splitMessages, Writer } from './codec.js';
import type { KernelOp } from './types.js';

const { EAGAIN } = constants.errno;
const MAX_READS = 64;

/** One self-contained request (nlmsghdr + payload) per op, asking for an ack; seq 0 until sent. */
export function prepareFrames(ops: KernelOp[]): Buffer[] {
  return ops.map((op) => {
    const r = toRequest(op);
    const w = new Writer(128);
    const at = w.beginMessage(r.type, r.flags | NLM_F.REQUEST | NLM_F.ACK, 0);
    r.write(w);
    w.endMessage(at);
    return Buffer.from(w.done());
  });
}

/**
 * Copies `frames` into one datagram with consecutive seqs from `base` (written in place at
 * offset 8 of each nlmsghdr). Returns the datagram.
 */
export function datagramOf(frames: Buffer[], base: number): Buffer {
  let len = 0;
  for (const f of frames) len += f.length;
  const out = Buffer.allocUnsafe(len);
  let off = 0;
  frames.forEach((f, i) => {
    f.copy(out, off);
    out.writeUInt32LE((base + i) >>> 0, off + 8);
    off += f.length;
  });
  return out;
}

/**
 * Folds the acks in one read into `results` (errno per request, index = seq - base; undefined
 * until answered). Returns how many requests it answered, or an error text for bad framing.
 */
export function readAcks(buf: Buffer, base: number, results: (number | undefined)[]): number | string {
  let msgs: ReturnType<typeof splitMessages>;
  try {
    msgs = splitMessages(buf);
  } catch (err) {
    return (err as Error).message;
  }
  let n = 0;
  for (const m of msgs) {
    const i = m.seq - base;
    if (m.type !== NLMSG_ERROR || i < 0 || i >= results.length || results[i] !== undefined) continue;
    results[i] = parseErrno(m.payload);
    n++;
  }
  return n;
}

export class SyncRtnlWriter {
  private seq = 1;
  private readonly rx = Buffer.alloc(16 * 1024);

  private constructor(
    private readonly libc: Libc,
    private fd: number,
  ) {}

  /** Opens the socket, or says why it cannot (no koffi): callers then use the pipelined path. */
  static open(): SyncRtnlWriter | Error {
    const s = openRtnetlink();
    if (s instanceof Error) return s;
    const { libc, fd } = s;
    return new SyncRtnlWriter(libc, fd);
  }

  /**
   * Sends the prepared frames in one datagram and reads their acks. Returns the errno of each
   * (0 = applied), or an Error when that cannot be told (the caller must not assume either way).
   */
  write(frames: Buffer[]): number[] | Error {
    if (this.fd < 0) return new Error('sync rtnetlink writer is closed');
    if (this.seq > 0x7fff0000) this.seq = 1;
    const base = this.seq;
    this.seq += frames.length;
    const dgram = datagramOf(frames, base);
    if (this.libc.send(this.fd, dgram, dgram.length, 0) < 0)
      return new Error(`rtnetlink send: ${errnoCode(this.libc.errno())}`);
    const results = new Array<number | undefined>(frames.length).fill(undefined);
    let answered = 0;
    for (let i = 0; i < MAX_READS && answered < frames.length; i++) {
      const n = this.libc.recv(this.fd, this.rx, this.rx.length, MSG_DONTWAIT);
      if (n < 0) {
        const errno = this.libc.errno();
        // Not expected: rtnetlink answers inside sendmsg. Unanswered adds are not known either way.
        return new Error(`rtnetlink acks: ${errno === EAGAIN ? 'not all answered' : errnoCode(errno)}`);
      }
      const r = readAcks(this.rx.subarray(0, n), base, results);
      if (typeof r === 'string') return new Error(`rtnetlink acks: ${r}`);
      answered += r;
    }
    if (answered < frames.length) return new Error('rtnetlink acks: not all answered');
    return results as number[];
  }

  close(): void {
    if (this.fd < 0) return;
    this.libc.close(this.fd);
    this.fd = -1;
  }
}
