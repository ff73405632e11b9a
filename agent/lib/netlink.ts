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
