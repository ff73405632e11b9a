// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the strings are keepalived.conf text, where ${NAME} is its own syntax
// The keepalived importer, pure: the reader (comments, quotes, includes, definitions,
// conditionals, ~SEQ/~LST), the block tree, and the conversion of every keyword issue 22 lists.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../../agent/config/load.js';
import { expandBraces, glob } from '../../../agent/import/keepalived/glob.js';
import { type ConfReader, importKeepalived } from '../../../agent/import/keepalived/index.js';
import { decomment, readConf, splitScript, splitWords } from '../../../agent/import/keepalived/lines.js';
import { buildTree } from '../../../agent/import/keepalived/tree.js';
import { renderConfig } from '../../../agent/import/render.js';
import { complete, Findings, formatFinding } from '../../../agent/import/report.js';

/** An in-memory file tree: path → text; directories are implied by the paths. */
function memfs(files: Record<string, string>): ConfReader {
  return {
    read: (p) => {
      if (!(p in files)) throw new Error(`ENOENT: ${p}`);
      return files[p];
    },
    readdir: (dir) => {
      const pre = dir.endsWith('/') ? dir : `${dir}/`;
      const names = new Set(
        Object.keys(files)
          .filter((f) => f.startsWith(pre))
          .map((f) => f.slice(pre.length).split('/')[0]),
      );
      if (!names.size) throw new Error(`ENOTDIR: ${dir}`);
      return [...names];
    },
  };
}

const conv = (text: string, extra: Record<string, string> = {}, opts = {}) =>
  importKeepalived(
    '/etc/keepalived/keepalived.conf',
    memfs({ '/etc/keepalived/keepalived.conf': text, ...extra }),
    opts,
  );

type Obj = Record<string, unknown>;
const inst = (c: Obj, i = 0) => ((c.vrrp as Obj).instances as Obj[])[i];
const svc = (c: Obj, i = 0) => ((c.ipvs as Obj).services as Obj[])[i];
const kinds = (f: Findings) => f.list.map((x) => `${x.kind} ${x.line} ${x.what}`);

