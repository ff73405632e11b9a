// Gratuitous ARP and IPv6 unsolicited Neighbour Advertisements when an instance becomes master:
// a burst of `count`, a second burst of `repeatCount` after `repeatDelay`, and an optional
// periodic refresh while master (keepalived: garp_master_delay/_repeat/_refresh).
//
// GARP is an Ethernet frame: it leaves through an AF_PACKET socket opened with koffi (libc.ts),
// one per announcer, opened when the instance starts, so becoming master costs one sendto per
// packet. The frame is the one keepalived sends (ARP request, sender IP = target IP = VIP,
// target MAC ff:ff:ff:ff:ff:ff, to broadcast). Where koffi cannot load, iputils `arping -U` is
// the fallback (one process per packet: ~10 ms later on the wire; logged once).
// IPv6 NA needs no link layer: an ICMPv6 raw socket (raw-socket) does it, the kernel adds the
// checksum.
import { createRequire } from 'node:module';
import { endianness } from 'node:os';
import { execa } from 'execa';
import type { Clock, Timer } from '../lib/clock.js';
import { addressBytes, familyOf } from '../lib/ip.js';
import { AF_PACKET, PacketSocket } from './libc.js';

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

const ETH_P_ARP = 0x0806;
const ARPHRD_ETHER = 1;
const ARPOP_REQUEST = 1;
const BROADCAST = Buffer.alloc(6, 0xff);

/**
 * The ARP part of a gratuitous ARP (RFC 826 / RFC 5227 announcement) as keepalived 2.2.7 sends
 * it: request, sender = (our MAC, VIP), target = (ff:ff:ff:ff:ff:ff, VIP).
 */
export function encodeGratuitousArp(mac: Buffer, vip: string): Buffer {
  if (mac.length !== 6) throw new Error(`MAC must be 6 bytes, got ${mac.length}`);
  const ip = addressBytes(vip);
  if (ip.length !== 4) throw new Error(`gratuitous ARP needs an IPv4 address, got ${vip}`);
  const b = Buffer.alloc(28);
  b.writeUInt16BE(ARPHRD_ETHER, 0);
  b.writeUInt16BE(0x0800, 2); // protocol type IPv4
  b[4] = 6;
  b[5] = 4;
  b.writeUInt16BE(ARPOP_REQUEST, 6);
  mac.copy(b, 8);
  ip.copy(b, 14);
  BROADCAST.copy(b, 18);
  ip.copy(b, 24);
  return b;
}

/**
 * struct sockaddr_ll (<linux/if_packet.h>) for sending an ARP frame to Ethernet broadcast on
 * `ifindex`: family and ifindex in host order, protocol in network order.
 */
export function encodeSockaddrLl(ifindex: number, le = endianness() === 'LE'): Buffer {
  const b = Buffer.alloc(20);
  if (le) b.writeUInt16LE(AF_PACKET, 0);
  else b.writeUInt16BE(AF_PACKET, 0);
  b.writeUInt16BE(ETH_P_ARP, 2);
  if (le) b.writeInt32LE(ifindex, 4);
  else b.writeInt32BE(ifindex, 4);
  // sll_hatype and sll_pkttype are ignored on send
  b[11] = 6; // sll_halen
  BROADCAST.copy(b, 12);
  return b;
}

/** The arping argv (fallback sender) for one gratuitous ARP of `vip` on `ifname`. */
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
  /** Encodes the announcements of `addresses` now (instance start, reload), so that a takeover
   * only sends them. */
  prepare?(addresses: string[]): void;
  close(): void;
  /** How gratuitous ARPs leave (status): the AF_PACKET socket or the arping fallback. */
  readonly garpVia?: 'af_packet' | 'arping';
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

let fallbackLogged = false;

/**
 * The real announcer for one interface. Sockets are opened in the constructor (ahead of any
 * takeover). Errors are reported through onError, never thrown: announcing is best effort.
 */
