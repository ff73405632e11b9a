// The socket's request/ack bookkeeping against a fake kernel that answers the way netlink_rcv_skb
// does: messages handled in order, an ack for NLM_F_ACK, an error for a failure whatever the flags.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import type { GenericNetlinkSocket } from 'netlink';
import { CMD, encode } from '../../../agent/ipvs/codec.js';
import { NLM_F_ACK, NLM_F_REQUEST, splitMessages } from '../../../agent/ipvs/netlink.js';
import { IpvsSocket } from '../../../agent/ipvs/socket.js';
import type { DestSpec, ServiceSpec } from '../../../agent/ipvs/types.js';
import { settleDatagram } from '../../../agent/lib/netlink-bulk.js';

const FAMILY = 0x2a;

const svc: ServiceSpec = {
  family: 4,
  protocol: 'tcp',
  address: '10.0.0.1',
  port: 80,
  scheduler: 'mh',
  flags: 0x18,
  timeout: 0,
  netmask: 0xffffffff,
};
const dest = (n: number): DestSpec => ({
  family: 4,
  address: `10.1.0.${n}`,
  port: 8080,
  forwarding: 'nat',
  weight: 1,
  upperThreshold: 0,
  lowerThreshold: 0,
});

/** nlmsgerr: header, error, then the echoed request header (what the kernel sends, capped). */
function errorMessage(seq: number, errno: number, echoed: Buffer): Buffer {
  const out = Buffer.alloc(16 + 4 + 16);
  out.writeUInt32LE(out.length, 0);
  out.writeUInt16LE(2, 4); // NLMSG_ERROR
  out.writeUInt16LE(errno ? 0 : 0x100, 6); // NLM_F_CAPPED on acks
  out.writeUInt32LE(seq, 8);
  out.writeInt32LE(-errno, 16);
  echoed.copy(out, 20, 0, 16);
  return out;
}

interface Sent {
  cmd: number;
  flags: number;
  seq: number;
}

/** A fake generic netlink socket; `fail(cmd, index)` returns an errno for a request or 0. */
function fakeKernel(fail: (m: Sent, index: number) => number) {
  const raw = new EventEmitter() as EventEmitter & { send: unknown };
  const outer = new EventEmitter() as EventEmitter & { socket: unknown; ref: unknown; close: unknown };
  const datagrams: Sent[][] = [];
  let index = 0;
  raw.send = (buf: Buffer, _opts: unknown, cb: (err?: Error) => void) => {
    const copy = Buffer.from(buf); // the socket reuses its buffer once the send completes
    setImmediate(() => {
      const sent: Sent[] = [];
      const replies: Buffer[] = [];
      for (const m of splitMessages(copy)) {
        const s = { cmd: m.payload[0], flags: m.flags, seq: m.seq };
        sent.push(s);
        const errno = fail(s, index++);
        if (errno || m.flags & NLM_F_ACK) replies.push(errorMessage(m.seq, errno, copy));
      }
      datagrams.push(sent);
      cb();
      // One skb per ack, as the kernel queues them.
      for (const r of replies) raw.emit('message', r);
    });
  };
  outer.socket = raw;
  outer.ref = () => {};
  outer.close = () => {};
  const sock = { socket: outer } as unknown as GenericNetlinkSocket;
  return { sock, datagrams };
}

