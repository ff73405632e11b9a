// The rtnetlink bulk path against a fake kernel: datagrams split by the writer's limit, no
// message asks for an ack, an error reply marks exactly its message, a lost result (receive
// buffer overrun) reads as ENOBUFS.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NLM_F, RTM } from '../../../agent/kernel/codec.js';
import { type NlRequest, RtnlSocket } from '../../../agent/kernel/transport.js';
import { splitMessages } from '../../../agent/lib/netlink.js';
import type { BulkWriter } from '../../../agent/lib/netlink-bulk.js';

/** A kernel that fails the messages whose payload's first byte is 0xee (EINVAL). */
class FakeKernel implements BulkWriter {
  readonly maxMessages = 100;
  datagrams: { seq: number; flags: number }[][] = [];
  private queued: Buffer[] = [];
  overrunOnce = false;
  async send(buf: Buffer, len: number): Promise<void> {
    const msgs = splitMessages(Buffer.from(buf.subarray(0, len)));
    this.datagrams.push(msgs.map((m) => ({ seq: m.seq, flags: m.flags })));
    for (const m of msgs) {
      if (m.payload[0] !== 0xee) continue;
      const e = Buffer.alloc(36);
      e.writeUInt32LE(36, 0);
      e.writeUInt16LE(2, 4); // NLMSG_ERROR
      e.writeUInt32LE(m.seq, 8);
      e.writeInt32LE(-22, 16);
      this.queued.push(e);
    }
  }
  drain(): { replies: Buffer[]; overrun: boolean } {
    const replies = this.queued;
    this.queued = [];
    const overrun = this.overrunOnce;
    this.overrunOnce = false;
    return { replies, overrun };
  }
  close(): void {}
}

const req = (bad = false): NlRequest => ({
  type: RTM.NEWADDR,
  flags: NLM_F.CREATE | NLM_F.EXCL,
  write: (w) => {
    w.u8(bad ? 0xee : 2)
      .u8(32)
      .u8(0)
      .u8(0)
      .u32(1);
  },
});

test('bulk path: 250 + 10 + ... split by maxMessages, no acks asked, errors land on their message', async () => {
  const k = new FakeKernel();
  const s = new RtnlSocket({ bulk: k });
  try {
    const reqs = Array.from({ length: 260 }, (_, i) => req(i === 7 || i === 255));
    const res = await s.batch(reqs);
    assert.deepEqual(
      k.datagrams.map((d) => d.length),
      [100, 100, 60],
    );
    assert.ok(
      k.datagrams.flat().every((m) => (m.flags & NLM_F.ACK) === 0 && (m.flags & NLM_F.REQUEST) !== 0),
    );
    const seqs = k.datagrams.flat().map((m) => m.seq);
    assert.deepEqual(
      seqs,
      seqs.map((_, i) => seqs[0] + i),
      'consecutive',
    );
    assert.deepEqual(
      res.flatMap((e, i) => (e ? [[i, e]] : [])),
      [
        [7, 22],
        [255, 22],
      ],
    );
    assert.equal(s.counters.writes, 260);
  } finally {
    s.close();
  }
});

test('bulk path: an overrun loses the datagram’s results (ENOBUFS), the next ones are fine', async () => {
  const k = new FakeKernel();
  k.overrunOnce = true;
  const s = new RtnlSocket({ bulk: k });
  try {
    const res = await s.batch(Array.from({ length: 300 }, () => req()));
    assert.ok(res.slice(0, 100).every((e) => e === 105));
    assert.ok(res.slice(100).every((e) => e === 0));
  } finally {
    s.close();
  }
});
