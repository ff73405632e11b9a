// The TCP prober's fast path (no root, real sockets on 127.0.0.1): a loopback connect finishes
// inside connect(), so start() reports it at once (START_CONNECTED / -ECONNREFUSED) without the
// epoll set; a connect still pending (a listener whose accept queue is full drops the SYN) goes
// through epoll as before and times out through the wheel; forcing the slow path gives the same
// results; no fd is left behind. The scheduler runs on a FakeClock (no timing assertions).
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { CheckSpec } from '../../../agent/health/plan.js';
import {
  EpollConnector,
  errnoCode,
  isLoopback,
  START_CONNECTED,
  sockaddr,
} from '../../../agent/health/probes/epoll.js';
import { makeProbe } from '../../../agent/health/probes/index.js';
import { CheckRunner, CheckWheel } from '../../../agent/health/scheduler.js';
import { FakeClock } from '../../../agent/lib/clock.js';
import { AF_INET, loadLibc, SOCK_CLOEXEC, SOCK_STREAM } from '../../../agent/lib/libc.js';
import { resettingServerV6 } from '../../integration/health/servers.js';
import { fdsBackTo, openFds } from '../../lib/fds.js';

const libc = loadLibc();
const skip = libc instanceof Error ? `koffi/libc not usable: ${libc.message}` : false;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function listen(srv: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => resolve((srv.address() as AddressInfo).port));
  });
}
const closeServer = (srv: Server) => new Promise<void>((r) => srv.close(() => r()));

/**
 * A listener that never accepts, with backlog 0 and one finished connection in its accept queue:
 * the kernel then drops every further SYN, so a connect to it stays in SYN_SENT (pending).
 */
async function fullListener(): Promise<{ port: number; close: () => Promise<void> }> {
  if (libc instanceof Error) throw libc;
  const lib = createRequire(import.meta.url)('koffi').load('libc.so.6');
  const bind = lib.func('int bind(int, const void *, uint32_t)');
  const listenFn = lib.func('int listen(int, int)');
  const probe = createServer();
  const port = await listen(probe);
  await closeServer(probe);
  const fd = libc.socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert.ok(fd >= 0);
  const addr = sockaddr('127.0.0.1', port);
  assert.equal(bind(fd, addr, addr.length), 0, `bind: ${errnoCode(libc.errno())}`);
  assert.equal(listenFn(fd, 0), 0);
  const filler: Socket = connect({ host: '127.0.0.1', port });
  filler.on('error', () => {});
  await new Promise((r) => filler.once('connect', r));
  return {
    port,
    close: async () => {
      filler.destroy();
      libc.close(fd);
    },
  };
}

/** Polls until every owner reported (bounded: 200 polls, 10 ms apart). */
async function finish<T>(c: EpollConnector<T>, n: number): Promise<Map<T, number>> {
  const got = new Map<T, number>();
  for (let i = 0; i < 200 && got.size < n; i++) {
    c.poll((o, errno) => got.set(o, errno));
    if (got.size < n) await sleep(10);
  }
  return got;
}

function spec(id: string, port: number, timeout = 1000): CheckSpec {
  const probe = { kind: 'tcp' as const, address: '127.0.0.1', port };
  return {
    id,
    kind: 'tcp',
    target: id,
    interval: 5000,
    timeout,
    machine: { rise: 1, fall: 1, initial: 'down' },
    probe,
    origins: [],
  };
}

/** FakeClock steps with real event-loop turns in between (the kernel side is real). */
async function advance(clock: FakeClock, ms: number, step = 10): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    clock.advance(Math.min(step, ms - t));
    await new Promise((r) => setImmediate(r));
  }
}

