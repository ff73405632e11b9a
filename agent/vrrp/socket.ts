// Raw IP protocol 112 sockets (npm raw-socket): one per interface and family, bound to the
// device, joined to the VRRP group, TTL/hop limit 255. IPv4 uses IP_HDRINCL so the source
// address (the tie-breaker) and TTL are exactly what we put in the header; IPv6 lets the
// kernel fill the source (link-local) and the checksum (IPV6_CHECKSUM).
// IPv4 sends go through a second, send-only socket (libc.ts RawIpv4Sender): one synchronous
// sendto, so a takeover advert is on the wire before the state change fans out.
// IPv6 hop limit: recvfrom cannot show it, so classic-BPF filters (bpf.ts) check it in the
// kernel: the VRRP socket never sees multicast adverts with hop limit != 255, and a second
// receive-only socket sees exactly those, so each is counted as ip_ttl_err (with its VRID).
import { createRequire } from 'node:module';
import { type BpfInsn, withFprog } from '../lib/bpf.js';
import { addressBytes, type Family } from '../lib/ip.js';
import { AF_INET, AF_INET6 } from '../lib/libc.js';
import { dropAllFilter, hopLimitFilter } from './bpf.js';
import {
  type DropReason,
  encodeIpv4Header,
  parseIpv4,
  type Received,
  VRRP_GROUP_V4,
  VRRP_GROUP_V6,
  VRRP_PROTO,
} from './codec.js';
import { RawIpv4Sender, sockaddrIn } from './libc.js';
import { RxStamp } from './rx-stamp.js';

interface RawSocket {
  on(ev: 'message', fn: (buf: Buffer, source: string) => void): void;
  on(ev: 'error', fn: (err: Error) => void): void;
  send(buf: Buffer, offset: number, length: number, address: string, cb: (err: Error | null) => void): void;
  setOption(level: number, option: number, value: number | Buffer, length?: number): void;
  close(): void;
}
interface RawModule {
  createSocket(opts: { protocol: number; addressFamily: number; bufferSize?: number }): RawSocket;
  AddressFamily: { IPv4: number; IPv6: number };
}
const raw = createRequire(import.meta.url)('raw-socket') as RawModule;

// From <linux/in.h>, <linux/in6.h>, <asm-generic/socket.h>.
const SOL_SOCKET = 1;
const SO_BINDTODEVICE = 25;
const SO_ATTACH_FILTER = 26;
const IPPROTO_IP = 0;
const IP_HDRINCL = 3;
const IP_MULTICAST_IF = 32;
const IP_MULTICAST_TTL = 33;
const IP_MULTICAST_LOOP = 34;
const IP_ADD_MEMBERSHIP = 35;
const IPPROTO_IPV6 = 41;
const IPV6_CHECKSUM = 7;
const IPV6_UNICAST_HOPS = 16;
const IPV6_MULTICAST_IF = 17;
const IPV6_MULTICAST_HOPS = 18;
const IPV6_MULTICAST_LOOP = 19;
const IPV6_ADD_MEMBERSHIP = 20;

/** A VRRP message ready for the wire: IPv4 with our own header, and its destination. */
export interface PreparedPacket {
  pkt: Buffer;
  dst: string;
  /** struct sockaddr_in of dst (IPv4: the synchronous sender's sendto). */
  sockaddr: Buffer;
}

export function preparePacket(
  family: Family,
  vrrp: Buffer,
  src: string | undefined,
  dst: string,
): PreparedPacket {
  if (family === 6) return { pkt: vrrp, dst, sockaddr: Buffer.alloc(0) };
  return {
    pkt: Buffer.concat([encodeIpv4Header(src ?? '0.0.0.0', dst, vrrp.length), vrrp]),
    dst,
    sockaddr: sockaddrIn(addressBytes(dst)),
  };
}

export interface SocketOptions {
  ifname: string;
  ifindex: number;
  family: Family;
  /** Join the VRRP multicast group (false in unicast-only mode). */
  multicast: boolean;
}

/** What the count-only socket reports as the hop limit: its filter only knows "not 255". */
export const HOP_LIMIT_NOT_255 = -1;

/** SO_ATTACH_FILTER through raw-socket's setOption. Throws when koffi is missing or the kernel refuses. */
export function attachFilter(sock: RawSocket, prog: BpfInsn[]): void {
  withFprog(prog, (fprog) => {
    try {
      sock.setOption(SOL_SOCKET, SO_ATTACH_FILTER, fprog, fprog.length);
    } catch (err) {
      throw new Error(`SO_ATTACH_FILTER: ${(err as Error).message}`);
    }
  });
}

