// Decoder fuzz: 1M random and mutated packets (seeded, reproducible). No throw may escape, and
// every packet ends as either an accepted advert or exactly one counted drop reason.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  type DropReason,
  decodeAdvert,
  dropReasons,
  type Expect,
  encodeAdvert,
  encodeIpv4Header,
  parseIpv4,
} from '../../../agent/vrrp/codec.js';

/** xorshift32: a seeded stream so a failure can be replayed. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

const EXPECTS: Expect[] = [
  { family: 4, version: 2, intervalMs: 1000, password: 'secret' },
  { family: 4, version: 2, intervalMs: 1000 },
  { family: 4, version: 3, intervalMs: 100 },
  { family: 4, version: 3, intervalMs: 100, checksumAsV2: true },
  { family: 6, version: 3, intervalMs: 100 },
];

function seeds(): Buffer[] {
  const v2 = encodeAdvert(
    { version: 2, vrid: 51, priority: 150, intervalMs: 1000, addresses: ['10.77.0.100', '10.77.0.101'] },
    { family: 4, password: 'secret' },
  );
  const v3 = encodeAdvert(
    { version: 3, vrid: 51, priority: 150, intervalMs: 100, addresses: ['10.77.0.100'] },
    { family: 4, src: '10.77.0.1', dst: '224.0.0.18' },
  );
  return [v2, v3].map((v) => Buffer.concat([encodeIpv4Header('10.77.0.1', '224.0.0.18', v.length), v]));
}

function classify(pkt: Buffer, ex: Expect, counts: Map<string, number>): void {
  const r = parseIpv4(pkt);
  let outcome: DropReason | 'accepted';
  if ('drop' in r) outcome = r.drop;
  else {
    const d = decodeAdvert(ex.family === 6 ? { ...r, src: 'fe80::1', dst: 'ff02::12' } : r, ex);
    outcome = 'drop' in d ? d.drop : 'accepted';
  }
  counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
}

test('1M random and mutated packets: no throw, every drop counted under a known reason', () => {
  const next = rng(0x5eed);
  const base = seeds();
  const counts = new Map<string, number>();
  const N = 1_000_000;
  for (let i = 0; i < N; i++) {
    const ex = EXPECTS[i % EXPECTS.length];
    let pkt: Buffer;
    if (i % 2 === 0) {
      // mutated: flip 1-4 bytes, sometimes truncate or extend
      pkt = Buffer.from(base[next() % base.length]);
      const flips = 1 + (next() % 4);
      for (let f = 0; f < flips; f++) pkt[next() % pkt.length] = next() & 0xff;
      const cut = next() % 8;
      if (cut === 0) pkt = pkt.subarray(0, next() % pkt.length);
      else if (cut === 1) pkt = Buffer.concat([pkt, Buffer.alloc(next() % 40, next() & 0xff)]);
    } else {
      // random: an IPv4-ish header half of the time so the VRRP checks get reached
      const len = next() % 96;
      pkt = Buffer.alloc(len);
      for (let j = 0; j < len; j++) pkt[j] = next() & 0xff;
      if (len >= 20 && next() % 2 === 0) {
        pkt[0] = 0x45;
        pkt.writeUInt16BE(len, 2);
      }
    }
    classify(pkt, ex, counts);
  }
  let total = 0;
  for (const [k, v] of counts) {
    total += v;
    assert.ok(k === 'accepted' || (dropReasons as string[]).includes(k), `unknown outcome ${k}`);
  }
  assert.equal(total, N);
  // The mutations must reach deep checks, not only the length test.
  for (const reason of [
    'packet_len_err',
    'checksum_err',
    'version_err',
    'invalid_type_rcvd',
    'ip_ttl_err',
  ] as const) {
    assert.ok((counts.get(reason) ?? 0) > 0, `no ${reason} seen: ${JSON.stringify([...counts])}`);
  }
});

test('fast-check: arbitrary bytes never throw', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 200 }),
      fc.integer({ min: 0, max: EXPECTS.length - 1 }),
      (bytes, e) => {
        const counts = new Map<string, number>();
        classify(Buffer.from(bytes), EXPECTS[e], counts);
        return [...counts.values()].reduce((a, b) => a + b, 0) === 1;
      },
    ),
    { numRuns: 20_000 },
  );
});
