import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BridgeCore } from '../../../agent/bgp/bridge-core.js';
import type { BridgeToAgent } from '../../../agent/bgp/bridge-protocol.js';
import { parseAgentMessage, parseBridgeMessage } from '../../../agent/bgp/bridge-protocol.js';
import { FakeClock } from '../../../agent/lib/clock.js';

function rig(graceMs = 0) {
  const clock = new FakeClock();
  const out: string[] = [];
  const toAgent: BridgeToAgent[] = [];
  const core = new BridgeCore(
    clock,
    { writeExabgp: (l) => out.push(l), sendAgent: (m) => toAgent.push(m), log: () => {} },
    graceMs,
  );
  return { clock, out, toAgent, core };
}

const ann = (id: number, key: string) => ({
  t: 'cmd' as const,
  id,
  key,
  cmd: `announce route ${key} next-hop self med 100`,
  undo: `withdraw route ${key} next-hop self`,
});

describe('bridge core', () => {
  it('a query collects ExaBGP output up to its ack; events in between stay events', () => {
    const r = rig();
    r.core.agentUp();
    r.core.fromAgent(ann(1, '192.0.2.1/32'));
    r.core.fromAgent({ t: 'query', id: 2, cmd: 'show adj-rib out extensive' });
    r.core.fromExabgp('done');
    r.core.fromExabgp(
      'neighbor 10.0.1.1 local-ip 10.0.1.2 family-allowed in-open ipv4 unicast 192.0.2.1/32 next-hop self med 100',
    );
    r.core.fromExabgp('neighbor 10.0.1.1 down - peer reset');
    r.core.fromExabgp('done');
    assert.deepEqual(r.toAgent, [
      { t: 'ack', id: 1, ok: true },
      { t: 'neighbor', neighbor: '10.0.1.1', event: 'down', detail: 'peer reset' },
      {
        t: 'reply',
        id: 2,
        ok: true,
        lines: [
          'neighbor 10.0.1.1 local-ip 10.0.1.2 family-allowed in-open ipv4 unicast 192.0.2.1/32 next-hop self med 100',
        ],
        truncated: undefined,
      },
    ]);
    assert.equal(
      parseAgentMessage('{"t":"query","id":3,"cmd":"announce route 1.2.3.4/32 next-hop self"}'),
      'query must be a show command',
    );
  });

  it('ExaBGP gone: no grace timer, no "agent gone", nothing written any more', () => {
    const logs: string[] = [];
    const clock = new FakeClock();
    const out: string[] = [];
    const core = new BridgeCore(
      clock,
      { writeExabgp: (l) => out.push(l), sendAgent: () => {}, log: (m) => logs.push(m) },
      3000,
    );
    core.agentUp();
    core.fromAgent(ann(1, '192.0.2.1/32'));
    core.exabgpDown();
    core.agentDown();
    clock.advance(10_000);
    assert.deepEqual(out, ['announce route 192.0.2.1/32 next-hop self med 100']);
    assert.deepEqual(logs, []);
  });

  it('relays commands and matches in-order acks to ids', () => {
    const r = rig();
    r.core.agentUp();
    r.core.fromAgent(ann(1, '192.0.2.1/32'));
    r.core.fromAgent(ann(2, '192.0.2.2/32'));
    assert.deepEqual(r.out, [
      'announce route 192.0.2.1/32 next-hop self med 100',
      'announce route 192.0.2.2/32 next-hop self med 100',
    ]);
    r.core.fromExabgp('done');
    r.core.fromExabgp('error');
    r.core.fromExabgp('done'); // nothing pending: counted, not forwarded
    assert.deepEqual(r.toAgent, [
      { t: 'ack', id: 1, ok: true },
      { t: 'ack', id: 2, ok: false },
    ]);
    assert.equal(r.core.counters.unmatchedAcks, 1);
  });
  it('forwards neighbor events', () => {
    const r = rig();
    r.core.fromExabgp('neighbor 10.0.1.1 up');
    assert.deepEqual(r.toAgent, [{ t: 'neighbor', neighbor: '10.0.1.1', event: 'up', detail: undefined }]);
  });
  it('withdraws everything after the grace when the agent goes away, not before', () => {
    const r = rig();
    r.core.agentUp();
    r.core.fromAgent({ t: 'hello', v: 1, graceMs: 3000 });
    r.core.fromAgent(ann(1, '192.0.2.1/32'));
    r.core.fromAgent({
      t: 'cmd',
      id: 2,
      key: '192.0.2.2/32',
      cmd: 'withdraw route 192.0.2.2/32 next-hop self',
    });
    r.out.length = 0;
    r.core.agentDown();
    r.clock.advance(2999);
    assert.deepEqual(r.out, []);
    r.clock.advance(1);
    assert.deepEqual(r.out, ['withdraw route 192.0.2.1/32 next-hop self']);
    assert.equal(r.core.announced.size, 0);
    // Acks for the gone agent's commands and for the bridge's own withdraw are consumed.
    r.core.fromExabgp('done');
    r.core.fromExabgp('done');
    r.core.fromExabgp('done');
    assert.equal(r.toAgent.filter((m) => m.t === 'ack').length, 0);
    assert.equal(r.core.pendingAcks(), 0);
  });
  it('an agent back within the grace keeps the routes', () => {
    const r = rig();
    r.core.agentUp();
    r.core.fromAgent({ t: 'hello', v: 1, graceMs: 3000 });
    r.core.fromAgent(ann(1, '192.0.2.1/32'));
    r.out.length = 0;
    r.core.agentDown();
    r.clock.advance(1000);
    r.core.agentUp();
    r.clock.advance(10_000);
    assert.deepEqual(r.out, []);
  });
  it('acks due to a previous agent connection are not forwarded to the next one', () => {
    const r = rig();
    r.core.agentUp();
    r.core.fromAgent(ann(1, 'a'));
    r.core.agentDown();
    r.core.agentUp();
    r.core.fromAgent(ann(1, 'b'));
    r.core.fromExabgp('done'); // for the old id 1
    assert.deepEqual(r.toAgent, []);
    r.core.fromExabgp('done');
    assert.deepEqual(r.toAgent, [{ t: 'ack', id: 1, ok: true }]);
  });
  it('sync withdraws routes the new agent no longer wants', () => {
    const r = rig();
    r.core.agentUp();
    r.core.fromAgent(ann(1, 'a'));
    r.core.fromAgent(ann(2, 'b'));
    r.out.length = 0;
    r.core.fromAgent({ t: 'sync-begin' });
    r.core.fromAgent(ann(3, 'b'));
    r.core.fromAgent({ t: 'sync-end' });
    assert.deepEqual(r.out, ['announce route b next-hop self med 100', 'withdraw route a next-hop self']);
    assert.deepEqual([...r.core.announced.keys()], ['b']);
  });
});

describe('bridge protocol', () => {
  it('rejects malformed or injected messages with a reason', () => {
    assert.equal(parseAgentMessage('{'), 'not JSON');
    assert.equal(parseAgentMessage('{"t":"hello","v":9,"graceMs":0}'), 'protocol version 9 not supported');
    assert.equal(
      parseAgentMessage('{"t":"cmd","id":1,"key":"k","cmd":"announce x\\nshutdown"}'),
      'cmd contains a newline',
    );
    assert.equal(parseAgentMessage('{"t":"nope"}'), 'unknown message type "nope"');
    assert.equal(parseBridgeMessage('{"t":"ack","id":"1","ok":true}'), 'ack needs id and ok');
    assert.deepEqual(parseBridgeMessage('{"t":"ack","id":4,"ok":true}'), { t: 'ack', id: 4, ok: true });
  });
});