const int32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32LE(v, 0);
  return b;
};

/** The synchronous IPv4 sender (libc.ts), set up like the raw-socket one; Error when unusable. */
function openSyncSender(ifname: string, mreqn: Buffer): RawIpv4Sender | Error {
  return RawIpv4Sender.open(VRRP_PROTO, (setopt) => {
    // First: it never receives, so nothing may queue up on it.
    withFprog(dropAllFilter(), (fprog) => setopt('SO_ATTACH_FILTER', SOL_SOCKET, SO_ATTACH_FILTER, fprog));
    setopt('SO_BINDTODEVICE', SOL_SOCKET, SO_BINDTODEVICE, Buffer.from(`${ifname}\0`));
    setopt('IP_HDRINCL', IPPROTO_IP, IP_HDRINCL, int32(1));
    setopt('IP_MULTICAST_IF', IPPROTO_IP, IP_MULTICAST_IF, mreqn);
    setopt('IP_MULTICAST_TTL', IPPROTO_IP, IP_MULTICAST_TTL, int32(255));
    setopt('IP_MULTICAST_LOOP', IPPROTO_IP, IP_MULTICAST_LOOP, int32(0));
  });
}

function step(what: string, ifname: string, fn: () => void): void {
  try {
    fn();
  } catch (err) {
    throw new Error(`vrrp socket on ${ifname}: ${what} failed: ${(err as Error).message}`);
  }
}

export class VrrpSocket {
  private sock: RawSocket;
  /** IPv6: receives only the multicast adverts with a wrong hop limit, to count them. */
  private ttlSock: RawSocket | undefined;
  /** IPv4: sends inside the caller's tick (undefined: raw-socket's queued send). */
  private syncSender: RawIpv4Sender | undefined;
  private closed = false;
  /** IPv6: whether the hop limit is checked (false where koffi cannot load; logged). */
  readonly hopLimitChecked: boolean = true;
  /** The kernel's receive time of each advert (undefined: timed on arrival in JavaScript). */
  readonly rxStamp: RxStamp | undefined;

  constructor(
    readonly opts: SocketOptions,
    onPacket: (r: Received | { drop: DropReason }) => void,
    onError: (err: Error) => void,
  ) {
    const { ifname, ifindex, family } = opts;
    const af = family === 4 ? raw.AddressFamily.IPv4 : raw.AddressFamily.IPv6;
    this.sock = raw.createSocket({ protocol: VRRP_PROTO, addressFamily: af, bufferSize: 65535 });
    try {
      const dev = Buffer.from(`${ifname}\0`);
      step('SO_BINDTODEVICE', ifname, () =>
        this.sock.setOption(SOL_SOCKET, SO_BINDTODEVICE, dev, dev.length),
      );
      const stamp = RxStamp.find(family === 4 ? AF_INET : AF_INET6, VRRP_PROTO, ifname);
      if (stamp instanceof Error)
        onError(
          new Error(`vrrp socket on ${ifname}: adverts timed on arrival in JavaScript (${stamp.message})`),
        );
      else this.rxStamp = stamp;
      if (family === 4) {
        step('IP_HDRINCL', ifname, () => this.sock.setOption(IPPROTO_IP, IP_HDRINCL, 1));
        const mreqn = Buffer.alloc(12);
        addressBytes(VRRP_GROUP_V4).copy(mreqn, 0);
        mreqn.writeInt32LE(ifindex, 8);
        step('IP_MULTICAST_IF', ifname, () => this.sock.setOption(IPPROTO_IP, IP_MULTICAST_IF, mreqn, 12));
        step('IP_MULTICAST_TTL', ifname, () => this.sock.setOption(IPPROTO_IP, IP_MULTICAST_TTL, 255));
        step('IP_MULTICAST_LOOP', ifname, () => this.sock.setOption(IPPROTO_IP, IP_MULTICAST_LOOP, 0));
        if (opts.multicast) {
          step('IP_ADD_MEMBERSHIP 224.0.0.18', ifname, () =>
            this.sock.setOption(IPPROTO_IP, IP_ADD_MEMBERSHIP, mreqn, 12),
          );
        }
        const sender = openSyncSender(ifname, mreqn);
        if (sender instanceof Error)
          onError(new Error(`vrrp socket on ${ifname}: queued sends only (${sender.message})`));
        else this.syncSender = sender;
      } else {
        // Before the group join: only a packet racing the socket setup can be queued unfiltered.
        try {
          attachFilter(this.sock, hopLimitFilter('accept'));
        } catch (err) {
          this.hopLimitChecked = false;
          onError(
            new Error(`vrrp socket on ${ifname}: IPv6 hop limit not checked (${(err as Error).message})`),
          );
        }
        step('IPV6_CHECKSUM', ifname, () => this.sock.setOption(IPPROTO_IPV6, IPV6_CHECKSUM, 6));
        step('IPV6_MULTICAST_IF', ifname, () =>
          this.sock.setOption(IPPROTO_IPV6, IPV6_MULTICAST_IF, ifindex),
        );
        step('IPV6_MULTICAST_HOPS', ifname, () =>
          this.sock.setOption(IPPROTO_IPV6, IPV6_MULTICAST_HOPS, 255),
        );
        step('IPV6_UNICAST_HOPS', ifname, () => this.sock.setOption(IPPROTO_IPV6, IPV6_UNICAST_HOPS, 255));
        step('IPV6_MULTICAST_LOOP', ifname, () => this.sock.setOption(IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 0));
        if (opts.multicast) {
          const mreq = Buffer.alloc(20);
          addressBytes(VRRP_GROUP_V6).copy(mreq, 0);
          mreq.writeInt32LE(ifindex, 16);
          step('IPV6_ADD_MEMBERSHIP ff02::12', ifname, () =>
            this.sock.setOption(IPPROTO_IPV6, IPV6_ADD_MEMBERSHIP, mreq, 20),
          );
        }
      }
      if (family === 6 && this.hopLimitChecked) this.ttlSock = this.openTtlCounter(onPacket, onError);
    } catch (err) {
      this.sock.close();
      throw err;
    }
    this.sock.on('message', (buf, source) => {
      const ageMs = this.rxStamp?.ageMs();
      if (family === 4) {
        const r = parseIpv4(buf);
        if (!('drop' in r)) r.ageMs = ageMs;
        onPacket(r);
      } else {
        // recvfrom gives neither the destination nor the hop limit (the filter checked it); the
        // kernel verified the checksum.
        const src = source.split('%')[0];
        onPacket({ src, dst: opts.multicast ? VRRP_GROUP_V6 : '::', vrrp: Buffer.from(buf), ageMs });
      }
    });
    this.sock.on('error', (err) => {
      if (!this.closed) onError(new Error(`vrrp socket on ${ifname}: ${err.message}`));
    });
  }

