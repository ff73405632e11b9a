// Operations, end to end with the real daemon in a namespace: /metrics follows real events (a
// check going down, a VRRP transition, a drain), and reload performs exactly the kernel writes a
// change needs: none for an unchanged file, none for a broken one.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  captureOutput,
  createNetns,
  destroyNetns,
  isRoot,
  type Netns,
  stopChild,
  uniq,
  veth,
  waitFor,
} from '../../lib/netns.js';

const dist = join(import.meta.dirname, '..', '..', '..');
const HEALTH_SERVER = `
const http = require('node:http'); const fs = require('node:fs');
const [port, downFile] = process.argv.slice(1);
http.createServer((q, r) => r.writeHead(fs.existsSync(downFile) ? 503 : 200).end('x'))
  .listen(Number(port), '127.0.0.1', () => console.log('listening'));`;

describe('metrics follow real events; reload writes only what changed', {
  skip: !isRoot() && 'needs root',
}, () => {
  let ns: Netns;
  let peer: Netns;
  let dir: string;
  before(() => {
    [ns, peer] = createNetns(`lbt-ops-${uniq()}`, `lbt-opsp-${uniq()}`);
    veth(ns, 'eth0', peer, 'eth0');
    ns.ip('addr add 10.9.0.2/24 dev eth0');
    dir = mkdtempSync(join(tmpdir(), 'lbt-ops-'));
  });
  after(() => {
    destroyNetns(ns, peer);
    rmSync(dir, { recursive: true, force: true });
  });

  it('scrapes state changes and counts reload writes', async () => {
    const sock = join(dir, 'lbagent.sock');
    const cfgPath = join(dir, 'lbagent.yaml');
    const downFile = join(dir, 'web.down');
    const config = (extraVip = '') => `node: {name: ops}
control: {socket: ${sock}}
metrics: {listen: "127.0.0.1:9475"}
maintenance: {disableFile: ${join(dir, 'disable')}, pollInterval: 1s}
vips:
  - address: 192.0.2.10
${extraVip}checks:
  web: {type: http, address: 127.0.0.1, port: 8080, path: /healthz, interval: 200ms, timeout: 150ms, rise: 1, fall: 1}
vrrp:
  instances:
    - {name: gw, interface: eth0, vrid: 10, version: 3, advertInterval: 100ms, vips: [10.9.0.1/24]}
`;
    writeFileSync(cfgPath, config());
    const web = ns.spawn([process.execPath, '-e', HEALTH_SERVER, '8080', downFile]);
    const agent = ns.spawn([process.execPath, join(dist, 'agent', 'main.js'), 'run', '--config', cfgPath]);
    const out = captureOutput(agent);
    const scrape = () => ns.exec(['curl', '-sf', 'http://127.0.0.1:9475/metrics'], { allowFail: true });
    const metric = (re: RegExp) => Number(re.exec(scrape())?.[1] ?? Number.NaN);
    const status = () =>
      JSON.parse(
        ns.exec([process.execPath, join(dist, 'cli', 'lbctl.js'), '-s', sock, 'status', '--json']),
      ) as {
        reloads: { ok: number; failed: number };
        subsystems: { kernel: { counters: { writes: number } } };
      };
    const writes = () => status().subsystems.kernel.counters.writes;
    try {
      await waitFor(() => existsSync(sock) && scrape().includes('lbagent_build_info'), {
        timeoutMs: 20_000,
        what: `metrics endpoint (agent: ${out.text().slice(-2000)})`,
      });

      // A check that passes, then fails: lbagent_check_up and the fact follow.
      await waitFor(() => metric(/^lbagent_check_up\{check="[^"]*",kind="http"\} (\d)/m) === 1, {
        what: 'check up',
      });
      writeFileSync(downFile, '');
      await waitFor(() => metric(/^lbagent_check_up\{check="[^"]*",kind="http"\} (\d)/m) === 0, {
        what: 'check down',
      });
      assert.equal(metric(/^lbagent_fact_up\{kind="check",id="web"\} (\d)/m), 0);
      assert.ok(metric(/^lbagent_check_transitions_total\{check="[^"]*",kind="http"\} (\d+)/m) >= 2);

      // VRRP: alone on the link, the instance becomes master; the state gauge and counters show it.
      await waitFor(() => metric(/^lbagent_vrrp_state\{iname="gw",state="master"\} (\d)/m) === 1, {
        what: 'vrrp master',
      });
      assert.equal(metric(/^lbagent_vrrp_state\{iname="gw",state="backup"\} (\d)/m), 0);
      assert.ok(metric(/^lbagent_vrrp_adverts_sent_total\{iname="gw"\} (\d+)/m) > 0);
      assert.ok(metric(/^lbagent_vrrp_transitions_total\{iname="gw"\} (\d+)/m) >= 1);

      // Drain: the disable file flips lbagent_drained.
      assert.equal(metric(/^lbagent_drained (\d)/m), 0);
      writeFileSync(join(dir, 'disable'), 'reason: test\n');
      await waitFor(() => metric(/^lbagent_drained (\d)/m) === 1, { what: 'drained' });

      // Per-event histograms: every check run and every reconcile is observed.
      assert.ok(metric(/^lbagent_check_duration_seconds_count\{kind="http"\} (\d+)/m) >= 2);
      assert.ok(metric(/^lbagent_reconcile_duration_seconds_count\{subsystem="kernel"\} (\d+)/m) >= 1);

      // Kernel objects desired vs actual are exported.
      assert.ok(scrape().includes('lbagent_kernel_objects'));

      // Reload: unchanged file -> no kernel write.
      await waitFor(() => writes() > 0, { what: 'first kernel writes' });
      const w0 = writes();
      const r0 = status().reloads;
      process.kill(agent.pid!, 'SIGHUP');
      await waitFor(() => status().reloads.ok > r0.ok, { what: 'unchanged reload' });
      assert.equal(writes(), w0, 'unchanged config: no kernel write');

      // Broken file -> rejected, no kernel write, the metric says so.
      writeFileSync(cfgPath, config().replace('vrid: 10', 'vrid: 300'));
      process.kill(agent.pid!, 'SIGHUP');
      await waitFor(() => status().reloads.failed > r0.failed, { what: 'failed reload' });
      assert.equal(writes(), w0, 'broken config: no kernel write');
      assert.equal(metric(/^lbagent_config_last_reload_successful (\d)/m), 0);
      assert.ok(metric(/^lbagent_config_reload_events_total\{result="failed"\} (\d+)/m) >= 1);

      // One more VIP -> exactly one kernel write.
      writeFileSync(cfgPath, config('  - address: 192.0.2.11\n'));
      process.kill(agent.pid!, 'SIGHUP');
      await waitFor(() => ns.ip('-4 addr show dev lo').includes('192.0.2.11/32'), { what: 'new VIP' });
      await waitFor(() => writes() === w0 + 1, {
        timeoutMs: 5000,
        what: `exactly one write (now ${writes() - w0})`,
      });
      assert.equal(metric(/^lbagent_config_last_reload_successful (\d)/m), 1);
    } finally {
      await stopChild(agent, 'SIGTERM', 10_000);
      await stopChild(web, 'SIGTERM', 2000);
    }
  });
});