describe('keepalived reader', () => {
  it('comments start at an unquoted # or !, \\# escapes, a trailing \\ continues', () => {
    assert.deepEqual(decomment('  priority 100 # high'), { text: 'priority 100', cont: false });
    assert.deepEqual(decomment('script "/bin/x # not a comment" ! yes'), {
      text: 'script "/bin/x # not a comment"',
      cont: false,
    });
    assert.deepEqual(decomment('a \\# b'), { text: 'a # b', cont: false });
    assert.deepEqual(decomment('$X= \\'), { text: '$X=', cont: true });
  });
  it('words: blanks split, "..." is one word; scripts split like keepalived runs them', () => {
    assert.deepEqual(splitWords('notify_master "/bin/x a b" root'), ['notify_master', '/bin/x a b', 'root']);
    assert.equal(typeof splitWords('a "b'), 'string');
    assert.deepEqual(splitScript("/bin/x a 'b c' d\\ e"), ['/bin/x', 'a', 'b c', 'd e']);
  });
  it('definitions: single, multi-line, recursive at use time, undefined ones left alone', () => {
    const f = new Findings();
    const lines = readConf(
      '/k.conf',
      memfs({
        '/k.conf': [
          '$A=10.2.${B}',
          '$B=0',
          'x ${A}.1 $UNDEF ${UNDEF}',
          '$B=7',
          'x ${A}.1',
          '$M= \\',
          'first $B \\',
          'second',
          '$M',
          'y ${_PWD} ${_HASH}',
        ].join('\n'),
      }),
      f,
    );
    assert.deepEqual(
      lines.map((l) => l.words.join(' ')),
      ['x 10.2.0.1 $UNDEF ${UNDEF}', 'x 10.2.7.1', 'first 7', 'second', 'y / #'],
    );
    assert.deepEqual(f.list, []);
  });
  it('conditional lines follow the config id', () => {
    const text = '@a x 1\n@b x 2\n@^a y 3\n@^b y 4\n';
    const words = (id?: string) =>
      readConf('/k', memfs({ '/k': text }), new Findings(), { configId: id }).map((l) => l.words.join(' '));
    assert.deepEqual(words('a'), ['x 1', 'y 4']);
    assert.deepEqual(words(undefined), ['y 3', 'y 4']);
  });
  it('~SEQ, ~SEQx and ~LST repeat the rest of the line', () => {
    const text =
      '~SEQ(N, 1, 3) a$N\n~SEQx(H, 0x9, 1, 0xa) h${H}\n~LST({X,Y}, {1,2},{3,4}) ${X}-${Y}\n~SEQ(Z,2) z$Z';
    assert.deepEqual(
      readConf('/k', memfs({ '/k': text }), new Findings()).map((l) => l.words[0]),
      ['a1', 'a2', 'a3', 'h9', 'ha', '1-2', '3-4', 'z1', 'z2'],
    );
  });
  it('includes: relative to the including file, globs and braces, loops and misses reported', () => {
    const fs = memfs({
      '/etc/k/main.conf': 'include conf.d/*.conf\ninclude sub/{x,y}.conf\ninclude /abs/none*.conf\n',
      '/etc/k/conf.d/b.conf': 'b\n',
      '/etc/k/conf.d/a.conf': 'a\ninclude ../main.conf\n',
      '/etc/k/conf.d/.hidden.conf': 'hidden\n',
      '/etc/k/sub/x.conf': 'x\n',
      '/etc/k/sub/y.conf': 'y\n',
    });
    const f = new Findings();
    const lines = readConf('/etc/k/main.conf', fs, f);
    assert.deepEqual(
      lines.map((l) => `${l.file}:${l.line} ${l.words[0]}`),
      [
        '/etc/k/conf.d/a.conf:1 a',
        '/etc/k/conf.d/b.conf:1 b',
        '/etc/k/sub/x.conf:1 x',
        '/etc/k/sub/y.conf:1 y',
      ],
    );
    assert.deepEqual(f.list.map(formatFinding), [
      '/etc/k/conf.d/a.conf:2: error: include: include loop: /etc/k/main.conf -> /etc/k/conf.d/a.conf -> /etc/k/main.conf',
      '/etc/k/main.conf:3: error: include: /abs/none*.conf matches no file (use --include-root DIR for a copy of another host)',
    ]);
  });
  it('--include-root finds absolute includes under a copy of another host', () => {
    const fs = memfs({ '/copy/etc/k.conf': 'include /etc/k.d/*.conf\n', '/copy/etc/k.d/1.conf': 'one\n' });
    const f = new Findings();
    const lines = readConf('/copy/etc/k.conf', fs, f, { includeRoot: '/copy' });
    assert.deepEqual(
      lines.map((l) => `${l.file} ${l.words[0]}`),
      ['/etc/k.d/1.conf one'],
    );
  });
  it('glob: braces expand, * does not match dot files, results sorted', () => {
    assert.deepEqual(expandBraces('a{b,c{d,e}}f'), ['abf', 'acdf', 'acef']);
    const fs = memfs({ '/d/b.c': '', '/d/a.c': '', '/d/.x.c': '', '/d/a.h': '' });
    assert.deepEqual(glob('/d/*.c', fs), ['/d/a.c', '/d/b.c']);
    assert.deepEqual(glob('/d/[ab].?', fs), ['/d/a.c', '/d/a.h', '/d/b.c']);
  });
  it('tree: { on the next line, one-line value blocks, } at the end of a line, unbalanced', () => {
    const f = new Findings();
    const lines = readConf('/k', memfs({ '/k': 'a x\n{\n  b 1\n  c { d e }\n  f {\n    g }\n}\nh {\n' }), f);
    const t = buildTree(lines, f);
    assert.deepEqual(JSON.parse(JSON.stringify(t, ['name', 'args', 'block'])), [
      {
        name: 'a',
        args: ['x'],
        block: [
          { name: 'b', args: ['1'] },
          { name: 'c', args: [], block: [{ name: 'd', args: ['e'] }] },
          { name: 'f', args: [], block: [{ name: 'g', args: [] }] },
        ],
      },
      { name: 'h', args: [], block: [] },
    ]);
    assert.deepEqual(kinds(f), ['error 8 h']);
  });
});

