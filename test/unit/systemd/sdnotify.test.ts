// sd_notify core: environment parsing, message bytes, watchdog schedule under a FakeClock, and the
// real AF_UNIX datagram transport against a receiver socket in a temp dir (no root, no kernel state).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import {
  encodeNotify,
  monotonicUsec,
  notifier,
  readNotifyEnv,
  sockaddrUn,
  statusValue,
  unixDatagramSend,
  watchdogPingInterval,
} from '../../../agent/daemon/sdnotify.js';
import { FakeClock } from '../../../agent/lib/clock.js';

function memoryLog() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { log: pino({ level: 'debug' }, stream), lines };
}

function recorder() {
  const sent: { path: string; text: string }[] = [];
  return {
    sent,
    send: (path: string, msg: Buffer) => {
      sent.push({ path, text: msg.toString('utf8') });
    },
  };
}

describe('readNotifyEnv', () => {
  it('reads the socket and a watchdog meant for this pid', () => {
    assert.deepEqual(
      readNotifyEnv(
        { NOTIFY_SOCKET: '/run/systemd/notify', WATCHDOG_USEC: '20000000', WATCHDOG_PID: '42' },
        42,
      ),
      { socket: '/run/systemd/notify', watchdogUsec: 20_000_000 },
    );
  });
  it('ignores a watchdog meant for another pid (a parent passed its env down)', () => {
    assert.equal(readNotifyEnv({ WATCHDOG_USEC: '1000000', WATCHDOG_PID: '7' }, 42).watchdogUsec, null);
  });
  it('accepts WATCHDOG_USEC without WATCHDOG_PID, rejects junk and zero', () => {
    assert.equal(readNotifyEnv({ WATCHDOG_USEC: '1000000' }, 1).watchdogUsec, 1_000_000);
    assert.equal(readNotifyEnv({ WATCHDOG_USEC: '0' }, 1).watchdogUsec, null);
    assert.equal(readNotifyEnv({ WATCHDOG_USEC: '5s' }, 1).watchdogUsec, null);
    assert.equal(readNotifyEnv({ WATCHDOG_USEC: '-1' }, 1).watchdogUsec, null);
  });
  it('accepts absolute and abstract sockets only', () => {
    assert.equal(readNotifyEnv({}, 1).socket, null);
    assert.equal(readNotifyEnv({ NOTIFY_SOCKET: '' }, 1).socket, null);
    assert.equal(readNotifyEnv({ NOTIFY_SOCKET: 'relative/sock' }, 1).socket, null);
    assert.equal(readNotifyEnv({ NOTIFY_SOCKET: '@/org/x' }, 1).socket, '@/org/x');
  });
});

describe('message encoding', () => {
  it('encodes assignments byte for byte', () => {
    const buf = encodeNotify([
      ['READY', 1],
      ['STATUS', 'kernel: 2 vips'],
    ]);
    assert.deepEqual(buf, Buffer.from('READY=1\nSTATUS=kernel: 2 vips\n'));
    assert.equal(buf.toString('hex'), '52454144593d310a5354415455533d6b65726e656c3a20322076697073' + '0a');
  });
  it('rejects values that would inject another assignment', () => {
    assert.throws(() => encodeNotify([['STATUS', 'a\nREADY=1']]), /STATUS value contains a newline/);
    assert.throws(() => encodeNotify([['bad key', 1]]), /bad field name/);
  });
  it('folds STATUS text to one bounded line', () => {
    assert.equal(statusValue('a\nb\r\nc\u0007'), 'a b c');
    assert.equal(statusValue('x'.repeat(500)).length, 400);
  });
  it('pings at half the watchdog timeout', () => {
    assert.equal(watchdogPingInterval(20_000_000), 10_000);
    assert.equal(watchdogPingInterval(1_000), 1);
    assert.equal(watchdogPingInterval(1), 1);
  });
  it('reads CLOCK_MONOTONIC in microseconds', () => {
    const a = monotonicUsec();
    const b = monotonicUsec();
    assert.equal(typeof a, 'bigint');
    assert.ok(b >= a);
  });
});

