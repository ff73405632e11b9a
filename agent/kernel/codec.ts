// Pure rtnetlink codec for the few messages the agent needs: addresses (with IFA_PROTO), routes
// (with RTA_MULTIPATH / RTA_NH_ID / RTA_VIA), nexthop objects and groups (NHA_*, resilient groups),
// and link names. The `netlink` package gives us the socket, but its generated codecs predate
// IFA_PROTO and leave RTA_MULTIPATH / NHA_GROUP as raw buffers, so the bytes are encoded here,
// small and golden-tested (test/unit/kernel/codec.test.ts). Layouts: /usr/include/linux/
// rtnetlink.h, if_addr.h, nexthop.h, netlink.h. Netlink headers are host order (little-endian
// on every machine we run on); addresses are network order.
import { align4, attr, type NlMessage, parseAttrs } from '../lib/netlink.js';

export { NLMSG_DONE, NLMSG_ERROR, parseAttrs, splitMessages } from '../lib/netlink.js';

import { addressBytes, bytesToAddress as bytesToAddressSlow, type Family } from '../lib/ip.js';

/** IPv4 has a cheap text form; dumps of thousands of routes spend most of their time here. */
function bytesToAddress(b: Buffer): string {
  return b.length === 4 ? `${b[0]}.${b[1]}.${b[2]}.${b[3]}` : bytesToAddressSlow(b);
}

export const AF_INET = 2;
export const AF_INET6 = 10;
export const AF_UNSPEC = 0;

export const RTM = {
  NEWLINK: 16,
  DELLINK: 17,
  GETLINK: 18,
  NEWADDR: 20,
  DELADDR: 21,
  GETADDR: 22,
  NEWROUTE: 24,
  DELROUTE: 25,
  GETROUTE: 26,
  NEWNEXTHOP: 104,
  DELNEXTHOP: 105,
  GETNEXTHOP: 106,
} as const;

export const NLM_F = {
  REQUEST: 0x1,
  MULTI: 0x2,
  ACK: 0x4,
  DUMP_INTR: 0x10,
  DUMP: 0x300,
  REPLACE: 0x100,
  EXCL: 0x200,
  CREATE: 0x400,
} as const;

/** rtnetlink multicast groups (enum rtnetlink_groups). */
export const RTNLGRP = {
  LINK: 1,
  IPV4_IFADDR: 5,
  IPV4_ROUTE: 7,
  IPV6_IFADDR: 9,
  IPV6_ROUTE: 11,
  NEXTHOP: 32,
} as const;

const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
const IFA_FLAGS = 8;
export const IFA_PROTO = 11;
export const IFA_F_NODAD = 0x02;
export const IFA_F_PERMANENT = 0x80;

const RTA_DST = 1;
const RTA_OIF = 4;
const RTA_GATEWAY = 5;
const RTA_PRIORITY = 6;
const RTA_MULTIPATH = 9;
const RTA_TABLE = 15;
const RTA_VIA = 18;
const RTA_NH_ID = 30;
export const RTN_UNICAST = 1;
const RT_SCOPE_UNIVERSE = 0;

const NHA_ID = 1;
const NHA_GROUP = 2;
const NHA_GROUP_TYPE = 3;
const NHA_BLACKHOLE = 4;
const NHA_OIF = 5;
const NHA_GATEWAY = 6;
const NHA_RES_GROUP = 12;
const NLA_F_NESTED = 0x8000;
const NHA_RES_GROUP_BUCKETS = 1;
const NHA_RES_GROUP_IDLE_TIMER = 2;
const NHA_RES_GROUP_UNBALANCED_TIMER = 3;
export const NEXTHOP_GRP_TYPE_MPATH = 0;
export const NEXTHOP_GRP_TYPE_RES = 1;

const IFLA_IFNAME = 3;
export const IFF_UP = 0x1;

/** Kernel clock_t for nexthop timers is USER_HZ (100 per second) on every Linux ABI. */
export const USER_HZ = 100;

// ---------- attributes ----------

/** Appends little-endian fields and rtattrs into one growing buffer: one allocation per message
 * instead of one per attribute (cold apply of thousands of objects is dominated by this). */
