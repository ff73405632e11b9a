// In-kernel filter for the rtnetlink listener (watch-child.ts). The listener drops the echo of the
// agent's own additions (routes and nexthops with its protocol, addresses with its IFA_PROTO, the
// local routes the kernel adds with each address), but every one of them still woke the child and
// cost it a read and a callback: 4,000 notifications for a cold apply of 1,000 VIPs and 1,000
// routes, on the second core the agent's own apply competes for. A classic-BPF socket filter runs
// the same test in netlink_broadcast, before the message is queued, so those echoes never reach
// the socket. The JavaScript test in the child stays as the fallback (no koffi, kernel refuses).
//
// A notification is one netlink message per skb, and the filter sees it from its nlmsghdr:
//   nlmsg_type    bytes 4-5 (host order; rtnetlink types < 256, so byte 5 is 0)
//   rtmsg         from byte 16: protocol at 21, type at 23
//   nhmsg         from byte 16: protocol at 18
//   ifaddrmsg     from byte 16, attributes from byte 24; IFA_PROTO found with the kernel's
//                 SKF_AD_NLATTR helper (A = offset, X = type -> A = attribute offset or 0)
import { assembleBpf, BPF, type BpfInsn, DROP, KEEP_ALL, SKF_AD_NLATTR } from '../lib/bpf.js';
import { IFA_PROTO, RTM, RTN_UNICAST } from './codec.js';

/** The program: drop what watch-child's `wanted()` drops for this protocol, keep the rest. */
export function echoFilter(protocol: number): BpfInsn[] {
  const p = protocol & 0xff;
  return assembleBpf([
    { code: BPF.LD_B_ABS, k: 5 },
    { code: BPF.JEQ_K, k: 0, jf: 'keep' },
    { code: BPF.LD_B_ABS, k: 4 },
    { code: BPF.JEQ_K, k: RTM.NEWROUTE, jt: 'route' },
    { code: BPF.JEQ_K, k: RTM.NEWNEXTHOP, jt: 'nexthop' },
    { code: BPF.JEQ_K, k: RTM.NEWADDR, jt: 'address', jf: 'keep' },
    { label: 'route' },
    { code: BPF.LD_B_ABS, k: 16 + 7 }, // rtm_type: only unicast routes are the agent's business
    { code: BPF.JEQ_K, k: RTN_UNICAST, jf: 'drop' },
    { code: BPF.LD_B_ABS, k: 16 + 5 }, // rtm_protocol
    { code: BPF.JEQ_K, k: p, jt: 'drop', jf: 'keep' },
    { label: 'nexthop' },
    { code: BPF.LD_B_ABS, k: 16 + 2 }, // nh_protocol
    { code: BPF.JEQ_K, k: p, jt: 'drop', jf: 'keep' },
    { label: 'address' },
    { code: BPF.LD_IMM, k: 16 + 8 },
    { code: BPF.LDX_IMM, k: IFA_PROTO },
    { code: BPF.LD_W_ABS, k: SKF_AD_NLATTR },
    { code: BPF.JEQ_K, k: 0, jt: 'keep' }, // no IFA_PROTO (older kernel): the child decides
    { code: BPF.TAX, k: 0 },
    { code: BPF.LD_B_IND, k: 4 }, // the attribute's value, after its 4-byte header
    { code: BPF.JEQ_K, k: p, jt: 'drop', jf: 'keep' },
    { label: 'keep' },
    { code: BPF.RET_K, k: KEEP_ALL },
    { label: 'drop' },
    { code: BPF.RET_K, k: DROP },
  ]);
}