describe('notifier', () => {
  it('is a no-op without NOTIFY_SOCKET', () => {
    const r = recorder();
    const { log } = memoryLog();
    const n = notifier(log, { env: {}, send: r.send, clock: new FakeClock() });
    n.ready('x');
    n.reloading();
    n.stopping();
    n.startWatchdog();
    n.close();
    assert.equal(n.enabled, false);
    assert.equal(r.sent.length, 0);
  });

  it('sends READY/STATUS, RELOADING with MONOTONIC_USEC, STOPPING in order', () => {
    const r = recorder();
    const { log } = memoryLog();
    const n = notifier(log, {
      env: { NOTIFY_SOCKET: '/run/x/notify' },
      send: r.send,
      clock: new FakeClock(),
    });
    n.ready('kernel: 1 vip\nsecond line');
    n.reloading();
    n.ready('kernel: 2 vips');
    n.status('draining');
    n.extendTimeout(1500);
    n.stopping();
    assert.ok(r.sent.every((m) => m.path === '/run/x/notify'));
    const texts = r.sent.map((m) => m.text);
    assert.equal(texts[0], 'READY=1\nSTATUS=kernel: 1 vip second line\n');
    assert.match(texts[1], /^RELOADING=1\nMONOTONIC_USEC=\d+\nSTATUS=reloading configuration\n$/);
    assert.equal(texts[2], 'READY=1\nSTATUS=kernel: 2 vips\n');
    assert.equal(texts[3], 'STATUS=draining\n');
    assert.equal(texts[4], 'EXTEND_TIMEOUT_USEC=1500000\n');
    assert.equal(texts[5], 'STOPPING=1\nSTATUS=stopping\n');
  });

  it('pings WATCHDOG=1 every half timeout until closed; a failing health hook withholds pings', () => {
    const r = recorder();
    const { log, lines } = memoryLog();
    const clock = new FakeClock();
    const env = { NOTIFY_SOCKET: '/n', WATCHDOG_USEC: '4000000', WATCHDOG_PID: '99' };
    const n = notifier(log, { env, pid: 99, send: r.send, clock });
    assert.equal(n.watchdogPingMs, 2000);
    let healthy = true;
    n.startWatchdog(() => healthy);
    n.startWatchdog(); // idempotent
    const pings = () => r.sent.filter((m) => m.text === 'WATCHDOG=1\n').length;
    assert.equal(pings(), 1, 'first ping at start');
    clock.advance(1999);
    assert.equal(pings(), 1);
    clock.advance(1);
    assert.equal(pings(), 2);
    clock.advance(6000);
    assert.equal(pings(), 5);
    healthy = false;
    clock.advance(10_000);
    assert.equal(pings(), 5, 'no pings while unhealthy');
    assert.equal(lines.filter((l) => /withholding/.test(String(l.msg))).length, 1, 'logged once');
    healthy = true;
    clock.advance(2000);
    assert.equal(pings(), 6);
    n.close();
    clock.advance(60_000);
    assert.equal(pings(), 6);
    assert.equal(clock.pending(), 0, 'no timer left behind');
  });

  it('does not start a watchdog that is meant for another pid', () => {
    const r = recorder();
    const { log } = memoryLog();
    const clock = new FakeClock();
    const n = notifier(log, {
      env: { NOTIFY_SOCKET: '/n', WATCHDOG_USEC: '4000000', WATCHDOG_PID: '1' },
      pid: 2,
      send: r.send,
      clock,
    });
    n.startWatchdog();
    clock.advance(10_000);
    assert.equal(n.watchdogPingMs, null);
    assert.equal(r.sent.length, 0);
  });

  it('never throws on send errors and rate-limits the warnings', () => {
    const { log, lines } = memoryLog();
    const n = notifier(log, {
      env: { NOTIFY_SOCKET: '/gone' },
      send: () => {
        throw new Error('connect ENOENT');
      },
      clock: new FakeClock(),
    });
    for (let i = 0; i < 150; i++) n.status(`s${i}`);
    const warns = lines.filter((l) => /sd_notify STATUS failed/.test(String(l.msg)));
    assert.equal(warns.length, 2);
    assert.equal(warns[0].notifySocket, '/gone');
  });

  it('sends to an abstract socket too (systemd in a container hands those out)', () => {
    const r = recorder();
    const { log } = memoryLog();
    const n = notifier(log, { env: { NOTIFY_SOCKET: '@/org/sd' }, send: r.send, clock: new FakeClock() });
    n.ready('x');
    assert.equal(n.enabled, true);
    assert.equal(r.sent.length, 1);
  });

  it('removes the notify variables from the environment it read, so children do not inherit them', () => {
    const env: NodeJS.ProcessEnv = { NOTIFY_SOCKET: '/n', WATCHDOG_USEC: '1', WATCHDOG_PID: '3', KEEP: 'y' };
    notifier(memoryLog().log, { env, unsetEnvironment: true, send: () => {} });
    assert.deepEqual(env, { KEEP: 'y' });
  });
});

