// When did the kernel receive the advert we are reading? RFC 3768/5798 run the Master_Down_Timer
// from the advert's arrival; the event loop hands it to us 0.05-0.6 ms later (measured here:
// an idle backup's wake-up and the JavaScript before the timer is re-armed), which a takeover
// then adds to its failover time. The kernel stamps every received packet (once any socket asks
// for timestamps) and SIOCGSTAMPNS returns the stamp of the last packet the socket read, so right
// after raw-socket hands us a packet, one ioctl and one clock_gettime give its age.
// raw-socket does not expose its descriptor: it is found among the process's descriptors right
// after it is bound to its interface, as the one raw socket of that family and protocol bound to
// that interface (the hub opens one per interface and family; the send-only and count-only
// sockets of the same interface are opened after it).
import { errnoCode, findSockets, type Libc, loadLibc, SOCK_RAW, SOL_SOCKET } from '../lib/libc.js';

const SIOCGSTAMPNS = 0x8907; // struct timespec (64-bit time on 64-bit hosts)
const CLOCK_REALTIME = 0;
const SO_BINDTODEVICE = 25;
/** An age beyond this is not a stamp of the packet at hand (stale or a stepped clock). */
const MAX_AGE_MS = 1000;

/** Age in ms of a packet stamped (sec, nsec) when the clock reads (nowSec, nowNsec); undefined if implausible. */
export function stampAgeMs(sec: bigint, nsec: bigint, nowSec: bigint, nowNsec: bigint): number | undefined {
  if (sec === 0n && nsec === 0n) return undefined;
  const ms = Number((nowSec - sec) * 1_000_000_000n + (nowNsec - nsec)) / 1e6;
  return ms >= 0 && ms <= MAX_AGE_MS ? ms : undefined;
}

export class RxStamp {
  private readonly ts = Buffer.alloc(16);
  private readonly now = Buffer.alloc(16);

  private constructor(
    private readonly libc: Libc,
    readonly fd: number,
  ) {}

  /**
   * The one descriptor that is a raw `domain`/`protocol` socket bound to `ifname`, or why none
   * (or more than one) qualifies; the caller then times adverts on arrival in JavaScript.
   */
  static find(domain: number, protocol: number, ifname: string): RxStamp | Error {
    const libc = loadLibc();
    if (libc instanceof Error) return libc;
    const len = Buffer.alloc(4);
    const dev = Buffer.alloc(32);
    const device = (fd: number): string | undefined => {
      len.writeUInt32LE(dev.length);
      if (libc.getsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, dev, len) !== 0) return undefined;
      return dev.subarray(0, Math.max(0, len.readUInt32LE(0) - 1)).toString();
    };
    const found = findSockets(libc, { domain, type: SOCK_RAW, protocol }, (fd) => device(fd) === ifname);
    if (found.length !== 1)
      return new Error(`receive socket descriptor not identified (${found.length} candidates)`);
    return new RxStamp(libc, found[0]);
  }

  /** How long ago the kernel received the last packet this socket read; undefined if unknown
   * (the first call only switches stamping on: the packet at hand has none). */
  ageMs(): number | undefined {
    if (this.libc.ioctlBuf(this.fd, SIOCGSTAMPNS, this.ts) !== 0) return undefined;
    if (this.libc.clock_gettime(CLOCK_REALTIME, this.now) !== 0) return undefined;
    return stampAgeMs(
      this.ts.readBigInt64LE(0),
      this.ts.readBigInt64LE(8),
      this.now.readBigInt64LE(0),
      this.now.readBigInt64LE(8),
    );
  }

  /** errno text of the last failed call (status/logs). */
  lastError(): string {
    return errnoCode(this.libc.errno());
  }
}