export class Writer {
  private buf: Buffer;
  /** Over `buf`: DataView stores are V8 builtins, cheap even before the JIT has run. */
  private dv: DataView;
  off = 0;
  constructor(size = 128) {
    // Unpooled-zeroing is not needed: every byte up to `off` is written explicitly.
    this.buf = Buffer.allocUnsafe(size);
    this.dv = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.length);
  }
  private need(n: number): void {
    if (this.off + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.off + n));
    this.buf.copy(bigger, 0, 0, this.off);
    this.buf = bigger;
    this.dv = new DataView(bigger.buffer, bigger.byteOffset, bigger.length);
  }
  u8(v: number): this {
    this.need(1);
    this.buf[this.off++] = v & 0xff;
    return this;
  }
  u16(v: number): this {
    this.need(2);
    const b = this.buf;
    const o = this.off;
    b[o] = v & 0xff;
    b[o + 1] = (v >>> 8) & 0xff;
    this.off = o + 2;
    return this;
  }
  u32(v: number): this {
    this.need(4);
    const b = this.buf;
    const o = this.off;
    b[o] = v & 0xff;
    b[o + 1] = (v >>> 8) & 0xff;
    b[o + 2] = (v >>> 16) & 0xff;
    b[o + 3] = (v >>> 24) & 0xff;
    this.off = o + 4;
    return this;
  }
  i32(v: number): this {
    return this.u32(v >>> 0);
  }
  private patch16(at: number, v: number): void {
    this.buf[at] = v & 0xff;
    this.buf[at + 1] = (v >>> 8) & 0xff;
  }
  /** Room for n more bytes at `off`: the hot encoders store bytes straight into it (a method
   * call per field is what a cold, not yet optimised encoder spends its time on). */
  reserve(n: number): DataView {
    this.need(n);
    return this.dv;
  }
  /** Starts a netlink message (nlmsghdr, length patched by endMessage). */
  beginMessage(type: number, flags: number, seq: number): number {
    const start = this.off;
    const b = this.reserve(16);
    b.setUint32(start, 0, true);
    b.setUint16(start + 4, type, true);
    b.setUint16(start + 6, flags, true);
    b.setUint32(start + 8, seq >>> 0, true);
    b.setUint32(start + 12, 0, true);
    this.off = start + 16;
    return start;
  }
  /** ORs flags into the nlmsghdr of the message that starts at `start`. */
  patchFlags(start: number, flags: number): this {
    const at = start + 6;
    this.patch16(at, (this.buf[at] | (this.buf[at + 1] << 8) | flags) & 0xffff);
    return this;
  }
  endMessage(start: number): this {
    const len = this.off - start;
    this.patch16(start, len & 0xffff);
    this.patch16(start + 2, len >>> 16);
    return this.pad();
  }
  private pad(): this {
    const padded = align4(this.off);
    this.need(padded - this.off);
    while (this.off < padded) this.buf[this.off++] = 0;
    return this;
  }
  bytes(b: Buffer): this {
    this.need(b.length);
    b.copy(this.buf, this.off);
    this.off += b.length;
    return this;
  }
  /** Address bytes in network order; dotted quads parsed inline (the common case). */
  address(text: string): this {
    const v4 = parseIPv4(text);
    if (v4 === undefined) return this.bytes(addressBytes(text));
    this.need(4);
    const b = this.buf;
    const o = this.off;
    b[o] = v4 >>> 24;
    b[o + 1] = (v4 >>> 16) & 0xff;
    b[o + 2] = (v4 >>> 8) & 0xff;
    b[o + 3] = v4 & 0xff;
    this.off = o + 4;
    return this;
  }
  /** Starts an rtattr; close it with end(start). */
  begin(type: number): number {
    const start = this.off;
    this.u16(0).u16(type);
    return start;
  }
  end(start: number): this {
    this.patch16(start, this.off - start);
    return this.pad();
  }
  attrU8(type: number, v: number): this {
    const s = this.begin(type);
    this.u8(v);
    return this.end(s);
  }
  attrU16(type: number, v: number): this {
    const s = this.begin(type);
    this.u16(v);
    return this.end(s);
  }
  attrU32(type: number, v: number): this {
    const s = this.begin(type);
    this.u32(v);
    return this.end(s);
  }
  attrAddress(type: number, text: string): this {
    const s = this.begin(type);
    this.address(text);
    return this.end(s);
  }
  done(): Buffer {
    return this.buf.subarray(0, this.off);
  }
}

