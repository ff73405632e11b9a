// Prometheus conventions on a real scrape: the agent runs in a namespace with VRRP, health checks
// (http and tcp), IPVS configured (this kernel has none: the unavailable path) and BGP
// announcements; `promtool check metrics` (Debian's prometheus package, scripts/setup.sh) must
// find nothing. Then the conventions promtool does not check: counters are counters named
// *_total, the VRRP instance label is `iname` (a label `instance` would collide with Prometheus's
// target label), no double prefix, the reload counter has samples, TCP check latency is real.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { lbctl, startAgent } from '../../lib/agent.js';
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

const HEALTH_SERVER = `
const http = require('node:http');
http.createServer((q, r) => r.writeHead(200).end('x')).listen(Number(process.argv[1]), '127.0.0.1', () => console.log('listening'));`;

const havePromtool = spawnSync('promtool', ['--version']).status === 0;

/** Parses the exposition text into { name -> TYPE } and the sample lines. */
function parseExposition(text: string): { types: Map<string, string>; samples: string[] } {
  const types = new Map<string, string>();
  const samples: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^# TYPE (\S+) (\S+)/.exec(line);
    if (m) types.set(m[1], m[2]);
    else if (line && !line.startsWith('#')) samples.push(line);
  }
  return { types, samples };
}

describe('metrics follow Prometheus conventions on a real scrape', {
  // promtool comes with scripts/setup.sh; a machine set up without it must say so, not pass.
  skip: !isRoot() && 'needs root',
}, () => {
  let ns: Netns;
  let peer: Netns;
  let dir: string;
  before(() => {
    [ns, peer] = createNetns(`lbt-prom-${uniq()}`, `lbt-promp-${uniq()}`);
    veth(ns, 'eth0', peer, 'eth0');
    ns.ip('addr add 10.9.0.2/24 dev eth0');
    dir = mkdtempSync(join(tmpdir(), 'lbt-prom-'));
  });
  after(() => {
    destroyNetns(ns, peer);
    rmSync(dir, { recursive: true, force: true });
  });

  it('promtool check metrics is clean and the conventions hold', async () => {
    assert.ok(havePromtool, 'promtool is not installed: run scripts/setup.sh (Debian package prometheus)');
    const sock = join(dir, 'lbagent.sock');
    const cfgPath = join(dir, 'lbagent.yaml');
    const config = (name: string) => `node: {name: ${name}}
control: {socket: ${sock}}
metrics: {listen: "127.0.0.1:9475"}
maintenance: {disableFile: ${join(dir, 'disable')}}
vips:
  - address: 192.0.2.10
checks:
  web: {type: http, address: 127.0.0.1, port: 8080, path: /, interval: 200ms, timeout: 150ms, rise: 1, fall: 1}
  port: {type: tcp, address: 127.0.0.1, port: 8080, interval: 200ms, timeout: 150ms, rise: 1, fall: 1}
ipvs:
  services:
    - name: web
      vip: 192.0.2.10
      port: 80
      scheduler: mh
      check: {type: tcp, interval: 1s}
      backends:
        - { address: 10.9.0.11 }
bgp:
  announcements:
    - prefix: 192.0.2.10/32
      checks: [web]
vrrp:
  instances:
    - {name: gw, interface: eth0, vrid: 10, version: 3, advertInterval: 100ms, vips: [10.9.0.1/24]}
`;
    writeFileSync(cfgPath, config('prom'));
    const web = ns.spawn([process.execPath, '-e', HEALTH_SERVER, '8080']);
    const agent = await startAgent(ns, cfgPath, sock);
    const scrape = () => ns.exec(['curl', '-sf', 'http://127.0.0.1:9475/metrics'], { allowFail: true });
    try {
      // Wait until every section has something to say: VRRP master, both checks up.
      await waitFor(() => /^lbagent_vrrp_state\{[^}]*state="master"[^}]*\} 1$/m.test(scrape()), {
        timeoutMs: 20_000,
        what: 'VRRP master in the scrape',
      });
      await waitFor(() => (scrape().match(/^lbagent_check_up\{[^}]*\} 1$/gm) ?? []).length >= 2, {
        what: 'both named checks up',
      });
      // A reload, so the reload counter has a sample to show.
      writeFileSync(cfgPath, config('prom2'));
      const rl = await lbctl(ns, sock, ['reload']);
      assert.equal(rl.code, 0, rl.stdout + rl.stderr);

      const text = scrape();
      writeFileSync(join(dir, 'scrape.txt'), text);
      const pt = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
      assert.equal(pt.status, 0, `promtool check metrics:\n${pt.stdout}${pt.stderr}`);
      assert.equal(`${pt.stdout}${pt.stderr}`.trim(), '', 'promtool has no complaints');

      const { types, samples } = parseExposition(text);
      // Counters: *_total, and everything named *_total is a counter.
      for (const [name, type] of types) {
        if (name.endsWith('_total')) assert.equal(type, 'counter', `${name} is named like a counter`);
        if (type === 'counter') assert.match(name, /_total$/, `${name} is a counter`);
      }
      for (const c of [
        'lbagent_vrrp_adverts_sent_total',
        'lbagent_vrrp_adverts_received_total',
        'lbagent_vrrp_transitions_total',
        'lbagent_check_transitions_total',
        'lbagent_kernel_write_ops_total',
        'lbagent_bgp_acks_total',
        'lbagent_config_reload_events_total',
      ]) {
        assert.equal(types.get(c), 'counter', `${c} exported as a counter`);
      }
      // No double prefix; no label `instance` (nor `exported_instance` after a scrape).
      assert.ok(![...types.keys()].some((n) => n.startsWith('lbagent_process_process_')), 'no double prefix');
      assert.ok(types.has('lbagent_process_cpu_seconds_total'), 'default process metrics under lbagent_');
      assert.ok(!samples.some((s) => /[{,]instance="/.test(s)), 'no sample has a label named instance');
      assert.ok(samples.some((s) => /^lbagent_vrrp_state\{iname="gw",state="master"\} 1$/.test(s)));
      // The reload counter has a sample for the reload just done.
      assert.ok(
        samples.some((s) => /^lbagent_config_reload_events_total\{result="ok"\} [1-9]/.test(s)),
        'config_reload_events_total counts the reload',
      );
      // TCP check latency is measured (a connect to loopback takes more than 0 s).
      const tcp = samples.find((s) =>
        /^lbagent_check_last_duration_seconds\{check="tcp 127\.0\.0\.1:8080",kind="tcp"\}/.test(s),
      );
      const latencies = samples.filter((s) => s.includes('check_last_duration')).join(', ');
      assert.ok(tcp && Number(tcp.split(' ').at(-1)) > 0, `tcp latency real: ${latencies}`);
      assert.ok(samples.some((s) => /^lbagent_check_duration_seconds_count\{kind="tcp"\} [1-9]/.test(s)));
      // IPVS unavailable is stated, not hidden.
      assert.ok(samples.includes('lbagent_ipvs_available 0'));
    } finally {
      await stopChild(agent.child, 'SIGTERM', 10_000);
      await stopChild(web, 'SIGTERM', 2000);
    }
  });
});
