// The keepalived corpus (test/fixtures/import/keepalived): every valid file converts to a config
// lbagent loads (complete, except 31-partial.conf whose unmapped parts are listed), every invalid
// file gives errors at the right place, and the keyword coverage table in docs/import.md is the
// one computed here from the corpus (regenerate: the failure message prints it).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseConfig } from '../../../agent/config/load.js';
import { fileReader } from '../../../agent/import/cli.js';
import { importKeepalived } from '../../../agent/import/keepalived/index.js';
import { renderConfig } from '../../../agent/import/render.js';
import { complete, formatFinding } from '../../../agent/import/report.js';

const repoRoot = join(import.meta.dirname, '..', '..', '..', '..');
const dir = join(repoRoot, 'test', 'fixtures', 'import', 'keepalived');
const bad = join(repoRoot, 'test', 'fixtures', 'import', 'keepalived-invalid');
export const CONFIG_ID = 'lbt-a';

export function corpusFiles(): string[] {
  return readdirSync(dir)
    .filter((f) => /^\d\d-.*\.conf$/.test(f))
    .sort();
}

const convert = (path: string) => importKeepalived(path, fileReader, { configId: CONFIG_ID });

/** Keyword → where lbagent puts it; `partial` ones are reported as unmapped, by design. */
const COVERAGE: { kw: string; re: RegExp; to: string; partial?: boolean }[] = [
  { kw: 'vrrp_instance', re: /^\s*vrrp_instance\s/m, to: '`vrrp.instances[]`' },
  {
    kw: 'state',
    re: /^\s*state\s+(MASTER|BACKUP)/m,
    to: '(none: the state follows priority, as in keepalived 2.2)',
  },
  {
    kw: 'interface',
    re: /^\s*interface\s/m,
    to: '`interface`, and `track.interfaces: [{name, weight: fault}]` (keepalived faults when it goes down)',
  },
  { kw: 'virtual_router_id', re: /virtual_router_id/, to: '`vrid`' },
  { kw: 'priority', re: /^\s*priority\s/m, to: '`priority`' },
  { kw: 'advert_int', re: /advert_int/, to: '`advertInterval`' },
  { kw: 'version / vrrp_version', re: /^\s*(version|vrrp_version)\s/m, to: '`version` (IPv6 → 3)' },
  { kw: 'nopreempt', re: /nopreempt/, to: '`preempt: false`' },
  { kw: 'preempt_delay', re: /preempt_delay/, to: '`preemptDelay`' },
  { kw: 'unicast_src_ip', re: /unicast_src_ip/, to: '`unicast.source`' },
  { kw: 'unicast_peer', re: /unicast_peer/, to: '`unicast.peers`' },
  { kw: 'authentication (PASS)', re: /auth_type PASS/, to: '`auth: {type: pass}` (8 characters)' },
  { kw: 'virtual_ipaddress', re: /^\s*virtual_ipaddress\s/m, to: '`vips`' },
  { kw: 'virtual_ipaddress … dev', re: /\sdev eth1/, to: '`vipInterface`' },
  { kw: 'virtual_ipaddress … scope global', re: /scope global/, to: '(the default)' },
  { kw: 'virtual_ipaddress … label', re: /\slabel\s/, to: 'unmapped: no labels', partial: true },
  {
    kw: 'virtual_ipaddress … scope host/link',
    re: /scope (host|link)/,
    to: 'unmapped: scope global only',
    partial: true,
  },
  {
    kw: 'virtual_ipaddress_excluded',
    re: /virtual_ipaddress_excluded/,
    to: 'unmapped: every VIP is advertised',
    partial: true,
  },
  {
    kw: 'track_interface (weight)',
    re: /track_interface/,
    to: '`track.interfaces` (`fault` without weight)',
  },
  {
    kw: 'vrrp_script / track_script (weight)',
    re: /track_script/,
    to: '`track.scripts` (argv, interval, timeout, rise, fall, weight)',
  },
  { kw: 'track_file (weight)', re: /^\s*track_file\s/m, to: '`track.files`' },
  {
    kw: 'notify_master/backup/fault/stop',
    re: /notify_(master|backup|fault|stop)/,
    to: '`notify.master/backup/fault/stop`',
  },
  { kw: 'notify', re: /^\s*notify\s/m, to: '`notify.any` (+ `INSTANCE`, so the 4 arguments match)' },
  {
    kw: 'garp_master_delay/repeat/refresh',
    re: /garp_master_(delay|repeat|refresh)/,
    to: '`garp.repeatDelay/count/repeatCount/refresh`',
  },
  { kw: 'use_vmac', re: /use_vmac/, to: '`useVmac`' },
  { kw: 'vrrp_sync_group', re: /vrrp_sync_group/, to: '`vrrp.syncGroups`' },
  { kw: 'static_ipaddress', re: /static_ipaddress/, to: '`vips` (with `interface`)' },
  { kw: 'router_id', re: /router_id/, to: '`node.name`' },
  { kw: 'virtual_server IP PORT', re: /^virtual_server \d/m, to: '`ipvs.services[]` (`vip`, `port`)' },
  { kw: 'virtual_server fwmark', re: /^virtual_server fwmark/m, to: '`fwmark` (+ `family`)' },
  {
    kw: 'virtual_server group',
    re: /^virtual_server group/m,
    to: 'one service per group entry (ranges expanded)',
  },
  { kw: 'lb_algo / lvs_sched', re: /(lb_algo|lvs_sched)/, to: '`scheduler` (default `wlc` written out)' },
  { kw: 'lb_algo mh', re: /(lb_algo|lvs_sched) mh/, to: '`scheduler: mh`, `mhFallback: false` unless set' },
  { kw: 'mh-port', re: /mh-port/, to: '`mhPort: true`' },
  { kw: 'mh-fallback', re: /mh-fallback/, to: '`mhFallback: true`' },
  {
    kw: 'lb_kind / lvs_method NAT',
    re: /(lb_kind|lvs_method) NAT/,
    to: '`forwarding: nat` (also the default)',
  },
  { kw: 'lb_kind / lvs_method DR', re: /(lb_kind|lvs_method) DR/, to: '`forwarding: dr`' },
  { kw: 'lb_kind / lvs_method TUN', re: /(lb_kind|lvs_method) TUN/, to: '`forwarding: tun`, `tunnel`' },
  { kw: 'protocol', re: /^\s*protocol\s/m, to: '`protocol`' },
  { kw: 'ops', re: /^\s*ops$/m, to: '`onePacket`' },
  {
    kw: 'persistence_timeout',
    re: /persistence_timeout/,
    to: '`persistence.timeout` (360 s without a value)',
  },
  { kw: 'persistence_granularity', re: /persistence_granularity/, to: '`persistence.netmask`' },
  { kw: 'quorum / hysteresis', re: /^\s*hysteresis/m, to: '`quorumWeight` / `quorumHysteresis`' },
  { kw: 'sorry_server', re: /sorry_server/, to: 'unmapped: no sorry server', partial: true },
  { kw: 'inhibit_on_failure', re: /inhibit_on_failure/, to: '`onDown: weight0` (else `remove`)' },
  { kw: 'alpha', re: /^\s*alpha/m, to: '`check.initial: down` (else `up`)' },
  { kw: 'delay_loop', re: /delay_loop/, to: '`check.interval`' },
  { kw: 'real_server', re: /real_server/, to: '`backends[]`' },
  { kw: 'weight', re: /^\s*weight\s/m, to: '`weight`' },
  { kw: 'uthreshold / lthreshold', re: /uthreshold/, to: '`upperThreshold` / `lowerThreshold`' },
  { kw: 'TCP_CHECK', re: /TCP_CHECK/, to: '`check: {type: tcp}`' },
  { kw: 'connect_timeout / connect_port', re: /connect_port/, to: '`check.timeout` / `check.port`' },
  {
    kw: 'HTTP_GET url path status_code',
    re: /status_code/,
    to: '`check: {type: http, path, expect}` (default 200-299)',
  },
  { kw: 'virtualhost', re: /virtualhost/, to: '`check.host`' },
  { kw: 'SSL_GET (enable_sni)', re: /enable_sni/, to: '`type: https`, `insecure: true`, `sni`' },
  { kw: 'digest', re: /digest/, to: 'unmapped: use `body:` (a regular expression)', partial: true },
  {
    kw: 'MISC_CHECK (misc_path, misc_timeout)',
    re: /misc_path/,
    to: '`check: {type: exec, command, timeout}`',
  },
  { kw: 'misc_dynamic', re: /misc_dynamic/, to: '`dynamicWeight: exit-code`' },
  { kw: 'DNS_CHECK (type, name)', re: /DNS_CHECK/, to: '`check: {type: dns, qtype, query}`' },
  { kw: 'retry', re: /^\s*retry\s/m, to: '`check.fall` = retry + 1' },
  { kw: 'delay_before_retry', re: /delay_before_retry/, to: '`check.fastInterval`' },
  { kw: 'include (glob, braces)', re: /^include\s/m, to: 'read (relative to the file, loops detected)' },
  { kw: '$NAME=VALUE (multi-line)', re: /^\$\w+= \\$/m, to: 'expanded' },
  { kw: '@config-id lines', re: /^@/m, to: 'applied (`--config-id`)' },
  { kw: '~SEQ', re: /~SEQ/, to: 'expanded' },
];

