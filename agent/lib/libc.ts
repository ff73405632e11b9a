// The libc calls Node lacks, through koffi (FFI, prebuilt binary), loaded once for the whole agent:
// - VRRP: an AF_PACKET socket for gratuitous ARP, a synchronous raw IPv4 sender, a stable C copy
//   of a classic-BPF program (agent/vrrp/libc.ts);
// - health: non-blocking connect + epoll for the TCP prober (agent/health/probes/epoll.ts);
// - IPVS: a netlink socket whose send runs on a worker thread (agent/lib/netlink-bulk.ts);
// - VRRP takeovers: a synchronous address probe (agent/vrrp/addr-probe.ts);
// - socket options on descriptors that packages do not expose (`findSockets`: VRRP receive stamps,
//   the rtnetlink listener's echo filter);
// - the daemon: flock(2) for the single-instance lock (agent/daemon/instance-lock.ts), sendto(2) on
//   an AF_UNIX datagram socket for sd_notify (agent/daemon/sdnotify.ts), and the system's NSS
//   lookups getgrnam_r/getpwnam_r (agent/lib/nss.ts: LDAP/SSSD names, not only /etc/group).
// `loadLibc()` returns an Error (never throws) where koffi or libc cannot load; every caller has a
// fallback that does not need it.
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { constants } from 'node:os';

// Socket constants (<sys/socket.h>, <linux/netlink.h>; the same on every Linux architecture we run).
export const AF_UNIX = 1;
export const AF_INET = 2;
export const AF_INET6 = 10;
export const AF_NETLINK = 16;
export const AF_PACKET = 17;
export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const SOCK_RAW = 3;
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;
export const SOL_SOCKET = 1;
export const MSG_DONTWAIT = 0x40;
export const NETLINK_ROUTE = 0;
export const NETLINK_GENERIC = 16;
export const SOL_NETLINK = 270;

export interface Libc {
  socket(domain: number, type: number, protocol: number): number;
  connect(fd: number, addr: Buffer, len: number): number;
  setsockopt(fd: number, level: number, name: number, val: Buffer, len: number): number;
  /** `len` is a 4-byte buffer holding the value's size in, its length out. */
  getsockopt(fd: number, level: number, name: number, val: Buffer, len: Buffer): number;
  sendto(fd: number, buf: Buffer, len: number, flags: number, addr: Buffer, addrlen: number): number;
  /** send(2); `.async` runs it on a libuv worker thread. */
  send: ((fd: number, buf: Buffer, len: number, flags: number) => number) & {
    async(fd: number, buf: Buffer, len: number, flags: number, cb: (err: unknown, n: number) => void): void;
  };
  recv(fd: number, buf: Buffer, len: number, flags: number): number;
  close(fd: number): number;
  epoll_create1(flags: number): number;
  epoll_ctl(ep: number, op: number, fd: number, ev: Buffer): number;
  epoll_wait(ep: number, evs: Buffer, max: number, timeout: number): number;
  /** ioctl(2) whose third argument is a buffer (e.g. SIOCGSTAMPNS). */
  ioctlBuf(fd: number, request: number, buf: Buffer): number;
  clock_gettime(clock: number, ts: Buffer): number;
  flock(fd: number, operation: number): number;
  /** getgrnam_r(3)/getpwnam_r(3): 0 or an errno; `result` (pointer-sized) is zero when not found. */
  getgrnam_r(name: string, grp: Buffer, buf: Buffer, buflen: number, result: Buffer): number;
  getpwnam_r(name: string, pwd: Buffer, buf: Buffer, buflen: number, result: Buffer): number;
  errno(): number;
  /** sizeof(void *), for structs that carry a pointer (struct sock_fprog). */
  pointerSize: number;
  /** Copies `bytes` to C memory that does not move, runs `fn` with its address, frees it. */
  withCopy<T>(bytes: Buffer, fn: (address: bigint) => T): T;
}

let cached: Libc | Error | undefined;