/** Dotted quad → u32, or undefined when not plain IPv4. */
export function parseIPv4(text: string): number | undefined {
  let v = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || dots === 3) return undefined;
      v = v * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57 && digits < 3) {
      part = part * 10 + (c - 48);
      digits++;
      if (part > 255) return undefined;
    } else return undefined;
  }
  if (dots !== 3 || digits === 0) return undefined;
  return v * 256 + part;
}

export { attr };

export function familyNumber(f: Family): number {
  return f === 4 ? AF_INET : AF_INET6;
}

function familyOfNumber(n: number): Family | 0 {
  return n === AF_INET ? 4 : n === AF_INET6 ? 6 : 0;
}

// ---------- netlink message framing ----------

export type RawMessage = NlMessage;

/** nlmsghdr + payload. */
export function frame(type: number, flags: number, seq: number, payload: Buffer): Buffer {
  const w = new Writer(16 + payload.length + 3);
  const start = w.beginMessage(type, flags, seq);
  w.bytes(payload);
  return w.endMessage(start).done();
}

/** NLMSG_ERROR / NLMSG_DONE payload: negative errno (0 = ack). */
export function parseErrno(payload: Buffer): number {
  return payload.length >= 4 ? -payload.readInt32LE(0) || 0 : 0;
}

// ---------- links ----------

export interface LinkInfo {
  index: number;
  name: string;
  up: boolean;
}

export function encodeLinkDump(): Buffer {
  return Buffer.alloc(16); // ifinfomsg, AF_UNSPEC
}

export function decodeLink(payload: Buffer): LinkInfo | null {
  if (payload.length < 16) return null;
  const index = payload.readInt32LE(4);
  const flags = payload.readUInt32LE(8);
  const name = parseAttrs(payload.subarray(16)).get(IFLA_IFNAME);
  if (!name) return null;
  const nul = name.indexOf(0);
  return {
    index,
    name: name.subarray(0, nul < 0 ? name.length : nul).toString(),
    up: (flags & IFF_UP) !== 0,
  };
}

// ---------- addresses ----------

export interface AddressMsg {
  family: Family;
  address: string; // canonical
  prefixLen: number;
  ifindex: number;
  flags: number; // IFA_F_*
  /** IFA_PROTO; undefined when the kernel did not report one (pre-6.1 or never set). */
  proto?: number;
  scope: number;
}

export function encodeAddressDump(): Buffer {
  return Buffer.alloc(8); // ifaddrmsg, AF_UNSPEC
}

export function encodeAddress(a: AddressMsg): Buffer {
  return writeAddress(new Writer(64), a).done();
}

/** Stores an rtattr carrying a dotted quad at b[o..o+8); false when `text` is not IPv4. */
function storeAttrIPv4(b: DataView, o: number, type: number, text: string): boolean {
  const v = parseIPv4(text);
  if (v === undefined) return false;
  b.setUint32(o, 8 | (type << 16), true);
  b.setUint32(o + 4, v);
  return true;
}

/** IPv4 address with IFA_PROTO, straight-line (the VIP case of a cold apply); byte-identical to
 * the general path below, which it falls back to for anything else. */
function writeAddressV4(w: Writer, a: AddressMsg): boolean {
  if (a.family !== 4 || a.flags > 0xff || a.proto === undefined) return false;
  const o = w.off;
  const b = w.reserve(40);
  b.setUint32(o, (AF_INET | (a.prefixLen << 8) | ((a.flags & 0xff) << 16) | (a.scope << 24)) >>> 0, true);
  b.setUint32(o + 4, a.ifindex >>> 0, true);
  if (!storeAttrIPv4(b, o + 8, IFA_LOCAL, a.address)) return false;
  b.setUint32(o + 16, b.getUint32(o + 8, true), true);
  b.setUint32(o + 20, b.getUint32(o + 12, true), true);
  b.setUint32(o + 24, 5 | (IFA_PROTO << 16), true);
  b.setUint32(o + 28, a.proto & 0xff, true);
  // IFA_ADDRESS carries the same bytes as IFA_LOCAL.
  b.setUint16(o + 18, IFA_ADDRESS, true);
  w.off = o + 32;
  return true;
}

