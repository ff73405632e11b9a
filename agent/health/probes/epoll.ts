// Connect-only TCP prober over libc (koffi FFI): non-blocking socket + connect, one epoll set
// polled without blocking (epoll_wait timeout 0) by the scheduler's tick, SO_LINGER 0 + close on
// success (RST, no TIME_WAIT, like HAProxy), with the handshake's last ACK held back (see start()).
// It has none of net.Socket's stream machinery: a check costs a few FFI calls and no JS objects
// (docs/health.md "Bench"). With `fastPath` a connect that finishes inside connect() (loopback,
// local addresses) is reported by start() itself, and a loopback target's socket is reused:
// 3-4 syscalls per loopback check, each of which costs 0.14-1.8 µs depending on the host.
// `open()` returns undefined where koffi or libc is missing; callers fall back to net.connect
// (./tcp.ts).
import { constants } from 'node:os';
import { addressBytes } from '../../lib/ip.js';
import {
  AF_INET,
  AF_INET6,
  errnoCode,
  type Libc,
  loadLibc,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  SOCK_STREAM,
  SOL_SOCKET,
} from '../../lib/libc.js';

const EPOLL_CLOEXEC = 0o2000000;
const EPOLL_CTL_ADD = 1;
const EPOLLOUT = 0x4;
const EPOLLERR = 0x8;
const SO_ERROR = 4;
const SO_LINGER = 13;
const IPPROTO_TCP = 6;
const TCP_QUICKACK = 12;
const TCP_DEFER_ACCEPT = 9;
const EINPROGRESS = constants.errno.EINPROGRESS;
const EALREADY = constants.errno.EALREADY;
const ECONNREFUSED = constants.errno.ECONNREFUSED;
const ECONNRESET = constants.errno.ECONNRESET;
const EPIPE = constants.errno.EPIPE;
/** struct epoll_event is packed on x86-64 (u32 events, u64 data) and 16 bytes elsewhere. */
const EVENT_SIZE = process.arch === 'x64' ? 12 : 16;
const MAX_EVENTS = 1024;

/** The shared libc (agent/lib/libc.ts), unless LBAGENT_TCP_PROBER=net asks for net.connect. */
function probeLibc(): Libc | null {
  if (process.env.LBAGENT_TCP_PROBER === 'net') return null;
  const c = loadLibc();
  return c instanceof Error ? null : c;
}

/** struct sockaddr_in / sockaddr_in6 for an address and port (encoded once per probe). */
export function sockaddr(address: string, port: number): Buffer {
  const ip = addressBytes(address); // throws on a non-address (or a scoped fe80::1%eth0)
  const b = Buffer.alloc(ip.length === 4 ? 16 : 28);
  b.writeUInt16LE(ip.length === 4 ? AF_INET : AF_INET6, 0);
  b.writeUInt16BE(port, 2);
  ip.copy(b, ip.length === 4 ? 4 : 8);
  return b;
}

export { errnoCode };

/** Called per finished connect: errno 0 = connected (and already reset). */
export type ConnectDone<T> = (owner: T, errno: number) => void;

/** start() with `fastPath`: the connect completed inside connect() (and the socket is reset). */
export const START_CONNECTED = -(1 << 30);

export interface ConnectorOptions {
  /**
   * Report connects that finish inside connect() (loopback, local addresses) from start() itself
   * (START_CONNECTED, or the negative errno of the failure) instead of through poll(): no
   * epoll_ctl / epoll_wait for them. The owner is not called for those; the caller completes them.
   */
  fastPath?: boolean;
  /**
   * With `fastPath` (default on there): a socket whose connect finished at once is dissolved with
   * connect(AF_UNSPEC) (connect(2): "the socket can be connected to another address"; for TCP the
   * kernel's tcp_disconnect, which sends the same RST as close with SO_LINGER 0) or was already
   * dissolved by the kernel (ECONNREFUSED), and is kept for the next connect of its family:
   * no socket() / close() / SO_LINGER per check. A socket still pending is never reused.
   * Only for loopback targets (127.0.0.0/8, ::1): a reused socket's initial sequence number is
   * the previous one plus a window (tcp_disconnect), not a fresh random one, which must not
   * matter off the host; to other targets every connect gets a new socket.
   */
  reuse?: boolean;
}

