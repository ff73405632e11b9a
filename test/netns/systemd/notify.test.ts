// Plays systemd's side of Type=notify against the real daemon in a namespace: a Python receiver on
// an AF_UNIX datagram socket (NOTIFY_SOCKET) with SO_PASSCRED, so every message carries the
// sender's PID like systemd sees it. Asserts READY=1 only once startup is done (the 'lbagent
// running' line is already in the log file, and with the kernel subsystem wired the VIP is on lo),
// WATCHDOG=1 keeps coming with WATCHDOG_USEC set, RELOADING=1+MONOTONIC_USEC then READY=1 on
// SIGHUP (also for a rejected config), STOPPING=1 on SIGTERM.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createNetns, destroyNetns, isRoot, type Netns, stopChild, uniq, waitFor } from '../../lib/netns.js';

/** dist/ (compiled run) or the repo (tsx run): the daemon always runs compiled from dist/. */
function distRoot(): string {
  let d = import.meta.dirname;
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(d, 'agent', 'main.js'))) return d;
    if (existsSync(join(d, 'dist', 'agent', 'main.js'))) return join(d, 'dist');
    d = dirname(d);
  }
  throw new Error('cannot find dist/agent/main.js: run `npx tsc -p .` first');
}
const agentBin = join(distRoot(), 'agent', 'main.js');

// The receiver: one JSON line per datagram with the SCM_CREDENTIALS pid, CLOCK_MONOTONIC at
// receipt, and, for READY=1, a snapshot taken right then of the agent's log file and of lo.
const RECEIVER = String.raw`
import json, os, socket, struct, subprocess, sys, time
path, logfile, ns = sys.argv[1], sys.argv[2], sys.argv[3]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind("\0" + path[1:] if path.startswith("@") else path)
print(json.dumps({"listening": path}), flush=True)
deadline = time.monotonic() + 120
while time.monotonic() < deadline:
    s.settimeout(max(0.1, deadline - time.monotonic()))
    try:
        data, anc, flags, addr = s.recvmsg(4096, socket.CMSG_SPACE(12))
    except socket.timeout:
        break
    pid = None
    for level, typ, cdata in anc:
        if level == socket.SOL_SOCKET and typ == socket.SCM_CREDENTIALS:
            pid = struct.unpack("iII", cdata[:12])[0]
    ev = {"pid": pid, "text": data.decode(), "mono_usec": time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000}
    if "READY=1" in ev["text"].split("\n"):
        with open(logfile) as f:
            ev["log_at_ready"] = f.read()
        ev["lo_at_ready"] = subprocess.run(["ip", "-n", ns, "-o", "addr", "show", "dev", "lo"], capture_output=True, text=True, timeout=10).stdout
    print(json.dumps(ev), flush=True)
`;

interface NotifyEvent {
  pid: number | null;
  text: string;
  mono_usec: number;
  log_at_ready?: string;
  lo_at_ready?: string;
}

function fields(ev: NotifyEvent): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of ev.text.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

const havePython = spawnSync('python3', ['-c', 'import socket; socket.SCM_CREDENTIALS']).status === 0;

