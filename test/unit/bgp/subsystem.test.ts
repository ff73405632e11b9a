// BgpSubsystem with a fake bridge on a unix socket in a temp directory (no root, no kernel).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { pino } from 'pino';
import type { AgentToBridge } from '../../../agent/bgp/bridge-protocol.js';
import { BgpSubsystem } from '../../../agent/bgp/index.js';
import { configSchema } from '../../../agent/config/schema.js';
import { Facts } from '../../../agent/daemon/facts.js';
import { FakeClock } from '../../../agent/lib/clock.js';

class FakeBridge {
  msgs: AgentToBridge[] = [];
  errors: Error[] = [];
  private sock: Socket;
  private buf = '';
  constructor(path: string) {
    this.sock = createConnection(path);
    this.sock.setEncoding('utf8');
    // The agent closes the connection at stop: a write racing that close fails with EPIPE, which
    // without a listener would be an uncaught exception failing whichever test is running.
    this.sock.on('error', (err) => this.errors.push(err));
    this.sock.on('data', (d: string) => {
      this.buf += d;
      for (let nl = this.buf.indexOf('\n'); nl >= 0; nl = this.buf.indexOf('\n')) {
        this.msgs.push(JSON.parse(this.buf.slice(0, nl)));
        this.buf = this.buf.slice(nl + 1);
      }
    });
  }
  send(m: unknown) {
    if (this.sock.writable) this.sock.write(`${JSON.stringify(m)}\n`);
  }
  cmds() {
    return this.msgs.filter((m): m is Extract<AgentToBridge, { t: 'cmd' }> => m.t === 'cmd');
  }
  ackAll() {
    for (const c of this.cmds()) this.send({ t: 'ack', id: c.id, ok: true });
  }
  close() {
    this.sock.destroy();
  }
}

async function until(fn: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (fn()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`never happened: ${what}`);
}

type Status = {
  announcements: { prefix: string; state: string; announced: boolean; acked: boolean; command: string }[];
  counters: Record<string, number>;
};

