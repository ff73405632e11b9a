// The Maglev twin: the lookup table Linux's `mh` scheduler (net/netfilter/ipvs/ip_vs_mh.c) builds
// for a service, computed here bit for bit, and the lookup of one flow in it. With it the agent can
// say, before a packet arrives, which backend a client lands on and how many flows a change moves.
//
// What the kernel does, in our words (learned from ip_vs_mh.c and the Maglev paper, NSDI '16 §3.4):
// - The table has M = 4,093 slots (CONFIG_IP_VS_MH_TAB_INDEX = 12, Debian's and the default).
// - Every destination gets an offset and a skip from two keyed hashes of its address and port; its
//   preference list is offset, offset + skip, offset + 2·skip, ... (mod M).
// - Destinations take turns in the kernel's list order (head first): each claims its next free
//   preferred slot, `turns` slots per round, where turns = (last_weight / gcd) >> rshift (at least
//   1 for a non-zero weight), gcd over the non-zero last_weights, rshift keeping max/gcd in 6 bits.
// - The table is built from `last_weight` (the last non-zero weight the destination was given, or
//   its weight when added), not the current weight: a destination edited to 0 keeps its slots and
//   its flows are dropped (or, with mh-fallback, re-hashed); one *added* at 0 has no slots.
// - A flow's slot is hash(client address folded to 32 bits + client port if mh-port) mod M; with
//   mh-fallback an unavailable owner (weight 0 or overloaded) makes the kernel walk further hashes
//   of the same flow with increasing offsets until it finds an available one.
// The hash is the kernel's hsiphash, which on 64-bit machines is SipHash-1-3 truncated to 32 bits.
// Pure: no I/O; BigInt arithmetic (a table costs ~2 hashes per destination, a lookup 1 or a few).
import { addressBytes, type Family } from '../lib/ip.js';

/** Slots in ip_vs_mh's table (primes[CONFIG_IP_VS_MH_TAB_INDEX - 8] with the default index 12). */
export const MH_TABLE_SIZE = 4093;
/** IP_VS_MH_TAB_BITS: weights are shifted so that max/gcd fits this many bits. */
const MH_TAB_BITS = 6;
/** The kernel's fixed keys (generate_hash_secret): every director builds the same table. */
const HASH1: [bigint, bigint] = [2654435761n, 2654435761n];
const HASH2: [bigint, bigint] = [2654446892n, 2654446892n];

// ---- hsiphash (64-bit flavour: SipHash-1-3, 32-bit result) ----

const M64 = (1n << 64n) - 1n;
const rotl = (x: bigint, b: bigint): bigint => ((x << b) | (x >> (64n - b))) & M64;

/** SipHash-1-3 of `data` with the 128-bit key (k0, k1), truncated to its low 32 bits. */
export function hsiphash(data: Uint8Array, k0: bigint, k1: bigint): number {
  let v0 = 0x736f6d6570736575n ^ k0;
  let v1 = 0x646f72616e646f6dn ^ k1;
  let v2 = 0x6c7967656e657261n ^ k0;
  let v3 = 0x7465646279746573n ^ k1;
  const round = (): void => {
    v0 = (v0 + v1) & M64;
    v1 = rotl(v1, 13n) ^ v0;
    v0 = rotl(v0, 32n);
    v2 = (v2 + v3) & M64;
    v3 = rotl(v3, 16n) ^ v2;
    v0 = (v0 + v3) & M64;
    v3 = rotl(v3, 21n) ^ v0;
    v2 = (v2 + v1) & M64;
    v1 = rotl(v1, 17n) ^ v2;
    v2 = rotl(v2, 32n);
  };
  const whole = data.length - (data.length % 8);
  for (let i = 0; i < whole; i += 8) {
    let m = 0n;
    for (let j = 7; j >= 0; j--) m = (m << 8n) | BigInt(data[i + j]);
    v3 ^= m;
    round();
    v0 ^= m;
  }
  let b = BigInt(data.length & 0xff) << 56n;
  for (let j = data.length - 1; j >= whole; j--) b |= BigInt(data[j]) << BigInt(8 * (j - whole));
  v3 ^= b;
  round();
  v0 ^= b;
  v2 ^= 0xffn;
  round();
  round();
  round();
  return Number((v0 ^ v1 ^ v2 ^ v3) & 0xffffffffn);
}

