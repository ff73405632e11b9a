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
import type { BpfInsn } from '../lib/bpf.js';
import { RTM } from './codec.js';

// <linux/bpf_common.h>, <linux/filter.h>
export const BPF = {
  LD_B_ABS: 0x30, // BPF_LD | BPF_B | BPF_ABS
  LD_W_ABS: 0x20, // BPF_LD | BPF_W | BPF_ABS
  LD_IMM: 0x00, // BPF_LD | BPF_IMM (BPF_W)
  LDX_IMM: 0x01, // BPF_LDX | BPF_IMM (BPF_W)
  LD_B_IND: 0x50, // BPF_LD | BPF_B | BPF_IND
  TAX: 0x07, // BPF_MISC | BPF_TAX
  JEQ_K: 0x15, // BPF_JMP | BPF_JEQ | BPF_K
  RET_K: 0x06, // BPF_RET | BPF_K
} as const;
export const SKF_AD_NLATTR = -0x1000 + 12; // SKF_AD_OFF + SKF_AD_NLATTR
const KEEP = 0x40000; // bytes to keep: more than any notification
const DROP = 0;
const RTN_UNICAST = 1;
const IFA_PROTO = 11;

type Label = string;
type Asm = { label: Label } | { code: number; k: number; jt?: Label; jf?: Label };

/** Resolves label jumps to the relative offsets cBPF wants (forward only). */
function assemble(src: Asm[]): BpfInsn[] {
  const at = new Map<Label, number>();
  let n = 0;
  for (const s of src) {
    if ('label' in s) at.set(s.label, n);
    else n++;
  }
  const out: BpfInsn[] = [];
  for (const s of src) {
    if ('label' in s) continue;
    const pc = out.length;
    const rel = (l?: Label) => {
      if (l === undefined) return 0;
      const to = at.get(l);
      if (to === undefined || to <= pc || to - pc - 1 > 255) throw new Error(`bpf: bad jump to ${l}`);
      return to - pc - 1;
    };
    out.push({ code: s.code, jt: rel(s.jt), jf: rel(s.jf), k: s.k >>> 0 });
  }
  return out;
}

/** The program: drop what watch-child's `wanted()` drops for this protocol, keep the rest. */
export function echoFilter(protocol: number): BpfInsn[] {
  const p = protocol & 0xff;
  return assemble([
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
    { code: BPF.RET_K, k: KEEP },
    { label: 'drop' },
    { code: BPF.RET_K, k: DROP },
  ]);
}

/** nla_find over the attributes at [from, end) of a linear message: offset of type `t`, or 0. */
function nlaFind(msg: Buffer, from: number, t: number): number {
  for (let off = from; off + 4 <= msg.length; ) {
    const len = msg.readUInt16LE(off);
    if (len < 4 || off + len > msg.length) return 0;
    if ((msg.readUInt16LE(off + 2) & 0x3fff) === t) return off;
    off += (len + 3) & ~3;
  }
  return 0;
}

/**
 * Reference interpreter for the instructions used here, over one netlink message: how many bytes
 * the socket would keep (0 = dropped). For unit tests of the program.
 */
export function runNetlinkBpf(prog: BpfInsn[], msg: Buffer): number {
  let a = 0;
  let x = 0;
  for (let pc = 0, steps = 0; pc < prog.length && steps < 4096; steps++) {
    const ins = prog[pc];
    pc++;
    switch (ins.code) {
      case BPF.LD_B_ABS:
        if (ins.k >= msg.length) return 0; // out of bounds: the kernel drops
        a = msg[ins.k];
        break;
      case BPF.LD_B_IND:
        if (x + ins.k >= msg.length) return 0;
        a = msg[x + ins.k];
        break;
      case BPF.LD_W_ABS:
        if (ins.k !== SKF_AD_NLATTR >>> 0) throw new Error('bpf: only the NLATTR word load is modelled');
        a = nlaFind(msg, a, x);
        break;
      case BPF.LD_IMM:
        a = ins.k;
        break;
      case BPF.LDX_IMM:
        x = ins.k;
        break;
      case BPF.TAX:
        x = a;
        break;
      case BPF.JEQ_K:
        pc += a === ins.k ? ins.jt : ins.jf;
        break;
      case BPF.RET_K:
        return Math.min(ins.k, msg.length);
      default:
        throw new Error(`bpf: unsupported opcode 0x${ins.code.toString(16)}`);
    }
  }
  return 0;
}