describe('IpvsSocket', () => {
  it('sends writes without NLM_F_ACK except the last of each datagram, and settles them all', async () => {
    const k = fakeKernel(() => 0);
    const s = IpvsSocket.over(k.sock, FAMILY);
    const reqs = [encode.newService(svc), ...[3, 2, 1].map((n) => encode.newDest(svc, dest(n)))];
    const res = await s.run(reqs);
    assert.deepEqual(
      res.map((r) => r.error),
      [undefined, undefined, undefined, undefined],
    );
    assert.equal(k.datagrams.length, 1);
    assert.deepEqual(
      k.datagrams[0].map((m) => [m.cmd, m.flags]),
      [
        [CMD.NEW_SERVICE, NLM_F_REQUEST],
        [CMD.NEW_DEST, NLM_F_REQUEST],
        [CMD.NEW_DEST, NLM_F_REQUEST],
        [CMD.NEW_DEST, NLM_F_REQUEST | NLM_F_ACK],
      ],
    );
    assert.deepEqual(s.counters, { requests: 4, writes: 4, datagrams: 1, malformed: 0 });
  });

  it('a failed write without ack still gets its error, naming the destination; the others succeed', async () => {
    const k = fakeKernel((_m, i) => (i === 2 ? 17 : 0));
    const s = IpvsSocket.over(k.sock, FAMILY);
    const reqs = [encode.newService(svc), ...[3, 2, 1].map((n) => encode.newDest(svc, dest(n)))];
    const res = await s.run(reqs);
    assert.deepEqual(
      res.map((r) => r.error?.message),
      [
        undefined,
        undefined,
        'destination 10.1.0.2:8080 of service tcp:10.0.0.1:80: EEXIST already exists',
        undefined,
      ],
    );
  });

  it('with a small window, every datagram ends with an ack request and nothing is left pending', async () => {
    const k = fakeKernel((_m, i) => (i === 5 ? 22 : 0));
    const s = IpvsSocket.over(k.sock, FAMILY, { window: 4 });
    const reqs = Array.from({ length: 10 }, (_, i) => encode.newDest(svc, dest(i + 1)));
    const res = await s.run(reqs);
    assert.deepEqual(
      res.map((r) => r.error?.errno ?? 0),
      [0, 0, 0, 0, 0, -22, 0, 0, 0, 0],
    );
    assert.ok(k.datagrams.length >= 3);
    for (const d of k.datagrams) {
      assert.deepEqual(
        d.map((m) => m.flags & NLM_F_ACK),
        d.map((_, i) => (i === d.length - 1 ? NLM_F_ACK : 0)),
      );
    }
  });

  it('reads always ask for an ack and settle the writes sent before them', async () => {
    const k = fakeKernel(() => 0);
    const s = IpvsSocket.over(k.sock, FAMILY);
    const res = await s.run([
      encode.setDest(svc, dest(1)),
      encode.getService(svc),
      encode.delDest(svc, dest(2)),
    ]);
    assert.equal(res.length, 3);
    assert.ok(res.every((r) => !r.error));
    assert.deepEqual(
      k.datagrams.flat().map((m) => [m.cmd, m.flags & NLM_F_ACK]),
      [
        [CMD.SET_DEST, 0],
        [CMD.GET_SERVICE, NLM_F_ACK],
        [CMD.DEL_DEST, NLM_F_ACK],
      ],
    );
    assert.deepEqual(s.counters, { requests: 3, writes: 2, datagrams: 1, malformed: 0 });
  });
});

describe('settleDatagram (bulk writes: replies drained after the send)', () => {
  const seqs = [101, 102, 103, 104];
  const hdr = Buffer.alloc(16);

  it('no reply: every message succeeded', () => {
    assert.deepEqual(settleDatagram(seqs, [], false), { settled: [{}, {}, {}, {}], malformed: 0 });
  });

  it('an error reply marks its own message only; replies for other sequences are ignored', () => {
    const r = settleDatagram(seqs, [errorMessage(103, 17, hdr), errorMessage(999, 22, hdr)], false);
    assert.deepEqual(r.settled, [{}, {}, { error: -17, message: undefined }, {}]);
    assert.equal(r.malformed, 0);
  });

  it('a receive buffer overrun leaves the unanswered messages unknown, not successful', () => {
    const r = settleDatagram(seqs, [errorMessage(101, 2, hdr)], true);
    assert.deepEqual(r.settled, [
      { error: -2, message: undefined },
      { lost: true },
      { lost: true },
      { lost: true },
    ]);
  });

  it('a malformed reply is counted and dropped', () => {
    const bad = Buffer.from('ff000000020000000100000000000000', 'hex');
    const r = settleDatagram(seqs, [bad], false);
    assert.deepEqual(r, { settled: [{}, {}, {}, {}], malformed: 1 });
  });
});