const word = new Uint8Array(4);
const wordView = new DataView(word.buffer);

/** ip_vs_mh_hashkey: hsiphash of the u32 (offset + port + folded address), as the CPU stores it. */
function hashKey(fold: number, port: number, key: [bigint, bigint], offset: number): number {
  // x86-64 and arm64 are little-endian; the kernel hashes the in-memory bytes of the u32.
  wordView.setUint32(0, (offset + port + fold) >>> 0, true);
  return hsiphash(word, key[0], key[1]);
}

/**
 * The 32-bit value the kernel hashes for an address, for a service of family `svcFamily`: IPv6 XORs
 * its four words; an IPv4 service reads only the first word, even of an IPv6 (tunnel) destination.
 */
export function foldAddress(address: string, svcFamily: Family): number {
  const b = addressBytes(address);
  if (svcFamily === 4 || b.length === 4) return b.readUInt32BE(0);
  return (b.readUInt32BE(0) ^ b.readUInt32BE(4) ^ b.readUInt32BE(8) ^ b.readUInt32BE(12)) >>> 0;
}

// ---- the table ----

export interface MhDest {
  address: string;
  port: number;
  /** The weight the kernel holds now (0 = quiesced: unavailable for new flows). */
  weight: number;
  /**
   * The kernel's last_weight: the weight at add, then the last non-zero weight set. It decides the
   * table; the kernel does not report it, so the caller supplies it from the destination's history.
   * Defaults to `weight`.
   */
  lastWeight?: number;
  /** IP_VS_DEST_F_OVERLOAD (upper threshold reached): unavailable like weight 0. */
  overloaded?: boolean;
}

export interface MhService {
  family: Family;
  /** Destinations in the kernel's list order, head first (what a netlink dump returns). */
  dests: MhDest[];
  /** IP_VS_SVC_F_SCHED_MH_PORT (sched2): the client's port joins the hash. */
  port: boolean;
  /** IP_VS_SVC_F_SCHED_MH_FALLBACK (sched1): past an unavailable owner, re-hash. */
  fallback: boolean;
}

export interface MhTable {
  /** slot → index into dests, or -1 (empty: no destination had a non-zero last_weight). */
  slots: Int32Array;
  /** Per destination: how many slots it owns (the share of new flows it gets when all are up). */
  owned: number[];
}

