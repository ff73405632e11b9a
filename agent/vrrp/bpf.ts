// Classic-BPF socket filters (pure) for the IPv6 VRRP sockets. An IPv6 raw socket hands us the
// payload only, and raw-socket reads with recvfrom, so the hop limit (IPV6_RECVHOPLIMIT ancillary
// data) never reaches us. A socket filter can still read the IPv6 header: loads at SKF_NET_OFF + k
// are relative to the network header (<linux/filter.h>). RFC 5798 5.1.2.3 / keepalived: adverts
// sent to the multicast group must have hop limit 255. Two filters split the traffic:
//   'accept'  (the VRRP socket): everything except multicast with hop limit != 255;
//   'reject'  (a second, count-only socket): exactly those, so they are counted as ip_ttl_err.

import type { BpfInsn } from '../lib/bpf.js';

// <linux/bpf_common.h>, <linux/filter.h>
const BPF_LD_B_ABS = 0x00 | 0x10 | 0x20; // BPF_LD | BPF_B | BPF_ABS
const BPF_JEQ_K = 0x05 | 0x10 | 0x00; // BPF_JMP | BPF_JEQ | BPF_K
const BPF_RET_K = 0x06 | 0x00; // BPF_RET | BPF_K
const SKF_NET_OFF = -0x100000;
/** IPv6 header: hop limit at byte 7, destination address from byte 24. */
const IPV6_HOP_LIMIT = 7;
const IPV6_DST = 24;
const KEEP_ALL = 0x40000; // bytes to keep: more than any packet
const DROP = 0;

export { type BpfInsn, encodeBpf } from '../lib/bpf.js';

/** The filter program of one side of the hop-limit split (see the header comment). */
export function hopLimitFilter(side: 'accept' | 'reject'): BpfInsn[] {
  const ld = (off: number): BpfInsn => ({ code: BPF_LD_B_ABS, jt: 0, jf: 0, k: SKF_NET_OFF + off });
  const ret = (k: number): BpfInsn => ({ code: BPF_RET_K, jt: 0, jf: 0, k });
  // 0: A = dst[0]  1: multicast (ff)? 2: A = hop limit  3: 255?  4/5: the two verdicts.
  // accept: non-multicast -> 5 (keep), hop 255 -> 5 (keep), else 4 (drop)
  // reject: non-multicast -> 4 (drop), hop 255 -> 4 (drop), else 5 (keep)
  return side === 'accept'
    ? [
        ld(IPV6_DST),
        { code: BPF_JEQ_K, jt: 0, jf: 3, k: 0xff },
        ld(IPV6_HOP_LIMIT),
        { code: BPF_JEQ_K, jt: 1, jf: 0, k: 255 },
        ret(DROP),
        ret(KEEP_ALL),
      ]
    : [
        ld(IPV6_DST),
        { code: BPF_JEQ_K, jt: 0, jf: 2, k: 0xff },
        ld(IPV6_HOP_LIMIT),
        { code: BPF_JEQ_K, jt: 0, jf: 1, k: 255 },
        ret(DROP),
        ret(KEEP_ALL),
      ];
}

/** A filter that keeps nothing: for a socket that only sends (its receive queue stays empty). */
export function dropAllFilter(): BpfInsn[] {
  return [{ code: BPF_RET_K, jt: 0, jf: 0, k: DROP }];
}

/**
 * Reference interpreter for the subset used here, over a whole IPv6 packet (header + payload):
 * how many bytes the socket would keep (0 = dropped). For unit tests of the programs.
 */
export function runBpf(prog: BpfInsn[], ipv6Packet: Buffer): number {
  let a = 0;
  for (let pc = 0, steps = 0; pc < prog.length && steps < 4096; steps++) {
    const ins = prog[pc];
    if (ins.code === BPF_LD_B_ABS) {
      const off = ins.k - SKF_NET_OFF;
      if (off < 0 || off >= ipv6Packet.length) return 0; // out of bounds: the kernel drops
      a = ipv6Packet[off];
      pc++;
    } else if (ins.code === BPF_JEQ_K) pc += 1 + (a === ins.k ? ins.jt : ins.jf);
    else if (ins.code === BPF_RET_K) return Math.min(ins.k, ipv6Packet.length - 40);
    else throw new Error(`bpf: unsupported opcode 0x${ins.code.toString(16)}`);
  }
  return 0;
}