export function writeAddress(w: Writer, a: AddressMsg): Writer {
  return writeAddressV4(w, a) ? w : writeAddressGeneric(w, a);
}

/** The general encoder (every family and flag); the reference the IPv4 fast path is tested against. */
export function writeAddressGeneric(w: Writer, a: AddressMsg): Writer {
  w.u8(familyNumber(a.family))
    .u8(a.prefixLen)
    .u8(a.flags & 0xff)
    .u8(a.scope)
    .u32(a.ifindex);
  // IPv4 wants IFA_LOCAL (the address) and IFA_ADDRESS (peer, same here); IPv6 takes IFA_ADDRESS.
  if (a.family === 4) w.attrAddress(IFA_LOCAL, a.address);
  w.attrAddress(IFA_ADDRESS, a.address);
  if (a.flags > 0xff) w.attrU32(IFA_FLAGS, a.flags);
  if (a.proto !== undefined) w.attrU8(IFA_PROTO, a.proto);
  return w;
}

export function decodeAddress(payload: Buffer): AddressMsg | null {
  if (payload.length < 8) return null;
  const family = familyOfNumber(payload[0]);
  if (!family) return null;
  const alen = family === 4 ? 4 : 16;
  let local = -1;
  let address = -1;
  let flags = payload[2];
  let proto: number | undefined;
  // Attributes walked in place (no per-attribute objects: dumps can hold thousands).
  for (let off = 8; off + 4 <= payload.length; ) {
    const len = payload.readUInt16LE(off);
    const type = payload.readUInt16LE(off + 2) & 0x3fff;
    if (len < 4 || off + len > payload.length)
      throw new Error(`malformed rtattr (type ${type}, len ${len}) at offset ${off}`);
    const dlen = len - 4;
    if (type === IFA_LOCAL && dlen === alen) local = off + 4;
    else if (type === IFA_ADDRESS && dlen === alen) address = off + 4;
    else if (type === IFA_FLAGS && dlen >= 4) flags = payload.readUInt32LE(off + 4);
    else if (type === IFA_PROTO && dlen >= 1) proto = payload[off + 4];
    off += align4(len);
  }
  const at = local >= 0 ? local : address;
  if (at < 0) return null;
  return {
    family,
    address: bytesToAddress(payload.subarray(at, at + alen)),
    prefixLen: payload[1],
    flags,
    scope: payload[3],
    ifindex: payload.readUInt32LE(4),
    proto,
  };
}

// ---------- routes ----------

export interface RouteHop {
  via: string;
  ifindex: number; // 0 = let the kernel resolve
  weight: number; // 1..256
}

export interface RouteMsg {
  family: Family;
  dst: string; // canonical network address
  dstLen: number;
  table: number;
  protocol: number;
  type: number; // RTN_*
  /** RTA_PRIORITY (the metric); IPv6 routes always have one (default 1024). */
  metric?: number;
  hops: RouteHop[];
  /** RTA_NH_ID: the route points at a nexthop object or group. */
  nhid?: number;
}

export function encodeRouteDump(): Buffer {
  return Buffer.alloc(12); // rtmsg, AF_UNSPEC, all tables
}

function putVia(w: Writer, routeFamily: Family, via: string): void {
  const viaFamily: Family = via.includes(':') ? 6 : 4;
  if (viaFamily === routeFamily) {
    w.attrAddress(RTA_GATEWAY, via);
    return;
  }
  // RFC 5549: IPv4 prefix over an IPv6 next hop; struct rtvia { u16 family; u8 addr[] }.
  const s = w.begin(RTA_VIA);
  w.u16(familyNumber(viaFamily)).address(via);
  w.end(s);
}

/** RTA_MULTIPATH payload: struct rtnexthop { u16 len; u8 flags; u8 hops; i32 ifindex } + RTA_GATEWAY. */
function putMultipath(w: Writer, family: Family, hops: RouteHop[]): void {
  for (const h of hops) {
    const start = w.off;
    w.u16(0)
      .u8(0)
      .u8(h.weight - 1)
      .i32(h.ifindex);
    putVia(w, family, h.via);
    w.end(start); // rtnh_len covers the nested gateway; already 4-aligned
  }
}

