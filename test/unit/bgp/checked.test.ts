// BgpSubsystem against a fake ExaBGP behind a query-capable bridge (no root): what is reported
// as on the wire is checked against ExaBGP's neighbors and adj-rib-out; changes are coalesced
// per prefix, one per cycle; neighbors are known as soon as a bridge connects.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { pino } from 'pino';
import type { AgentToBridge } from '../../../agent/bgp/bridge-protocol.js';
import { BgpSubsystem } from '../../../agent/bgp/index.js';
import { collectBgpMetrics } from '../../../agent/bgp/metrics.js';
import { configSchema } from '../../../agent/config/schema.js';
import { Facts } from '../../../agent/daemon/facts.js';
import { FakeClock } from '../../../agent/lib/clock.js';
import { AgentMetrics } from '../../../agent/metrics/index.js';

/** A bridge plus a tiny ExaBGP: one neighbor, a RIB, `done` for every line (like the real one). */
class FakeExabgp {
  msgs: AgentToBridge[] = [];
  rib = new Map<string, string>();
  hold = false;
  private held: AgentToBridge[] = [];
  private sock: Socket;
  private buf = '';
  constructor(
    path: string,
    private families: string[],
    private established = true,
  ) {
    this.sock = createConnection(path);
    this.sock.setEncoding('utf8');
    this.sock.on('error', () => {});
    this.sock.on('data', (d: string) => {
      this.buf += d;
      for (let nl = this.buf.indexOf('\n'); nl >= 0; nl = this.buf.indexOf('\n')) {
        const m = JSON.parse(this.buf.slice(0, nl)) as AgentToBridge;
        this.buf = this.buf.slice(nl + 1);
        this.msgs.push(m);
        if (this.hold) this.held.push(m);
        else this.answer(m);
      }
    });
    this.send({ t: 'hello', v: 1, pid: 1, exabgpPid: 2, caps: ['query'] });
  }
  release() {
    this.hold = false;
    for (const m of this.held.splice(0)) this.answer(m);
  }
  private answer(m: AgentToBridge) {
    if (m.t === 'cmd') {
      const p = /(announce|withdraw) route (\S+) (.*)$/.exec(m.cmd);
      const fam = p?.[2].includes(':') ? 'ipv6 unicast' : 'ipv4 unicast';
      if (p && this.families.includes(fam)) {
        if (p[1] === 'announce') this.rib.set(p[2], `${fam} ${p[2]} ${p[3]}`);
        else this.rib.delete(p[2]);
      }
      this.send({ t: 'ack', id: m.id, ok: true });
    } else if (m.t === 'query') {
      const lines = m.cmd.startsWith('show neighbor')
        ? [
            'Neighbor 10.0.1.1',
            '  Session                         Local',
            `   state                    ${this.established ? 'ESTABLISHED' : 'ACTIVE'}`,
            '  Families                        Local          Remote        Add-Path',
            ...this.families.map(
              (f) =>
                `   ${f}:                enabled         ${this.established ? 'enabled' : 'n/a'}        disabled`,
            ),
          ]
        : [...this.rib.values()].map(
            (r) => `neighbor 10.0.1.1 local-ip 10.0.1.2 family-allowed in-open ${r}`,
          );
      this.send({ t: 'reply', id: m.id, ok: true, lines });
    }
  }
  send(m: unknown) {
    if (this.sock.writable) this.sock.write(`${JSON.stringify(m)}\n`);
  }
  cmds() {
    return this.msgs.filter((m): m is Extract<AgentToBridge, { t: 'cmd' }> => m.t === 'cmd');
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

type Ann = {
  prefix: string;
  state: string;
  acked: boolean;
  onWire: boolean;
  rejected: boolean;
  wire: string;
  attributes: { med?: number };
};
type Status = {
  summary: string;
  announcements: Ann[];
  bridges: { neighbors: Record<string, { state: string; families?: string[] }> }[];
};

describe('BgpSubsystem: checked against ExaBGP', () => {
  let dir: string;
  let facts: Facts;
  let bgp: BgpSubsystem;
  let exa: FakeExabgp | undefined;
  const st = () => bgp.status() as Status;
  const ann = (p: string) => st().announcements.find((a) => a.prefix === p) as Ann;
  const start = (announcements: unknown[]) =>
    bgp.start(
      configSchema.parse({
        control: { socket: join(dir, 'lbagent.sock') },
        checks: { web: { type: 'tcp', address: '192.0.2.1', port: 80 } },
        bgp: { announcements },
      }),
    );

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lbt-bgpchk-'));
    facts = new Facts();
    facts.set('check:web', { up: true });
    bgp = new BgpSubsystem(
      { log: pino({ level: 'silent' }), clock: new FakeClock(), facts },
      { stopAckWaitMs: 200 },
    );
  });
  afterEach(async () => {
    exa?.close();
    await bgp.stop({ removeState: false });
    rmSync(dir, { recursive: true, force: true });
  });

  it('an IPv6 prefix with only ipv4 unicast configured is REJECTED, not acked; IPv4 is on the wire', async () => {
    await start([
      { prefix: '192.0.2.10/32', checks: ['web'] },
      { prefix: '2001:db8::10/128', checks: ['web'] },
    ]);
    exa = new FakeExabgp(join(dir, 'exabgp.sock'), ['ipv4 unicast']);
    await until(() => ann('192.0.2.10/32').onWire && ann('2001:db8::10/128').rejected, 'checked');
    const v6 = ann('2001:db8::10/128');
    assert.equal(v6.acked, false);
    assert.equal(v6.onWire, false);
    assert.equal(v6.wire, 'rejected: ipv6 unicast not configured on any neighbor');
    assert.match(st().summary, /1 on the wire, 1 REJECTED/);
    const m = new AgentMetrics();
    collectBgpMetrics(m, { subsystems: { bgp: bgp.status() } });
    const text = await m.registry.metrics();
    assert.match(text, /lbagent_bgp_prefix_rejected\{prefix="2001:db8::10\/128"\} 1/);
    assert.match(text, /lbagent_bgp_prefix_on_wire\{prefix="192.0.2.10\/32"\} 1/);
    assert.match(text, /lbagent_bgp_session_up\{neighbor="10.0.1.1"\} 1/);
    // A drain does not wait for it, and says so.
    facts.set('drain', { up: false });
    await until(() => bgp.drainView().settled === 2, 'drained');
    assert.deepEqual(bgp.drainView().notes, [
      '2001:db8::10/128: never on the wire (rejected: ipv6 unicast not configured on any neighbor)',
    ]);
  });

  it('neighbors are known as soon as a bridge connects; no session up = acked but not on the wire', async () => {
    await start([{ prefix: '192.0.2.10/32', checks: ['web'] }]);
    exa = new FakeExabgp(join(dir, 'exabgp.sock'), ['ipv4 unicast'], false);
    await until(() => ann('192.0.2.10/32').acked, 'acked');
    assert.deepEqual(st().bridges[0].neighbors['10.0.1.1'].state, 'down');
    assert.equal(ann('192.0.2.10/32').onWire, false);
    assert.match(ann('192.0.2.10/32').wire, /no established neighbor with ipv4 unicast negotiated/);
  });

  it('flaps while ExaBGP is busy are coalesced: one command per prefix per cycle, the latest state', async () => {
    await start([{ prefix: '192.0.2.10/32', checks: ['web'] }]);
    exa = new FakeExabgp(join(dir, 'exabgp.sock'), ['ipv4 unicast']);
    await until(() => ann('192.0.2.10/32').onWire, 'first on the wire');
    exa.hold = true;
    for (let i = 0; i < 10; i++) {
      facts.set('drain', { up: false });
      await new Promise((r) => setImmediate(r));
      facts.set('drain', { up: true });
      await new Promise((r) => setImmediate(r));
    }
    facts.set('drain', { up: false });
    await new Promise((r) => setTimeout(r, 30));
    const sentWhileBusy = exa.cmds().length;
    assert.equal(sentWhileBusy, 2, 'the sync and one change; the rest waits for the cycle');
    assert.equal(ann('192.0.2.10/32').acked, false);
    exa.release();
    await until(
      () => ann('192.0.2.10/32').acked && ann('192.0.2.10/32').attributes.med === 500,
      'final state checked',
    );
    const cmds = exa.cmds().map((c) => c.cmd);
    assert.ok(cmds.length <= 3, cmds.join('\n'));
    assert.equal(cmds.at(-1), 'announce route 192.0.2.10/32 next-hop self med 500');
    assert.equal(exa.rib.get('192.0.2.10/32'), 'ipv4 unicast 192.0.2.10/32 next-hop self med 500');
    const coalesced = (bgp.status() as { counters: { coalesced: number } }).counters.coalesced;
    // Every other flip replaced a state that never went out (the others returned to the one in flight).
    assert.ok(coalesced >= 9, `states never sent: ${coalesced}`);
  });
});
