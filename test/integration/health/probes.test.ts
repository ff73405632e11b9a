// Real probes against real servers on loopback (no root): each check kind, each way to fail, and
// no leftover child processes or sockets afterwards.
import assert from 'node:assert/strict';
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ProbeResult } from '../../../agent/health/machine.js';
import type { CheckSpec, ProbeSpec } from '../../../agent/health/plan.js';
import { makeProbe } from '../../../agent/health/probes/index.js';
import { CheckRunner } from '../../../agent/health/scheduler.js';
import { systemClock } from '../../../agent/lib/clock.js';
import { fdsBackTo, openFds } from '../../lib/fds.js';
import {
  close,
  dnsServer,
  httpServer,
  httpsServer,
  type Scripted,
  selfSigned,
  tcpServer,
} from './servers.js';

/** One probe through the real scheduler (so the timeout path is the production one). */
function probeOnce(probe: ProbeSpec, timeout = 1000): Promise<ProbeResult> {
  const spec: CheckSpec = {
    id: 'test',
    kind: probe.kind,
    target: 'test',
    interval: 60_000,
    timeout,
    machine: { rise: 1, fall: 1, initial: 'down' },
    probe,
    origins: [],
  };
  return new Promise((resolve) => {
    const r = new CheckRunner(spec, makeProbe(probe), systemClock, (run) => {
      const res = run.machine.lastResult!;
      run.stop();
      resolve(res);
    });
    r.start(0);
  });
}

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 20));
}

const http = (
  port: number,
  extra: Partial<Extract<ProbeSpec, { kind: 'http' | 'https' }>> = {},
): ProbeSpec => ({
  kind: 'http',
  address: '127.0.0.1',
  port,
  path: '/health',
  method: 'GET',
  expect: ['200-399'],
  insecure: false,
  ...extra,
});

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'lbt-health-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('tcp', () => {
  it('connects to a listener, fails once it closes', async () => {
    const srv = await tcpServer();
    assert.deepEqual(
      await probeOnce({ kind: 'tcp', address: '127.0.0.1', port: srv.port }).then((r) => [r.ok, r.reason]),
      [true, 'connected'],
    );
    await close(srv);
    const r = await probeOnce({ kind: 'tcp', address: '127.0.0.1', port: srv.port });
    assert.deepEqual([r.ok, r.reason], [false, 'connect ECONNREFUSED']);
  });
});

describe('http and https', () => {
  const state: Scripted = { status: 500, body: 'starting', hang: false, seen: [] };
  let srv: Awaited<ReturnType<typeof httpServer>>;
  before(async () => {
    srv = await httpServer(state);
  });
  after(() => close(srv));

  it('500 fails, 200 passes; sends the Host header and path', async () => {
    let r = await probeOnce(http(srv.port, { host: 'www.lb.test' }));
    assert.deepEqual([r.ok, r.reason], [false, 'status 500']);
    state.status = 200;
    r = await probeOnce(http(srv.port, { host: 'www.lb.test' }));
    assert.deepEqual([r.ok, r.reason], [true, 'status 200']);
    assert.deepEqual(state.seen.at(-1), { host: 'www.lb.test', path: '/health', servername: undefined });
  });

  it('expected statuses and body regex', async () => {
    state.status = 503;
    assert.equal((await probeOnce(http(srv.port, { expect: [503] }))).ok, true);
    state.status = 200;
    state.body = 'status: ready';
    assert.equal((await probeOnce(http(srv.port, { body: 'ready$' }))).reason, 'status 200, body matches');
    const r = await probeOnce(http(srv.port, { body: '^OK' }));
    assert.deepEqual([r.ok, r.reason], [false, 'status 200, body does not match /^OK/']);
  });

  it('a server that never answers times out and leaves no socket behind', async () => {
    state.hang = true;
    await settle();
    const fds = openFds();
    for (let i = 0; i < 5; i++) {
      const r = await probeOnce(http(srv.port), 200);
      assert.deepEqual([r.ok, r.reason], [false, 'timeout after 200ms']);
    }
    const fdsAfter = await fdsBackTo(fds);
    assert.ok(fdsAfter <= fds, `fds ${fds} → ${fdsAfter}`);
    state.hang = false;
  });

  it('https: a self-signed certificate fails unless insecure; SNI is sent', async () => {
    const tlsState: Scripted = { status: 200, body: 'ok', hang: false, seen: [] };
    const tls = await httpsServer(tlsState, selfSigned());
    try {
      let r = await probeOnce(http(tls.port, { kind: 'https', sni: 'lb.test' }));
      assert.equal(r.ok, false);
      assert.match(r.reason, /^http (DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN)/);
      r = await probeOnce(http(tls.port, { kind: 'https', sni: 'lb.test', insecure: true }));
      assert.deepEqual([r.ok, r.reason], [true, 'status 200']);
      assert.equal(tlsState.seen.at(-1)?.servername, 'lb.test');
      // Without sni, the Host header's name is the SNI.
      await probeOnce(http(tls.port, { kind: 'https', host: 'www.lb.test', insecure: true }));
      assert.equal(tlsState.seen.at(-1)?.servername, 'www.lb.test');
    } finally {
      await close(tls);
    }
  });
});