export class LinkAnnouncer implements Announcer {
  private na: RawSocket | undefined;
  private packet: PacketSocket | undefined;
  private readonly dest: Buffer;
  /** Encoded packets by address (GARP payload or NA), built once per address. */
  private readonly packets = new Map<string, { family: 4 | 6; packet: Buffer }>();
  sent = { garp: 0, na: 0, errors: 0 };

  constructor(
    private ifname: string,
    private ifindex: number,
    private mac: Buffer,
    private onError: (msg: string) => void,
    opts: { ipv4?: boolean; ipv6?: boolean; onFallback?: (msg: string) => void } = {},
  ) {
    this.dest = encodeSockaddrLl(ifindex);
    if (opts.ipv4 !== false) {
      const s = PacketSocket.open();
      if (s instanceof Error) {
        if (!fallbackLogged) {
          fallbackLogged = true;
          (opts.onFallback ?? onError)(
            `gratuitous ARP falls back to arping (one process per packet, slower): ${s.message}`,
          );
        }
      } else this.packet = s;
    }
    if (opts.ipv6) {
      try {
        this.openNa();
      } catch (err) {
        onError(`NA socket on ${ifname}: ${(err as Error).message}`);
      }
    }
  }

  get garpVia(): 'af_packet' | 'arping' {
    return this.packet ? 'af_packet' : 'arping';
  }

  prepare(addresses: string[]): void {
    if (this.packets.size > 4096) this.packets.clear(); // bounded across many reloads
    for (const a of addresses) this.packetOf(a);
  }

  private packetOf(a: string): { family: 4 | 6; packet: Buffer } | undefined {
    let p = this.packets.get(a);
    if (p) return p;
    try {
      const family = familyOf(a) === 4 ? 4 : 6;
      p = {
        family,
        packet: family === 4 ? encodeGratuitousArp(this.mac, a) : encodeUnsolicitedNa(a, this.mac),
      };
    } catch (err) {
      this.sent.errors++;
      this.onError(`cannot announce ${a} on ${this.ifname}: ${(err as Error).message}`);
      return undefined;
    }
    this.packets.set(a, p);
    return p;
  }

  sendOnce(addresses: string[]): void {
    for (const a of addresses) {
      const p = this.packetOf(a);
      if (!p) continue;
      if (p.family === 4) this.garp(a, p.packet);
      else this.neighbourAdvert(a, p.packet);
    }
  }

  private garp(vip: string, frame: Buffer): void {
    this.sent.garp++;
    if (this.packet) {
      try {
        this.packet.send(frame, this.dest);
      } catch (err) {
        this.sent.errors++;
        this.onError(`gratuitous ARP for ${vip} on ${this.ifname}: ${(err as Error).message}`);
      }
      return;
    }
    const [cmd, ...args] = arpingArgv(this.ifname, vip);
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

  private openNa(): RawSocket {
    if (this.na) return this.na;
    const s = raw.createSocket({ protocol: 58, addressFamily: raw.AddressFamily.IPv6 });
    try {
      const dev = Buffer.from(`${this.ifname}\0`);
      s.setOption(1, 25, dev, dev.length); // SO_BINDTODEVICE
      s.setOption(41, 17, this.ifindex); // IPV6_MULTICAST_IF
      s.setOption(41, 18, 255); // IPV6_MULTICAST_HOPS: NDP requires 255
      s.setOption(41, 19, 0); // IPV6_MULTICAST_LOOP
    } catch (err) {
      s.close();
      throw err;
    }
    s.on('error', (err) => this.onError(`NA socket on ${this.ifname}: ${err.message}`));
    this.na = s;
    return s;
  }

  private neighbourAdvert(vip: string, pkt: Buffer): void {
    try {
      const na = this.openNa();
      this.sent.na++;
      na.send(pkt, 0, pkt.length, ALL_NODES, (err) => {
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
    this.packet?.close();
    this.packet = undefined;
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

  started = false;

  start(): void {
    this.started = true;
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
