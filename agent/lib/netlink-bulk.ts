// Bulk writes on a second netlink socket (IPVS: generic netlink) whose send runs on a libuv worker
// thread (koffi's async call into libc). The kernel handles a netlink datagram inside the sender's
// sendmsg, so while one datagram is being applied there, the main thread encodes the next one: on a
// cold apply the kernel's share and the agent's JavaScript overlap instead of adding up. (Tried for
// rtnetlink too: slower there, see docs/kernel.md "Bench".)
//
// Writes carry no NLM_F_ACK: netlink_rcv_skb still answers a failed one with an error naming its
// sequence number. When send() returns, the kernel has handled the whole datagram, so every error
// is already queued: one non-blocking drain settles the datagram (no ack round trip at all).
import { constants } from 'node:os';
import {
  AF_NETLINK,
  type Libc,
  loadLibc,
  MSG_DONTWAIT,
  NETLINK_GENERIC,
  SOCK_CLOEXEC,
  SOCK_RAW,
  SOL_SOCKET,
} from './libc.js';
import { NLMSG_ERROR, parseError, splitMessages } from './netlink.js';

const SO_RCVBUF = 8;
const SO_RCVBUFFORCE = 33;
const { EINTR, ENOBUFS } = constants.errno;

/** What became of one message of a datagram. */
export interface Settled {
  /** Negative errno from the kernel; absent when it succeeded. */
  error?: number;
  /** Extended-ack text. */
  message?: string;
  /** The result was lost (receive buffer overrun): state unknown until the next read. */
  lost?: boolean;
}

/**
 * Settles the messages of one datagram (their sequence numbers, in order) from the replies drained
 * after its send: an error reply marks its message; every other message succeeded, unless the
 * receive buffer overran (then their outcome is unknown). Pure; malformed replies are counted.
 */
export function settleDatagram(
  seqs: readonly number[],
  replies: readonly Buffer[],
  overrun: boolean,
): { settled: Settled[]; malformed: number } {
  const settled: Settled[] = seqs.map(() => (overrun ? { lost: true } : {}));
  let malformed = 0;
  let index: Map<number, number> | undefined;
  for (const buf of replies) {
    let msgs: ReturnType<typeof splitMessages>;
    try {
      msgs = splitMessages(buf);
    } catch {
      malformed++;
      continue;
    }
    for (const m of msgs) {
      if (m.type !== NLMSG_ERROR) continue;
      index ??= new Map(seqs.map((s, i) => [s, i]));
      const i = index.get(m.seq);
      if (i === undefined) continue;
      try {
        const e = parseError(m);
        settled[i] = e.error ? { error: e.error, message: e.message } : {};
      } catch {
        malformed++;
      }
    }
  }
  return { settled, malformed };
}

/** What IpvsSocket.runWrites needs of a bulk socket (tests give a fake kernel). */
export interface BulkWriter {
  readonly maxMessages: number;
  send(buf: Buffer, len: number): Promise<void>;
  drain(): { replies: Buffer[]; overrun: boolean };
  close(): void;
}

/** One netlink socket for bulk writes (send on a worker thread, replies drained without blocking). */
export class BulkSender implements BulkWriter {
  private readonly rx = Buffer.alloc(64 << 10);
  private closed = false;

  private constructor(
    private readonly c: Libc,
    private readonly fd: number,
    /** Most messages per datagram whose error replies are sure to fit the receive buffer. */
    readonly maxMessages: number,
  ) {}

  /** Opens the socket; an Error (never a throw) when koffi or the socket is unavailable. */
  static open(): BulkSender | Error {
    const c = loadLibc();
    if (c instanceof Error) return c;
    const fd = c.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
    if (fd < 0) return new Error(`netlink socket: errno ${c.errno()}`);
    // Room for the error replies of a whole datagram: as root past rmem_max, else what it allows.
    const want = Buffer.alloc(4);
    want.writeInt32LE(4 << 20);
    if (c.setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, want, 4) < 0)
      c.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, want, 4);
    const got = Buffer.alloc(4);
    const len = Buffer.alloc(4);
    len.writeUInt32LE(4);
    const rcvbuf = c.getsockopt(fd, SOL_SOCKET, SO_RCVBUF, got, len) === 0 ? got.readInt32LE(0) : 212992;
    // An error reply echoes the request; with skb overhead it takes well under 2 KiB of the buffer.
    const maxMessages = Math.max(16, Math.min(2048, Math.floor(rcvbuf / 2048)));
    return new BulkSender(c, fd, maxMessages);
  }

  /** Sends one datagram on a worker thread; resolves when the kernel has handled all of it. */
  send(buf: Buffer, len: number): Promise<void> {
    if (this.closed) return Promise.reject(new Error('netlink bulk socket closed'));
    return new Promise((resolve, reject) => {
      this.c.send.async(this.fd, buf, len, 0, (err, n) => {
        if (err) reject(err instanceof Error ? err : new Error(String(err)));
        else if (n !== len)
          reject(new Error(n < 0 ? 'netlink send failed' : `netlink send short: ${n} of ${len}`));
        else resolve();
      });
    });
  }

  /** Every reply queued now (copies), and whether the kernel dropped some (ENOBUFS). */
  drain(): { replies: Buffer[]; overrun: boolean } {
    const replies: Buffer[] = [];
    let overrun = false;
    // Bounded: the queue holds at most rcvbuf bytes, and every reply is at least 16 bytes.
    for (let i = 0; i < 1 << 20; i++) {
      const n = this.c.recv(this.fd, this.rx, this.rx.length, MSG_DONTWAIT);
      if (n >= 0) {
        replies.push(Buffer.from(this.rx.subarray(0, n)));
        continue;
      }
      const e = this.c.errno();
      if (e === ENOBUFS) overrun = true;
      else if (e !== EINTR) break; // EAGAIN: nothing more queued
    }
    return { replies, overrun };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.c.close(this.fd);
  }
}