describe('keepalived conversion', () => {
  it('vrrp_instance: the adverts (vrid, priority, interval, version, VIPs) and the knobs', () => {
    const r = conv(`
global_defs { router_id lb1 }
vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority 150
  advert_int 3
  nopreempt
  authentication {
    auth_type PASS
    auth_pass 0123456789
  }
  unicast_src_ip 10.0.0.1
  unicast_peer {
    10.0.0.2
  }
  virtual_ipaddress {
    192.0.2.1/24 dev eth0
    192.0.2.2
  }
}`);
    assert.deepEqual(r.config.node, { name: 'lb1' });
    assert.deepEqual(inst(r.config), {
      name: 'VI_1',
      interface: 'eth0',
      vrid: 51,
      priority: 150,
      advertInterval: '3s',
      preempt: false,
      auth: { type: 'pass', password: '01234567' },
      unicast: { source: '10.0.0.1', peers: ['10.0.0.2'] },
      vips: ['192.0.2.1/24', '192.0.2.2'],
      // keepalived's implicit tracking of the instance's own interface, made explicit.
      track: { interfaces: [{ name: 'eth0', weight: 'fault' }] },
    });
    assert.deepEqual(kinds(r.findings), ['note 10 auth_pass']);
  });
  it('version: global vrrp_version, IPv6 forces 3, v3 keeps centiseconds, v2 whole seconds', () => {
    const r = conv(`
global_defs { vrrp_version 3 }
vrrp_instance A { interface eth0
  virtual_router_id 1
  advert_int 0.25
  virtual_ipaddress { 192.0.2.1 }
}
vrrp_instance B { interface eth0
  virtual_router_id 2
  version 2
  virtual_ipaddress { 2001:db8::1 }
}
vrrp_instance C { interface eth0
  virtual_router_id 3
  version 2
  advert_int 1.5
  virtual_ipaddress { 192.0.2.3 }
}`);
    assert.equal(inst(r.config, 0).version, 3);
    assert.equal(inst(r.config, 0).advertInterval, '250ms');
    assert.equal(inst(r.config, 1).version, 3);
    assert.equal(inst(r.config, 2).version, undefined);
    assert.equal(inst(r.config, 2).advertInterval, '2s');
  });
  it('VIP options: one dev for all → vipInterface; label/scope/brd and a second dev are reported', () => {
    const r = conv(`vrrp_instance A {
  interface eth0
  virtual_router_id 1
  virtual_ipaddress {
    192.0.2.1/24 dev eth1 scope global
    192.0.2.2/24 dev eth1 label eth1:x
    192.0.2.3/24 dev eth2 scope host brd 192.0.2.255
  }
  virtual_ipaddress_excluded {
    192.0.2.9
  }
}`);
    assert.equal(inst(r.config).vipInterface, 'eth1');
    assert.deepEqual(inst(r.config).vips, ['192.0.2.1/24', '192.0.2.2/24']);
    assert.deepEqual(kinds(r.findings), [
      'unmapped 6 label eth1:x',
      'unmapped 7 scope host',
      'unmapped 7 brd 192.0.2.255',
      'unmapped 9 virtual_ipaddress_excluded',
      'unmapped 7 192.0.2.3/24 dev eth2',
    ]);
  });
  it('dont_track_primary leaves the own interface untracked', () => {
    const r = conv(`vrrp_instance A {
  interface eth0
  virtual_router_id 1
  dont_track_primary
  virtual_ipaddress { 192.0.2.1 }
}`);
    assert.equal(inst(r.config).track, undefined);
  });
  it('tracking: interfaces, scripts (instance weight over script weight, 0 = fault), files', () => {
    const r = conv(`
vrrp_script chk { script "/bin/check 'a b'"
  interval 2
  rise 3
  fall 4
  weight -20
}
vrrp_script hard { script /bin/hard }
track_file tf { file /run/prio
  weight 5
}
vrrp_instance A {
  interface eth0
  virtual_router_id 1
  track_interface {
    eth1
    eth2 weight -30
  }
  track_script {
    chk
    hard
    chk weight 10
  }
  track_file {
    tf
    tf weight -2
  }
  virtual_ipaddress { 192.0.2.1 }
}`);
    assert.deepEqual(inst(r.config).track, {
      interfaces: [
        { name: 'eth0', weight: 'fault' },
        { name: 'eth1', weight: 'fault' },
        { name: 'eth2', weight: -30 },
      ],
      scripts: [
        { command: ['/bin/check', 'a b'], interval: '2s', timeout: '2s', rise: 3, fall: 4, weight: -20 },
        { command: ['/bin/hard'], interval: '1s', timeout: '1s', rise: 1, fall: 1, weight: 'fault' },
        { command: ['/bin/check', 'a b'], interval: '2s', timeout: '2s', rise: 3, fall: 4, weight: 10 },
      ],
      files: [
        { path: '/run/prio', weight: 5 },
        { path: '/run/prio', weight: -2 },
      ],
    });
    assert.equal(complete(r.findings.list), true);
  });
  it("notify scripts: argv; `notify` gets INSTANCE so the hook sees keepalived's 4 arguments", () => {
    const r = conv(`vrrp_instance A {
  interface eth0
  virtual_router_id 1
  notify_master "/bin/m x"
  notify_backup /bin/b
  notify_fault /bin/f
  notify_stop /bin/s
  notify "/bin/any" nobody
  virtual_ipaddress { 192.0.2.1 }
}`);
    assert.deepEqual(inst(r.config).notify, {
      master: ['/bin/m', 'x'],
      backup: ['/bin/b'],
      fault: ['/bin/f'],
      stop: ['/bin/s'],
      any: ['/bin/any', 'INSTANCE'],
    });
    assert.deepEqual(kinds(r.findings), ['unmapped 8 notify user nobody']);
  });
  it("garp: keepalived defaults are lbagent's; delay/repeat/refresh carry over", () => {
    const r = conv(`global_defs { vrrp_garp_master_delay 2 }
vrrp_instance A { interface eth0
  virtual_router_id 1
  garp_master_repeat 3
  garp_master_refresh 60
  virtual_ipaddress { 192.0.2.1 }
}
vrrp_instance B { interface eth0
  virtual_router_id 2
  garp_master_delay 0
  virtual_ipaddress { 192.0.2.2 }
}
vrrp_instance C { interface eth0
  virtual_router_id 3
  garp_master_delay 5
  virtual_ipaddress { 192.0.2.3 }
}`);
    assert.deepEqual(inst(r.config, 0).garp, { count: 3, repeatCount: 3, repeatDelay: '2s', refresh: '1m' });
    assert.deepEqual(inst(r.config, 1).garp, { repeatCount: 0 });
    assert.equal(inst(r.config, 2).garp, undefined);
  });
  it('sync group: members, group tracking copied to each, member weights become fault', () => {
    const r = conv(`
vrrp_script s { script /bin/s
  weight -10
}
vrrp_sync_group G {
  group { A B }
  track_interface { eth9 }
}
vrrp_instance A { interface eth0
  virtual_router_id 1
  track_script { s }
  virtual_ipaddress { 192.0.2.1 }
}
vrrp_instance B { interface eth1
  virtual_router_id 2
  use_vmac
  virtual_ipaddress { 192.0.2.2 }
}`);
    assert.deepEqual((r.config.vrrp as Obj).syncGroups, [{ name: 'G', instances: ['A', 'B'] }]);
    assert.deepEqual(inst(r.config, 0).track, {
      interfaces: [
        { name: 'eth0', weight: 'fault' },
        { name: 'eth9', weight: 'fault' },
      ],
      scripts: [{ command: ['/bin/s'], interval: '1s', timeout: '1s', rise: 1, fall: 1, weight: 'fault' }],
    });
    assert.equal(inst(r.config, 1).useVmac, true);
    assert.deepEqual(kinds(r.findings), ['note 5 instance A']);
  });
  it('virtual_server: keepalived defaults written out (wlc, NAT, remove on failure, no mh fallback)', () => {
    const r = conv(`virtual_server 192.0.2.1 80 {
  lb_algo mh
  real_server 10.0.0.1 80 {
    TCP_CHECK { connect_timeout 2 }
  }
}
virtual_server 192.0.2.2 80 {
  real_server 10.0.0.1 80 { }
}`);
    assert.deepEqual(svc(r.config, 0), {
      name: 'tcp-192.0.2.1-80',
      vip: '192.0.2.1',
      port: 80,
      protocol: 'tcp',
      scheduler: 'mh',
      forwarding: 'nat',
      onDown: 'remove',
      mhFallback: false,
      backends: [
        {
          address: '10.0.0.1',
          port: 80,
          check: {
            type: 'tcp',
            interval: '1m',
            rise: 1,
            fall: 2,
            initial: 'up',
            fastInterval: '1s',
            timeout: '2s',
          },
        },
      ],
    });
    assert.equal(svc(r.config, 1).scheduler, 'wlc');
  });
  it('virtual_server knobs: mh flags, DR/TUN, persistence, quorum/hysteresis, inhibit, alpha, thresholds', () => {
    const r = conv(`virtual_server 192.0.2.1 443 {
  lvs_sched mh
  mh-port
  mh-fallback
  lvs_method TUN type gue port 6080 csum
  protocol UDP
  persistence_timeout
  persistence_granularity 24
  quorum 3
  hysteresis 1
  inhibit_on_failure
  alpha
  delay_loop 3
  ops
  real_server 10.0.0.1 443 {
    weight 2
    uthreshold 10
    lthreshold 5
    lvs_method DR
    TCP_CHECK { }
  }
  real_server 10.0.0.2 443 {
    weight 2
  }
}`);
    const s = svc(r.config);
    assert.equal(s.name, 'udp-192.0.2.1-443');
    assert.deepEqual(
      {
        p: s.protocol,
        sched: s.scheduler,
        port: s.mhPort,
        fb: s.mhFallback,
        fwd: s.forwarding,
        tun: s.tunnel,
        pers: s.persistence,
        qw: s.quorumWeight,
        qh: s.quorumHysteresis,
        down: s.onDown,
        one: s.onePacket,
      },
      {
        p: 'udp',
        sched: 'mh',
        port: true,
        fb: true,
        fwd: 'tun',
        tun: { type: 'gue', port: 6080, checksum: 'csum' },
        pers: { timeout: '6m', netmask: 24 },
        qw: 3,
        qh: 1,
        down: 'weight0',
        one: true,
      },
    );
    const b = (s.backends as Obj[])[0];
    assert.deepEqual(
      {
        w: b.weight,
        u: b.upperThreshold,
        l: b.lowerThreshold,
        f: b.forwarding,
        init: (b.check as Obj).initial,
        i: (b.check as Obj).interval,
      },
      { w: 2, u: 10, l: 5, f: 'dr', init: 'down', i: '3s' },
    );
  });
  it('checkers: HTTP_GET/SSL_GET (url, status_code, virtualhost, regex, digest), MISC_CHECK, DNS_CHECK, retry → fall', () => {
    const r = conv(`virtual_server 192.0.2.1 80 {
  virtualhost vs.example
  delay_loop 10
  real_server 10.0.0.1 80 {
    HTTP_GET {
      url {
        path /h
        status_code 200 300-399
        regex "ok"
      }
      url { path /second }
      retry 3
      delay_before_retry 2
    }
  }
  real_server 10.0.0.2 80 {
    SSL_GET {
      url {
        path /
        digest abc
        virtualhost rs.example
      }
      enable_sni
    }
  }
  real_server 10.0.0.3 80 {
    MISC_CHECK {
      misc_path "/bin/chk 10.0.0.3"
      misc_timeout 3
      misc_dynamic
      user nobody
    }
  }
  real_server 10.0.0.4 80 {
    DNS_CHECK { type MX
      name example.test
    }
  }
  real_server 10.0.0.5 80 {
    PING_CHECK { }
    TCP_CHECK { connect_ip 10.0.0.50
      connect_port 8080
    }
  }
}`);
    const checks = (svc(r.config).backends as Obj[]).map((b) => b.check as Obj);
    assert.deepEqual(checks[0], {
      type: 'http',
      interval: '10s',
      rise: 1,
      fall: 4,
      initial: 'up',
      fastInterval: '2s',
      timeout: '5s',
      path: '/h',
      expect: [200, '300-399'],
      host: 'vs.example',
      body: 'ok',
    });
    assert.deepEqual(checks[1], {
      type: 'https',
      interval: '10s',
      rise: 1,
      fall: 2,
      initial: 'up',
      fastInterval: '3s',
      timeout: '5s',
      path: '/',
      expect: ['200-299'],
      host: 'rs.example',
      insecure: true,
      sni: 'rs.example',
    });
    assert.deepEqual(checks[2], {
      type: 'exec',
      interval: '10s',
      rise: 1,
      fall: 1,
      initial: 'up',
      timeout: '3s',
      command: ['/bin/chk', '10.0.0.3'],
      dynamicWeight: 'exit-code',
      user: 'nobody',
    });
    assert.deepEqual(checks[3], {
      type: 'dns',
      interval: '10s',
      rise: 1,
      fall: 4,
      initial: 'up',
      fastInterval: '10s',
      timeout: '5s',
      query: 'example.test',
      qtype: 'MX',
    });
    assert.deepEqual(
      { a: checks[4].address, p: checks[4].port, t: checks[4].type },
      { a: '10.0.0.50', p: 8080, t: 'tcp' },
    );
    assert.deepEqual(
      r.findings.list.filter((f) => f.kind !== 'note').map((f) => `${f.line} ${f.what}`),
      ['11 url', '20 digest abc', '40 PING_CHECK'],
    );
  });
  it('virtual_server_group and fwmark: one service per member, ranges expanded', () => {
    const r = conv(`virtual_server_group G {
  192.0.2.1-2 80
  10.9.9.0/31 8080
  fwmark 5 inet6
}
virtual_server group G {
  lb_kind DR
  real_server 2001:db8::1 80 { }
}
virtual_server fwmark 6 {
  persistence_timeout 30
  lb_kind DR
  real_server 10.0.0.1 0 { }
}`);
    const names = ((r.config.ipvs as Obj).services as Obj[]).map((s) => s.name);
    assert.deepEqual(names, [
      'tcp-192.0.2.1-80',
      'tcp-192.0.2.2-80',
      'tcp-10.9.9.0-8080',
      'tcp-10.9.9.1-8080',
      'fwmark-5-v6',
      'fwmark-6',
    ]);
    assert.deepEqual(
      { f: svc(r.config, 4).fwmark, fam: svc(r.config, 4).family, p: svc(r.config, 4).protocol },
      { f: 5, fam: 6, p: undefined },
    );
  });
  it("quorum above the real servers' weights, sorry_server and e-mail are reported, not dropped", () => {
    const r = conv(`global_defs {
  notification_email { a@b }
  smtp_server 127.0.0.1
}
virtual_server 192.0.2.1 80 {
  quorum 5
  sorry_server 10.0.0.9 80
  quorum_up /bin/up
  real_server 10.0.0.1 80 { notify_down /bin/down }
}`);
    assert.deepEqual(kinds(r.findings), [
      'unmapped 2 notification_email',
      'unmapped 3 smtp_server',
      'unmapped 7 sorry_server',
      'unmapped 8 quorum_up',
      'note 5 lb_kind',
      'unmapped 9 notify_down',
      'unmapped 5 quorum 5',
    ]);
    assert.equal(complete(r.findings.list), false);
  });
  it('typos and unknown keywords: an error with a suggestion, at their line', () => {
    const r = conv(`vrrp_instance A {
  interface eth0
  virtual_router_id 1
  priorty 100
  virtual_ipaddress { 192.0.2.1 }
}
load_balancer X { }
virtual_server 192.0.2.1 80 {
  real_server 10.0.0.1 80 {
    TCP_CHEK { }
  }
}`);
    assert.deepEqual(r.findings.list.filter((f) => f.kind === 'error').map(formatFinding), [
      '/etc/keepalived/keepalived.conf:4: error: priorty: unknown keyword in vrrp_instance A (did you mean "priority"?); keepalived -t rejects it too',
      '/etc/keepalived/keepalived.conf:7: error: load_balancer: unknown keyword in the top level; keepalived -t rejects it too',
      '/etc/keepalived/keepalived.conf:10: error: TCP_CHEK: unknown keyword in real_server 10.0.0.1 80 (did you mean "TCP_CHECK"?); keepalived -t rejects it too',
    ]);
  });
  it('renders YAML that lbagent loads, with where each object came from', () => {
    const r = conv(`vrrp_instance A {
  interface eth0
  virtual_router_id 1
  virtual_ipaddress { 192.0.2.1 }
}`);
    const yaml = renderConfig(r.config, ['header'], r.origins);
    assert.match(yaml, /^# header\n/);
    assert.match(yaml, /# from \/etc\/keepalived\/keepalived.conf:1\n\s+- name: A/);
    assert.equal(parseConfig(yaml).vrrp.instances[0].vrid, 1);
  });
});
