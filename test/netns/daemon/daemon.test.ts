// The real daemon in a namespace: lbctl status, SIGHUP with a broken config keeps the old one,
// lbctl reload reports the errors, SIGTERM exits cleanly and removes the socket.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import {
  captureOutput,
  createNetns,
  destroyNetns,
  isRoot,
  type Netns,
  stopChild,
  uniq,
  waitFor,
} from '../../lib/netns.js';

const run = promisify(execFile);
const dist = join(import.meta.dirname, '..', '..', '..');
const agentBin = join(dist, 'agent', 'main.js');
const lbctlBin = join(dist, 'cli', 'lbctl.js');

async function lbctl(
  ns: Netns,
  sock: string,
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run('ip', ['netns', 'exec', ns.name, process.execPath, lbctlBin, '-s', sock, ...args], {
      timeout: 20_000,
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('daemon lifecycle in a namespace', { skip: !isRoot() && 'needs root' }, () => {
  let ns: Netns;
  let dir: string;
  before(() => {
    [ns] = createNetns(`lbt-daemon-${uniq()}`);
    dir = mkdtempSync(join(tmpdir(), 'lbt-daemon-'));
  });
  after(() => {
    destroyNetns(ns);
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts, answers lbctl status, survives a broken reload, stops on SIGTERM', async () => {
    const sock = join(dir, 'lbagent.sock');
    const cfgPath = join(dir, 'lbagent.yaml');
    const good = `node: {name: lbt-node}\ncontrol: {socket: ${sock}}\nmetrics: {enabled: false}\nmaintenance: {disableFile: ${dir}/disable}\n`;
    writeFileSync(cfgPath, good);
    const agent = ns.spawn([process.execPath, agentBin, 'run', '--config', cfgPath]);
    const out = captureOutput(agent);
    try {
      await waitFor(() => existsSync(sock), {
        timeoutMs: 20_000,
        what: `control socket (agent output: ${out.text()})`,
      });
      const st = await lbctl(ns, sock, 'status', '--json');
      assert.equal(st.code, 0, st.stderr);
      const status = JSON.parse(st.stdout);
      assert.equal(status.node, 'lbt-node');
      assert.equal(status.config.path, cfgPath);
      assert.match(status.config.hash, /^[0-9a-f]{64}$/);
      const goodHash = status.config.hash;

      // Human output and an unknown verb.
      const human = await lbctl(ns, sock, 'status');
      assert.match(human.stdout, /^lbagent \S+ on lbt-node/);
      const unknown = await lbctl(ns, sock, 'frobnicate');
      assert.notEqual(unknown.code, 0);
      assert.match(unknown.stderr, /unknown command 'frobnicate'/);

      // Broken config + SIGHUP: the old config keeps running.
      writeFileSync(cfgPath, `${good}vips: [{address: 192.0.2.300}]\n`);
      process.kill(agent.pid!, 'SIGHUP'); // the ip-netns-exec wrapper execs node, so this is the agent
      await waitFor(
        async () => {
          const s = JSON.parse((await lbctl(ns, sock, 'status', '--json')).stdout);
          return s.reloads.failed >= 1;
        },
        { what: 'failed reload to be recorded' },
      );
      const after1 = JSON.parse((await lbctl(ns, sock, 'status', '--json')).stdout);
      assert.equal(after1.config.hash, goodHash, 'running config must stay the old one');
      assert.match(out.text(), /config rejected/);

      // lbctl reload shows the offending field and exits non-zero.
      const rl = await lbctl(ns, sock, 'reload');
      assert.equal(rl.code, 1);
      assert.match(rl.stdout, /vips\[0\]\.address: .*not an IPv4 or IPv6 address/);

      // A good change is applied.
      writeFileSync(cfgPath, good.replace('lbt-node', 'lbt-node2'));
      const ok = await lbctl(ns, sock, 'reload');
      assert.equal(ok.code, 0, ok.stdout + ok.stderr);
      const after2 = JSON.parse((await lbctl(ns, sock, 'status', '--json')).stdout);
      assert.equal(after2.node, 'lbt-node2');

      // The file watch reloads a changed file without a signal.
      writeFileSync(cfgPath, good.replace('lbt-node', 'lbt-node3'));
      await waitFor(
        async () => JSON.parse((await lbctl(ns, sock, 'status', '--json')).stdout).node === 'lbt-node3',
        { timeoutMs: 15_000, what: 'the file watch to reload' },
      );
      assert.match(out.text(), /"trigger":"config file changed \((inotify|poll)\)"/);

      // Runtime log level change.
      const ll = await lbctl(ns, sock, 'log-level', 'debug');
      assert.match(ll.stdout, /info -> debug/);
    } finally {
      const code = await stopChild(agent, 'SIGTERM', 10_000);
      assert.equal(code, 0, `agent exit code (output: ${out.text()})`);
    }
    assert.ok(!existsSync(sock), 'socket removed on exit');
    const gone = await lbctl(ns, sock, 'status');
    assert.equal(gone.code, 3);
    assert.match(gone.stderr, /cannot reach lbagent/);
  });

  it('refuses to start with an invalid config and names the field', async () => {
    const cfgPath = join(dir, 'bad.yaml');
    writeFileSync(
      cfgPath,
      'vrrp: {instances: [{name: a, interface: eth0, vrid: 300, vips: [192.0.2.1/24]}]}\n',
    );
    const r = await run(process.execPath, [agentBin, 'run', '--config', cfgPath]).catch((e) => e);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /vrrp\.instances\[0\]\.vrid: /);
  });

  it('check-config exits 0 for a valid file and 1 for an invalid one', async () => {
    const good = await run(process.execPath, [
      agentBin,
      'check-config',
      join(dist, '..', 'examples', 'vrrp-pair.yaml'),
    ]);
    assert.match(good.stdout, /OK/);
    const bad = await run(process.execPath, [agentBin, 'check-config', join(dir, 'bad.yaml')]).catch(
      (e) => e,
    );
    assert.equal(bad.code, 1);
  });
});
