import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  buildTable,
  fingerprint,
  foldAddress,
  hsiphash,
  lookup,
  MH_TABLE_SIZE,
  type MhService,
  movement,
} from '../../../agent/ipvs/maglev.js';

// The kernel's own self-test values for hsiphash on 64-bit machines (lib/test_siphash.c): input
// bytes 0, 1, ..., len-1 under the key 00 01 .. 0f. Lengths 0-8 and 15-17 cover the tail handling.
const KEY: [bigint, bigint] = [0x0706050403020100n, 0x0f0e0d0c0b0a0908n];
const GOLDEN: Record<number, number> = {
  0: 0x050fc4dc,
  1: 0x7d57ca93,
  2: 0x4dc7d44d,
  3: 0xe7ddf7fb,
  4: 0x88d38328,
  5: 0x49533b67,
  7: 0x9bb11140,
  8: 0x8d299a8e,
  15: 0x2a519956,
  16: 0x7d908b66,
  17: 0x63dbd80c,
  63: 0xb7bbb3a8,
};

test('hsiphash equals the kernel self-test vectors (SipHash-1-3, 32-bit result)', () => {
  for (const [len, want] of Object.entries(GOLDEN)) {
    const data = Uint8Array.from({ length: Number(len) }, (_, i) => i);
    assert.equal(hsiphash(data, KEY[0], KEY[1]), want, `length ${len}`);
  }
});

test('address folding: IPv4 as is; IPv6 XORs its words; an IPv4 service reads only the first word', () => {
  assert.equal(foldAddress('10.1.2.3', 4), 0x0a010203);
  assert.equal(foldAddress('2001:db8::1', 6), (0x20010db8 ^ 0 ^ 0 ^ 1) >>> 0);
  assert.equal(foldAddress('2001:db8::1', 4), 0x20010db8);
});

const svc = (weights: number[], extra: Partial<MhService> = {}): MhService => ({
  family: 4,
  port: false,
  fallback: false,
  dests: weights.map((w, i) => ({ address: `10.1.0.${i + 1}`, port: 80, weight: w })),
  ...extra,
});

test('every slot is owned; equal weights share the table almost evenly; weights scale the share', () => {
  const t = buildTable(svc([1, 1, 1, 1]));
  assert.equal(t.slots.length, MH_TABLE_SIZE);
  assert.ok(t.slots.every((s) => s >= 0));
  assert.equal(
    t.owned.reduce((a, b) => a + b, 0),
    MH_TABLE_SIZE,
  );
  // Round-robin turns: counts differ by at most one.
  assert.ok(Math.max(...t.owned) - Math.min(...t.owned) <= 1);
  const w = buildTable(svc([3, 1]));
  assert.ok(Math.abs(w.owned[0] / w.owned[1] - 3) < 0.01, `3:1 got ${w.owned}`);
  // gcd: 6/2 is the same table as 3/1.
  assert.deepEqual(buildTable(svc([6, 2])).slots, w.slots);
});

test('a destination added at weight 0 owns nothing; one quiesced (last weight 1) keeps its slots', () => {
  const added0 = svc([1, 0, 1]);
  assert.equal(buildTable(added0).owned[1], 0);
  const quiesced = svc([1, 1, 1]);
  quiesced.dests[1] = { ...quiesced.dests[1], weight: 0, lastWeight: 1 };
  const tq = buildTable(quiesced);
  assert.deepEqual(tq.slots, buildTable(svc([1, 1, 1])).slots);
  // Its flows: dropped without mh-fallback, re-hashed onto an available destination with it.
  const owned = [...tq.slots].indexOf(1);
  assert.ok(owned >= 0);
  let dropped = 0;
  let rehashed = 0;
  for (let i = 0; i < 2000; i++) {
    const flow = { address: `192.0.2.${i % 250}`, port: 1024 + i };
    const v = lookup(quiesced, tq, flow);
    if (v.kind === 'drop') {
      assert.equal(v.why, 'owner unavailable');
      dropped++;
      const f = lookup({ ...quiesced, fallback: true }, tq, flow);
      assert.equal(f.kind, 'dest');
      if (f.kind === 'dest') {
        assert.notEqual(f.dest, 1);
        assert.equal(f.via, 'fallback');
        rehashed++;
      }
    } else assert.notEqual(v.dest, 1);
  }
  assert.ok(dropped > 0 && dropped === rehashed);
});

test('no destination with a weight: an empty table drops every flow', () => {
  const t = buildTable(svc([0, 0]));
  assert.ok(t.slots.every((s) => s === -1));
  const v = lookup(svc([0, 0]), t, { address: '192.0.2.1', port: 1 });
  assert.equal(v.kind, 'drop');
});

test('mh-port: without it the client port does not matter; with it, it does', () => {
  const s = svc([1, 1, 1, 1, 1]);
  const t = buildTable(s);
  const a = lookup(s, t, { address: '198.51.100.7', port: 1000 });
  const b = lookup(s, t, { address: '198.51.100.7', port: 2000 });
  assert.deepEqual(a, b);
  const sp = { ...s, port: true };
  const seen = new Set<number>();
  for (let p = 1000; p < 1100; p++) {
    const v = lookup(sp, t, { address: '198.51.100.7', port: p });
    if (v.kind === 'dest') seen.add(v.dest);
  }
  assert.equal(seen.size, 5);
});

test('order matters (the kernel walks its list); fingerprints and movement see it', () => {
  const a = svc([1, 1, 1]);
  const b = { ...a, dests: [...a.dests].reverse() };
  const ta = buildTable(a);
  const tb = buildTable(b);
  assert.notEqual(fingerprint(a, ta), fingerprint(b, tb));
  assert.equal(fingerprint(a, ta), fingerprint(a, buildTable(a)));
  const m = movement({ svc: a, table: ta }, { svc: b, table: tb });
  assert.ok(m.moved > 0 && m.moved < MH_TABLE_SIZE / 10, `moved ${m.moved}`);
  // Removing one of three moves all of its slots, and (Maglev is near-minimal, not minimal) a few
  // between the two that stay.
  const c = { ...a, dests: a.dests.slice(1) };
  const mc = movement({ svc: a, table: ta }, { svc: c, table: buildTable(c) });
  assert.equal(mc.from.get('10.1.0.1:80'), ta.owned[0]);
  assert.ok(mc.moved - ta.owned[0] < MH_TABLE_SIZE / 20, `moved ${mc.moved}, owned ${ta.owned[0]}`);
});
