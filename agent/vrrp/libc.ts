// The few libc calls VRRP needs and Node lacks, through koffi (FFI, prebuilt binary):
// - an AF_PACKET socket for gratuitous ARP (an Ethernet frame; Node and raw-socket only open
//   AF_INET/AF_INET6 sockets);
// - a send-only raw IPv4 socket whose sendto is synchronous (raw-socket queues its sends);
// - a stable C copy of a classic-BPF program (bpf.ts), whose address goes into the `struct sock_fprog`
//   handed to raw-socket's setOption(SO_ATTACH_FILTER) (the kernel copies the program in the call).
// `loadLibc()` returns an Error (never throws) where koffi or libc cannot load; callers fall back.
import { createRequire } from 'node:module';
import { constants, endianness } from 'node:os';

export const AF_PACKET = 17;
const AF_INET = 2;
const SOCK_DGRAM = 2;
const SOCK_RAW = 3;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;

export interface Libc {
  socket(domain: number, type: number, protocol: number): number;
  setsockopt(fd: number, level: number, name: number, val: Buffer, len: number): number;
  sendto(fd: number, buf: Buffer, len: number, flags: number, addr: Buffer, addrlen: number): number;
  close(fd: number): number;
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
      sendto: lib.func('intptr_t sendto(int, const void *, uintptr_t, int, const void *, uint32_t)'),
      close: lib.func('int close(int)'),
      setsockopt: lib.func('int setsockopt(int, int, int, const void *, uint32_t)'),
      errno: () => koffi.errno(),
      pointerSize: koffi.sizeof('void *'),
      withCopy(bytes, fn) {
        const mem = koffi.alloc('uint8_t', Math.max(1, bytes.length));
        try {
          new Uint8Array(koffi.view(mem, bytes.length)).set(bytes);
          return fn(koffi.address(mem));
        } finally {
          koffi.free(mem);
        }
      },
    } as Libc;
  } catch (err) {
    cached = new Error(`koffi/libc not usable: ${(err as Error).message}`);
  }
  return cached;
}

const errnoName = new Map<number, string>(Object.entries(constants.errno).map(([k, v]) => [v, k]));

/** "ENETDOWN" for 100; "errno 999" for what Node does not name. */
export function errnoCode(errno: number): string {
  return errnoName.get(errno) ?? `errno ${errno}`;
}

/**
 * One AF_PACKET datagram socket (the kernel writes the Ethernet header from the sockaddr_ll we
 * give each send). Protocol 0: it never receives, so no frame is ever queued to it for nothing.
 * Non-blocking: a full send queue is an EAGAIN error, never a stalled event loop.
 */
export class PacketSocket {
  private fd: number;

  private constructor(
    private libc: Libc,
    fd: number,
  ) {
    this.fd = fd;
  }

  /** Opens the socket, or returns the reason it cannot (no koffi, no CAP_NET_RAW, ...). */
  static open(): PacketSocket | Error {
    const libc = loadLibc();
    if (libc instanceof Error) return libc;
    const fd = libc.socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return new Error(`socket(AF_PACKET) failed: ${errnoCode(libc.errno())}`);
    return new PacketSocket(libc, fd);
  }

  /** Sends one frame payload to `sockaddrLl` (see encodeSockaddrLl); throws with the errno name. */
  send(payload: Buffer, sockaddrLl: Buffer): void {
    if (this.fd < 0) throw new Error('packet socket is closed');
    const n = this.libc.sendto(this.fd, payload, payload.length, 0, sockaddrLl, sockaddrLl.length);
    if (n < 0) throw new Error(`sendto: ${errnoCode(this.libc.errno())}`);
  }

  close(): void {
    if (this.fd < 0) return;
    this.libc.close(this.fd);
    this.fd = -1;
  }
}

/** struct sockaddr_in for an IPv4 address (port 0: raw sockets ignore it). */
export function sockaddrIn(ip: Buffer): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt16LE(AF_INET, 0); // sa_family_t, host order (little-endian hosts only: see RawIpv4Sender)
  ip.copy(b, 4);
  return b;
}

/**
 * A send-only raw IPv4 socket (IP_HDRINCL) for VRRP adverts, so a takeover advert leaves inside
 * the timer callback that decided it (one sendto), before the state change fans out to the VIP
 * add, logs and facts. raw-socket queues sends to its next writable poll, which measured ~1 ms
 * later. It must never receive: a drop-all socket filter keeps its queue empty (receiving stays
 * on the raw-socket socket).
 */
export class RawIpv4Sender {
  private constructor(
    private libc: Libc,
    private fd: number,
  ) {}

  /** `setup` gets a setsockopt that throws with the option's name; returns an Error if unusable. */
  static open(
    protocol: number,
    setup: (setopt: (what: string, level: number, name: number, val: Buffer) => void) => void,
  ): RawIpv4Sender | Error {
    const libc = loadLibc();
    if (libc instanceof Error) return libc;
    if (endianness() !== 'LE') return new Error('big-endian host');
    const fd = libc.socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
    if (fd < 0) return new Error(`socket(AF_INET, SOCK_RAW) failed: ${errnoCode(libc.errno())}`);
    try {
      setup((what, level, name, val) => {
        if (libc.setsockopt(fd, level, name, val, val.length) < 0)
          throw new Error(`${what}: ${errnoCode(libc.errno())}`);
      });
    } catch (err) {
      libc.close(fd);
      return err as Error;
    }
    return new RawIpv4Sender(libc, fd);
  }

  /** Sends one datagram (with our IP header); throws with the errno name (EAGAIN when full). */
  send(pkt: Buffer, dst: Buffer): void {
    if (this.fd < 0) throw new Error('sender is closed');
    if (this.libc.sendto(this.fd, pkt, pkt.length, 0, dst, dst.length) < 0)
      throw new Error(`sendto: ${errnoCode(this.libc.errno())}`);
  }

  close(): void {
    if (this.fd < 0) return;
    this.libc.close(this.fd);
    this.fd = -1;
  }
}
