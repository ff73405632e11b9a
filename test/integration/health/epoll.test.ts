// The epoll TCP prober (koffi FFI to libc) against real listeners on loopback (no root): open port,
// closed port, a server that resets at once, IPv6, cancel, and no fd left behind; the same cases
// through the net.connect fallback give the same results and reasons.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { EpollConnector, errnoCode, sockaddr } from '../../../agent/health/probes/epoll.js';
import { makeProbe } from '../../../agent/health/probes/index.js';
import { Cancel } from '../../../agent/health/probes/types.js';
import { fdsBackTo, openFds } from '../../lib/fds.js';
import { close, listen, resettingServerV6, tcpServer } from './servers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `owner`'s connect finished (bounded: 200 polls, 10 ms apart). */
async function finish<T>(c: EpollConnector<T>, owners: T[]): Promise<Map<T, number>> {
  const got = new Map<T, number>();
  for (let i = 0; i < 200 && got.size < owners.length; i++) {
    c.poll((o, errno) => got.set(o, errno));
    if (got.size < owners.length) await sleep(10);
  }
  return got;
}

describe('epoll TCP prober', () => {
  let open: Server & { port: number };
  let closedPort: number;
  let resetter: Server & { port: number };
  before(async () => {
    open = await tcpServer();
    const gone = await tcpServer();
    closedPort = gone.port;
    await close(gone);
    // Accepts and resets at once: the connect itself succeeded.
    const srv = createServer((s) => {
      s.on('error', () => {});
      s.resetAndDestroy();
    });
    resetter = (await listen(srv, 0)) as Server & { port: number };
  });
  after(async () => {
    await close(open);
    await close(resetter);
  });

  it('encodes sockaddr_in / sockaddr_in6 (golden bytes)', () => {
    assert.equal(sockaddr('10.1.2.3', 80).toString('hex'), '020000500a0102030000000000000000');
    assert.equal(
      sockaddr('2001:db8::1', 443).toString('hex'),
      `0a0001bb00000000${'20010db8000000000000000000000001'}00000000`,
    );
    assert.throws(() => sockaddr('not-an-ip', 1));
    assert.equal(errnoCode(111), 'ECONNREFUSED');
    assert.equal(errnoCode(99999), 'errno 99999');
  });

  it('open → connected, closed → ECONNREFUSED, reset at once → connected; no fd left', async (t) => {
    await sleep(20);
    const fds = openFds();
    const c = EpollConnector.open<string>();
    if (!c) return t.skip('koffi/libc not available here');
    try {
      for (let round = 0; round < 20; round++) {
        assert.ok(c.start(sockaddr('127.0.0.1', open.port), 'open') >= 0);
        assert.ok(c.start(sockaddr('127.0.0.1', closedPort), 'closed') >= 0);
        assert.ok(c.start(sockaddr('127.0.0.1', resetter.port), 'reset') >= 0);
        const got: Map<string, number> = await finish(c, ['open', 'closed', 'reset']);
        assert.deepEqual(
          Object.fromEntries([...got].map(([k, v]) => [k, v === 0 ? 'connected' : errnoCode(v)])),
          { open: 'connected', closed: 'ECONNREFUSED', reset: 'connected' },
        );
      }
      assert.equal(c.pending, 0);
      const open1 = await fdsBackTo(fds + 1);
      assert.ok(open1 <= fds + 1, `only the epoll fd stays open: ${fds} → ${open1}`);
      // cancel closes a connect in flight; its owner is never called
      const fd = c.start(sockaddr('127.0.0.1', open.port), 'cancelled');
      c.cancel(fd);
      await sleep(20);
      assert.equal(
        c.poll(() => assert.fail('a cancelled connect reported')),
        0,
      );
    } finally {
      c.close();
    }
    const open0 = await fdsBackTo(fds);
    assert.ok(open0 <= fds, `fd count back to baseline: ${fds} → ${open0}`);
  });

  it('IPv6 loopback', async (t) => {
    const c = EpollConnector.open<string>();
    if (!c) return t.skip('koffi/libc not available here');
    const srv = await resettingServerV6();
    if (!srv) {
      c.close();
      return t.skip('no ::1 here');
    }
    try {
      c.start(sockaddr('::1', srv.port), 'v6');
      assert.equal((await finish(c, ['v6'])).get('v6'), 0);
    } finally {
      c.close();
      await close(srv);
    }
  });

  it('the net.connect fallback gives the same results and reasons', async () => {
    const fds = openFds();
    const run = (port: number) => makeProbe({ kind: 'tcp', address: '127.0.0.1', port })(new Cancel(), 1000);
    assert.deepEqual(await run(open.port), { ok: true, reason: 'connected' });
    assert.deepEqual(await run(closedPort), { ok: false, reason: 'connect ECONNREFUSED' });
    assert.ok(
      makeProbe({ kind: 'tcp', address: '127.0.0.1', port: 1 }).connectTo,
      'tcp probes carry a sockaddr',
    );
    const fdsAfter = await fdsBackTo(fds);
    assert.ok(fdsAfter <= fds, `fds ${fds} → ${fdsAfter}`);
  });
});