function coverageTable(): string {
  const files = corpusFiles();
  const rows = COVERAGE.map((c) => {
    const users = files.filter(
      (f) => c.re.test(readFileSync(join(dir, f), 'utf8')) || includesMatch(f, c.re),
    );
    return `| ${c.kw} | ${c.to} | ${users.map((f) => f.slice(0, 2)).join(', ')} |`;
  });
  return ['| keepalived | lbagent | corpus files |', '| --- | --- | --- |', ...rows].join('\n');
}

/** 16-include.conf's instances live in inc/*.conf. */
function includesMatch(f: string, re: RegExp): boolean {
  if (!f.startsWith('16-')) return false;
  return readdirSync(join(dir, 'inc')).some((i) => re.test(readFileSync(join(dir, 'inc', i), 'utf8')));
}

describe('keepalived corpus', () => {
  const files = corpusFiles();
  it('has at least 25 valid files', () => {
    assert.ok(files.length >= 25, `${files.length} files`);
  });
  for (const f of files) {
    it(`${f}: converts to a config lbagent loads`, () => {
      const r = convert(join(dir, f));
      const yaml = renderConfig(r.config, [f], r.origins);
      const cfg = parseConfig(yaml, f);
      assert.ok(cfg.vrrp.instances.length + cfg.ipvs.services.length > 0, 'converted something');
      const problems = r.findings.list.filter((x) => x.kind !== 'note').map(formatFinding);
      if (f === '31-partial.conf') assert.equal(problems.length, 10, problems.join('\n'));
      else assert.deepEqual(problems, [], `${f} converts completely`);
    });
  }
  it('every keyword of the coverage table is used by the corpus, mapped ones in complete files', () => {
    for (const c of COVERAGE) {
      const users = files.filter(
        (f) => c.re.test(readFileSync(join(dir, f), 'utf8')) || includesMatch(f, c.re),
      );
      assert.ok(users.length > 0, `${c.kw}: no corpus file uses it`);
      if (!c.partial)
        assert.ok(
          users.some((f) => complete(convert(join(dir, f)).findings.list)),
          `${c.kw}: used only in files that do not convert completely`,
        );
    }
  });
  it('docs/import.md carries the coverage table computed from the corpus', () => {
    const doc = readFileSync(join(repoRoot, 'docs', 'import.md'), 'utf8');
    const m = /<!-- coverage:start -->\n([\s\S]*?)\n<!-- coverage:end -->/.exec(doc);
    const want = coverageTable();
    assert.equal(m?.[1], want, `docs/import.md coverage table should be:\n${want}`);
  });
  it('invalid files: every problem named with its file and line', () => {
    const expect: Record<string, RegExp[]> = {
      'typo.conf': [/typo.conf:4: error: priorty: .*did you mean "priority"/],
      'unknown-block.conf': [/unknown-block.conf:8: error: load_balancer: unknown keyword/],
      'include-loop.conf': [
        /include-loop-b.conf:1: error: include: include loop: .*include-loop.conf -> .*include-loop-b.conf -> .*include-loop.conf/,
      ],
      'unbalanced.conf': [/unbalanced.conf:1: error: vrrp_instance: block is never closed/],
      'missing-script.conf': [/missing-script.conf:5: error: chk_nothing: no vrrp_script of that name/],
      'bad-values.conf': [
        /bad-values.conf:3: error: virtual_router_id: "300" is not an integer in 1..255/,
        /bad-values.conf:4: error: priority: "high" is not an integer/,
        /bad-values.conf:6: error: 192.0.2.300\/24: not an address/,
        /bad-values.conf:10: error: lb_algo: "fastest" is not an IPVS scheduler/,
      ],
    };
    for (const [f, res] of Object.entries(expect)) {
      const r = convert(join(bad, f));
      const lines = r.findings.list.map(formatFinding);
      assert.equal(complete(r.findings.list), false, f);
      for (const re of res)
        assert.ok(
          lines.some((l) => re.test(l)),
          `${f}: ${re} in\n${lines.join('\n')}`,
        );
    }
  });
});