/** 127.0.0.0/8 or ::1 (a sockaddr_in / sockaddr_in6 from sockaddr()). */
export function isLoopback(addr: Buffer): boolean {
  if (addr.length === 16) return addr[4] === 127;
  return (
    addr.readUInt32BE(8) === 0 &&
    addr.readUInt32BE(12) === 0 &&
    addr.readUInt32BE(16) === 0 &&
    addr.readUInt32BE(20) === 1
  );
}

export class EpollConnector<T> {
  private owners: (T | undefined)[] = [];
  private inflight = 0;
  private readonly events = Buffer.alloc(EVENT_SIZE * MAX_EVENTS);
  private readonly ev = Buffer.alloc(EVENT_SIZE);
  private readonly linger = Buffer.alloc(8);
  private readonly int = Buffer.alloc(4);
  private readonly intLen = Buffer.alloc(4);
  private readonly zero = Buffer.alloc(4);
  private readonly one = Buffer.alloc(4);
  /** struct sockaddr with sa_family AF_UNSPEC (0): connect() to it dissolves the association. */
  private readonly unspec = Buffer.alloc(16);
  /** A reusable unconnected socket per family (index 0: AF_INET, 1: AF_INET6), or -1. */
  private readonly spare = [-1, -1];
  private readonly reuse: boolean;

  private constructor(
    private readonly c: Libc,
    private readonly ep: number,
    private readonly fastPath: boolean,
    reuse: boolean,
  ) {
    this.reuse = fastPath && reuse;
    this.one.writeInt32LE(1, 0);
    this.linger.writeInt32LE(1, 0); // l_onoff 1, l_linger 0: close sends RST
    this.ev.writeUInt32LE(EPOLLOUT, 0); // events; data (the fd) is written per connect
  }

  /** undefined when koffi / libc / epoll is not usable here (fall back to net.connect). */
  static open<T>(opts: ConnectorOptions = {}): EpollConnector<T> | undefined {
    const c = probeLibc();
    if (!c) return undefined;
    const ep = c.epoll_create1(EPOLL_CLOEXEC);
    return ep >= 0 ? new EpollConnector<T>(c, ep, opts.fastPath === true, opts.reuse !== false) : undefined;
  }

  get pending(): number {
    return this.inflight;
  }

