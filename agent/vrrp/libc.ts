import { endianness } from 'node:os';

import {
  AF_INET,
  AF_PACKET,
  errnoCode,
  type Libc,
  loadLibc,
  SOCK_CLOEXEC,
  SOCK_DGRAM,
  SOCK_NONBLOCK,
  SOCK_RAW,
} from '../lib/libc.js';

export { AF_PACKET, errnoCode, loadLibc };

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
