// docs/troubleshooting.md: every command it shows runs as written on this Debian 12 (iproute2 6.1)
// against a real agent in a namespace. The commands are read from the document itself (code spans
// that start with lbctl, lbagent, ip, sysctl, tcpdump or journalctl), so a new one cannot be added
// without being run here. Placeholders: IF -> eth0, VIP -> the test's VIP. There is no journald
// on this machine: `journalctl -u lbagent -o cat` reads the agent's stdout file instead (the same
// JSON lines journald stores), and `-p LEVEL` keeps the lines whose "<N>" priority prefix is at
// least that urgent, which is what journald does with them. The iproute2 protocol name file that
// the role and the package install is put in place in a private mount namespace only.
import assert from 'node:assert/strict';
import {
  chmodSync,
  copyFileSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { agentBin, distRoot, lbctlBin, nsRun } from '../../lib/agent.js';
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

const repo = join(distRoot(), '..');
const doc = readFileSync(join(repo, 'docs', 'troubleshooting.md'), 'utf8');

/** The commands the document shows (code spans inside its tables and text). */
function documentedCommands(): string[] {
  const spans = [...doc.matchAll(/`([^`]+)`/g)].map((m) => m[1].replace(/\\\|/g, '|'));
  return [
    ...new Set(
      spans.filter((s) => /^(lbctl|lbagent|ip|sysctl|tcpdump|journalctl) /.test(s) || s === 'lbctl'),
    ),
  ].filter((s) => !/^(lbctl|lbagent): /.test(s)); // quoted error messages, not commands
}

describe('docs/troubleshooting.md commands run as written', { skip: !isRoot() && 'needs root' }, () => {
  let ns: Netns;
  let peer: Netns;
  let dir: string;
  before(() => {
    [ns, peer] = createNetns(`lbt-trbl-${uniq()}`, `lbt-trblp-${uniq()}`);
    veth(ns, 'eth0', peer, 'eth0');
    ns.ip('addr add 10.9.0.2/24 dev eth0');
    dir = mkdtempSync(join(tmpdir(), 'lbt-trbl-'));
  });
  after(() => {
    destroyNetns(ns, peer);
    rmSync(dir, { recursive: true, force: true });
  });

  it('each command exits 0 (or, for a capture, starts listening)', async () => {
    const commands = documentedCommands();
    assert.ok(commands.length >= 20, `found ${commands.length} commands`);

    const sock = join(dir, 'lbagent.sock');
    const cfgPath = join(dir, 'lbagent.yaml');
    writeFileSync(
      cfgPath,
      `node: {name: trbl}
control: {socket: ${sock}}
metrics: {enabled: false}
maintenance: {disableFile: ${join(dir, 'disable')}}
vips:
  - address: 192.0.2.10
routes:
  - prefix: 203.0.113.0/24
    nexthops:
      - { via: 10.9.0.1, dev: eth0 }
checks:
  web: {type: tcp, address: 127.0.0.1, port: 1, interval: 200ms, timeout: 150ms, rise: 1, fall: 1}
host:
  checks:
    - {type: memory, minAvailablePercent: 1}
ipvs:
  services:
    - name: web
      vip: 192.0.2.10
      port: 80
      scheduler: mh
      backends:
        - { address: 10.9.0.11 }
bgp:
  announcements:
    - prefix: 192.0.2.10/32
vrrp:
  instances:
    - {name: gw, interface: eth0, vrid: 10, version: 3, advertInterval: 100ms, vips: [10.9.0.1/24]}
`,
    );
    const logFile = join(dir, 'agent.log');
    writeFileSync(logFile, '');
    const st = statSync(logFile);
    const agent = ns.spawn(
      ['sh', '-c', 'exec "$@" >>"$0" 2>&1', logFile, process.execPath, agentBin, 'run', '-c', cfgPath],
      {
        env: { JOURNAL_STREAM: `${st.dev}:${st.ino}` },
      },
    );

    // lbctl and lbagent on PATH, as the package installs them; journalctl reads the log file.
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    const script = (name: string, body: string) => {
      writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`);
      chmodSync(join(bin, name), 0o755);
    };
    script('lbctl', `exec ${process.execPath} ${lbctlBin} -s ${sock} "$@"`);
    script('lbagent', `exec ${process.execPath} ${agentBin} "$@"`);
    script(
      'journalctl',
      // -p LEVEL: keep lines whose "<N>" prefix is <= N (err=3, warning=4); -o cat: drop the prefix.
      `max=7; case " $* " in *" -p err "*) max=3;; *" -p warning "*) max=4;; esac
sed -n "s/^<\\([0-$max]\\)>//p" ${logFile}`,
    );
    // The iproute2 name file, as the role installs it, in a private copy of /etc/iproute2.
    const iproute = join(dir, 'iproute2');
    cpSync('/etc/iproute2', iproute, { recursive: true });
    mkdirSync(join(iproute, 'rt_protos.d'), { recursive: true });
    copyFileSync(
      join(repo, 'agent', 'kernel', 'rt_protos.lbagent.conf'),
      join(iproute, 'rt_protos.d', 'lbagent.conf'),
    );

    const runDocumented = (cmd: string) => {
      const concrete = cmd
        .replace(/\bIF\b/g, 'eth0')
        .replace(/\bVIP\b/g, '192.0.2.10')
        .replace('/etc/lbagent/lbagent.yaml', cfgPath)
        .replace(/^tcpdump /, 'timeout 3 tcpdump -c 1 ')
        // Nothing acks the announcement here (no ExaBGP): the wait ends at a short timeout.
        .replace(/^lbctl drain --wait$/, 'lbctl drain --wait --timeout 2s');
      const wrapped = `mount --bind ${iproute} /etc/iproute2 && export PATH=${bin}:$PATH && ${concrete}`;
      return nsRun(ns, ['unshare', '-m', 'sh', '-c', wrapped], { timeoutMs: 30_000 });
    };
    try {
      await waitFor(async () => (await runDocumented('lbctl status')).code === 0, {
        timeoutMs: 30_000,
        what: `agent up (${readFileSync(logFile, 'utf8').slice(-1500)})`,
      });
      await waitFor(async () => (await runDocumented('lbctl vrrp')).stdout.includes('master'), {
        what: 'VRRP master',
      });
      // Something for the error filters to find: a rejected reload.
      const good = readFileSync(cfgPath, 'utf8');
      writeFileSync(cfgPath, good.replace('vrid: 10', 'vrid: 300'));
      await runDocumented('lbctl reload');
      writeFileSync(cfgPath, good);

      const failures: string[] = [];
      const ran: string[] = [];
      for (const cmd of commands) {
        const r = await runDocumented(cmd);
        const ok = cmd.startsWith('tcpdump ')
          ? /listening on eth0/.test(r.stderr)
          : cmd.startsWith('lbctl drain --wait')
            ? r.code === 1 && /drain not complete after 2s; left:\n {2}announcements/.test(r.stderr)
            : r.code === 0;
        ran.push(`${ok ? 'ok  ' : 'FAIL'} ${cmd}`);
        if (!ok) failures.push(`${cmd}\n  exit ${r.code}\n  ${r.stderr.trim().slice(0, 500)}`);
      }
      assert.deepEqual(failures, [], `\n${ran.join('\n')}`);

      // And they show what the document says they show.
      const proto = await runDocumented('ip route show proto lbagent');
      assert.match(proto.stdout, /^203\.0\.113\.0\/24 via 10\.9\.0\.1 dev eth0/m);
      const errs = await runDocumented('journalctl -u lbagent -p err');
      assert.match(errs.stdout, /config rejected/);
      assert.doesNotMatch(errs.stdout, /"level":30/);
      const changes = await runDocumented(
        `journalctl -u lbagent -o cat | jq 'select(.event == "kernel_change") | .msg'`,
      );
      assert.match(changes.stdout, /kernel: added address 192\.0\.2\.10\/32 dev lo/);
      const host = await runDocumented('lbctl facts host');
      assert.match(host.stdout, /^host {2}(up|down)/);
      const kernel = await runDocumented('lbctl kernel');
      assert.match(kernel.stdout, /192\.0\.2\.10\/32.*yes/);
    } finally {
      await runDocumented('lbctl undrain');
      await stopChild(agent, 'SIGTERM', 10_000);
    }
  });
});
