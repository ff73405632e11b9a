// The rtnetlink multicast listener, run as a small child process of the agent. Why a process:
// when a netlink socket overruns (a burst of thousands of route/address events, e.g. a table
// flush or our own bulk apply), the kernel flags the socket with ENOBUFS, libuv reports POLLERR,
// and the `netlink` package's native poll handler then throws from C++ (ErrnoException with a
// NULL syscall name) and aborts the whole process. Isolated here, an overrun only ends this
// child; the parent counts it, resyncs from a full dump and starts a new listener.
//
// Forwards to the parent (IPC, advanced serialization, one message per event-loop turn) what the
// agent's observed-state cache needs: deletions, link changes, and additions made by others. The
// echo of the agent's own additions (routes and nexthops with its protocol, addresses with its
// IFA_PROTO) is dropped by a socket filter in the kernel (watch-filter.ts), so a bulk apply of
// thousands of objects does not even wake this process; `wanted()` makes the same test here, for
// when the filter cannot be attached.
// Runs in the parent's network namespace; the parent sends {protocol} when it changes.
import { RawNetlinkSocket } from 'netlink';
import { withFprog } from '../lib/bpf.js';
import {
  AF_NETLINK,
  errnoCode,
  findSockets,
  type Libc,
  loadLibc,
  NETLINK_ROUTE,
  SOCK_RAW,
  SOL_SOCKET,
} from '../lib/libc.js';
import { IFA_PROTO, RTM, RTN_UNICAST, RTNLGRP } from './codec.js';
import { echoFilter } from './watch-filter.js';

const ALWAYS = new Set<number>([RTM.NEWLINK, RTM.DELLINK, RTM.DELADDR, RTM.DELROUTE, RTM.DELNEXTHOP]);

if (!process.send) {
  console.error('watch-child: must be started by the agent (IPC channel missing)');
  process.exit(2);
}

let protocol = Number(process.argv[2] ?? 199);

/** IFA_PROTO of an ifaddrmsg payload at [start, end), or -1. */
function addressProto(buf: Buffer, start: number, end: number): number {
  for (let off = start + 8; off + 4 <= end; ) {
    const len = buf.readUInt16LE(off);
    if (len < 4 || off + len > end) return -1;
    if ((buf.readUInt16LE(off + 2) & 0x3fff) === IFA_PROTO && len >= 5) return buf[off + 4];
    off += (len + 3) & ~3;
  }
  return -1;
}

/** Whether the parent needs this event (payload at [p, end)). */
function wanted(type: number, buf: Buffer, p: number, end: number): boolean {
  if (ALWAYS.has(type)) return true;
  if (type === RTM.NEWROUTE) return end - p >= 12 && buf[p + 7] === RTN_UNICAST && buf[p + 5] !== protocol;
  if (type === RTM.NEWNEXTHOP) return end - p >= 8 && buf[p + 2] !== protocol;
  if (type === RTM.NEWADDR) return addressProto(buf, p, end) !== protocol;
  return false;
}

// Peeking (the package's default) sizes each read to its event: no 64 KB buffer per event.
const sock = new RawNetlinkSocket(0, { recvBufferSize: 8 << 20, sendBufferSize: 0 });
for (const g of [
  RTNLGRP.LINK,
  RTNLGRP.IPV4_IFADDR,
  RTNLGRP.IPV6_IFADDR,
  RTNLGRP.IPV4_ROUTE,
  RTNLGRP.IPV6_ROUTE,
  RTNLGRP.NEXTHOP,
]) {
  sock.addMembership(g);
}
const SO_ATTACH_FILTER = 26;
const SO_DETACH_FILTER = 27;
const ENOENT = 2;

/** The listener's descriptor (the `netlink` package does not expose it): this process's only
 * rtnetlink socket; or why it is not known. */
function listenerFd(): { libc: Libc; fd: number } | string {
  if (process.env.LBAGENT_WATCH_FILTER === 'off') return 'LBAGENT_WATCH_FILTER=off';
  const libc = loadLibc();
  if (libc instanceof Error) return libc.message;
  const fds = findSockets(libc, { domain: AF_NETLINK, type: SOCK_RAW, protocol: NETLINK_ROUTE });
  return fds.length === 1
    ? { libc, fd: fds[0] }
    : `listener descriptor not identified (${fds.length} candidates)`;
}
const listener = listenerFd();

/** Puts the echo test in the kernel for `proto`. Says where the echo is dropped now: 'kernel', or
 * 'child: <why not>' (`wanted()` below then does it all). */
function attachEchoFilter(proto: number): string {
  if (typeof listener === 'string') return `child: ${listener}`;
  const { libc, fd } = listener;
  let result = 'kernel';
  try {
    withFprog(echoFilter(proto), (fprog) => {
      if (libc.setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, fprog, fprog.length) !== 0)
        result = `child: SO_ATTACH_FILTER ${errnoCode(libc.errno())}`;
    });
  } catch (err) {
    result = `child: ${(err as Error).message}`;
  }
  return result;
}
let echoDrop = attachEchoFilter(protocol);

/** Removes the program; true when none is left on the socket. */
function detachFilter(): boolean {
  if (typeof listener === 'string') return true; // nothing can have been attached
  const r = listener.libc.setsockopt(listener.fd, SOL_SOCKET, SO_DETACH_FILTER, Buffer.alloc(4), 4);
  return r === 0 || listener.libc.errno() === ENOENT; // ENOENT: no filter attached
}

let out: { type: number; flags: number; payload: Uint8Array }[] = [];
let flushing = false;
function flush(): void {
  flushing = false;
  if (!out.length) return;
  const events = out;
  out = [];
  process.send?.({ events });
}
/** Notifications read, and forwarded to the parent (the rest were our own echo). */
const stats = { received: 0, forwarded: 0 };
sock.on('message', (buf: Buffer) => {
  // Split here so that the echo of our own bulk NEW* never crosses the IPC channel.
  let off = 0;
  while (off + 16 <= buf.length) {
    const len = buf.readUInt32LE(off);
    if (len < 16 || off + len > buf.length) break;
    const type = buf.readUInt16LE(off + 4);
    stats.received++;
    if (wanted(type, buf, off + 16, off + len)) {
      stats.forwarded++;
      out.push({ type, flags: buf.readUInt16LE(off + 6), payload: buf.subarray(off + 16, off + len) });
    }
    off += (len + 3) & ~3;
  }
  if (out.length && !flushing) {
    flushing = true;
    setImmediate(flush);
  }
});
// An ENOBUFS reported through recvmsg (rather than POLLERR): events were lost; say so and exit
// so the parent resyncs and restarts us with a clean socket.
sock.on('error', (err: Error) => {
  flush();
  process.send?.({ overrun: err.message }, () => process.exit(3));
});
process.on('message', (m: { protocol?: number; stats?: boolean }) => {
  if (m?.stats) process.send?.({ stats: { ...stats, echoDrop } });
  if (typeof m?.protocol === 'number') {
    protocol = m.protocol;
    // A filter for the old protocol would now drop foreign objects: replace it (or fall back).
    if (echoDrop === 'kernel') echoDrop = attachEchoFilter(protocol);
    // Could not replace it: the old program must not stay. Without a way to remove it, exit; the
    // parent starts a new listener and resyncs from a dump.
    if (echoDrop !== 'kernel' && !detachFilter()) process.exit(4);
    process.send?.({ echoDrop });
  }
});
process.on('disconnect', () => process.exit(0));
process.send({ ready: true, echoDrop });