export function encodeMultipath(family: Family, hops: RouteHop[]): Buffer {
  const w = new Writer(16 * hops.length + 16);
  putMultipath(w, family, hops);
  return w.done();
}

export function decodeMultipath(family: Family, buf: Buffer): RouteHop[] {
  const hops: RouteHop[] = [];
  let off = 0;
  while (off + 8 <= buf.length) {
    const len = buf.readUInt16LE(off);
    if (len < 8 || off + len > buf.length)
      throw new Error(`malformed rtnexthop (len ${len}) at offset ${off}`);
    hops.push({
      via: viaIn(family, buf, off + 8, off + len) ?? '',
      ifindex: buf.readInt32LE(off + 4),
      weight: buf[off + 3] + 1,
    });
    off += align4(len);
  }
  return hops;
}

/** RTA_GATEWAY or RTA_VIA among the attributes in buf[start, end). */
function viaIn(_family: Family, buf: Buffer, start: number, end: number): string | undefined {
  for (let off = start; off + 4 <= end; ) {
    const len = buf.readUInt16LE(off);
    const type = buf.readUInt16LE(off + 2) & 0x3fff;
    if (len < 4 || off + len > end)
      throw new Error(`malformed rtattr (type ${type}, len ${len}) at offset ${off}`);
    const dlen = len - 4;
    if (type === RTA_GATEWAY && (dlen === 4 || dlen === 16))
      return bytesToAddress(buf.subarray(off + 4, off + len));
    if (type === RTA_VIA && dlen >= 6) return bytesToAddress(buf.subarray(off + 6, off + len));
    off += align4(len);
  }
  return undefined;
}

/** Route message for NEW (hops or nhid) and DEL (key fields only when hops is empty and no nhid). */
export function encodeRoute(r: RouteMsg): Buffer {
  return writeRoute(new Writer(96 + 32 * r.hops.length), r).done();
}

/** IPv4 route over IPv4 gateways (or a nexthop id, or none for a delete), straight-line (the
 * route case of a cold apply); byte-identical to the general path, which it falls back to. */
function writeRouteV4(w: Writer, r: RouteMsg): boolean {
  if (r.family !== 4) return false;
  const hops = r.hops;
  const o = w.off;
  const b = w.reserve(12 + 8 * 4 + 4 + 16 * hops.length);
  b.setUint32(o, AF_INET | (r.dstLen << 8), true); // src_len, tos 0
  b.setUint32(
    o + 4,
    ((r.table < 256 ? r.table : 0) | (r.protocol << 8) | (RT_SCOPE_UNIVERSE << 16) | (r.type << 24)) >>> 0,
    true,
  );
  b.setUint32(o + 8, 0, true);
  b.setUint32(o + 12, 8 | (RTA_TABLE << 16), true);
  b.setUint32(o + 16, r.table >>> 0, true);
  let p = o + 20;
  if (r.dstLen > 0) {
    if (!storeAttrIPv4(b, p, RTA_DST, r.dst)) return false;
    p += 8;
  }
  if (r.metric !== undefined) {
    b.setUint32(p, 8 | (RTA_PRIORITY << 16), true);
    b.setUint32(p + 4, r.metric >>> 0, true);
    p += 8;
  }
  if (r.nhid !== undefined) {
    b.setUint32(p, 8 | (RTA_NH_ID << 16), true);
    b.setUint32(p + 4, r.nhid >>> 0, true);
    p += 8;
  } else if (hops.length === 1) {
    if (!storeAttrIPv4(b, p, RTA_GATEWAY, hops[0].via)) return false;
    p += 8;
    if (hops[0].ifindex) {
      b.setUint32(p, 8 | (RTA_OIF << 16), true);
      b.setUint32(p + 4, hops[0].ifindex >>> 0, true);
      p += 8;
    }
  } else if (hops.length > 1) {
    b.setUint32(p, (4 + 16 * hops.length) | (RTA_MULTIPATH << 16), true);
    p += 4;
    for (const h of hops) {
      // struct rtnexthop { u16 len = 16; u8 flags; u8 hops = weight - 1; i32 ifindex } + RTA_GATEWAY
      b.setUint32(p, (16 | (((h.weight - 1) & 0xff) << 24)) >>> 0, true);
      b.setInt32(p + 4, h.ifindex | 0, true);
      if (!storeAttrIPv4(b, p + 8, RTA_GATEWAY, h.via)) return false;
      p += 16;
    }
  }
  w.off = p;
  return true;
}

