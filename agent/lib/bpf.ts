// Classic-BPF socket filters: the instructions, an assembler with labels, their wire encoding
// (struct sock_filter), attaching a program to a descriptor (struct sock_fprog through koffi), and
// a reference interpreter for tests. The programs themselves live with their sockets
// (agent/vrrp/bpf.ts, agent/kernel/watch-filter.ts).
import { endianness } from 'node:os';
import { loadLibc } from './libc.js';

export interface BpfInsn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

/** struct sock_filter[] as the kernel reads it (host byte order for code and k). */
export function encodeBpf(prog: BpfInsn[], le = true): Buffer {
  const b = Buffer.alloc(prog.length * 8);
  prog.forEach((ins, i) => {
    const o = i * 8;
    if (le) b.writeUInt16LE(ins.code, o);
    else b.writeUInt16BE(ins.code, o);
    b[o + 2] = ins.jt;
    b[o + 3] = ins.jf;
    if (le) b.writeUInt32LE(ins.k >>> 0, o + 4);
    else b.writeUInt32BE(ins.k >>> 0, o + 4);
  });
  return b;
}

/**
 * Runs `fn` with a `struct sock_fprog` {u16 len; sock_filter *} for `prog`: the program is copied
 * to C memory (koffi) for the call, whose address goes in the struct; the kernel copies it in
 * SO_ATTACH_FILTER. Throws when koffi is missing.
 */
export function withFprog(prog: BpfInsn[], fn: (fprog: Buffer) => void): void {
  const libc = loadLibc();
  if (libc instanceof Error) throw libc;
  const le = endianness() === 'LE';
  libc.withCopy(encodeBpf(prog, le), (address) => {
    const fprog = Buffer.alloc(libc.pointerSize * 2);
    if (le) fprog.writeUInt16LE(prog.length, 0);
    else fprog.writeUInt16BE(prog.length, 0);
    if (libc.pointerSize === 8) {
      if (le) fprog.writeBigUInt64LE(address, 8);
      else fprog.writeBigUInt64BE(address, 8);
    } else if (le) fprog.writeUInt32LE(Number(address), 4);
    else fprog.writeUInt32BE(Number(address), 4);
    fn(fprog);
  });
}

// <linux/bpf_common.h>, <linux/filter.h>: the instructions our programs use.
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
/** Loads at SKF_NET_OFF + k read the network header, wherever the socket's data starts. */
export const SKF_NET_OFF = -0x100000;
/** `ld [SKF_AD_NLATTR]`: A = offset of the netlink attribute of type X found from offset A, or 0. */
export const SKF_AD_NLATTR = -0x1000 + 12; // SKF_AD_OFF + SKF_AD_NLATTR
/** Return values: keep this many bytes (more than any packet), or drop. */
export const KEEP_ALL = 0x40000;
export const DROP = 0;

type Label = string;
export type BpfAsm = { label: Label } | { code: number; k: number; jt?: Label; jf?: Label };

/** Resolves label jumps to the relative offsets cBPF wants (forward only, at most 255 ahead). */
export function assembleBpf(src: BpfAsm[]): BpfInsn[] {
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

/** nla_find over the netlink attributes of `data` from `from`: the offset of type `t`, or 0. */
function nlaFind(data: Buffer, from: number, t: number): number {
  for (let off = from; off + 4 <= data.length; ) {
    const len = data.readUInt16LE(off);
    if (len < 4 || off + len > data.length) return 0;
    if ((data.readUInt16LE(off + 2) & 0x3fff) === t) return off;
    off += (len + 3) & ~3;
  }
  return 0;
}

/**
 * Reference interpreter of the instructions above, for unit tests of the programs: how many bytes
 * the socket would keep (0 = dropped). `packet` starts at the network header (if any) and the
 * socket's data at `dataOffset` (an IPv6 raw socket: 40; netlink: 0).
 */
export function runSocketFilter(prog: BpfInsn[], packet: Buffer, dataOffset = 0): number {
  const data = packet.subarray(dataOffset);
  let a = 0;
  let x = 0;
  for (let pc = 0, steps = 0; pc < prog.length && steps < 4096; steps++) {
    const ins = prog[pc++];
    const k = ins.k | 0;
    switch (ins.code) {
      case BPF.LD_B_ABS: {
        const [buf, off] = k < 0 ? [packet, k - SKF_NET_OFF] : [data, k];
        if (off < 0 || off >= buf.length) return 0; // out of bounds: the kernel drops
        a = buf[off];
        break;
      }
      case BPF.LD_B_IND:
        if (x + k >= data.length) return 0;
        a = data[x + k];
        break;
      case BPF.LD_W_ABS:
        if (k !== SKF_AD_NLATTR) throw new Error('bpf: only the NLATTR word load is modelled');
        a = nlaFind(data, a, x);
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
        return Math.min(ins.k, data.length);
      default:
        throw new Error(`bpf: unsupported opcode 0x${ins.code.toString(16)}`);
    }
  }
  return 0;
}
