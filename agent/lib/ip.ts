// Small IP helpers on top of node:net. Addresses are kept as canonical strings
// (what `ip` prints) so that config, kernel dumps and status agree byte for byte.
import { isIP, isIPv4, isIPv6 } from 'node:net';

export type Family = 4 | 6;

export function familyOf(address: string): Family | 0 {
  const f = isIP(address);
  return f === 4 || f === 6 ? f : 0;
}

/** Bytes of an address in network order (4 or 16 bytes). Throws on a non-address. */
export function addressBytes(address: string): Buffer {
  if (isIPv4(address)) return Buffer.from(address.split('.').map((p) => Number(p)));
  if (!isIPv6(address)) throw new Error(`not an IP address: ${address}`);
  let a = address;
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two hex groups.
  const m = /(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (m) {
    const b = m[1].split('.').map(Number);
    a =
      a.slice(0, -m[1].length) + ((b[0] << 8) | b[1]).toString(16) + ':' + ((b[2] << 8) | b[3]).toString(16);
  }
  const [head, tail] = a.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = a.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => {
    out.writeUInt16BE(Number.parseInt(g, 16), i * 2);
  });
  return out;
}

/** Canonical text of 4 or 16 address bytes (RFC 5952 form for IPv6). */
export function bytesToAddress(buf: Buffer): string {
  if (buf.length === 4) return Array.from(buf).join('.');
  if (buf.length !== 16) throw new Error(`address must be 4 or 16 bytes, got ${buf.length}`);
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push(buf.readUInt16BE(i * 2));
  // Longest run of zero groups (length >= 2) becomes '::'.
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

export function canonicalAddress(address: string): string {
  return bytesToAddress(addressBytes(address));
}

export interface Prefix {
  address: string; // canonical network address
  length: number;
  family: Family;
}

/** Parses "a.b.c.d/n" or "x::/n"; a bare address is a host prefix. Returns an error string on failure. */
export function parsePrefix(text: string, opts: { allowHostBits?: boolean } = {}): Prefix | string {
  const [addr, len, extra] = text.split('/');
  if (extra !== undefined) return `"${text}" is not a prefix`;
  const family = familyOf(addr);
  if (!family) return `"${addr}" is not an IPv4 or IPv6 address`;
  const max = family === 4 ? 32 : 128;
  let length = max;
  if (len !== undefined) {
    if (!/^\d{1,3}$/.test(len) || Number(len) > max) return `prefix length "${len}" is out of range 0-${max}`;
    length = Number(len);
  }
  const bytes = addressBytes(addr);
  const masked = Buffer.from(bytes);
  for (let bit = length; bit < max; bit++) masked[bit >> 3] &= ~(0x80 >> (bit & 7));
  if (!opts.allowHostBits && !masked.equals(bytes)) {
    return `"${text}" has host bits set (network is ${bytesToAddress(masked)}/${length})`;
  }
  return { address: bytesToAddress(opts.allowHostBits ? bytes : masked), length, family };
}

/** Whether `address` lies inside the network `net` (false across families). */
export function prefixContains(net: { address: string; length: number }, address: string): boolean {
  const n = addressBytes(net.address);
  const a = addressBytes(address);
  if (a.length !== n.length) return false;
  for (let bit = 0; bit < net.length; bit++) {
    const m = 0x80 >> (bit & 7);
    if ((a[bit >> 3] & m) !== (n[bit >> 3] & m)) return false;
  }
  return true;
}

export function prefixKey(p: Prefix): string {
  return `${p.address}/${p.length}`;
}
