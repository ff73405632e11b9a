// VRRP wire codec (pure): VRRPv2 (RFC 3768) and VRRPv3 (RFC 5798) adverts, the IPv4 header we
// write ourselves (IP_HDRINCL, so source address and TTL are ours), and the receive-side
// validation that turns every bad packet into a counted drop reason. No I/O here.
import { addressBytes, bytesToAddress, type Family } from '../lib/ip.js';

export const VRRP_PROTO = 112;
export const VRRP_GROUP_V4 = '224.0.0.18';
export const VRRP_GROUP_V6 = 'ff02::12';
export const VRRP_TTL = 255;
const TYPE_ADVERT = 1;
const AUTH_LEN = 8;
export const AUTH_NONE = 0;
export const AUTH_PASS = 1;
export const AUTH_AH = 2;

export type Version = 2 | 3;

export interface Advert {
  version: Version;
  vrid: number;
  priority: number;
  /** Advertisement interval in milliseconds (v2: whole seconds on the wire, v3: centiseconds). */
  intervalMs: number;
  addresses: string[];
  /** v2 only. */
  authType?: number;
  /** v2 PASS: the 8 auth bytes as sent (password, zero padded). */
  authData?: Buffer;
}

/** keepalived's stat names (vrrp_stats in keepalived/include/vrrp.h) plus a few for errors it logs only. */
export type DropReason =
  | 'packet_len_err'
  | 'ip_ttl_err'
  | 'invalid_type_rcvd'
  | 'version_err'
  | 'checksum_err'
  | 'invalid_authtype'
  | 'authtype_mismatch'
  | 'auth_failure'
  | 'advert_interval_err'
  | 'vrid_err'
  | 'own_packet';

export const dropReasons: DropReason[] = [
  'packet_len_err',
  'ip_ttl_err',
  'invalid_type_rcvd',
  'version_err',
  'checksum_err',
  'invalid_authtype',
  'authtype_mismatch',
  'auth_failure',
  'advert_interval_err',
  'vrid_err',
  'own_packet',
];

// ---------- checksums ----------

