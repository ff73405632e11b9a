// Fast paths for the IPv4 text handling done thousands of times per reconcile (desired state
// of 1,000 routes parses 1,000 prefixes and 2,000 next hops); IPv6 goes to agent/lib/ip.ts.
import { canonicalAddress, type Prefix, parsePrefix } from '../lib/ip.js';
import { parseIPv4 } from './codec.js';

function formatIPv4(v: number): string {
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

const canonicalCache = new Map<string, string>();

/** Canonical text of an address (cached: configs repeat the same next hops). */
export function canonical(text: string): string {
  let c = canonicalCache.get(text);
  if (c === undefined) {
    const v4 = parseIPv4(text);
    c = v4 !== undefined ? formatIPv4(v4) : canonicalAddress(text);
    if (canonicalCache.size > 100_000) canonicalCache.clear();
    canonicalCache.set(text, c);
  }
  return c;
}

/** parsePrefix with an IPv4 fast path; same results and error strings. */
export function prefixOf(text: string, opts: { allowHostBits?: boolean } = {}): Prefix | string {
  const slash = text.indexOf('/');
  const addr = slash < 0 ? text : text.slice(0, slash);
  const lenText = slash < 0 ? '32' : text.slice(slash + 1);
  const v4 = parseIPv4(addr);
  if (v4 === undefined || !/^\d{1,2}$/.test(lenText) || Number(lenText) > 32) return parsePrefix(text, opts);
  const length = Number(lenText);
  const mask = length === 0 ? 0 : (0xffffffff << (32 - length)) >>> 0;
  const net = (v4 & mask) >>> 0;
  if (!opts.allowHostBits && net !== v4) return parsePrefix(text, opts); // the library words the error
  return { address: formatIPv4(opts.allowHostBits ? v4 : net), length, family: 4 };
}
