// "Which addresses does interface N have right now", synchronously: one filtered RTM_GETADDR dump
// on a private rtnetlink socket. rtnetlink answers a dump inside the caller's sendto/recv, so
// this costs two or three syscalls and no event-loop turn. Used on a VRRP takeover right after
// the kernel layer has sent the VIP adds (also synchronously, from the same fact change): the
// first gratuitous ARP then leaves in the same turn as the first advert, as keepalived's does
// (its GARPs follow its own blocking netlink add). getifaddrs(3) would dump every interface, and
// waiting for the address event costs an event-loop turn or more (0.4-1 ms measured here).
// Read-only: the kernel layer stays the only writer of addresses.

import { constants } from 'node:os';
import {
  AF_INET,
  AF_INET6,
  decodeAddress,
  frame,
  NLM_F,
  NLMSG_DONE,
  NLMSG_ERROR,
  parseErrno,
  RTM,
  splitMessages,
} from '../kernel/codec.js';
import { errnoCode, type Libc, MSG_DONTWAIT, openRtnetlink, SOL_NETLINK } from '../lib/libc.js';

const NETLINK_GET_STRICT_CHK = 12;
const { EAGAIN } = constants.errno;
const MAX_DATAGRAMS = 64;

/** The RTM_GETADDR dump request for one interface and family (seq chosen by the caller). */
export function encodeAddressDumpRequest(ifindex: number, family: 4 | 6, seq: number): Buffer {
  const ifa = Buffer.alloc(8);
  ifa[0] = family === 4 ? AF_INET : AF_INET6;
  ifa.writeUInt32LE(ifindex >>> 0, 4);
  return frame(RTM.GETADDR, NLM_F.REQUEST | NLM_F.DUMP, seq, ifa);
}

/**
 * Folds one reply datagram into `into` (addresses of `ifindex`, canonical text). Returns 'done'
 * at NLMSG_DONE, 'more' when the dump goes on, or an error text (NLMSG_ERROR, bad framing).
 */
export function readAddressDump(
  buf: Buffer,
  ifindex: number,
  seq: number,
  into: Set<string>,
): 'done' | 'more' | string {
  let msgs: ReturnType<typeof splitMessages>;
  try {
    msgs = splitMessages(buf);
  } catch (err) {
    return (err as Error).message;
  }
  for (const m of msgs) {
    if (m.seq !== seq) continue;
    if (m.type === NLMSG_DONE) return 'done';
    if (m.type === NLMSG_ERROR) {
      const errno = parseErrno(m.payload);
      if (errno !== 0) return `RTM_GETADDR: ${errnoCode(errno)}`;
    } else if (m.type === RTM.NEWADDR) {
      const a = decodeAddress(m.payload);
      if (a && a.ifindex === ifindex) into.add(a.address);
    }
  }
  return 'more';
}

export class AddressProbe {
  private seq = 1;
  private readonly rx = Buffer.alloc(32 * 1024);

  private constructor(
    private readonly libc: Libc,
    private fd: number,
  ) {}

  /** Opens the socket, or says why it cannot (no koffi): callers then wait for address events. */
  static open(): AddressProbe | Error {
    const s = openRtnetlink();
    if (s instanceof Error) return s;
    const { libc, fd } = s;
    // The kernel filters by ifa_index (4.20+); without it every address comes back and the
    // interface filter below does the job.
    const one = Buffer.alloc(4);
    one.writeInt32LE(1);
    libc.setsockopt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, one, 4);
    return new AddressProbe(libc, fd);
  }

  /** The addresses of one family on `ifindex` now, or an Error (the caller falls back). */
  list(ifindex: number, family: 4 | 6): Set<string> | Error {
    if (this.fd < 0) return new Error('address probe is closed');
    this.seq = (this.seq % 0x7ffffff0) + 1;
    const req = encodeAddressDumpRequest(ifindex, family, this.seq);
    if (this.libc.send(this.fd, req, req.length, 0) < 0)
      return new Error(`RTM_GETADDR send: ${errnoCode(this.libc.errno())}`);
    const out = new Set<string>();
    for (let i = 0; i < MAX_DATAGRAMS; i++) {
      const n = this.libc.recv(this.fd, this.rx, this.rx.length, MSG_DONTWAIT);
      if (n < 0) {
        const errno = this.libc.errno();
        // Not expected (the dump is answered inside the calls): drain nothing, let the caller wait.
        return new Error(`RTM_GETADDR recv: ${errno === EAGAIN ? 'no reply yet' : errnoCode(errno)}`);
      }
      const r = readAddressDump(this.rx.subarray(0, n), ifindex, this.seq, out);
      if (r === 'done') return out;
      if (r !== 'more') return new Error(r);
    }
    return new Error(`RTM_GETADDR: no end after ${MAX_DATAGRAMS} datagrams`);
  }

  close(): void {
    if (this.fd < 0) return;
    this.libc.close(this.fd);
    this.fd = -1;
  }
}