/** RFC 1071 ones' complement sum of the buffers, folded and inverted. */
export function inetChecksum(...parts: Buffer[]): number {
  let sum = 0;
  let odd = -1; // a pending high byte when a part has odd length
  for (const b of parts) {
    for (let i = 0; i < b.length; i++) {
      if (odd < 0) odd = b[i];
      else {
        sum += (odd << 8) | b[i];
        odd = -1;
      }
    }
  }
  if (odd >= 0) sum += odd << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** IPv4 pseudo-header (RFC 5798 5.2.8 uses the one of RFC 2460 8.1 adapted to IPv4, as keepalived does). */
export function pseudoHeaderV4(src: string, dst: string, length: number): Buffer {
  const p = Buffer.alloc(12);
  addressBytes(src).copy(p, 0);
  addressBytes(dst).copy(p, 4);
  p[9] = VRRP_PROTO;
  p.writeUInt16BE(length, 10);
  return p;
}

export function pseudoHeaderV6(src: string, dst: string, length: number): Buffer {
  const p = Buffer.alloc(40);
  addressBytes(src).copy(p, 0);
  addressBytes(dst).copy(p, 16);
  p.writeUInt32BE(length, 32);
  p[39] = VRRP_PROTO;
  return p;
}

// ---------- encode ----------

export interface EncodeOptions {
  family: Family;
  /** v3 IPv4 checksum: the pseudo-header needs both addresses (v3 IPv6: the kernel fills it). */
  src?: string;
  dst?: string;
  /** keepalived v3_checksum_as_v2: v3 IPv4 checksum over the VRRP message only. */
  checksumAsV2?: boolean;
  /** v2 PASS password (1-8 bytes). */
  password?: string;
}

/** Password as the 8 auth bytes keepalived sends (zero padded). */
export function passwordBytes(password: string): Buffer {
  const b = Buffer.alloc(AUTH_LEN);
  Buffer.from(password, 'utf8').copy(b, 0, 0, AUTH_LEN);
  return b;
}

export function encodeAdvert(a: Advert, opts: EncodeOptions): Buffer {
  const alen = opts.family === 4 ? 4 : 16;
  if (a.version === 2 && opts.family !== 4) throw new Error('VRRPv2 is IPv4 only (use version 3 for IPv6)');
  if (a.addresses.length > 255) throw new Error(`too many addresses in one advert: ${a.addresses.length}`);
  const tail = a.version === 2 ? AUTH_LEN : 0;
  const buf = Buffer.alloc(8 + alen * a.addresses.length + tail);
  buf[0] = (a.version << 4) | TYPE_ADVERT;
  buf[1] = a.vrid;
  buf[2] = a.priority;
  buf[3] = a.addresses.length;
  if (a.version === 2) {
    buf[4] = opts.password ? AUTH_PASS : AUTH_NONE;
    buf[5] = Math.max(1, Math.min(255, Math.round(a.intervalMs / 1000)));
  } else {
    buf.writeUInt16BE(Math.max(1, Math.min(0xfff, Math.round(a.intervalMs / 10))), 4);
  }
  a.addresses.forEach((addr, i) => {
    const b = addressBytes(addr);
    if (b.length !== alen) throw new Error(`address ${addr} is not IPv${opts.family}`);
    b.copy(buf, 8 + i * alen);
  });
  if (a.version === 2 && opts.password) passwordBytes(opts.password).copy(buf, buf.length - AUTH_LEN);
  if (opts.family === 4) {
    let sum: number;
    if (a.version === 3 && !opts.checksumAsV2) {
      if (!opts.src || !opts.dst) throw new Error('VRRPv3 IPv4 checksum needs source and destination');
      sum = inetChecksum(pseudoHeaderV4(opts.src, opts.dst, buf.length), buf);
    } else sum = inetChecksum(buf);
    buf.writeUInt16BE(sum, 6);
  } else if (opts.src && opts.dst) {
    // The kernel computes it (IPV6_CHECKSUM); filled here only for golden tests and captures.
    buf.writeUInt16BE(inetChecksum(pseudoHeaderV6(opts.src, opts.dst, buf.length), buf), 6);
  }
  return buf;
}

/** IPv4 header for an IP_HDRINCL raw socket: the kernel fills total length, id and header checksum. */
export function encodeIpv4Header(src: string, dst: string, payloadLength: number): Buffer {
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h[1] = 0xc0; // precedence "internetwork control", as keepalived sends
  h.writeUInt16BE(20 + payloadLength, 2);
  h[8] = VRRP_TTL;
  h[9] = VRRP_PROTO;
  addressBytes(src).copy(h, 12);
  addressBytes(dst).copy(h, 16);
  h.writeUInt16BE(inetChecksum(h), 10);
  return h;
}

// ---------- decode + validate ----------

export interface Received {
  src: string;
  dst: string;
  /** TTL (IPv4) or hop limit (IPv6). IPv6 sockets cannot read it (recvfrom): their BPF filter
   * keeps bad multicast hop limits out (undefined = passed the filter), and the count-only socket
   * reports those as -1 ("not 255"; socket.ts). */
  ttl?: number;
  /** The VRRP message itself. */
  vrrp: Buffer;
  /** How long ago the kernel received it (ms), when the socket can tell (rx-stamp.ts). */
  ageMs?: number;
}

/** Splits a packet read from an IPv4 raw socket (which includes the IP header). */
export function parseIpv4(pkt: Buffer): Received | { drop: DropReason } {
  if (pkt.length < 20 || pkt[0] >> 4 !== 4) return { drop: 'packet_len_err' };
  const ihl = (pkt[0] & 0x0f) * 4;
  const total = pkt.readUInt16BE(2);
  if (ihl < 20 || pkt.length < ihl || total < ihl || total > pkt.length) return { drop: 'packet_len_err' };
  return {
    src: bytesToAddress(pkt.subarray(12, 16)),
    dst: bytesToAddress(pkt.subarray(16, 20)),
    ttl: pkt[8],
    vrrp: pkt.subarray(ihl, total),
  };
}

/** What a receiving instance expects (enough to validate without I/O). */
export interface Expect {
  family: Family;
  version: Version;
  /** Local interval, ms: v2 drops adverts with another interval (keepalived does too). */
  intervalMs: number;
  password?: string;
  checksumAsV2?: boolean;
}

export function isMulticast(addr: string): boolean {
  if (addr.includes(':')) return addr.toLowerCase().startsWith('ff');
  const first = Number(addr.split('.')[0]);
  return first >= 224 && first <= 239;
}

/** VRID and version of a VRRP message, to find the instance it is for; null when too short. */
export function peekVrid(vrrp: Buffer): { version: number; vrid: number } | null {
  if (vrrp.length < 8) return null;
  return { version: vrrp[0] >> 4, vrid: vrrp[1] };
}

/**
 * Full validation of one received advert against an instance's expectations. Never throws:
 * every failure is a DropReason for the counters (and the log, for auth problems).
 */
export function decodeAdvert(r: Received, ex: Expect): { advert: Advert } | { drop: DropReason } {
  const v = r.vrrp;
  const alen = ex.family === 4 ? 4 : 16;
  if (r.ttl !== undefined && r.ttl !== VRRP_TTL && isMulticast(r.dst)) return { drop: 'ip_ttl_err' };
  if (v.length < 8) return { drop: 'packet_len_err' };
  const version = v[0] >> 4;
  const type = v[0] & 0x0f;
  if (version !== ex.version) return { drop: 'version_err' };
  if (type !== TYPE_ADVERT) return { drop: 'invalid_type_rcvd' };
  const count = v[3];
  const tail = version === 2 ? AUTH_LEN : 0;
  if (v.length < 8 + count * alen + tail) return { drop: 'packet_len_err' };
  const msg = v.subarray(0, 8 + count * alen + tail);
  // Checksum: IPv6 was verified by the kernel (IPV6_CHECKSUM); IPv4 is ours to check.
  if (ex.family === 4) {
    const withPseudo = version === 3 && !ex.checksumAsV2;
    const ok = withPseudo
      ? inetChecksum(pseudoHeaderV4(r.src, r.dst, msg.length), msg) === 0
      : inetChecksum(msg) === 0;
    if (!ok) return { drop: 'checksum_err' };
  }
  const addresses: string[] = [];
  for (let i = 0; i < count; i++)
    addresses.push(bytesToAddress(msg.subarray(8 + i * alen, 8 + (i + 1) * alen)));
  const advert: Advert = {
    version: version as Version,
    vrid: v[1],
    priority: v[2],
    intervalMs: 0,
    addresses,
  };
  if (version === 2) {
    const authType = v[4];
    if (authType > AUTH_AH) return { drop: 'invalid_authtype' };
    const want = ex.password ? AUTH_PASS : AUTH_NONE;
    if (authType !== want) return { drop: 'authtype_mismatch' };
    const authData = msg.subarray(msg.length - AUTH_LEN);
    if (want === AUTH_PASS && !authData.equals(passwordBytes(ex.password!))) return { drop: 'auth_failure' };
    advert.authType = authType;
    advert.authData = Buffer.from(authData);
    advert.intervalMs = v[5] * 1000;
    if (advert.intervalMs !== Math.max(1000, Math.round(ex.intervalMs / 1000) * 1000)) {
      return { drop: 'advert_interval_err' };
    }
  } else {
    advert.intervalMs = (v.readUInt16BE(4) & 0x0fff) * 10;
    if (advert.intervalMs === 0) return { drop: 'advert_interval_err' };
  }
  return { advert };
}