function fls(x: number): number {
  return x <= 0 ? 0 : 32 - Math.clz32(x);
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** The table ip_vs_mh_reassign builds for the service's destinations. */
export function buildTable(svc: MhService): MhTable {
  const M = MH_TABLE_SIZE;
  const slots = new Int32Array(M).fill(-1);
  const owned = new Array<number>(svc.dests.length).fill(0);
  const last = svc.dests.map((d) => Math.max(0, d.lastWeight ?? d.weight));
  let g = 0;
  for (const w of last) if (w > 0) g = g > 0 ? gcd(w, g) : w;
  if (g < 1) return { slots, owned };
  const rshift = Math.max(0, fls(Math.floor(Math.max(...last) / g)) - MH_TAB_BITS);

  const n = svc.dests.length;
  const perm = new Array<number>(n);
  const skip = new Array<number>(n);
  const turns = new Array<number>(n);
  svc.dests.forEach((d, i) => {
    const fold = foldAddress(d.address, svc.family);
    perm[i] = hashKey(fold, d.port, HASH1, 0) % M;
    skip[i] = (hashKey(fold, d.port, HASH2, 0) % (M - 1)) + 1;
    turns[i] = Math.floor(last[i] / g) >> rshift || (last[i] !== 0 ? 1 : 0);
  });

  const taken = new Uint8Array(M);
  let filled = 0;
  // Rounds over the list: each destination claims `turns` of its preferred free slots in a row.
  for (;;) {
    for (let i = 0; i < n; i++) {
      for (let t = 0; t < turns[i]; t++) {
        let c = perm[i];
        while (taken[c]) {
          c += skip[i];
          if (c >= M) c -= M;
        }
        perm[i] = c;
        taken[c] = 1;
        slots[c] = i;
        owned[i]++;
        if (++filled === M) return { slots, owned };
      }
    }
  }
}

// ---- lookups ----

export interface MhFlow {
  /** Client (source) address. */
  address: string;
  /** Client (source) port; used only with mh-port. */
  port: number;
}

export type MhVerdict =
  | { kind: 'dest'; dest: number; slot: number; via: 'slot' | 'fallback'; skipped: number[] }
  /** No destination: the kernel drops the packet ("no destination available"). */
  | {
      kind: 'drop';
      slot: number;
      why: 'empty table' | 'owner unavailable' | 'fallback exhausted';
      skipped: number[];
    };

function available(d: MhDest): boolean {
  return d.weight > 0 && !d.overloaded;
}

/** Which destination ip_vs_mh_schedule picks for a new flow (ip_vs_mh_get / _get_fallback). */
export function lookup(svc: MhService, table: MhTable, flow: MhFlow): MhVerdict {
  const M = MH_TABLE_SIZE;
  const fold = foldAddress(flow.address, svc.family);
  const port = svc.port ? flow.port : 0;
  const slot = hashKey(fold, port, HASH1, 0) % M;
  const first = table.slots[slot];
  if (first < 0) return { kind: 'drop', slot, why: 'empty table', skipped: [] };
  if (available(svc.dests[first])) return { kind: 'dest', dest: first, slot, via: 'slot', skipped: [] };
  if (!svc.fallback) return { kind: 'drop', slot, why: 'owner unavailable', skipped: [first] };
  const skipped: number[] = [];
  for (let offset = 0; offset < M; offset++) {
    const h = hashKey(fold, port, HASH1, (offset + slot) % M) % M;
    const d = table.slots[h];
    if (d < 0) break;
    if (available(svc.dests[d])) return { kind: 'dest', dest: d, slot, via: 'fallback', skipped };
    if (skipped[skipped.length - 1] !== d) skipped.push(d);
  }
  return { kind: 'drop', slot, why: 'fallback exhausted', skipped };
}

// ---- comparing tables ----

/**
 * A short fingerprint of a table: FNV-1a over the slot owners' address:port, so two directors (or
 * the desired and the observed state) can be compared at a glance. Equal tables, equal prints.
 */
export function fingerprint(svc: MhService, table: MhTable): string {
  const names = svc.dests.map((d) => `${d.address}:${d.port}`);
  let h = 0x811c9dc5;
  const mix = (s: string): void => {
    for (let i = 0; i < s.length; i++) {
      h ^= s.charCodeAt(i);
      h = Math.imul(h, 0x01000193) >>> 0;
    }
  };
  for (const s of table.slots) mix(s < 0 ? '-;' : `${names[s]};`);
  return h.toString(16).padStart(8, '0');
}

export interface Movement {
  /** Slots whose owner differs (by address:port), of MH_TABLE_SIZE. */
  moved: number;
  share: number;
  /** address:port → slots it lost. */
  from: Map<string, number>;
  /** address:port → slots it gained. */
  to: Map<string, number>;
}

/** How much of the table changes owner between two states of a service (the share of new flows). */
export function movement(
  a: { svc: MhService; table: MhTable },
  b: { svc: MhService; table: MhTable },
): Movement {
  const name = (svc: MhService, i: number): string =>
    i < 0 ? '(none)' : `${svc.dests[i].address}:${svc.dests[i].port}`;
  const from = new Map<string, number>();
  const to = new Map<string, number>();
  let moved = 0;
  for (let s = 0; s < MH_TABLE_SIZE; s++) {
    const x = name(a.svc, a.table.slots[s]);
    const y = name(b.svc, b.table.slots[s]);
    if (x === y) continue;
    moved++;
    from.set(x, (from.get(x) ?? 0) + 1);
    to.set(y, (to.get(y) ?? 0) + 1);
  }
  return { moved, share: moved / MH_TABLE_SIZE, from, to };
}