  /**
   * Starts a connect. Returns the fd (the handle for cancel; the owner is called from poll()) or,
   * when it finished at once, a negative errno (ENETUNREACH, EMFILE...; with `fastPath` also
   * ECONNREFUSED) or START_CONNECTED (`fastPath` only); the owner is then not kept or called.
   * `tryAtOnce` false: a non-loopback target whose last connect did not finish at once (remote).
   */
  start(addr: Buffer, owner: T, tryAtOnce = true): number {
    const c = this.c;
    const family = addr.length === 16 ? 0 : 1;
    const loopback = isLoopback(addr);
    const reuse = this.reuse && loopback;
    // The second connect() is only worth its syscall where the handshake can finish inside the
    // first: always on loopback; elsewhere while this target's connects do (the caller's hint:
    // a backend across a real network never does, and then pays nothing extra).
    const atOnce = this.fastPath && (loopback || tryAtOnce);
    let fd = reuse ? this.spare[family] : -1;
    if (fd >= 0) this.spare[family] = -1;
    else {
      fd = c.socket(family === 0 ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) return -c.errno();
      // The handshake's final ACK is held back, and the RST goes first, so the backend's kernel
      // answers SYN with SYN-ACK but never completes the connection: no accept() wake-up, no
      // "connection reset" in the application's logs (HAProxy's pure-connect check does the
      // same: SYN, SYN-ACK, RST). ~30 % less kernel time per check (connect-micro).
      // - TCP_QUICKACK 0 (pingpong mode) for a socket used once, as HAProxy does;
      // - TCP_DEFER_ACCEPT for a socket that will be reused: on a connecting socket the kernel
      //   holds the ACK for it exactly as for pingpong mode (tcp_rcv_synsent_state_process: "save
      //   one ACK"), and unlike pingpong mode it survives the disconnect, so it is set once per
      //   socket instead of once per connect.
      if (reuse) c.setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, this.one, 4);
      else c.setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, this.zero, 4);
    }
    if (c.connect(fd, addr, addr.length) < 0) {
      const e = c.errno();
      if (e !== EINPROGRESS) {
        c.close(fd);
        return -e;
      }
      // Fast path. On loopback / a local address the whole handshake runs inside connect() (the
      // SYN, SYN-ACK or RST are processed in softirq, and the socket's backlog at release_sock,
      // before connect returns), so the socket is usually finished already. A second
      // non-blocking connect() asks the kernel in one call: 0 = established (the socket is now
      // SS_CONNECTED), EALREADY = still in SYN_SENT, any other errno = failed (sk_err, consumed
      // as a blocking connect would). Cheaper than getsockopt(SO_ERROR), which cannot tell
      // pending from established (0 for both) and would need TCP_INFO as a second call.
      if (atOnce) {
        if (c.connect(fd, addr, addr.length) === 0) return this.reset(fd, family, reuse);
        const e2 = c.errno();
        if (e2 !== EALREADY) {
          // Refused: the kernel has dissolved the socket already (unconnected, error consumed).
          if (e2 === ECONNREFUSED && reuse) this.keep(fd, family);
          else c.close(fd);
          // Established, then reset by the server already: the connect itself succeeded (as poll()).
          return e2 === ECONNRESET || e2 === EPIPE ? START_CONNECTED : -e2;
        }
      }
    } else if (this.fastPath) {
      return this.reset(fd, family, reuse);
    }
    this.ev.writeUInt32LE(fd, 4);
    if (c.epoll_ctl(this.ep, EPOLL_CTL_ADD, fd, this.ev) < 0) {
      const e = c.errno();
      c.close(fd);
      return -e;
    }
    this.owners[fd] = owner;
    this.inflight++;
    return fd;
  }

  /**
   * Resets a connected socket (RST, no TIME_WAIT): with `reuse` by dissolving it (connect to
   * AF_UNSPEC) and keeping it, else SO_LINGER 0 + close.
   */
  private reset(fd: number, family: number, reuse: boolean): number {
    const c = this.c;
    if (reuse && c.connect(fd, this.unspec, this.unspec.length) === 0) {
      this.keep(fd, family);
      return START_CONNECTED;
    }
    c.setsockopt(fd, SOL_SOCKET, SO_LINGER, this.linger, 8);
    c.close(fd);
    return START_CONNECTED;
  }

  private keep(fd: number, family: number): void {
    if (this.spare[family] < 0) this.spare[family] = fd;
    else this.c.close(fd);
  }

  /** Aborts a connect in flight (timeout, stop). Its owner is not called. */
  cancel(fd: number): void {
    if (this.owners[fd] === undefined) return;
    this.owners[fd] = undefined;
    this.inflight--;
    this.c.close(fd);
  }

  /** Harvests finished connects without blocking; returns how many finished. */
  poll(done: ConnectDone<T>): number {
    if (this.inflight === 0) return 0;
    const c = this.c;
    let total = 0;
    for (let round = 0; round < 64; round++) {
      const n = c.epoll_wait(this.ep, this.events, MAX_EVENTS, 0);
      if (n <= 0) break;
      for (let i = 0; i < n; i++) {
        const off = i * EVENT_SIZE;
        const events = this.events.readUInt32LE(off);
        const fd = this.events.readUInt32LE(off + 4);
        const owner = this.owners[fd];
        if (owner === undefined) continue;
        this.owners[fd] = undefined;
        this.inflight--;
        let err = 0;
        if (events & EPOLLERR) {
          this.intLen.writeUInt32LE(4, 0);
          err =
            c.getsockopt(fd, SOL_SOCKET, SO_ERROR, this.int, this.intLen) < 0
              ? c.errno()
              : this.int.readInt32LE(0);
          // Established, then reset by the server before this poll: the connect itself succeeded.
          if (err === ECONNRESET || err === EPIPE) err = 0;
        } else {
          c.setsockopt(fd, SOL_SOCKET, SO_LINGER, this.linger, 8);
        }
        c.close(fd);
        total++;
        done(owner, err);
      }
      if (n < MAX_EVENTS) break;
    }
    return total;
  }

  /** Closes every socket in flight, the spare sockets and the epoll set. */
  close(): void {
    for (let fd = 0; fd < this.owners.length; fd++) if (this.owners[fd] !== undefined) this.cancel(fd);
    for (let i = 0; i < this.spare.length; i++) {
      if (this.spare[i] >= 0) this.c.close(this.spare[i]);
      this.spare[i] = -1;
    }
    this.c.close(this.ep);
  }
}