describe('dns', () => {
  let dns: Awaited<ReturnType<typeof dnsServer>>;
  before(async () => {
    dns = await dnsServer({ 'www.lb.test': ['192.0.2.10', '192.0.2.11'] });
  });
  after(() => dns.socket.close());
  const q = (extra: Partial<Extract<ProbeSpec, { kind: 'dns' }>>): ProbeSpec => ({
    kind: 'dns',
    address: '127.0.0.1',
    port: dns.port,
    query: 'www.lb.test',
    qtype: 'A',
    ...extra,
  });

  it('answers match the expected set', async () => {
    let r = await probeOnce(q({ expect: ['192.0.2.11'] }));
    assert.deepEqual([r.ok, r.reason], [true, 'answer 192.0.2.10,192.0.2.11']);
    r = await probeOnce(q({ expect: ['192.0.2.10', '192.0.2.99'] }));
    assert.deepEqual([r.ok, r.reason], [false, 'answer 192.0.2.10,192.0.2.11 lacks 192.0.2.99']);
  });

  it('a name that does not resolve fails clearly', async () => {
    const r = await probeOnce(q({ query: 'nope.lb.test' }));
    assert.deepEqual([r.ok, r.reason], [false, 'dns A nope.lb.test ENOTFOUND']);
  });

  it('a server that does not answer times out', async () => {
    const silent = await dnsServer({});
    silent.socket.removeAllListeners('message');
    try {
      const r = await probeOnce(q({ port: silent.port }), 300);
      assert.equal(r.ok, false);
      assert.match(r.reason, /^(timeout after 300ms|dns A www.lb.test ETIMEOUT)$/);
    } finally {
      silent.socket.close();
    }
  });
});

describe('exec', () => {
  const script = (name: string, body: string) => {
    const p = join(dir, name);
    writeFileSync(p, `#!/bin/sh\n${body}\n`);
    chmodSync(p, 0o755);
    return p;
  };
  const exec = (command: string[], extra: Partial<Extract<ProbeSpec, { kind: 'exec' }>> = {}): ProbeSpec => ({
    kind: 'exec',
    command,
    dynamicWeight: 'none',
    ...extra,
  });

  it('exit 0 passes, exit 1 fails; the target is in the environment', async () => {
    const p = script('ok.sh', 'test "$LBAGENT_CHECK_ADDRESS" = 10.0.0.1 && exit 0; exit 1');
    assert.equal(
      (await probeOnce(exec([p], { targetEnv: { LBAGENT_CHECK_ADDRESS: '10.0.0.1' } }))).reason,
      'exit 0',
    );
    const r = await probeOnce(exec([script('bad.sh', 'exit 1')]));
    assert.deepEqual([r.ok, r.reason], [false, 'exit 1']);
  });

  it('dynamic weight from the exit code or stdout', async () => {
    let r = await probeOnce(exec([script('w.sh', 'exit 12')], { dynamicWeight: 'exit-code' }));
    assert.deepEqual([r.ok, r.weight], [true, 10]);
    r = await probeOnce(exec([script('s.sh', 'echo 37')], { dynamicWeight: 'stdout' }));
    assert.deepEqual([r.ok, r.weight], [true, 37]);
  });

  it('a command that does not exist fails clearly', async () => {
    const r = await probeOnce(exec([join(dir, 'no-such-check')]));
    assert.deepEqual([r.ok, r.reason], [false, `command not found: ${join(dir, 'no-such-check')}`]);
  });

  it('a hanging script is killed with its whole process group at the timeout', async () => {
    const pidFile = join(dir, 'hang.pid');
    const p = script('hang.sh', `echo $$ > ${pidFile}\nsleep 300 &\nsleep 300`);
    await settle();
    const fds = openFds();
    // 1 s, not less: the script must have started (written its pid) before the timeout, and
    // spawning a shell can take hundreds of ms on a busy machine.
    const r = await probeOnce(exec([p]), 1000);
    assert.deepEqual([r.ok, r.reason], [false, 'timeout after 1000ms']);
    assert.ok(existsSync(pidFile), 'the script ran before the timeout');
    const pgid = Number(readFileSync(pidFile, 'utf8'));
    // Bounded wait for the kernel to reap the group.
    let left: string[] = [];
    for (let i = 0; i < 50; i++) {
      left = readdirSync('/proc').filter((d) => {
        if (!/^\d+$/.test(d)) return false;
        try {
          const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
          const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
          return Number(fields[2]) === pgid && fields[0] !== 'Z';
        } catch {
          return false;
        }
      });
      if (left.length === 0) break;
      await new Promise((res) => setTimeout(res, 20));
    }
    assert.deepEqual(left, [], `processes left in group ${pgid}`);
    const fdsAfter = await fdsBackTo(fds);
    assert.ok(fdsAfter <= fds, `fds ${fds} → ${fdsAfter}`);
  });
});

describe('host', () => {
  it('disk, memory, load and file probes report real numbers', async () => {
    const disk = await probeOnce({ kind: 'disk', path: '/', minFreePercent: 0 }, 5000);
    assert.match(disk.reason, /^\d+\.\d% free on \/ \(min 0%\)$/);
    assert.equal(disk.ok, true);
    const tooMuch = await probeOnce({ kind: 'disk', path: '/', minFreePercent: 100.1 }, 5000);
    assert.equal(tooMuch.ok, false);
    const mem = await probeOnce({ kind: 'memory', minAvailablePercent: 0 }, 5000);
    assert.match(mem.reason, /memory available/);
    const load = await probeOnce({ kind: 'load', maxPerCpu: 1000 }, 5000);
    assert.deepEqual([load.ok, /^load \d+\.\d\d per CPU/.test(load.reason)], [true, true]);
    const f = join(dir, 'ready');
    assert.equal((await probeOnce({ kind: 'file', path: f })).reason, `${f}: ENOENT`);
    writeFileSync(f, '');
    assert.equal((await probeOnce({ kind: 'file', path: f })).ok, true);
  });
});
