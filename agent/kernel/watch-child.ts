// The rtnetlink multicast listener, run as a small child process of the agent. Why a process:
// when a netlink socket overruns (a burst of thousands of route/address events, e.g. a table
// flush or our own bulk apply), the kernel flags the socket with ENOBUFS, libuv reports POLLERR,
// and the `netlink` package's native poll handler then throws from C++ (ErrnoException with a
// NULL syscall name) and aborts the whole process. Isolated here, an overrun only ends this
// child; the parent counts it, resyncs from a full dump and starts a new listener.
//
// Forwards to the parent (IPC, advanced serialization) only the events that can break what the
// agent wants: deletions and link changes. Runs in the parent's network namespace.
import { RawNetlinkSocket } from 'netlink';
import { RTM, RTNLGRP } from './codec.js';

const FORWARD = new Set<number>([RTM.NEWLINK, RTM.DELLINK, RTM.DELADDR, RTM.DELROUTE, RTM.DELNEXTHOP]);

if (!process.send) {
  console.error('watch-child: must be started by the agent (IPC channel missing)');
  process.exit(2);
}

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
sock.on('message', (buf: Buffer) => {
  // Split here so that bulk NEW* notifications never cross the IPC channel.
  const out: { type: number; payload: Uint8Array }[] = [];
  let off = 0;
  while (off + 16 <= buf.length) {
    const len = buf.readUInt32LE(off);
    if (len < 16 || off + len > buf.length) break;
    const type = buf.readUInt16LE(off + 4);
    if (FORWARD.has(type)) out.push({ type, payload: buf.subarray(off + 16, off + len) });
    off += (len + 3) & ~3;
  }
  if (out.length) process.send?.({ events: out });
});
// An ENOBUFS reported through recvmsg (rather than POLLERR): events were lost; say so and exit
// so the parent resyncs and restarts us with a clean socket.
sock.on('error', (err: Error) => {
  process.send?.({ overrun: err.message }, () => process.exit(3));
});
process.on('disconnect', () => process.exit(0));
process.send({ ready: true });