  /** The count-only IPv6 socket: same device, the 'reject' filter, no checksum offload (the
   * hop limit is checked first, as in decodeAdvert). */
  private openTtlCounter(
    onPacket: (r: Received | { drop: DropReason }) => void,
    onError: (err: Error) => void,
  ): RawSocket {
    const { ifname } = this.opts;
    const s = raw.createSocket({
      protocol: VRRP_PROTO,
      addressFamily: raw.AddressFamily.IPv6,
      bufferSize: 65535,
    });
    try {
      step('SO_ATTACH_FILTER (hop limit counter)', ifname, () => attachFilter(s, hopLimitFilter('reject')));
      const dev = Buffer.from(`${ifname}\0`);
      step('SO_BINDTODEVICE (hop limit counter)', ifname, () =>
        s.setOption(SOL_SOCKET, SO_BINDTODEVICE, dev, dev.length),
      );
    } catch (err) {
      s.close();
      throw err;
    }
    s.on('message', (buf, source) => {
      onPacket({
        src: source.split('%')[0],
        dst: VRRP_GROUP_V6,
        ttl: HOP_LIMIT_NOT_255,
        vrrp: Buffer.from(buf),
      });
    });
    s.on('error', (err) => {
      if (!this.closed) onError(new Error(`vrrp hop limit counter on ${ifname}: ${err.message}`));
    });
    return s;
  }

  /** Sends one VRRP message; IPv4 gets our own header (source `src`, TTL 255). */
  send(vrrp: Buffer, src: string | undefined, dst: string): Promise<void> {
    return this.sendPrepared(preparePacket(this.opts.family, vrrp, src, dst));
  }

  /** Sends a packet built by preparePacket (a takeover's advert is built ahead of time). */
  sendPrepared(p: PreparedPacket): Promise<void> {
    if (this.syncSender) {
      try {
        this.syncSender.send(p.pkt, p.sockaddr);
        return Promise.resolve();
      } catch {
        // EAGAIN (queue full) or the like: the queued path below retries and reports.
      }
    }
    return new Promise((resolve, reject) => {
      this.sock.send(p.pkt, 0, p.pkt.length, p.dst, (err) =>
        err ? reject(new Error(`vrrp send on ${this.opts.ifname} to ${p.dst}: ${err.message}`)) : resolve(),
      );
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sock.close();
    this.ttlSock?.close();
    this.syncSender?.close();
  }
}
