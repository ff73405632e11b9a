// Raw IP protocol 112 sockets (npm raw-socket): one per interface and family, bound to the
// device, joined to the VRRP group, TTL/hop limit 255. IPv4 uses IP_HDRINCL so the source
// address (the tie-breaker) and TTL are exactly what we put in the header; IPv6 lets the
// kernel fill the source (link-local) and the checksum (IPV6_CHECKSUM).
import { createRequire } from 'node:module';
import { addressBytes, type Family } from '../lib/ip.js';
import {
  type DropReason,
  encodeIpv4Header,
  parseIpv4,
  type Received,
  VRRP_GROUP_V4,
  VRRP_GROUP_V6,
  VRRP_PROTO,
} from './codec.js';

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

export interface SocketOptions {
  ifname: string;
  ifindex: number;
  family: Family;
  /** Join the VRRP multicast group (false in unicast-only mode). */
  multicast: boolean;
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
  private closed = false;

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
      } else {
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
    } catch (err) {
      this.sock.close();
      throw err;
    }
    this.sock.on('message', (buf, source) => {
      if (family === 4) {
        onPacket(parseIpv4(buf));
      } else {
        // recvfrom gives neither the destination nor the hop limit; the kernel verified the checksum.
        const src = source.split('%')[0];
        onPacket({ src, dst: opts.multicast ? VRRP_GROUP_V6 : '::', vrrp: Buffer.from(buf) });
      }
    });
    this.sock.on('error', (err) => {
      if (!this.closed) onError(new Error(`vrrp socket on ${ifname}: ${err.message}`));
    });
  }

  /** Sends one VRRP message; IPv4 gets our own header (source `src`, TTL 255). */
  send(vrrp: Buffer, src: string | undefined, dst: string): Promise<void> {
    const pkt =
      this.opts.family === 4
        ? Buffer.concat([encodeIpv4Header(src ?? '0.0.0.0', dst, vrrp.length), vrrp])
        : vrrp;
    return new Promise((resolve, reject) => {
      this.sock.send(pkt, 0, pkt.length, dst, (err) =>
        err ? reject(new Error(`vrrp send on ${this.opts.ifname} to ${dst}: ${err.message}`)) : resolve(),
      );
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sock.close();
  }
}