export function writeRoute(w: Writer, r: RouteMsg): Writer {
  return writeRouteV4(w, r) ? w : writeRouteGeneric(w, r);
}

/** The general encoder; the reference the IPv4 fast path is tested against. */
export function writeRouteGeneric(w: Writer, r: RouteMsg): Writer {
  w.u8(familyNumber(r.family)).u8(r.dstLen).u8(0).u8(0); // src_len, tos
  w.u8(r.table < 256 ? r.table : 0); // RT_TABLE_UNSPEC + RTA_TABLE above 255
  w.u8(r.protocol).u8(RT_SCOPE_UNIVERSE).u8(r.type).u32(0);
  w.attrU32(RTA_TABLE, r.table);
  if (r.dstLen > 0) w.attrAddress(RTA_DST, r.dst);
  if (r.metric !== undefined) w.attrU32(RTA_PRIORITY, r.metric);
  if (r.nhid !== undefined) w.attrU32(RTA_NH_ID, r.nhid);
  else if (r.hops.length === 1) {
    putVia(w, r.family, r.hops[0].via);
    if (r.hops[0].ifindex) w.attrU32(RTA_OIF, r.hops[0].ifindex);
  } else if (r.hops.length > 1) {
    const s = w.begin(RTA_MULTIPATH);
    putMultipath(w, r.family, r.hops);
    w.end(s);
  }
  return w;
}

/** Unicast routes only (local/broadcast/multicast entries are the kernel's, never ours). */
export function decodeRoute(payload: Buffer): RouteMsg | null {
  if (payload.length < 12 || payload[7] !== RTN_UNICAST) return null;
  const family = familyOfNumber(payload[0]);
  if (!family) return null;
  let dst: string = family === 4 ? '0.0.0.0' : '::';
  let table: number = payload[4];
  let metric: number | undefined;
  let nhid: number | undefined;
  let oif = 0;
  let mp = -1;
  let mpEnd = 0;
  // Attributes walked in place (no per-attribute objects: dumps can hold thousands).
  for (let off = 12; off + 4 <= payload.length; ) {
    const len = payload.readUInt16LE(off);
    const type = payload.readUInt16LE(off + 2) & 0x3fff;
    if (len < 4 || off + len > payload.length)
      throw new Error(`malformed rtattr (type ${type}, len ${len}) at offset ${off}`);
    const dlen = len - 4;
    const v = off + 4;
    if (type === RTA_DST && (dlen === 4 || dlen === 16)) dst = bytesToAddress(payload.subarray(v, v + dlen));
    else if (type === RTA_TABLE && dlen >= 4) table = payload.readUInt32LE(v);
    else if (type === RTA_PRIORITY && dlen >= 4) metric = payload.readUInt32LE(v);
    else if (type === RTA_NH_ID && dlen >= 4) nhid = payload.readUInt32LE(v);
    else if (type === RTA_OIF && dlen >= 4) oif = payload.readUInt32LE(v);
    else if (type === RTA_MULTIPATH) {
      mp = v;
      mpEnd = off + len;
    }
    off += align4(len);
  }
  let hops: RouteHop[] = [];
  if (mp >= 0) hops = decodeMultipath(family, payload.subarray(mp, mpEnd));
  else {
    const via = viaIn(family, payload, 12, payload.length);
    if (via) hops = [{ via, ifindex: oif, weight: 1 }];
  }
  return {
    family,
    dst,
    dstLen: payload[1],
    table,
    protocol: payload[5],
    type: payload[7],
    metric,
    hops,
    nhid,
  };
}

// ---------- nexthop objects ----------

export interface NexthopMsg {
  id: number;
  family: Family | 0; // groups are AF_UNSPEC
  protocol: number;
  /** Single nexthop: gateway + device. */
  via?: string;
  ifindex?: number;
  blackhole?: boolean;
  /** Group: members with weights (1..256). */
  group?: { id: number; weight: number }[];
  groupType?: number;
  resilient?: { buckets: number; idleTimerMs: number; unbalancedTimerMs: number };
}