describe('BgpSubsystem', () => {
  let dir: string;
  let facts: Facts;
  let bgp: BgpSubsystem;
  let bridge: FakeBridge | undefined;
  const cfg = (bgpCfg: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
    configSchema.parse({
      control: { socket: join(dir, 'lbagent.sock') },
      checks: { web: { type: 'tcp', address: '192.0.2.1', port: 80 } },
      bgp: bgpCfg,
      ...extra,
    });

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lbt-bgpunit-'));
    facts = new Facts();
    bgp = new BgpSubsystem(
      { log: pino({ level: 'silent' }), clock: new FakeClock(), facts },
      { stopAckWaitMs: 500 },
    );
  });
  afterEach(async () => {
    bridge?.close();
    await bgp.stop({ removeState: false });
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends the whole set on connect, follows facts, and tracks acks', async () => {
    facts.set('check:web', { up: true });
    await bgp.start(
      cfg({ announcements: [{ prefix: '192.0.2.1/32', checks: ['web'], withdrawOnDown: true }] }),
    );
    bridge = new FakeBridge(join(dir, 'exabgp.sock'));
    bridge.send({ t: 'hello', v: 1, pid: 1, exabgpPid: 2 });
    await until(() => bridge!.msgs.some((m) => m.t === 'sync-end'), 'initial sync');
    assert.deepEqual(
      bridge.msgs.map((m) => m.t),
      ['hello', 'sync-begin', 'cmd', 'sync-end'],
    );
    const first = bridge.cmds()[0];
    assert.equal(first.cmd, 'announce route 192.0.2.1/32 next-hop self med 100');
    assert.equal(first.undo, 'withdraw route 192.0.2.1/32 next-hop self');
    assert.equal((bgp.status() as Status).announcements[0].acked, false);
    bridge.ackAll();
    await until(() => (bgp.status() as Status).announcements[0].acked, 'acked');
    assert.deepEqual(facts.get('bgp:192.0.2.1/32'), { up: true, reason: undefined });

    facts.set('check:web', { up: false });
    await until(() => bridge!.cmds().length === 2, 'withdraw sent');
    assert.equal(bridge.cmds()[1].cmd, 'withdraw route 192.0.2.1/32 next-hop self');
    assert.equal(bridge.cmds()[1].undo, undefined);
    assert.equal((bgp.status() as Status).announcements[0].acked, false, 'new command not acked yet');
    bridge.send({ t: 'ack', id: bridge.cmds()[1].id, ok: true });
    await until(() => (bgp.status() as Status).announcements[0].acked, 'withdraw acked');
    assert.equal(facts.get('bgp:192.0.2.1/32')?.up, false);
  });

  it('a stale ack (for a superseded command) does not mark the new state acked', async () => {
    facts.set('check:web', { up: true });
    await bgp.start(cfg({ announcements: [{ prefix: '192.0.2.1/32', checks: ['web'] }] }));
    bridge = new FakeBridge(join(dir, 'exabgp.sock'));
    bridge.send({ t: 'hello', v: 1, pid: 1, exabgpPid: 2 });
    await until(() => bridge!.cmds().length === 1, 'sync');
    facts.set('check:web', { up: false });
    // The change waits for the cycle in flight (one change per prefix inside ExaBGP at a time).
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(bridge.cmds().length, 1);
    bridge.send({ t: 'ack', id: bridge.cmds()[0].id, ok: true });
    await until(() => bridge!.cmds().length === 2, 'med change after the first cycle');
    assert.equal((bgp.status() as Status).announcements[0].acked, false);
    bridge.send({ t: 'ack', id: bridge.cmds()[1].id, ok: true });
    await until(() => (bgp.status() as Status).announcements[0].acked, 'current acked');
  });

  it('drain view settles once the disabled state is acked', async () => {
    facts.set('check:web', { up: true });
    await bgp.start(cfg({ announcements: [{ prefix: '192.0.2.1/32', checks: ['web'] }] }));
    bridge = new FakeBridge(join(dir, 'exabgp.sock'));
    bridge.send({ t: 'hello', v: 1, pid: 1, exabgpPid: 2 });
    await until(() => bridge!.cmds().length === 1, 'sync');
    bridge.ackAll();
    facts.set('drain', { up: false, reason: 'x' });
    await until(() => bridge!.cmds().length === 2, 'disabled MED');
    assert.equal(bridge.cmds()[1].cmd, 'announce route 192.0.2.1/32 next-hop self med 500');
    assert.deepEqual(bgp.drainView(), {
      total: 1,
      settled: 0,
      pending: ['192.0.2.1/32: waiting for the ExaBGP ack'],
      notes: [],
      onWire: [],
    });
    bridge.ackAll();
    await until(() => bgp.drainView().settled === 1, 'settled');
  });

  it('the ready file gates the first announcement only', async () => {
    facts.set('check:web', { up: true });
    await bgp.start(
      cfg(
        { announcements: [{ prefix: '192.0.2.1/32', checks: ['web'] }] },
        { maintenance: { readyFile: join(dir, 'ready') } },
      ),
    );
    assert.equal((bgp.status() as Status).announcements[0].state, 'not-ready');
    facts.set('ready', { up: true });
    await until(() => (bgp.status() as Status).announcements[0].state === 'up', 'up after ready');
    facts.set('ready', { up: false });
    await new Promise((r) => setTimeout(r, 10));
    assert.equal((bgp.status() as Status).announcements[0].state, 'up');
  });

  it('reload withdraws a removed prefix; stop with stopGrace 0 withdraws and waits for acks', async () => {
    facts.set('check:web', { up: true });
    const two = cfg({
      stopGrace: '0s',
      announcements: [
        { prefix: '192.0.2.1/32', checks: ['web'] },
        { prefix: '192.0.2.2/32', checks: ['web'] },
      ],
    });
    await bgp.start(two);
    bridge = new FakeBridge(join(dir, 'exabgp.sock'));
    bridge.send({ t: 'hello', v: 1, pid: 1, exabgpPid: 2 });
    await until(() => bridge!.cmds().length === 2, 'sync');
    bridge.ackAll();
    await bgp.reload(cfg({ stopGrace: '0s', announcements: [{ prefix: '192.0.2.1/32', checks: ['web'] }] }));
    await until(() => bridge!.cmds().length === 3, 'withdraw removed');
    assert.equal(bridge.cmds()[2].cmd, 'withdraw route 192.0.2.2/32 next-hop self');
    const b = bridge;
    // Acks each withdraw once, as ExaBGP does (not again on every tick while stop() closes the socket).
    const acked = new Set<number>();
    const acker = setInterval(() => {
      for (const c of b.cmds())
        if (!acked.has(c.id)) {
          acked.add(c.id);
          b.send({ t: 'ack', id: c.id, ok: true });
        }
    }, 5);
    await bgp.stop({ removeState: false });
    clearInterval(acker);
    assert.ok(b.cmds().some((c) => c.cmd === 'withdraw route 192.0.2.1/32 next-hop self'));
  });

  it('counts malformed bridge messages and keeps going', async () => {
    await bgp.start(cfg({ announcements: [] }));
    bridge = new FakeBridge(join(dir, 'exabgp.sock'));
    bridge.send({ t: 'bogus' });
    bridge.send({ t: 'hello', v: 1, pid: 1, exabgpPid: 2 });
    await until(() => bridge!.msgs.some((m) => m.t === 'sync-end'), 'sync after garbage');
    assert.equal((bgp.status() as Status).counters.malformedBridgeMessages, 1);
  });

  it('dynamic MED follows the load and withdraws when overloaded', async () => {
    const clock = new FakeClock();
    let load = 0;
    bgp = new BgpSubsystem(
      { log: pino({ level: 'silent' }), clock, facts },
      { stopAckWaitMs: 100, loadSource: async () => load },
    );
    facts.set('check:web', { up: true });
    await bgp.start(
      cfg({
        announcements: [{ prefix: '192.0.2.1/32', checks: ['web'] }],
        dynamicMed: { metric: 'cpu', step: 10, hysteresis: 2, overload: 90, interval: '5s' },
      }),
    );
    const cmd = () => (bgp.status() as Status).announcements[0].command;
    assert.equal(cmd(), 'announce route 192.0.2.1/32 next-hop self med 100');
    load = 47;
    clock.advance(5000);
    await until(() => cmd() === 'announce route 192.0.2.1/32 next-hop self med 140', 'MED 140 at 47% CPU');
    load = 95;
    clock.advance(5000);
    await until(() => cmd() === 'withdraw route 192.0.2.1/32 next-hop self', 'withdrawn when overloaded');
  });
});
