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
// IFA_PROTO) is dropped here, so a bulk apply of thousands of objects costs the parent nothing.
// Runs in the parent's network namespace; the parent sends {protocol} when it changes.
import { RawNetlinkSocket } from 'netlink';
import { RTM, RTNLGRP } from './codec.js';

const ALWAYS = new Set<number>([RTM.NEWLINK, RTM.DELLINK, RTM.DELADDR, RTM.DELROUTE, RTM.DELNEXTHOP]);
const IFA_PROTO = 11;
const RTN_UNICAST = 1;

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
let out: { type: number; flags: number; payload: Uint8Array }[] = [];
let flushing = false;
function flush(): void {
  flushing = false;
  if (!out.length) return;
  const events = out;
  out = [];
  process.send?.({ events });
}
sock.on('message', (buf: Buffer) => {
  // Split here so that the echo of our own bulk NEW* never crosses the IPC channel.
  let off = 0;
  while (off + 16 <= buf.length) {
    const len = buf.readUInt32LE(off);
    if (len < 16 || off + len > buf.length) break;
    const type = buf.readUInt16LE(off + 4);
    if (wanted(type, buf, off + 16, off + len))
      out.push({ type, flags: buf.readUInt16LE(off + 6), payload: buf.subarray(off + 16, off + len) });
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
process.on('message', (m: { protocol?: number }) => {
  if (typeof m?.protocol === 'number') protocol = m.protocol;
});
process.on('disconnect', () => process.exit(0));
process.send({ ready: true });
