// Netlink framing shared by the rtnetlink (kernel/) and generic netlink (ipvs/) codecs:
// message headers and attribute walking. Pure; malformed input throws, callers count and drop.
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
/** Attribute type bits that are flags (NLA_F_NESTED, NLA_F_NET_BYTEORDER), not the type. */
const NLA_TYPE_MASK = 0x3fff;

export const align4 = (n: number): number => (n + 3) & ~3;

/** One attribute (rtattr / nlattr): u16 length, u16 type, payload, zero padding to 4 bytes. */
export function attr(type: number, payload: Buffer): Buffer {
  const len = 4 + payload.length;
  const out = Buffer.allocUnsafe(align4(len)); // pooled; the padding is zeroed below
  out.fill(0, len);
  out.writeUInt16LE(len, 0);
  out.writeUInt16LE(type, 2);
  payload.copy(out, 4);
  return out;
}

export interface NlMessage {
  type: number;
  flags: number;
  seq: number;
  port: number;
  /** Bytes after the 16-byte nlmsghdr. */
  payload: Buffer;
}

/** Splits a datagram into netlink messages; throws on a malformed length. */
export function splitMessages(buf: Buffer): NlMessage[] {
  const out: NlMessage[] = [];
  let off = 0;
  while (off + 16 <= buf.length) {
    const len = buf.readUInt32LE(off);
    if (len < 16 || off + len > buf.length)
      throw new Error(`malformed netlink message length ${len} at offset ${off}`);
    out.push({
      type: buf.readUInt16LE(off + 4),
      flags: buf.readUInt16LE(off + 6),
      seq: buf.readUInt32LE(off + 8),
      port: buf.readUInt32LE(off + 12),
      payload: buf.subarray(off + 16, off + len),
    });
    off += align4(len);
  }
  return out;
}

/** Parses a run of attributes into type → payload (last one wins; flag bits masked off). */
export function parseAttrs(buf: Buffer): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  let off = 0;
  while (off + 4 <= buf.length) {
    const len = buf.readUInt16LE(off);
    const type = buf.readUInt16LE(off + 2) & NLA_TYPE_MASK;
    if (len < 4 || off + len > buf.length)
      throw new Error(`malformed attribute length ${len} (type ${type}) at offset ${off}`);
    out.set(type, buf.subarray(off + 4, off + len));
    off += align4(len);
  }
  return out;
}

// From <linux/netlink.h>: an error reply carries extended-ack TLVs; the text one.
const NLM_F_ACK_TLVS = 0x200;
const NLMSGERR_ATTR_MSG = 1;

function cString(b: Buffer | undefined): string | undefined {
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
      message = cString(parseAttrs(tlvs).get(NLMSGERR_ATTR_MSG));
    } catch {
      // a malformed extended ack only loses the text
    }
  }
  return { error, message };
}
