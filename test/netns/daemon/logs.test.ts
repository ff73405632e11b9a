// Logs an operator can filter, from the real daemon:
// - with stdout on the journal (JOURNAL_STREAM names stdout's device:inode, as systemd sets it),
//   every line starts with its syslog priority "<N>", so `journalctl -p err` finds errors;
//   without it, lines are bare JSON;
// - every kernel change names the object, and transitions, drains and announcements carry the
//   `event` field the docs promise (`jq 'select(.event)'`);
// - `lbctl log-level debug` produces debug lines;
// - a start refused for a bad config says so, without a misleading "stopping" line.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { agentBin, lbctl, logLines, nsRun } from '../../lib/agent.js';
import {
  createNetns,
  destroyNetns,
  isRoot,
  type Netns,
  stopChild,
  uniq,
  veth,
  waitFor,
} from '../../lib/netns.js';

describe('logs journald and jq can filter', { skip: !isRoot() && 'needs root' }, () => {
  let ns: Netns;
  let peer: Netns;
  let dir: string;
  before(() => {
    [ns, peer] = createNetns(`lbt-logs-${uniq()}`, `lbt-logsp-${uniq()}`);
    veth(ns, 'eth0', peer, 'eth0');
    ns.ip('addr add 10.9.0.2/24 dev eth0');
    dir = mkdtempSync(join(tmpdir(), 'lbt-logs-'));
  });
  after(() => {
    destroyNetns(ns, peer);
    rmSync(dir, { recursive: true, force: true });
  });

  it('priorities on the journal stream, objects and events in every change, debug on demand', async () => {
    const sock = join(dir, 'lbagent.sock');
    const cfgPath = join(dir, 'lbagent.yaml');
    const good = `node: {name: logs}
control: {socket: ${sock}}
metrics: {enabled: false}
maintenance: {disableFile: ${join(dir, 'disable')}, pollInterval: 1s}
vips:
  - address: 192.0.2.10
bgp:
  announcements:
    - prefix: 192.0.2.10/32
vrrp:
  instances:
    - {name: gw, interface: eth0, vrid: 10, version: 3, advertInterval: 100ms, vips: [10.9.0.1/24]}
`;
    writeFileSync(cfgPath, good);
    // stdout is a file; JOURNAL_STREAM names it, as systemd names the journal's stream socket.
    const logFile = join(dir, 'agent.log');
    writeFileSync(logFile, '');
    const st = statSync(logFile);
    const agent = ns.spawn(
      ['sh', '-c', 'exec "$@" >>"$0" 2>&1', logFile, process.execPath, agentBin, 'run', '-c', cfgPath],
      {
        env: { JOURNAL_STREAM: `${st.dev}:${st.ino}` },
      },
    );
    const text = () => readFileSync(logFile, 'utf8');
    try {
      await waitFor(() => text().includes('"lbagent running"'), {
        timeoutMs: 30_000,
        what: `agent up: ${text()}`,
      });
      await waitFor(() => /"event":"vrrp_transition".*"to":"master"/.test(text()), {
        what: 'VRRP master transition line',
      });
      // A rejected reload is an error: priority 3.
      writeFileSync(cfgPath, good.replace('vrid: 10', 'vrid: 300'));
      const rl = await lbctl(ns, sock, ['reload']);
      assert.equal(rl.code, 1);
      writeFileSync(cfgPath, good);
      writeFileSync(join(dir, 'disable'), 'reason: logs test\n');
      await waitFor(() => text().includes('"event":"host_drained"'), { what: 'drain line' });
      const ll = await lbctl(ns, sock, ['log-level', 'debug']);
      assert.equal(ll.code, 0, ll.stderr);
      await lbctl(ns, sock, ['status']);
      await waitFor(() => text().includes('"event":"control_request"'), {
        what: 'a debug line after log-level debug',
      });

      const raw = text().split('\n').filter(Boolean);
      for (const l of raw) assert.match(l, /^<[2-7]>\{"level":\d+/, `every line has a priority prefix: ${l}`);
      const errLines = raw.filter((l) => Number(l[1]) <= 3); // what `journalctl -p err` shows
      assert.ok(
        errLines.some((l) => l.includes('config rejected')),
        `journalctl -p err finds the rejected reload:\n${errLines.join('\n')}`,
      );
      assert.ok(raw.every((l) => !l.startsWith('<3>') || JSON.parse(l.slice(3)).level >= 50));
      assert.ok(
        raw.some((l) => l.startsWith('<7>{"level":20')),
        'debug lines at priority 7',
      );

      const lines = logLines(text());
      const vip = lines.find((l) => l.event === 'kernel_change' && l.kind === 'address');
      assert.ok(vip, 'a kernel_change line for the VIP');
      assert.match(String(vip.object), /192\.0\.2\.10\/32/);
      assert.match(String(vip.msg), /^kernel: added address 192\.0\.2\.10\/32/);
      const events = new Set(lines.map((l) => l.event).filter(Boolean));
      for (const e of [
        'vrrp_transition',
        'kernel_change',
        'announcement_changed',
        'host_drained',
        'reload',
        'log_level',
      ]) {
        assert.ok(events.has(e), `event ${e} logged (have: ${[...events].join(', ')})`);
      }
    } finally {
      await stopChild(agent, 'SIGTERM', 10_000);
    }
    const tail = logLines(text());
    assert.ok(tail.some((l) => l.event === 'shutdown'));
  });

  it('without the journal, lines are bare JSON; a start refused for a bad config logs no "stopping"', async () => {
    const cfgPath = join(dir, 'bad.yaml');
    writeFileSync(
      cfgPath,
      'vrrp: {instances: [{name: a, interface: eth0, vrid: 300, vips: [192.0.2.1/24]}]}\n',
    );
    const r = await nsRun(ns, [process.execPath, agentBin, 'run', '-c', cfgPath], {
      env: { JOURNAL_STREAM: '1:1' }, // names some other stream: no prefix
    });
    assert.equal(r.code, 1);
    const lines = r.stdout.split('\n').filter(Boolean);
    assert.ok(lines.length >= 1);
    for (const l of lines) assert.match(l, /^\{"level":/);
    assert.match(r.stdout, /"level":60.*invalid config/);
    assert.doesNotMatch(r.stdout, /stopping|kernel state stays in place/);
    assert.match(r.stderr, /vrrp\.instances\[0\]\.vrid: /);
  });
});
