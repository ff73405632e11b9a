// The systemd unit and tmpfiles.d entry, checked by systemd's own tools offline: `systemd-analyze
// verify` on a temp copy whose ExecStart points at a stub (never installed on the host), the
// `systemd-analyze security --offline` exposure score, and `systemd-tmpfiles --root` in a temp root.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';

/** The repo root, from the source tree (tsx) or from dist/ (compiled). */
function repoRoot(): string {
  let d = import.meta.dirname;
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(d, 'systemd', 'lbagent.service')) && existsSync(join(d, 'package.json'))) return d;
    d = dirname(d);
  }
  throw new Error('cannot find the repo root (systemd/lbagent.service)');
}

const root = repoRoot();
const unitPath = join(root, 'systemd', 'lbagent.service');
const haveAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;
const haveTmpfiles = spawnSync('systemd-tmpfiles', ['--version']).status === 0;

/** Directive values from the [Service] section (repeated keys collected in order). */
function directives(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (m) out.set(m[1], [...(out.get(m[1]) ?? []), m[2]]);
  }
  return out;
}

describe('systemd/lbagent.service', () => {
  const unit = readFileSync(unitPath, 'utf8');
  const d = directives(unit);

  it('is Type=notify with a watchdog, SIGHUP reload and hitless stop', () => {
    assert.deepEqual(d.get('Type'), ['notify']);
    assert.deepEqual(d.get('NotifyAccess'), ['main']);
    assert.match(d.get('WatchdogSec')?.[0] ?? '', /^\d+s$/);
    assert.deepEqual(d.get('ExecReload'), ['/bin/kill -HUP $MAINPID']);
    assert.deepEqual(d.get('KillMode'), ['mixed']);
  });

  it('keeps only the capabilities the agent needs', () => {
    const caps = (d.get('CapabilityBoundingSet')?.[0] ?? '').split(/\s+/).sort();
    assert.deepEqual(caps, [
      'CAP_CHOWN',
      'CAP_KILL',
      'CAP_NET_ADMIN',
      'CAP_NET_RAW',
      'CAP_SETGID',
      'CAP_SETUID',
      'CAP_SYS_MODULE',
    ]);
    assert.deepEqual(d.get('ProtectSystem'), ['strict']);
    assert.deepEqual(d.get('NoNewPrivileges'), ['yes']);
    assert.deepEqual((d.get('RestrictAddressFamilies')?.[0] ?? '').split(/\s+/).sort(), [
      'AF_INET',
      'AF_INET6',
      'AF_NETLINK',
      'AF_PACKET',
      'AF_UNIX',
    ]);
    const rw = (d.get('ReadWritePaths')?.[0] ?? '').split(/\s+/);
    assert.deepEqual(rw, ['/run/lbagent', '-/etc/lb', '-/var/lib/lbagent']);
  });

  describe('systemd-analyze', { skip: !haveAnalyze && 'systemd-analyze not installed' }, () => {
    let dir: string;
    let copy: string;
    before(() => {
      // A temp copy whose /usr/bin/lbagent is a stub inside the temp dir: verify needs the binary.
      dir = mkdtempSync(join(tmpdir(), 'lbt-unit-'));
      const stub = join(dir, 'lbagent');
      writeFileSync(stub, '#!/bin/sh\nexit 0\n');
      chmodSync(stub, 0o755);
      copy = join(dir, 'lbagent.service');
      writeFileSync(copy, unit.replaceAll('/usr/bin/lbagent', stub));
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('verify passes', () => {
      const r = spawnSync('systemd-analyze', ['verify', '--man=no', copy], {
        encoding: 'utf8',
        timeout: 60_000,
      });
      assert.equal(r.status, 0, `systemd-analyze verify: ${r.stderr}${r.stdout}`);
      assert.equal(r.stderr.trim(), '', `verify warnings: ${r.stderr}`);
    });

    it('security exposure stays at or below 4.0 ("OK")', (t) => {
      const r = spawnSync('systemd-analyze', ['security', '--offline=yes', '--no-pager', copy], {
        encoding: 'utf8',
        timeout: 60_000,
      });
      const m = /Overall exposure level for \S+: ([\d.]+) (\w+)/.exec(r.stdout);
      assert.ok(m, `no exposure line in: ${r.stdout}${r.stderr}`);
      t.diagnostic(`exposure ${m[1]} ${m[2]}`);
      assert.ok(Number(m[1]) <= 4.0, `exposure ${m[1]} ${m[2]}`);
    });
  });
});

describe('systemd/tmpfiles.d/lbagent.conf', {
  skip: !haveTmpfiles && 'systemd-tmpfiles not installed',
}, () => {
  it('creates /run/lbagent, /etc/lb and /var/lib/lbagent in a temp root', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lbt-tmpfiles-'));
    try {
      mkdirSync(join(dir, 'usr/lib/tmpfiles.d'), { recursive: true });
      writeFileSync(
        join(dir, 'usr/lib/tmpfiles.d/lbagent.conf'),
        readFileSync(join(root, 'systemd/tmpfiles.d/lbagent.conf')),
      );
      execFileSync('systemd-tmpfiles', [`--root=${dir}`, '--create', 'lbagent.conf'], { timeout: 30_000 });
      const mode = (p: string) =>
        execFileSync('stat', ['-c', '%a', join(dir, p)], { encoding: 'utf8' }).trim();
      assert.equal(mode('run/lbagent'), '755');
      assert.equal(mode('etc/lb'), '755');
      assert.equal(mode('var/lib/lbagent'), '750');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
