// The drain guard (issue 16.9): with maintenance.peers, `lbctl drain` without --force refuses
// when no peer in service would carry this host's prefixes or VRRP mastership. The peers are real
// HTTP servers serving what a real agent's metrics registry renders (agent/bgp/metrics.ts).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { pino } from 'pino';
import { collectBgpMetrics } from '../../../agent/bgp/metrics.js';
import { configSchema } from '../../../agent/config/schema.js';
import { Facts } from '../../../agent/daemon/facts.js';
import { DrainSubsystem } from '../../../agent/drain/index.js';
import { parsePeerMetrics, uncovered } from '../../../agent/drain/peers.js';
import { FakeClock } from '../../../agent/lib/clock.js';
import { AgentMetrics } from '../../../agent/metrics/index.js';

/** What a peer agent's /metrics says, rendered by the real registry and collector. */
async function peerMetrics(drained: boolean, onWire: string[]): Promise<string> {
  const m = new AgentMetrics();
  m.drained.set(drained ? 1 : 0);
  collectBgpMetrics(m, {
    subsystems: {
      bgp: {
        bridges: [{ neighbors: { '10.0.1.1': { state: 'up' } } }],
        announcements: onWire.map((prefix) => ({ prefix, state: 'up', announced: true, onWire: true })),
      },
    },
  });
  return m.registry.metrics();
}

describe('drain guard: peers in service', () => {
  const servers: Server[] = [];
  const peer = async (body: () => Promise<string>): Promise<string> => {
    const srv = createServer(async (_req, res) => res.end(await body()));
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    servers.push(srv);
    return `http://127.0.0.1:${(srv.address() as AddressInfo).port}/metrics`;
  };
  let dir: string;
  let sub: DrainSubsystem;
  let lb2: { drained: boolean; onWire: string[] };
  let lb2Url: string;
  let deadUrl: string;

  before(async () => {
    lb2Url = await peer(() => peerMetrics(lb2.drained, lb2.onWire));
    const dead = createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    deadUrl = `http://127.0.0.1:${(dead.address() as AddressInfo).port}/metrics`;
    await new Promise<void>((r) => dead.close(() => r()));
  });
  after(() => {
    for (const s of servers) s.close();
  });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lbt-drainpeer-'));
    lb2 = { drained: false, onWire: ['192.0.2.10/32'] };
  });
  afterEach(async () => {
    await sub.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const start = async (peers: string[], local: { onWire: string[]; masters?: string[] }) => {
    sub = new DrainSubsystem({ log: pino({ level: 'silent' }), clock: new FakeClock(), facts: new Facts() });
    sub.setSources({
      bgp: () => ({ total: 1, settled: 0, pending: [], onWire: local.onWire }),
      vrrp: () => (local.masters ?? []).map((name) => ({ name, master: true })),
    });
    await sub.start(configSchema.parse({ maintenance: { disableFile: join(dir, 'disable'), peers } }));
    return sub.controlHandlers();
  };

  it('allows the drain when a peer in service has the prefix on the wire', async () => {
    const h = await start([lb2Url], { onWire: ['192.0.2.10/32'] });
    await h['drain.set']({});
    assert.equal(sub.drained, true);
  });

  it('refuses (file untouched) when the only peer is drained or unreachable; --force drains', async () => {
    lb2.drained = true;
    const h = await start([lb2Url, deadUrl], { onWire: ['192.0.2.10/32'] });
    await assert.rejects(
      async () => h['drain.set']({}),
      (err: Error) => {
        assert.match(err.message, /draining would take the last host out \(use --force/);
        assert.match(err.message, /192\.0\.2\.10\/32: no peer in service announces it/);
        assert.match(err.message, /:\d+\/metrics: drained/);
        assert.match(err.message, /unreachable \(ECONNREFUSED\)/);
        return true;
      },
    );
    assert.equal(sub.drained, false);
    await h['drain.set']({ force: true });
    assert.equal(sub.drained, true);
  });

  it('refuses when the peer is in service but does not announce that prefix', async () => {
    lb2.onWire = ['192.0.2.99/32'];
    const h = await start([lb2Url], { onWire: ['192.0.2.10/32'] });
    await assert.rejects(async () => h['drain.set']({}), /192\.0\.2\.10\/32: no peer in service/);
  });

  it('a VRRP master needs one peer in service; nothing on the wire and no mastership = nothing to guard', async () => {
    lb2.drained = true;
    let h = await start([lb2Url], { onWire: [], masters: ['vi1'] });
    await assert.rejects(
      async () => h['drain.set']({}),
      /VRRP instance vi1: master here, no peer in service/,
    );
    await sub.stop();
    h = await start([lb2Url], { onWire: [] });
    await h['drain.set']({});
    assert.equal(sub.drained, true);
  });

  it('without maintenance.peers nothing is checked (and nothing promised)', async () => {
    const h = await start([], { onWire: ['192.0.2.10/32'], masters: ['vi1'] });
    await h['drain.set']({});
    assert.equal(sub.drained, true);
  });

  it('parses peers that predate the on-wire metric by their announced prefixes', () => {
    const v = parsePeerMetrics(
      'u',
      'lbagent_drained 0\nlbagent_bgp_prefix_announced{prefix="192.0.2.10/32"} 1\nlbagent_bgp_prefix_announced{prefix="192.0.2.11/32"} 0\n',
    );
    assert.deepEqual([...v.onWire], ['192.0.2.10/32']);
    assert.deepEqual(uncovered({ onWire: ['192.0.2.10/32'], vrrpMasters: [] }, [v]), []);
    assert.match(parsePeerMetrics('u', 'hello').error ?? '', /not an lbagent/);
  });
});