describe('systemd notify protocol against the real daemon', {
  skip: (!isRoot() && 'needs root') || (!havePython && 'python3 (the notify receiver) not installed'),
}, () => {
  let ns: Netns;
  let dir: string;
  let receiver: ChildProcess | undefined;
  const events: NotifyEvent[] = [];

  before(() => {
    [ns] = createNetns(`lbt-sysd-${uniq()}`);
    dir = mkdtempSync(join(tmpdir(), 'lbt-sysd-'));
  });
  after(async () => {
    if (receiver) await stopChild(receiver, 'SIGTERM', 2000);
    destroyNetns(ns);
    rmSync(dir, { recursive: true, force: true });
  });

  it('READY after startup, WATCHDOG pings, RELOADING/READY on SIGHUP, STOPPING on SIGTERM', async (t) => {
    const notifySock = join(dir, 'notify');
    const logFile = join(dir, 'agent.log');
    const cfgPath = join(dir, 'lbagent.yaml');
    const cfg = (name: string) =>
      [
        `node: {name: ${name}}`,
        `control: {socket: ${join(dir, 'lbagent.sock')}}`,
        'metrics: {enabled: false}',
        `maintenance: {disableFile: ${join(dir, 'disable')}}`,
        'vips: [{address: 192.0.2.77}]',
        '',
      ].join('\n');
    writeFileSync(cfgPath, cfg('lbt-sd1'));
    writeFileSync(logFile, '');

    receiver = spawn('python3', ['-c', RECEIVER, notifySock, logFile, ns.name], {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let rxErr = '';
    receiver.stderr?.on('data', (d) => {
      rxErr += d;
    });
    let pending = '';
    receiver.stdout?.on('data', (d) => {
      pending += d;
      for (let i = pending.indexOf('\n'); i >= 0; i = pending.indexOf('\n')) {
        const line = pending.slice(0, i);
        pending = pending.slice(i + 1);
        const ev = JSON.parse(line);
        if (!('listening' in ev)) events.push(ev);
      }
    });
    await waitFor(() => existsSync(notifySock), { timeoutMs: 10_000, what: `notify socket (${rxErr})` });

    // stdout to a file: the notifier flushes pino before READY=1, so a line logged before it is in
    // the file by the time the receiver gets the datagram. `exec` keeps the agent's PID = child.pid.
    // A test-only preload blocks the event loop for 4 s on SIGUSR2 and records the window on
    // CLOCK_MONOTONIC (hrtime), the clock the receiver stamps messages with.
    const blocker = join(dir, 'block-loop.mjs');
    const blockWindow = join(dir, 'block-window');
    writeFileSync(
      blocker,
      [
        "import { writeFileSync } from 'node:fs';",
        "process.on('SIGUSR2', () => {",
        '  const start = process.hrtime.bigint() / 1000n;',
        '  const end = Date.now() + 4000;',
        '  while (Date.now() < end);',
        `  writeFileSync(${JSON.stringify(blockWindow)}, \`\${start} \${process.hrtime.bigint() / 1000n}\`);`,
        '});',
        '',
      ].join('\n'),
    );
    const argv = [process.execPath, '--import', blocker, agentBin, 'run', '--config', cfgPath];
    const agent = ns.spawn(['sh', '-c', 'exec "$@" >>"$0" 2>&1', logFile, ...argv], {
      env: { NOTIFY_SOCKET: notifySock, WATCHDOG_USEC: '2000000' },
    });
    const log = () => readFileSync(logFile, 'utf8');
    const find = (pred: (f: Record<string, string>) => boolean, from = 0) =>
      events.slice(from).find((e) => pred(fields(e)));
    let exited = false;
    try {
      const ready = await waitFor(() => find((f) => f.READY === '1'), {
        timeoutMs: 30_000,
        what: `READY=1 (agent log: ${log()})`,
      });
      assert.equal(ready.pid, agent.pid, 'READY=1 comes from the main PID (NotifyAccess=main)');
      assert.ok(fields(ready).STATUS !== undefined, 'READY=1 carries a STATUS= line');
      const runningLine = ready.log_at_ready?.split('\n').find((l) => l.includes('"lbagent running"'));
      assert.ok(
        runningLine,
        `'lbagent running' must be logged before READY=1; log then: ${ready.log_at_ready}`,
      );
      const subsystems: string[] = JSON.parse(runningLine).subsystems ?? [];
      if (subsystems.includes('kernel')) {
        assert.match(
          ready.lo_at_ready ?? '',
          /inet 192\.0\.2\.77\/32/,
          'VIP programmed on lo before READY=1',
        );
      } else {
        t.diagnostic(
          `kernel subsystem not wired yet (subsystems: ${subsystems.join(',') || 'none'}): checked READY=1 against the 'lbagent running' log line only`,
        );
      }
      const readyIdx = events.indexOf(ready);
      assert.ok(
        events.slice(0, readyIdx).every((e) => !('READY' in fields(e))),
        'exactly one READY=1 at startup',
      );

      // Watchdog: pings every WATCHDOG_USEC/2 = 1 s, all from the main PID.
      await waitFor(() => events.filter((e) => fields(e).WATCHDOG === '1').length >= 3, {
        timeoutMs: 15_000,
        what: 'three WATCHDOG=1 pings',
      });
      assert.ok(events.filter((e) => fields(e).WATCHDOG === '1').every((e) => e.pid === agent.pid));

      // A stuck event loop stops the pings (systemd would then kill and restart the agent).
      process.kill(agent.pid!, 'SIGUSR2');
      const [blockStart, blockEnd] = (
        await waitFor(() => (existsSync(blockWindow) ? readFileSync(blockWindow, 'utf8') : ''), {
          timeoutMs: 20_000,
          what: 'the blocked-loop window',
        })
      )
        .split(' ')
        .map(BigInt);
      assert.ok(blockEnd - blockStart >= 3_900_000n, 'the loop was blocked for 4 s');
      await waitFor(() => events.some((e) => fields(e).WATCHDOG === '1' && BigInt(e.mono_usec) > blockEnd), {
        timeoutMs: 15_000,
        what: 'WATCHDOG=1 again after the loop unblocked',
      });
      // 0.5 s of slack for a ping sent just before the block but received after it started.
      const during = events.filter(
        (e) =>
          fields(e).WATCHDOG === '1' &&
          BigInt(e.mono_usec) > blockStart + 500_000n &&
          BigInt(e.mono_usec) < blockEnd,
      );
      assert.equal(during.length, 0, 'no WATCHDOG=1 while the event loop is blocked');

      // SIGHUP with a changed config: RELOADING=1 (MONOTONIC_USEC on CLOCK_MONOTONIC), then READY=1.
      writeFileSync(cfgPath, cfg('lbt-sd2'));
      let mark = events.length;
      process.kill(agent.pid!, 'SIGHUP');
      const reloading = await waitFor(() => find((f) => f.RELOADING === '1', mark), {
        timeoutMs: 15_000,
        what: 'RELOADING=1',
      });
      const mono = Number(fields(reloading).MONOTONIC_USEC);
      assert.ok(Number.isFinite(mono) && mono > 0, 'MONOTONIC_USEC present');
      assert.ok(mono <= reloading.mono_usec, 'MONOTONIC_USEC is not in the future');
      assert.ok(reloading.mono_usec - mono < 10_000_000, 'MONOTONIC_USEC is CLOCK_MONOTONIC (within 10 s)');
      const reReady = await waitFor(() => find((f) => f.READY === '1', events.indexOf(reloading)), {
        timeoutMs: 15_000,
        what: 'READY=1 after the reload',
      });
      assert.doesNotMatch(fields(reReady).STATUS ?? '', /failed/);

      // A rejected config still ends the reload with READY=1, and STATUS= says why.
      writeFileSync(
        cfgPath,
        `${cfg('lbt-sd3')}routes: [{prefix: 198.51.100.0/33, nexthops: [{via: 192.0.2.1}]}]\n`,
      );
      mark = events.length;
      process.kill(agent.pid!, 'SIGHUP');
      const badReady = await waitFor(() => find((f) => f.READY === '1', mark), {
        timeoutMs: 15_000,
        what: 'READY=1 after a rejected reload',
      });
      assert.ok(
        find((f) => f.RELOADING === '1', mark),
        'RELOADING=1 before it',
      );
      assert.match(fields(badReady).STATUS ?? '', /reload failed/);

      // SIGTERM: STOPPING=1, clean exit.
      mark = events.length;
      const code = await stopChild(agent, 'SIGTERM', 15_000);
      exited = true;
      assert.equal(code, 0, `agent exit code (log: ${log()})`);
      const stopping = await waitFor(() => find((f) => f.STOPPING === '1', mark), {
        timeoutMs: 5000,
        what: 'STOPPING=1',
      });
      assert.equal(stopping.pid, agent.pid);
      t.diagnostic(
        `messages: ${events.length}; watchdog pings: ${events.filter((e) => fields(e).WATCHDOG === '1').length}`,
      );
    } finally {
      if (!exited) await stopChild(agent, 'SIGKILL', 2000);
    }
  });

  it('STATUS= follows drains and degraded subsystems; an abstract NOTIFY_SOCKET works', async () => {
    const notifySock = `@lbt-sd-${uniq()}`;
    const logFile = join(dir, 'agent2.log');
    const cfgPath = join(dir, 'lbagent2.yaml');
    const disable = join(dir, 'disable2');
    writeFileSync(
      cfgPath,
      [
        'node: {name: lbt-sd-status}',
        `control: {socket: ${join(dir, 'status.sock')}}`,
        'metrics: {enabled: false}',
        `maintenance: {disableFile: ${disable}, pollInterval: 1s}`,
        'vips: [{address: 192.0.2.78}]',
        // This kernel has no IPVS: the service cannot be programmed, and systemd must hear it.
        'ipvs: {services: [{name: web, vip: 192.0.2.78, port: 80, backends: [{address: 10.0.0.1}]}]}',
        '',
      ].join('\n'),
    );
    writeFileSync(logFile, '');
    const got: NotifyEvent[] = [];
    // Abstract names live in a network namespace: the receiver binds in the agent's.
    const rx = ns.spawn(['python3', '-c', RECEIVER, notifySock, logFile, ns.name]);
    let listening = false;
    let pending = '';
    rx.stdout?.on('data', (d) => {
      pending += d;
      for (let i = pending.indexOf('\n'); i >= 0; i = pending.indexOf('\n')) {
        const ev = JSON.parse(pending.slice(0, i));
        pending = pending.slice(i + 1);
        if ('listening' in ev) listening = true;
        else got.push(ev);
      }
    });
    const log = () => readFileSync(logFile, 'utf8');
    const statusAfter = (from: number, re: RegExp) =>
      got.slice(from).find((e) => re.test(fields(e).STATUS ?? ''));
    await waitFor(() => listening, { what: 'abstract receiver bound' });
    const agent = ns.spawn(
      ['sh', '-c', 'exec "$@" >>"$0" 2>&1', logFile, process.execPath, agentBin, 'run', '-c', cfgPath],
      {
        env: { NOTIFY_SOCKET: notifySock },
      },
    );
    try {
      const ready = await waitFor(() => got.find((e) => fields(e).READY === '1'), {
        timeoutMs: 30_000,
        what: `READY=1 over the abstract socket (log: ${log()})`,
      });
      assert.equal(ready.pid, agent.pid);
      assert.match(fields(ready).STATUS ?? '', /^DEGRADED: IPVS unavailable, 1 service\(s\) not programmed/);

      let mark = got.length;
      writeFileSync(disable, 'reason: kernel upgrade\n');
      const drained = await waitFor(() => statusAfter(mark, /DRAINED \(kernel upgrade\)/), {
        timeoutMs: 15_000,
        what: 'STATUS= with the drain',
      });
      assert.ok(!('READY' in fields(drained)), 'a plain STATUS= update, not a reload');
      assert.match(fields(drained).STATUS ?? '', /^DRAINED \(kernel upgrade\); DEGRADED: IPVS unavailable/);

      mark = got.length;
      rmSync(disable);
      const undrained = await waitFor(() => statusAfter(mark, /^DEGRADED/), {
        timeoutMs: 15_000,
        what: 'undrain',
      });
      assert.doesNotMatch(fields(undrained).STATUS ?? '', /DRAINED/);
    } finally {
      await stopChild(agent, 'SIGTERM', 10_000);
      await stopChild(rx, 'SIGTERM', 2000);
    }
  });
});