// The receiver: Node cannot bind an AF_UNIX datagram socket, Python can (path or abstract name).
const RECEIVER = String.raw`
import socket, sys
addr = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0" + addr[1:] if addr.startswith("@") else addr)
print("bound", flush=True)
s.settimeout(10)
for _ in range(int(sys.argv[2])):
    print(repr(s.recv(4096).decode()), flush=True)
`;

async function receive(address: string, count: number, send: () => void): Promise<string[]> {
  const rx = spawn('python3', ['-c', RECEIVER, address, String(count)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  rx.stdout.on('data', (d) => {
    out += d;
  });
  const exited = new Promise<number | null>((resolve) => rx.once('exit', resolve));
  try {
    for (let i = 0; i < 200 && !out.includes('bound'); i++) await new Promise((r) => setTimeout(r, 25));
    assert.ok(out.includes('bound'), 'receiver bound');
    send();
    assert.equal(await exited, 0, out);
    return out.split('\n').slice(1).filter(Boolean);
  } finally {
    rx.kill();
  }
}

describe('sockaddr_un encoding', () => {
  it('terminates a path with NUL and leaves an abstract name unterminated', () => {
    assert.deepEqual([...sockaddrUn('/a')], [1, 0, 0x2f, 0x61, 0]);
    assert.deepEqual([...sockaddrUn('@a')], [1, 0, 0, 0x61]);
    assert.throws(() => sockaddrUn(`/${'x'.repeat(107)}`), /too long/);
    assert.equal(sockaddrUn(`/${'x'.repeat(106)}`).length, 110);
  });
});

const havePython = spawnSync('python3', ['-c', 'import socket']).status === 0;

describe('unix datagram transport', { skip: !havePython && 'python3 (the receiver) not installed' }, () => {
  it('delivers one datagram per message to a real AF_UNIX socket', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lbt-sdnotify-'));
    const path = join(dir, 'notify');
    try {
      const got = await receive(path, 2, () => {
        unixDatagramSend(path, Buffer.from('READY=1\n'));
        unixDatagramSend(path, Buffer.from('WATCHDOG=1\n'));
      });
      assert.deepEqual(got, ["'READY=1\\n'", "'WATCHDOG=1\\n'"]);
      assert.throws(() => unixDatagramSend(join(dir, 'nobody'), Buffer.from('X=1\n')), /ENOENT/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reaches an abstract address ("@name")', async () => {
    const name = `@lbt-sdnotify-${process.pid}-${Date.now()}`;
    const got = await receive(name, 1, () => unixDatagramSend(name, Buffer.from('READY=1\n')));
    assert.deepEqual(got, ["'READY=1\\n'"]);
    assert.throws(() => unixDatagramSend(`${name}-nobody`, Buffer.from('X=1\n')), /ECONNREFUSED/);
  });
});
