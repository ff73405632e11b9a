// The epoll TCP prober on the real kernel in a namespace the test creates: an open port is up, a
// closed port is down with ECONNREFUSED, an address whose SYNs are silently dropped (on-link via a
// veth, to a MAC nobody has) times out at `timeout`, an unroutable address fails
// at once; the fd count of the prober process is back to its baseline afterwards; the listening
// application never accepts a check's connection (SYN, SYN-ACK, RST). Run with the fast path
// (loopback connects finished inside connect(), sockets reused) and without it
// (LBAGENT_TCP_FASTPATH=0: every connect through the epoll set).
import assert from 'node:assert/strict';
import { dirname } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  captureOutput,
  createNetns,
  destroyNetns,
  isRoot,
  type Netns,
  siblingScript,
  stopChild,
  uniq,
  waitFor,
} from '../../lib/netns.js';

const _here = dirname(fileURLToPath(import.meta.url));
const nodeArgv = (script: string, ...args: string[]) => siblingScript(import.meta.url, script, ...args);

// Prints "accepted" for every connection the application sees (the prober should cause none).
const LISTENER = `require('net').createServer(s => { console.log('accepted'); s.on('error', () => {}); s.destroy(); }).listen(8080, '127.0.0.1', () => console.log('listening'))`;

describe('epoll TCP prober in a namespace', { skip: !isRoot() && 'needs root' }, () => {
  let ns: Netns;
  before(() => {
    [ns] = createNetns(`lbt-health-tcp-${uniq()}`);
    // SYNs to 198.51.100.2 leave by v0 to a MAC nobody has: v1 drops them, nothing answers.
    ns.ip('link add v0 type veth peer name v1');
    ns.ip('link set v0 up');
    ns.ip('link set v1 up');
    ns.ip('addr add 198.51.100.1/24 dev v0');
    ns.ip('neigh add 198.51.100.2 lladdr 02:00:00:00:00:02 dev v0');
  });
  after(() => destroyNetns(ns));

  for (const fastPath of [true, false]) {
    it(`open → up, closed → ECONNREFUSED, dropped → timeout, unroutable → at once; no fd leak (fast path ${fastPath ? 'on' : 'off'})`, async () => {
      const listener = ns.spawn([process.execPath, '-e', LISTENER]);
      try {
        const out = captureOutput(listener);
        await waitFor(() => out.text().includes('listening'), { timeoutMs: 10_000, what: 'listener' });
        const targets = [
          { name: 'open', address: '127.0.0.1', port: 8080, timeout: 1000 },
          { name: 'closed', address: '127.0.0.1', port: 8081, timeout: 1000 },
          { name: 'dropped', address: '198.51.100.2', port: 80, timeout: 300 },
          { name: 'unroutable', address: '203.0.113.9', port: 80, timeout: 1000 },
          // Loopback again: with the fast path these reuse the sockets of the connects above.
          { name: 'openAgain', address: '127.0.0.1', port: 8080, timeout: 1000 },
          { name: 'closedAgain', address: '127.0.0.1', port: 8081, timeout: 1000 },
        ];
        const child = ns.spawn(nodeArgv('prober-child', JSON.stringify(targets)), {
          env: { LBAGENT_TCP_FASTPATH: fastPath ? '1' : '0' },
        });
        const text = captureOutput(child);
        const line = await waitFor(
          () =>
            text
              .text()
              .split('\n')
              .find((l) => l.startsWith('{')),
          {
            timeoutMs: 30_000,
            what: 'prober-child result',
          },
        );
        await stopChild(child, 'SIGTERM', 2000);
        const got = JSON.parse(line!);
        assert.equal(got.prober, 'epoll');
        const r = got.results;
        assert.deepEqual([r.open.ok, r.open.reason], [true, 'connected']);
        assert.deepEqual([r.closed.ok, r.closed.reason], [false, 'connect ECONNREFUSED']);
        assert.deepEqual(
          [r.dropped.ok, r.dropped.reason, r.dropped.latencyMs],
          [false, 'timeout after 300ms', 300],
        );
        assert.deepEqual([r.unroutable.ok, r.unroutable.reason], [false, 'connect ENETUNREACH']);
        assert.deepEqual([r.openAgain.ok, r.openAgain.reason], [true, 'connected']);
        assert.deepEqual([r.closedAgain.ok, r.closedAgain.reason], [false, 'connect ECONNREFUSED']);
        assert.ok(got.fdsAfter <= got.fdsBefore, `fds ${got.fdsBefore} → ${got.fdsAfter}`);
        // TCP_QUICKACK 0: the handshake's last ACK is held back and the RST goes first (SYN,
        // SYN-ACK, RST), so the listening application never accepts the check's connection.
        assert.doesNotMatch(out.text(), /accepted/, 'the backend application saw the check');
      } finally {
        await stopChild(listener, 'SIGKILL', 1000);
      }
    });
  }
});