export function encodeNexthopDump(): Buffer {
  return Buffer.alloc(8);
}

export function encodeNexthop(n: NexthopMsg): Buffer {
  return writeNexthop(new Writer(64 + 8 * (n.group?.length ?? 0)), n).done();
}

export function writeNexthop(w: Writer, n: NexthopMsg): Writer {
  w.u8(n.group ? AF_UNSPEC : n.family ? familyNumber(n.family) : AF_UNSPEC);
  w.u8(0).u8(n.protocol).u8(0).u32(0); // scope is return-only
  w.attrU32(NHA_ID, n.id);
  if (n.group) {
    const g = w.begin(NHA_GROUP);
    for (const m of n.group)
      w.u32(m.id)
        .u8(m.weight - 1)
        .u8(0)
        .u16(0);
    w.end(g);
    w.attrU16(NHA_GROUP_TYPE, n.groupType ?? NEXTHOP_GRP_TYPE_MPATH);
    if (n.resilient) {
      const r = n.resilient;
      const s = w.begin(NHA_RES_GROUP | NLA_F_NESTED);
      w.attrU16(NHA_RES_GROUP_BUCKETS, r.buckets);
      w.attrU32(NHA_RES_GROUP_IDLE_TIMER, Math.round((r.idleTimerMs * USER_HZ) / 1000));
      w.attrU32(NHA_RES_GROUP_UNBALANCED_TIMER, Math.round((r.unbalancedTimerMs * USER_HZ) / 1000));
      w.end(s);
    }
  } else if (n.blackhole) w.end(w.begin(NHA_BLACKHOLE));
  else {
    if (n.ifindex) w.attrU32(NHA_OIF, n.ifindex);
    if (n.via) w.attrAddress(NHA_GATEWAY, n.via);
  }
  return w;
}

/** Delete needs only the id. */
export function encodeNexthopDelete(id: number): Buffer {
  return writeNexthopDelete(new Writer(16), id).done();
}

export function writeNexthopDelete(w: Writer, id: number): Writer {
  return w.u32(0).u32(0).attrU32(NHA_ID, id);
}

export function decodeNexthop(payload: Buffer): NexthopMsg | null {
  if (payload.length < 8) return null;
  const attrs = parseAttrs(payload.subarray(8));
  const id = attrs.get(NHA_ID)?.readUInt32LE(0);
  if (id === undefined) return null;
  const out: NexthopMsg = {
    id,
    family: familyOfNumber(payload.readUInt8(0)),
    protocol: payload.readUInt8(2),
  };
  const g = attrs.get(NHA_GROUP);
  if (g) {
    out.group = [];
    for (let off = 0; off + 8 <= g.length; off += 8)
      out.group.push({ id: g.readUInt32LE(off), weight: g.readUInt8(off + 4) + 1 });
    out.groupType = attrs.get(NHA_GROUP_TYPE)?.readUInt16LE(0) ?? NEXTHOP_GRP_TYPE_MPATH;
    const res = attrs.get(NHA_RES_GROUP);
    if (res) {
      const ra = parseAttrs(res);
      out.resilient = {
        buckets: ra.get(NHA_RES_GROUP_BUCKETS)?.readUInt16LE(0) ?? 0,
        idleTimerMs: ((ra.get(NHA_RES_GROUP_IDLE_TIMER)?.readUInt32LE(0) ?? 0) * 1000) / USER_HZ,
        unbalancedTimerMs: ((ra.get(NHA_RES_GROUP_UNBALANCED_TIMER)?.readUInt32LE(0) ?? 0) * 1000) / USER_HZ,
      };
    }
    return out;
  }
  if (attrs.has(NHA_BLACKHOLE)) out.blackhole = true;
  const oif = attrs.get(NHA_OIF);
  if (oif) out.ifindex = oif.readUInt32LE(0);
  const gw = attrs.get(NHA_GATEWAY);
  if (gw && (gw.length === 4 || gw.length === 16)) out.via = bytesToAddress(gw);
  return out;
}