describe('TCP prober fast path', { skip }, () => {
  let open: Server;
  let openPort: number;
  let closedPort: number;
  let accepted = 0;
  before(async () => {
    open = createServer((s) => {
      accepted++;
      s.destroy();
    });
    openPort = await listen(open);
    const gone = createServer();
    closedPort = await listen(gone);
    await closeServer(gone);
  });
  after(() => closeServer(open));

  it('loopback: connected / ECONNREFUSED reported by start(), no epoll; no fd left', async () => {
    await sleep(20);
    const fds = openFds();
    const c = EpollConnector.open<string>({ fastPath: true })!;
    let atOnce = 0;
    try {
      for (let round = 0; round < 20; round++) {
        const got = new Map<string, number>();
        for (const [name, port] of [
          ['open', openPort],
          ['closed', closedPort],
        ] as const) {
          const r = c.start(sockaddr('127.0.0.1', port), name);
          if (r === START_CONNECTED) got.set(name, 0);
          else if (r < 0) got.set(name, -r);
          else continue; // still pending (softirq deferred): poll() reports it below
          atOnce++;
        }
        for (const [k, v] of await finish(c, 2 - got.size)) got.set(k, v);
        assert.deepEqual(
          Object.fromEntries([...got].map(([k, v]) => [k, v === 0 ? 'connected' : errnoCode(v)])),
          { open: 'connected', closed: 'ECONNREFUSED' },
        );
      }
      // The handshake (or the RST) runs inside connect() on loopback: nearly all finish at once.
      assert.ok(atOnce > 0, 'no loopback connect finished inside connect()');
      assert.equal(c.pending, 0);
      // Reuse: 40 connects later only the epoll fd and one spare socket are open.
      const during = await fdsBackTo(fds + 2);
      assert.ok(during <= fds + 2, `epoll fd + one reused socket: ${fds} → ${during}`);
      // The handshake's last ACK is held back (also on a reused socket) and the RST goes first:
      // the server application never sees a check (it would have by now: fdsBackTo waited).
      await sleep(50);
      assert.equal(accepted, 0, 'the listening application accepted a check connection');
    } finally {
      c.close();
    }
    const n = await fdsBackTo(fds);
    assert.ok(n <= fds, `fd count back to baseline: ${fds} → ${n}`);
  });

  it("loopback is asked at once even when the caller's hint says the target's last connect was not", async () => {
    const c = EpollConnector.open<string>({ fastPath: true })!;
    let atOnce = 0;
    try {
      for (let i = 0; i < 10; i++) {
        const r = c.start(sockaddr('127.0.0.1', openPort), 'open', false);
        if (r === START_CONNECTED) atOnce++;
        else assert.equal((await finish(c, 1)).get('open'), 0);
      }
      assert.ok(atOnce > 0, 'no loopback connect reported by start() with tryAtOnce false');
    } finally {
      c.close();
    }
  });

  it('reuse is for loopback targets only (127.0.0.0/8, ::1)', () => {
    assert.equal(isLoopback(sockaddr('127.0.0.1', 80)), true);
    assert.equal(isLoopback(sockaddr('127.9.8.7', 80)), true);
    assert.equal(isLoopback(sockaddr('10.0.0.1', 80)), false);
    assert.equal(isLoopback(sockaddr('::1', 80)), true);
    assert.equal(isLoopback(sockaddr('::2', 80)), false);
    assert.equal(isLoopback(sockaddr('2001:db8::1', 80)), false);
  });

  it('IPv6 ::1: connected at once, the v6 socket reused; no fd left', async (t) => {
    const srv = await resettingServerV6();
    if (!srv) return t.skip('no ::1 here');
    await sleep(20);
    const fds = openFds();
    const c = EpollConnector.open<string>({ fastPath: true })!;
    try {
      const port = srv.port;
      for (let i = 0; i < 10; i++) {
        const r = c.start(sockaddr('::1', port), 'v6');
        if (r >= 0) assert.equal((await finish(c, 1)).get('v6'), 0);
        else assert.equal(r, START_CONNECTED);
      }
      // Mixed families: each keeps its own spare socket.
      const v4 = c.start(sockaddr('127.0.0.1', closedPort), 'v4');
      const v6 = c.start(sockaddr('::1', port), 'v6');
      const got = await finish(c, c.pending);
      assert.equal(errnoCode(v4 >= 0 ? got.get('v4')! : -v4), 'ECONNREFUSED');
      assert.equal(v6 >= 0 ? got.get('v6') : v6, v6 >= 0 ? 0 : START_CONNECTED);
    } finally {
      c.close();
      await closeServer(srv);
    }
    const n = await fdsBackTo(fds);
    assert.ok(n <= fds, `fd count back to baseline: ${fds} → ${n}`);
  });

  it('a pending connect still goes through epoll (fast path on), and cancel closes it', async () => {
    const full = await fullListener();
    await sleep(20);
    const fds = openFds();
    const c = EpollConnector.open<string>({ fastPath: true })!;
    try {
      const fd = c.start(sockaddr('127.0.0.1', full.port), 'pending');
      assert.ok(fd >= 0, `pending connect kept in the epoll set (got ${fd})`);
      assert.equal(c.pending, 1);
      await sleep(30);
      assert.equal(
        c.poll(() => assert.fail('the SYN was dropped: nothing can finish')),
        0,
      );
      c.cancel(fd);
      assert.equal(c.pending, 0);
      assert.equal(
        c.poll(() => assert.fail('a cancelled connect reported')),
        0,
      );
    } finally {
      c.close();
      await full.close();
    }
    const n = await fdsBackTo(fds);
    assert.ok(n <= fds, `fd count back to baseline: ${fds} → ${n}`);
  });

  it('forced slow path: every connect goes through poll() with the same results', async () => {
    const c = EpollConnector.open<string>({ fastPath: false })!;
    try {
      assert.ok(c.start(sockaddr('127.0.0.1', openPort), 'open') >= 0);
      assert.ok(c.start(sockaddr('127.0.0.1', closedPort), 'closed') >= 0);
      const got = await finish(c, 2);
      assert.deepEqual(
        Object.fromEntries([...got].map(([k, v]) => [k, v === 0 ? 'connected' : errnoCode(v)])),
        { open: 'connected', closed: 'ECONNREFUSED' },
      );
    } finally {
      c.close();
    }
  });

  for (const fastPath of [true, false]) {
    it(`through the scheduler (fast path ${fastPath ? 'on' : 'off'}): open, closed, pending → timeout; re-entrant stop`, async () => {
      const full = await fullListener();
      await sleep(20);
      const fds = openFds();
      const clock = new FakeClock();
      const wheel = new CheckWheel(clock, 10, fastPath);
      const results: Record<string, string[]> = { open: [], closed: [], pending: [], stopper: [] };
      const runners: CheckRunner[] = [];
      const add = (name: string, port: number, timeout: number, stopInListener = false) => {
        const s = spec(name, port, timeout);
        const r = new CheckRunner(
          s,
          makeProbe(s.probe),
          clock,
          (run) => {
            results[name].push(run.machine.lastResult!.reason);
            // Listener stops its own runner during the run's completion (may be inside the wheel's
            // slot processing with the fast path): nothing else in the slot may be lost.
            if (stopInListener) run.stop();
          },
          undefined,
          wheel,
        );
        runners.push(r);
        r.start(0);
      };
      try {
        add('stopper', openPort, 1000, true);
        add('open', openPort, 1000);
        add('closed', closedPort, 1000);
        add('pending', full.port, 300);
        for (let i = 0; i < 400 && results.pending.length === 0; i++) await advance(clock, 10);
        assert.equal(wheel.tcpProber, 'epoll');
        assert.deepEqual(results.stopper, ['connected']);
        assert.deepEqual(results.open, ['connected']);
        assert.deepEqual(results.closed, ['connect ECONNREFUSED']);
        assert.deepEqual(results.pending, ['timeout after 300ms']);
        // Second interval: the same again, the stopped runner stays stopped.
        for (let i = 0; i < 800 && results.pending.length < 2; i++) await advance(clock, 10);
        assert.deepEqual(results.stopper, ['connected']);
        assert.deepEqual(results.open, ['connected', 'connected']);
        assert.deepEqual(results.closed, ['connect ECONNREFUSED', 'connect ECONNREFUSED']);
        assert.deepEqual(results.pending, ['timeout after 300ms', 'timeout after 300ms']);
      } finally {
        for (const r of runners) r.stop();
        wheel.close();
        await full.close();
      }
      const n = await fdsBackTo(fds);
      assert.ok(n <= fds, `fd count back to baseline: ${fds} → ${n}`);
    });
  }
});
