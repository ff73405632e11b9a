// The ExaBGP healthcheck importer, pure: argparse's reading of the flags, its defaults, and where
// each flag lands in lbagent's checks / vips / maintenance / bgp sections.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../../agent/config/load.js';
import { configFileArgs, importHealthcheck } from '../../../agent/import/exabgp-healthcheck.js';
import { renderConfig } from '../../../agent/import/render.js';
import { complete, formatFinding } from '../../../agent/import/report.js';

type Obj = Record<string, unknown>;
const ann = (c: Obj, i = 0) => ((c.bgp as Obj).announcements as Obj[])[i];
const problems = (r: ReturnType<typeof importHealthcheck>) =>
  r.findings.list.filter((f) => f.kind !== 'note').map(formatFinding);

describe('exabgp healthcheck import', () => {
  it('its defaults: interval 5, fast 1, timeout 5, rise/fall 3, MED 100/1000/500, the shell runs the command', () => {
    const r = importHealthcheck(['--cmd', 'curl -sf http://127.0.0.1/', '--ip', '192.0.2.1']);
    assert.deepEqual(r.config.checks, {
      healthcheck: {
        type: 'exec',
        command: ['/bin/sh', '-c', 'curl -sf http://127.0.0.1/'],
        interval: '5s',
        fastInterval: '1s',
        timeout: '5s',
        rise: 3,
        fall: 3,
      },
    });
    assert.deepEqual(r.config.vips, [{ address: '192.0.2.1/32' }]);
    assert.deepEqual(ann(r.config), {
      prefix: '192.0.2.1/32',
      checks: ['healthcheck'],
      med: { up: 100, down: 1000, disabled: 500 },
    });
    assert.deepEqual(problems(r), []);
    assert.equal(complete(r.findings.list), true);
    parseConfig(renderConfig(r.config, ['x']));
  });
  it('argparse forms: --x=v, unique prefixes, short aliases with attached values, repeated --ip', () => {
    const r = importHealthcheck([
      '-n',
      'web',
      '--int=2',
      '-f0.5',
      '-t',
      '1',
      '--rise',
      '2',
      '--fall',
      '4',
      '-c',
      'true',
      '--ip',
      '192.0.2.1',
      '--ip=192.0.2.2/32',
      '--disable',
      '/etc/lb/off',
      '--withdraw-on-down',
      '--increase',
      '10',
      '--up-metric',
      '50',
    ]);
    assert.deepEqual(r.config.checks, {
      web: {
        type: 'exec',
        command: ['/bin/sh', '-c', 'true'],
        interval: '2s',
        fastInterval: '500ms',
        timeout: '1s',
        rise: 2,
        fall: 4,
      },
    });
    assert.deepEqual(r.config.maintenance, { disableFile: '/etc/lb/off' });
    assert.deepEqual(
      ((r.config.bgp as Obj).announcements as Obj[]).map((a) => [
        a.prefix,
        a.med,
        a.withdrawOnDown,
        a.withdrawOnDisabled,
      ]),
      [
        ['192.0.2.1/32', { up: 50, down: 1000, disabled: 500 }, true, true],
        ['192.0.2.2/32', { up: 60, down: 1010, disabled: 510 }, true, true],
      ],
    );
    assert.deepEqual(problems(r), []);
  });
  it('attributes: communities (disabled-community when down/disabled), as-paths per state, local-pref, path-id, neighbors, next-hop', () => {
    const r = importHealthcheck([
      '--ip',
      '192.0.2.1',
      '--next-hop',
      '10.0.0.1',
      '--local-preference',
      '200',
      '--community',
      '65000:1 65000:2',
      '--disabled-community',
      '65000:666',
      '--extended-community',
      'target:65000:1',
      '--large-community',
      '65000:1:1',
      '--as-path',
      '65001',
      '--down-as-path',
      '65001 65001 65001',
      '--path-id',
      '7',
      '--neighbor',
      '10.0.0.254',
    ]);
    const a = ann(r.config);
    assert.deepEqual(a, {
      prefix: '192.0.2.1/32',
      nextHop: '10.0.0.1',
      checks: [],
      med: { up: 100, down: 1000, disabled: 500 },
      attributes: {
        localPreference: 200,
        communities: ['65000:1', '65000:2'],
        extendedCommunities: ['target:65000:1'],
        largeCommunities: ['65000:1:1'],
        asPath: [65001],
      },
      down: { asPath: [65001, 65001, 65001], communities: ['65000:666'] },
      disabled: { communities: ['65000:666'] },
      pathId: 7,
      neighbors: ['10.0.0.254'],
    });
    parseConfig(renderConfig(r.config, ['x']));
  });
  it('addresses: --no-ip-setup adds none, --dynamic-ip-setup follows the announcement, deaggregate, start-ip', () => {
    assert.equal(importHealthcheck(['--ip', '192.0.2.1', '--no-ip-setup']).config.vips, undefined);
    const d = importHealthcheck(['--ip', '192.0.2.1', '--dynamic-ip-setup', '--withdraw-on-down']);
    assert.deepEqual(d.config.vips, [{ address: '192.0.2.1/32', followAnnouncement: true }]);
    const g = importHealthcheck(['--ip', '192.0.2.0/30', '--deaggregate-networks', '--start-ip', '1']);
    assert.deepEqual(
      ((g.config.bgp as Obj).announcements as Obj[]).map((a) => [a.prefix, (a.med as Obj).up]),
      [
        ['192.0.2.1/32', 100],
        ['192.0.2.2/32', 101],
        ['192.0.2.3/32', 102],
        ['192.0.2.0/32', 103],
      ],
    );
  });
  it('what lbagent does not do is reported with the argument it came from', () => {
    const r = importHealthcheck([
      '--cmd',
      'true',
      '--execute',
      '/bin/log',
      '--label',
      'web',
      '--interval',
      '0',
      '--dynamic-ip-setup',
      '--bogus',
      '--ip',
      '192.0.2.1',
      '--rise',
    ]);
    assert.deepEqual(problems(r), [
      'argv:10: error: --bogus: unknown option (the healthcheck rejects it too)',
      'argv:13: error: --rise: needs a value',
      'argv:4: unmapped: --execute /bin/log: lbagent runs no command on announcement changes; every transition is a log line and a metric',
      'argv:8: unmapped: --interval 0: lbagent keeps running; it does not exit after the first announcement',
      'argv:6: unmapped: --label web: lbagent adds VIPs without a label (it marks them with its protocol id)',
      'argv:9: unmapped: --dynamic-ip-setup: without --withdraw-on-down the healthcheck removes the address but keeps announcing it; lbagent removes a VIP only with its announcement (followAnnouncement)',
    ]);
  });
  it('no --ip is reported (the healthcheck would look at lo at run time); ambiguous prefixes are errors', () => {
    assert.match(problems(importHealthcheck(['--cmd', 'true']))[0], /unmapped: --ip: none given/);
    assert.match(problems(importHealthcheck(['--ip', '192.0.2.1', '--d']))[0], /ambiguous option/);
  });
  it('--config FILE: its "key = value" lines come first, the command line wins', () => {
    assert.deepEqual(configFileArgs('# c\ndebug\nname = web\ninterval= 3\n'), [
      '--debug',
      '--name',
      'web',
      '--interval',
      '3',
    ]);
    const r = importHealthcheck(
      ['--config', '/etc/hc.conf', '--interval', '7', '--ip', '192.0.2.1'],
      () => 'interval = 3\ncommand = true\n',
    );
    const c = (r.config.checks as Obj).healthcheck as Obj;
    assert.deepEqual([c.interval, c.command], ['7s', ['/bin/sh', '-c', 'true']]);
  });
});
