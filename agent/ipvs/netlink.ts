// Netlink framing for generic netlink: nlmsghdr + genlmsghdr + attributes (TLVs). Pure byte work,
// host byte order as the kernel expects (x86/arm little endian). The npm `netlink` package does the
// socket and family resolution; IPVS attributes are ours (the package has no IPVS support).
import { align4, type NlMessage, parseAttrs } from '../lib/netlink.js';

export {
  align4,
  NLMSG_DONE,
  NLMSG_ERROR,
  type NlMessage,
  parseAttrs,
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

/** One attribute: a type and either raw bytes or nested attributes. */
export function attr(type: number, payload: Buffer): Buffer {
  const len = 4 + payload.length;
  const out = Buffer.allocUnsafe(align4(len)); // pooled; the padding is zeroed below
  out.fill(0, len);
  out.writeUInt16LE(len, 0);
  out.writeUInt16LE(type, 2);
  payload.copy(out, 4);
  return out;
}

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

export interface NlError {
  /** 0 for an ack, a negative errno otherwise. */
  error: number;
  /** Extended-ack message text when the kernel sent one. */
  message?: string;
}

/** Decodes an NLMSG_ERROR payload (ack when error is 0). */
export function parseError(msg: NlMessage): NlError {
  if (msg.payload.length < 4) throw new Error('truncated netlink error message');
  const error = msg.payload.readInt32LE(0);
  let message: string | undefined;
  if (msg.flags & NLM_F_ACK_TLVS && msg.payload.length >= 20) {
    // Echoed request: header only when the kernel capped it (NLM_F_CAPPED = 0x100), else all of it.
    const echoedLen = msg.flags & 0x100 ? 16 : msg.payload.readUInt32LE(4);
    const tlvs = msg.payload.subarray(4 + align4(echoedLen));
    try {
      message = readString(parseAttrs(tlvs).get(NLMSGERR_ATTR_MSG));
    } catch {
      // a malformed extended ack only loses the text
    }
  }
  return { error, message };
}
