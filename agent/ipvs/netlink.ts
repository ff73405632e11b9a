// Netlink framing for generic netlink: nlmsghdr + genlmsghdr + attributes (TLVs). Pure byte work,
// host byte order as the kernel expects (x86/arm little endian). The npm `netlink` package does the
// socket and family resolution; IPVS attributes are ours (the package has no IPVS support).
import { align4, attr } from '../lib/netlink.js';

export {
  align4,
  NLMSG_DONE,
  NLMSG_ERROR,
  type NlError,
  type NlMessage,
  parseAttrs,
  parseError,
  splitMessages,
} from '../lib/netlink.js';

export const NLM_F_REQUEST = 0x1;
export const NLM_F_MULTI = 0x2;
export const NLM_F_ACK = 0x4;
export const NLM_F_DUMP = 0x300;
/** Set in an error/ack message's flags when extended-ack TLVs follow the echoed header. */
export const NLM_F_ACK_TLVS = 0x200;
export const NLMSGERR_ATTR_MSG = 1;
export const NLA_F_NESTED = 0x8000;

export { attr };

export const nested = (type: number, children: Buffer[]): Buffer => attr(type, Buffer.concat(children));

export function u8(type: number, v: number): Buffer {
  return attr(type, Buffer.from([v & 0xff]));
}
export function u16(type: number, v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(v);
  return attr(type, b);
}
export function be16(type: number, v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(v);
  return attr(type, b);
}
export function u32(type: number, v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return attr(type, b);
}
export function be32(type: number, v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return attr(type, b);
}
/** NUL-terminated string (the kernel's NLA_NUL_STRING policy). */
export function str(type: number, s: string): Buffer {
  return attr(type, Buffer.concat([Buffer.from(s, 'utf8'), Buffer.alloc(1)]));
}

/**
 * Writes attributes straight into one growing buffer: a cold apply encodes 60,000 messages, and a
 * Buffer per attribute (plus the copies to nest and frame them) was most of the agent's CPU there.
 * `take()` returns a copy of what was written and starts over.
 */
export class AttrWriter {
  private buf = Buffer.alloc(1024);
  private off = 0;

  private room(n: number): number {
    const at = this.off;
    if (at + align4(n) > this.buf.length) {
      const bigger = Buffer.alloc(Math.max(this.buf.length * 2, at + align4(n)));
      this.buf.copy(bigger, 0, 0, at);
      this.buf = bigger;
    }
    this.off = at + align4(n);
    // Padding must be zero: the buffer is reused.
    this.buf.fill(0, at + n, this.off);
    return at;
  }

  private head(type: number, payloadLen: number): number {
    const at = this.room(4 + payloadLen);
    this.buf.writeUInt16LE(4 + payloadLen, at);
    this.buf.writeUInt16LE(type, at + 2);
    return at + 4;
  }

  u8(type: number, v: number): this {
    this.buf[this.head(type, 1)] = v & 0xff;
    return this;
  }
  u16(type: number, v: number): this {
    this.buf.writeUInt16LE(v & 0xffff, this.head(type, 2));
    return this;
  }
  be16(type: number, v: number): this {
    this.buf.writeUInt16BE(v & 0xffff, this.head(type, 2));
    return this;
  }
  u32(type: number, v: number): this {
    this.buf.writeUInt32LE(v >>> 0, this.head(type, 4));
    return this;
  }
  be32(type: number, v: number): this {
    this.buf.writeUInt32BE(v >>> 0, this.head(type, 4));
    return this;
  }
  /** Two host-order u32 (e.g. struct ip_vs_flags {flags, mask}). */
  u32pair(type: number, a: number, b: number): this {
    const at = this.head(type, 8);
    this.buf.writeUInt32LE(a >>> 0, at);
    this.buf.writeUInt32LE(b >>> 0, at + 4);
    return this;
  }
  bytes(type: number, b: Uint8Array): this {
    this.buf.set(b, this.head(type, b.length));
    return this;
  }
  /** A zeroed payload of `len` bytes; returns its offset for the caller to fill via `at()`. */
  reserve(type: number, len: number): number {
    const at = this.head(type, len);
    this.buf.fill(0, at, at + len);
    return at;
  }
  /** The underlying buffer, for filling a reserved payload (valid until the next write). */
  get raw(): Buffer {
    return this.buf;
  }
  /** NUL-terminated string (NLA_NUL_STRING). */
  str(type: number, s: string): this {
    const n = Buffer.byteLength(s);
    const at = this.head(type, n + 1);
    this.buf.write(s, at, 'utf8');
    this.buf[at + n] = 0;
    return this;
  }
  /** Opens a nested attribute; close it with end(). */
  begin(type: number): number {
    return this.head(type, 0) - 4;
  }
  end(start: number): this {
    this.buf.writeUInt16LE(this.off - start, start);
    return this;
  }
  /** Already-encoded attributes (4-aligned), verbatim. */
  append(b: Buffer): this {
    const at = this.room(b.length);
    b.copy(this.buf, at);
    return this;
  }
  take(): Buffer {
    const out = Buffer.from(this.buf.subarray(0, this.off));
    this.off = 0;
    return out;
  }
}

/** Writes nlmsghdr + genlmsghdr + body at `off` in `out`; returns the aligned length written. */
export function writeGenlMessage(
  out: Buffer,
  off: number,
  h: { family: number; cmd: number; version: number; flags: number; seq: number },
  body: Buffer,
): number {
  const len = 20 + body.length;
  out.writeUInt32LE(len, off);
  out.writeUInt16LE(h.family, off + 4);
  out.writeUInt16LE(h.flags, off + 6);
  out.writeUInt32LE(h.seq >>> 0, off + 8);
  out.writeUInt32LE(0, off + 12);
  out[off + 16] = h.cmd;
  out[off + 17] = h.version;
  out.writeUInt16LE(0, off + 18);
  body.copy(out, off + 20);
  // Bodies are sequences of 4-aligned attributes, so len is aligned too.
  return align4(len);
}

/** A full generic netlink message: nlmsghdr(16) + genlmsghdr(4) + attributes. */
export function genlMessage(opts: {
  family: number;
  cmd: number;
  version: number;
  flags: number;
  seq: number;
  port?: number;
  attrs: Buffer[];
}): Buffer {
  let len = 20;
  for (const a of opts.attrs) len += a.length;
  const out = Buffer.alloc(len);
  out.writeUInt32LE(len, 0);
  out.writeUInt16LE(opts.family, 4);
  out.writeUInt16LE(opts.flags, 6);
  out.writeUInt32LE(opts.seq >>> 0, 8);
  out.writeUInt32LE((opts.port ?? 0) >>> 0, 12);
  out.writeUInt8(opts.cmd, 16);
  out.writeUInt8(opts.version, 17);
  let off = 20;
  for (const a of opts.attrs) off += a.copy(out, off);
  return out;
}

/** Reads an unsigned integer attribute of 1, 2, 4 or 8 bytes (host order); 8-byte values as number. */
export function readUint(b: Buffer | undefined): number | undefined {
  if (!b) return undefined;
  switch (b.length) {
    case 1:
      return b[0];
    case 2:
      return b.readUInt16LE(0);
    case 4:
      return b.readUInt32LE(0);
    case 8:
      return Number(b.readBigUInt64LE(0));
    default:
      throw new Error(`integer attribute of unexpected length ${b.length}`);
  }
}

export function readString(b: Buffer | undefined): string | undefined {
  if (!b) return undefined;
  const nul = b.indexOf(0);
  return b.subarray(0, nul < 0 ? b.length : nul).toString('utf8');
}
