// Gratuitous ARP and IPv6 unsolicited Neighbour Advertisements when an instance becomes master:
// a burst of `count`, a second burst of `repeatCount` after `repeatDelay`, and an optional
// periodic refresh while master (keepalived: garp_master_delay/_repeat/_refresh).
//
// Why arping: gratuitous ARP is an Ethernet frame, which needs an AF_PACKET socket, and Node
// (and raw-socket) only open AF_INET/AF_INET6 sockets. iputils `arping -U` sends exactly the
// frame keepalived sends (ARP request, sender IP = target IP = VIP, broadcast). Each packet is
// its own `arping -c 1` started in parallel (iputils only takes whole-second intervals), after the
// takeover advert is already on the wire, so the spawn never delays the VRRP side.
// IPv6 NA needs no link layer: an ICMPv6 raw socket (raw-socket) does it, the kernel adds the
// checksum.
import { createRequire } from 'node:module';
import { execa } from 'execa';
import type { Clock, Timer } from '../lib/clock.js';
import { addressBytes, familyOf } from '../lib/ip.js';

const ALL_NODES = 'ff02::1';
const ND_NEIGHBOR_ADVERT = 136;
const NA_FLAG_OVERRIDE = 0x20000000;
const ND_OPT_TARGET_LL_ADDR = 2;

/** ICMPv6 Neighbour Advertisement (RFC 4861 4.4), unsolicited: Override set, Solicited clear. */
export function encodeUnsolicitedNa(target: string, mac: Buffer, router = false): Buffer {
  if (mac.length !== 6) throw new Error(`MAC must be 6 bytes, got ${mac.length}`);
  const b = Buffer.alloc(32);
  b[0] = ND_NEIGHBOR_ADVERT;
  b.writeUInt32BE(NA_FLAG_OVERRIDE | (router ? 0x80000000 : 0), 4);
  addressBytes(target).copy(b, 8);
  b[24] = ND_OPT_TARGET_LL_ADDR;
  b[25] = 1; // length in units of 8 bytes
  mac.copy(b, 26);
  return b;
}

/** The arping argv for one gratuitous ARP of `vip` on `ifname`. */
export function arpingArgv(ifname: string, vip: string): string[] {
  return ['arping', '-U', '-c', '1', '-I', ifname, '-s', vip, vip];
}

export interface AnnounceSchedule {
  count: number;
  repeatDelayMs: number;
  repeatCount: number;
  refreshMs?: number;
}

export interface Announcer {
  /** Sends one announcement for every address (GARP for IPv4, NA for IPv6). */
  sendOnce(addresses: string[]): void;
  close(): void;
}

interface RawSocket {
  on(ev: 'error', fn: (err: Error) => void): void;
  send(buf: Buffer, offset: number, length: number, address: string, cb: (err: Error | null) => void): void;
  setOption(level: number, option: number, value: number | Buffer, length?: number): void;
  close(): void;
}
const raw = createRequire(import.meta.url)('raw-socket') as {
  createSocket(opts: { protocol: number; addressFamily: number }): RawSocket;
  AddressFamily: { IPv6: number };
};

/** The real announcer for one interface. Errors are logged, never thrown: announcing is best effort. */
export class LinkAnnouncer implements Announcer {
  private na: RawSocket | undefined;
  sent = { garp: 0, na: 0, errors: 0 };

  constructor(
    private ifname: string,
    private ifindex: number,
    private mac: Buffer,
    private onError: (msg: string) => void,
  ) {}

  sendOnce(addresses: string[]): void {
    for (const a of addresses) {
      if (familyOf(a) === 4) this.garp(a);
      else this.neighbourAdvert(a);
    }
  }

  private garp(vip: string): void {
    const [cmd, ...args] = arpingArgv(this.ifname, vip);
    this.sent.garp++;
    execa(cmd, args, { reject: false, timeout: 5000, stdin: 'ignore' }).then(
      (r) => {
        if (r.exitCode !== 0 && r.exitCode !== 1) {
          // arping -U exits 1 when no reply came, which is the normal case.
          this.sent.errors++;
          this.onError(`arping ${vip} on ${this.ifname} failed: ${r.stderr || r.shortMessage}`);
        }
      },
      (err: Error) => {
        this.sent.errors++;
        this.onError(`arping ${vip} on ${this.ifname}: ${err.message}`);
      },
    );
  }

  private neighbourAdvert(vip: string): void {
    try {
      if (!this.na) {
        const s = raw.createSocket({ protocol: 58, addressFamily: raw.AddressFamily.IPv6 });
        const dev = Buffer.from(`${this.ifname}\0`);
        s.setOption(1, 25, dev, dev.length); // SO_BINDTODEVICE
        s.setOption(41, 17, this.ifindex); // IPV6_MULTICAST_IF
        s.setOption(41, 18, 255); // IPV6_MULTICAST_HOPS: NDP requires 255
        s.setOption(41, 19, 0); // IPV6_MULTICAST_LOOP
        s.on('error', (err) => this.onError(`NA socket on ${this.ifname}: ${err.message}`));
        this.na = s;
      }
      const pkt = encodeUnsolicitedNa(vip, this.mac);
      this.sent.na++;
      this.na.send(pkt, 0, pkt.length, ALL_NODES, (err) => {
        if (err) {
          this.sent.errors++;
          this.onError(`NA for ${vip} on ${this.ifname}: ${err.message}`);
        }
      });
    } catch (err) {
      this.sent.errors++;
      this.onError(`NA for ${vip} on ${this.ifname}: ${(err as Error).message}`);
    }
  }

  close(): void {
    this.na?.close();
    this.na = undefined;
  }
}

/** Runs the burst / second burst / refresh schedule for one mastership; cancel() when leaving master. */
export class AnnounceRun {
  private timers: Timer[] = [];
  private refreshTimer: Timer | undefined;

  constructor(
    private clock: Clock,
    private announcer: Announcer,
    private addresses: () => string[],
    private sched: AnnounceSchedule,
  ) {}

  start(): void {
    this.burst(this.sched.count);
    if (this.sched.repeatCount > 0) {
      this.timers.push(
        this.clock.setTimeout(() => this.burst(this.sched.repeatCount), this.sched.repeatDelayMs),
      );
    }
    if (this.sched.refreshMs && this.sched.refreshMs > 0) this.refresh(this.sched.refreshMs);
  }

  private burst(n: number): void {
    for (let i = 0; i < n; i++) this.announcer.sendOnce(this.addresses());
  }

  private refresh(ms: number): void {
    this.refreshTimer = this.clock.setTimeout(() => {
      this.burst(1);
      this.refresh(ms);
    }, ms);
  }

  cancel(): void {
    for (const t of this.timers) t.cancel();
    this.timers = [];
    this.refreshTimer?.cancel();
    this.refreshTimer = undefined;
  }
}
