// One agent per runtime directory, with the real daemon:
// - a second `lbagent run` with the same config, in the same namespace or in another one that
//   shares the runtime directory, exits non-zero naming the running agent's PID, and the first
//   keeps its control socket and its ExaBGP bridge socket (same inodes, still answering);
// - after the first is SIGKILLed (lock released by the kernel, dead sockets left behind), a new
//   agent takes the lock and the sockets over;
// - a control.socket that names an existing regular file or FIFO is refused, the file untouched.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { agentBin, lbctl, nsRun, startAgent } from '../../lib/agent.js';
import { createNetns, destroyNetns, isRoot, type Netns, stopChild, uniq, waitFor } from '../../lib/netns.js';

function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

describe('single instance per runtime directory', { skip: !isRoot() && 'needs root' }, () => {
  let ns: Netns;
  let other: Netns;
  let dir: string;
  before(() => {
    [ns, other] = createNetns(`lbt-one-${uniq()}`, `lbt-onex-${uniq()}`);
    dir = mkdtempSync(join(tmpdir(), 'lbt-one-'));
  });
  after(() => {
    destroyNetns(ns, other);
    rmSync(dir, { recursive: true, force: true });
  });

  const config = (sock: string) => `node: {name: one}
control: {socket: ${sock}}
metrics: {enabled: false}
maintenance: {disableFile: ${join(dir, 'disable')}}
vips:
  - address: 192.0.2.10
bgp:
  announcements:
    - prefix: 192.0.2.10/32
`;

  it('a second agent is refused and the first keeps its sockets; a dead one is taken over', async () => {
    const sock = join(dir, 'run', 'lbagent.sock');
    const bridge = join(dir, 'run', 'exabgp.sock');
    const cfgPath = join(dir, 'lbagent.yaml');
    writeFileSync(cfgPath, config(sock));
    const first = await startAgent(ns, cfgPath, sock);
    try {
      const pid = JSON.parse((await lbctl(ns, sock, ['status', '--json'])).stdout).pid as number;
      assert.equal(pid, first.child.pid, 'ip netns exec execs the agent: same pid');
      await waitFor(() => existsSync(bridge), { what: 'the ExaBGP bridge socket' });
      const inodes = { control: statSync(sock).ino, bridge: statSync(bridge).ino };

      for (const where of [ns, other]) {
        const second = await nsRun(where, [process.execPath, agentBin, 'run', '-c', cfgPath], {
          timeoutMs: 30_000,
        });
        assert.equal(
          second.code,
          1,
          `second agent in ${where.name}: exit 1\n${second.stdout}${second.stderr}`,
        );
        assert.match(second.stderr, new RegExp(`another lbagent is running \\(pid ${pid}\\)`));
        // Nothing was touched: no "stopping" line, no socket of the first one replaced.
        assert.doesNotMatch(second.stdout, /kernel state stays in place|control socket listening/);
        assert.equal(statSync(sock).ino, inodes.control, 'control socket is still the first agent’s');
        assert.equal(statSync(bridge).ino, inodes.bridge, 'bridge socket is still the first agent’s');
      }
      const st = await lbctl(ns, sock, ['status', '--json']);
      assert.equal(st.code, 0, st.stderr);
      assert.equal(JSON.parse(st.stdout).pid, pid);
      assert.ok(await answers(bridge), 'the bridge socket still answers');

      // SIGKILL: the lock goes with the process, the sockets stay behind as dead files.
      await stopChild(first.child, 'SIGKILL');
      assert.ok(existsSync(sock) && existsSync(bridge), 'dead sockets left behind');
      const third = await startAgent(ns, cfgPath, sock);
      try {
        const st3 = JSON.parse((await lbctl(ns, sock, ['status', '--json'])).stdout);
        assert.equal(st3.pid, third.child.pid);
        assert.match(third.output(), new RegExp(`"deadPid":${pid}`));
        await waitFor(() => answers(bridge), { what: 'the new bridge socket' });
      } finally {
        assert.equal(await stopChild(third.child, 'SIGTERM', 10_000), 0);
      }
      assert.ok(!existsSync(sock), 'a clean stop removes its own socket');
    } finally {
      await stopChild(first.child, 'SIGKILL');
    }
  });

  it('in one namespace, a second agent with the same route protocol is refused even with its own runtime dir', async () => {
    const cfgA = join(dir, 'a.yaml');
    const sockA = join(dir, 'runa', 'lbagent.sock');
    writeFileSync(cfgA, config(sockA));
    const a = await startAgent(ns, cfgA, sockA);
    try {
      const cfgB = join(dir, 'b.yaml');
      const sockB = join(dir, 'runb', 'lbagent.sock');
      writeFileSync(cfgB, config(sockB).replace('name: one', 'name: two'));
      const b = await nsRun(ns, [process.execPath, agentBin, 'run', '-c', cfgB], { timeoutMs: 30_000 });
      assert.equal(b.code, 1, b.stdout + b.stderr);
      assert.match(
        b.stderr,
        new RegExp(
          `another lbagent \\(pid ${a.child.pid}\\) manages route protocol 199 in this network namespace`,
        ),
      );
      assert.ok(!existsSync(sockB), 'the refused agent opened no socket');
      // Another route protocol is another owner: both may run.
      writeFileSync(cfgB, `${config(sockB).replace('name: one', 'name: two')}kernel: {routeProtocol: 198}\n`);
      const c = await startAgent(ns, cfgB, sockB);
      await stopChild(c.child, 'SIGTERM', 10_000);
      // In another namespace the same protocol is another kernel's: an agent with 199 runs there.
      writeFileSync(cfgB, config(sockB).replace('name: one', 'name: two'));
      const d = await startAgent(other, cfgB, sockB);
      await stopChild(d.child, 'SIGTERM', 10_000);
    } finally {
      await stopChild(a.child, 'SIGTERM', 10_000);
    }
  });

  it('refuses a control.socket path that is a regular file or a FIFO, and leaves it alone', async () => {
    for (const kind of ['file', 'fifo'] as const) {
      const victim = join(dir, `victim-${kind}`);
      if (kind === 'file') writeFileSync(victim, 'precious\n');
      else execFileSync('mkfifo', [victim]);
      const cfgPath = join(dir, `victim-${kind}.yaml`);
      writeFileSync(cfgPath, config(victim));
      const r = await nsRun(ns, [process.execPath, agentBin, 'run', '-c', cfgPath], { timeoutMs: 30_000 });
      assert.equal(r.code, 1, `${kind}: ${r.stdout}${r.stderr}`);
      assert.match(
        r.stderr,
        new RegExp(`control socket ${victim} exists and is a (regular file|FIFO), not a socket; refusing`),
      );
      assert.ok(existsSync(victim), `${kind} still there`);
      if (kind === 'file') assert.equal(readFileSync(victim, 'utf8'), 'precious\n');
      else assert.ok(statSync(victim).isFIFO());
    }
  });

  it('check-config rejects a control.socket spelled with ".."', async () => {
    const cfgPath = join(dir, 'traversal.yaml');
    writeFileSync(cfgPath, config(`${dir}/sub/../victim.txt`));
    const r = await nsRun(ns, [process.execPath, agentBin, 'check-config', cfgPath]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /control\.socket: must be a normalized path/);
  });
});