describe('IpvsSocket.runWrites (bulk socket)', () => {
  /** A fake bulk socket: handles each datagram as the kernel would and queues error replies. */
  function fakeBulk(maxMessages: number, fail: (seq: number, index: number) => number, overrunAt = -1) {
    const datagrams: Sent[][] = [];
    let queued: Buffer[] = [];
    let overrun = false;
    let index = 0;
    let busy = false;
    const bulk = {
      maxMessages,
      send: async (buf: Buffer, len: number) => {
        assert.ok(!busy, 'one datagram in the kernel at a time');
        busy = true;
        const copy = Buffer.from(buf.subarray(0, len));
        await new Promise((r) => setImmediate(r));
        const sent: Sent[] = [];
        for (const m of splitMessages(copy)) {
          sent.push({ cmd: m.payload[0], flags: m.flags, seq: m.seq });
          const errno = fail(m.seq, index);
          if (index++ === overrunAt) overrun = true;
          else if (errno) queued.push(errorMessage(m.seq, errno, copy));
        }
        datagrams.push(sent);
        busy = false;
      },
      drain: () => {
        const out = { replies: queued, overrun };
        queued = [];
        overrun = false;
        return out;
      },
      close: () => {},
    };
    return { bulk, datagrams };
  }
  const reqs = Array.from({ length: 11 }, (_, i) => encode.newDest(svc, dest(i + 1)));

  it('encodes while the previous datagram is in the kernel; no message asks for an ack; results in order', async () => {
    const k = fakeBulk(4, (_s, i) => (i === 6 ? 17 : 0));
    const s = IpvsSocket.over(fakeKernel(() => 0).sock, FAMILY, { bulk: k.bulk });
    const made: number[] = [];
    const res = await s.runWrites(reqs.length, (i) => {
      made.push(i);
      return reqs[i];
    });
    assert.deepEqual(made, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.deepEqual(
      k.datagrams.map((d) => d.length),
      [4, 4, 3],
    );
    assert.ok(k.datagrams.flat().every((m) => m.cmd === CMD.NEW_DEST && m.flags === NLM_F_REQUEST));
    assert.deepEqual(
      res.map((r) => r.error?.message ?? 'ok'),
      reqs.map((_, i) =>
        i === 6 ? 'destination 10.1.0.7:8080 of service tcp:10.0.0.1:80: EEXIST already exists' : 'ok',
      ),
    );
    assert.deepEqual(s.counters, { requests: 11, writes: 11, datagrams: 3, malformed: 0 });
  });

  it('a request that does not fit the datagram moves whole to the next one', async () => {
    const k = fakeBulk(2048, () => 0);
    const s = IpvsSocket.over(fakeKernel(() => 0).sock, FAMILY, { bulk: k.bulk });
    const many = Array.from({ length: 1500 }, (_, i) => encode.newDest(svc, dest((i % 250) + 1)));
    const res = await s.runWrites(many.length, (i) => many[i]);
    assert.equal(res.length, 1500);
    assert.ok(res.every((r) => !r.error));
    assert.ok(k.datagrams.length >= 2);
    assert.equal(k.datagrams.flat().length, 1500);
    // Sequence numbers are consecutive: nothing lost or sent twice at the boundary.
    const seqs = k.datagrams.flat().map((m) => m.seq);
    assert.deepEqual(
      seqs,
      seqs.map((_, i) => seqs[0] + i),
    );
  });

  it('an overrun makes the unanswered writes of that datagram errors, never successes', async () => {
    const k = fakeBulk(4, () => 0, 5);
    const s = IpvsSocket.over(fakeKernel(() => 0).sock, FAMILY, { bulk: k.bulk });
    const res = await s.runWrites(8, (i) => reqs[i]);
    assert.deepEqual(
      res.map((r) => (r.error ? 'lost' : 'ok')),
      ['ok', 'ok', 'ok', 'ok', 'lost', 'lost', 'lost', 'lost'],
    );
    assert.match(res[4].error!.message, /result lost/);
  });

  it('refuses reads (they need replies and acks: run() is for them)', async () => {
    const k = fakeBulk(4, () => 0);
    const s = IpvsSocket.over(fakeKernel(() => 0).sock, FAMILY, { bulk: k.bulk });
    await assert.rejects(
      s.runWrites(1, () => encode.getService(svc)),
      /writes only/,
    );
  });

  it('without a bulk socket it is run() of the same requests', async () => {
    const k = fakeKernel(() => 0);
    const s = IpvsSocket.over(k.sock, FAMILY, { bulk: new Error('no koffi') });
    const res = await s.runWrites(3, (i) => reqs[i]);
    assert.equal(res.length, 3);
    assert.equal(k.datagrams.length, 1);
    assert.equal(k.datagrams[0].at(-1)!.flags & NLM_F_ACK, NLM_F_ACK);
  });
});
