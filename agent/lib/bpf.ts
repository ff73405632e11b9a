// Classic-BPF socket filters: the instruction type, its wire encoding (struct sock_filter), and
// attaching a program to a descriptor (struct sock_fprog through koffi). The programs themselves
// live with their sockets (agent/vrrp/bpf.ts, agent/kernel/watch-filter.ts).
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