export function loadLibc(): Libc | Error {
  if (cached !== undefined) return cached;
  if (process.platform !== 'linux') {
    cached = new Error(`not Linux (${process.platform})`);
    return cached;
  }
  try {
    const koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
    const lib = koffi.load('libc.so.6');
    cached = {
      socket: lib.func('int socket(int, int, int)'),
      connect: lib.func('int connect(int, const void *, uint32_t)'),
      setsockopt: lib.func('int setsockopt(int, int, int, const void *, uint32_t)'),
      getsockopt: lib.func('int getsockopt(int, int, int, void *, void *)'),
      sendto: lib.func('intptr_t sendto(int, const void *, uintptr_t, int, const void *, uint32_t)'),
      send: lib.func('intptr_t send(int, const void *, uintptr_t, int)'),
      recv: lib.func('intptr_t recv(int, void *, uintptr_t, int)'),
      close: lib.func('int close(int)'),
      epoll_create1: lib.func('int epoll_create1(int)'),
      epoll_ctl: lib.func('int epoll_ctl(int, int, int, void *)'),
      epoll_wait: lib.func('int epoll_wait(int, void *, int, int)'),
      ioctlBuf: (
        (f) => (fd: number, request: number, buf: Buffer) =>
          f(fd, request, 'void *', buf)
      )(lib.func('int ioctl(int, unsigned long, ...)')),
      clock_gettime: lib.func('int clock_gettime(int, void *)'),
      flock: lib.func('int flock(int, int)'),
      getgrnam_r: lib.func('int getgrnam_r(const char *, void *, void *, uintptr_t, void *)'),
      getpwnam_r: lib.func('int getpwnam_r(const char *, void *, void *, uintptr_t, void *)'),
      errno: () => koffi.errno(),
      pointerSize: koffi.sizeof('void *'),
      withCopy<T>(bytes: Buffer, fn: (address: bigint) => T): T {
        const mem = koffi.alloc('uint8_t', Math.max(1, bytes.length));
        try {
          new Uint8Array(koffi.view(mem, bytes.length)).set(bytes);
          return fn(koffi.address(mem));
        } finally {
          koffi.free(mem);
        }
      },
    } as unknown as Libc;
  } catch (err) {
    cached = new Error(`koffi/libc not usable: ${(err as Error).message}`);
  }
  return cached;
}

const errnoName = new Map<number, string>(Object.entries(constants.errno).map(([k, v]) => [v, k]));

/** "ECONNREFUSED" for 111; "errno 999" for what Node does not name. */
export function errnoCode(errno: number): string {
  return errnoName.get(errno) ?? `errno ${errno}`;
}

/** A non-blocking, close-on-exec rtnetlink socket opened through koffi (for synchronous
 * request/answer use), or why it cannot be. */
export function openRtnetlink(): { libc: Libc; fd: number } | Error {
  const libc = loadLibc();
  if (libc instanceof Error) return libc;
  const fd = libc.socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return new Error(`socket(AF_NETLINK) failed: ${errnoCode(libc.errno())}`);
  return { libc, fd };
}

const SO_TYPE = 3;
const SO_PROTOCOL = 38;
const SO_DOMAIN = 39;

/**
 * This process's descriptors that are sockets of `domain`/`type`/`protocol` (and pass `extra`),
 * for packages that do not expose their descriptor (raw-socket, netlink): found by asking each
 * open descriptor (/proc/self/fd) with getsockopt.
 */
export function findSockets(
  libc: Libc,
  want: { domain: number; type: number; protocol: number },
  extra: (fd: number) => boolean = () => true,
): number[] {
  let fds: number[];
  try {
    fds = readdirSync('/proc/self/fd').map(Number);
  } catch {
    return [];
  }
  const int = Buffer.alloc(4);
  const len = Buffer.alloc(4);
  const opt = (fd: number, name: number): number | undefined => {
    len.writeUInt32LE(4);
    return libc.getsockopt(fd, SOL_SOCKET, name, int, len) === 0 ? int.readInt32LE(0) : undefined;
  };
  return fds.filter(
    (fd) =>
      opt(fd, SO_TYPE) === want.type &&
      opt(fd, SO_PROTOCOL) === want.protocol &&
      opt(fd, SO_DOMAIN) === want.domain &&
      extra(fd),
  );
}
