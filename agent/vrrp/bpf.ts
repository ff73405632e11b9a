// Classic-BPF socket filters (pure) for the IPv6 VRRP sockets. An IPv6 raw socket hands us the
// payload only, and raw-socket reads with recvfrom, so the hop limit (IPV6_RECVHOPLIMIT ancillary
// data) never reaches us. A socket filter can still read the IPv6 header: loads at SKF_NET_OFF + k
// are relative to the network header (<linux/filter.h>). RFC 5798 5.1.2.3 / keepalived: adverts
// sent to the multicast group must have hop limit 255. Two filters split the traffic:
//   'accept'  (the VRRP socket): everything except multicast with hop limit != 255;
//   'reject'  (a second, count-only socket): exactly those, so they are counted as ip_ttl_err.

import { BPF, type BpfInsn, DROP, KEEP_ALL, runSocketFilter, SKF_NET_OFF } from '../lib/bpf.js';

/** IPv6 header: hop limit at byte 7, destination address from byte 24. */
const IPV6_HOP_LIMIT = 7;
const IPV6_DST = 24;

export { type BpfInsn, encodeBpf } from '../lib/bpf.js';

/** The filter program of one side of the hop-limit split (see the header comment). */
export function hopLimitFilter(side: 'accept' | 'reject'): BpfInsn[] {
  const ld = (off: number): BpfInsn => ({ code: BPF.LD_B_ABS, jt: 0, jf: 0, k: SKF_NET_OFF + off });
  const ret = (k: number): BpfInsn => ({ code: BPF.RET_K, jt: 0, jf: 0, k });
  // 0: A = dst[0]  1: multicast (ff)? 2: A = hop limit  3: 255?  4/5: the two verdicts.
  // accept: non-multicast -> 5 (keep), hop 255 -> 5 (keep), else 4 (drop)
  // reject: non-multicast -> 4 (drop), hop 255 -> 4 (drop), else 5 (keep)
  return side === 'accept'
    ? [
        ld(IPV6_DST),
        { code: BPF.JEQ_K, jt: 0, jf: 3, k: 0xff },
        ld(IPV6_HOP_LIMIT),
        { code: BPF.JEQ_K, jt: 1, jf: 0, k: 255 },
        ret(DROP),
        ret(KEEP_ALL),
      ]
    : [
        ld(IPV6_DST),
        { code: BPF.JEQ_K, jt: 0, jf: 2, k: 0xff },
        ld(IPV6_HOP_LIMIT),
        { code: BPF.JEQ_K, jt: 0, jf: 1, k: 255 },
        ret(DROP),
        ret(KEEP_ALL),
      ];
}

/** A filter that keeps nothing: for a socket that only sends (its receive queue stays empty). */
export function dropAllFilter(): BpfInsn[] {
  return [{ code: BPF.RET_K, jt: 0, jf: 0, k: DROP }];
}

/** What the socket keeps of a whole IPv6 packet (header + payload; the socket's data is the
 * payload), per the reference interpreter: for unit tests of the programs. */
export function runBpf(prog: BpfInsn[], ipv6Packet: Buffer): number {
  return runSocketFilter(prog, ipv6Packet, 40);
}
