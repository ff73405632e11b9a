// Config validation: every bad config is rejected with the dotted path of the offending field.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseDuration } from '../../../agent/config/duration.js';
import { configJsonSchema } from '../../../agent/config/json-schema.js';
import { ConfigError, parseConfig } from '../../../agent/config/load.js';

const repoRoot = join(import.meta.dirname, '..', '..', '..', '..');

function issuesOf(text: string) {
  try {
    parseConfig(text);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
  assert.fail(`config was accepted:\n${text}`);
}

// Flow-mapping templates; a key given in `extra` replaces the template's own.
function flow(base: Record<string, string>, extra: string): string {
  const fields = { ...base };
  for (const m of extra.matchAll(/,\s*(\w+): ((?:\{[^}]*\}|\[[^\]]*\]|[^,])+)/g)) fields[m[1]] = m[2].trim();
  return `{${Object.entries(fields)
    .map(([k, v]) => `${k}: ${v}`)
    .join(', ')}}`;
}
const svc = (extra: string, backends = '[{address: 10.0.0.1}]') =>
  `ipvs:\n  services:\n    - ${flow({ name: 'web', vip: '192.0.2.1', port: '80', backends }, extra)}\n`;
const vrrp = (extra: string) =>
  `vrrp:\n  instances:\n    - ${flow({ name: 'v1', interface: 'eth0', vrid: '1', vips: '[192.0.2.5/24]' }, extra)}\n`;

// [description, yaml, expected path, message pattern]
// biome-ignore format: one case per line reads best
const bad: [string, string, string, RegExp][] = [
  ['unknown top-level key', 'vipz: []', 'vipz', /unknown key/],
  ['unknown nested key (typo)', 'vips: [{adress: 192.0.2.1}]', 'vips[0].adress', /unknown key/],
  ['bad IPv4 VIP', 'vips: [{address: 192.0.2.300}]', 'vips[0].address', /not an IPv4 or IPv6/],
  ['bad IPv6 VIP', 'vips: [{address: "2001:db8::g"}]', 'vips[0].address', /not an IPv4 or IPv6/],
  ['VIP prefix too long', 'vips: [{address: 192.0.2.1/33}]', 'vips[0].address', /out of range/],
  ['duplicate VIP', 'vips: [{address: 192.0.2.1}, {address: 192.0.2.1/32}]', 'vips[1].address', /duplicate VIP/],
  ['bad interface name', 'vips: [{address: 192.0.2.1, interface: "this-name-is-far-too-long"}]', 'vips[0].interface', /interface name/],
  ['route prefix with host bits', 'routes: [{prefix: 10.0.0.1/24, nexthops: [{via: 10.1.1.1}]}]', 'routes[0].prefix', /host bits/],
  ['route without nexthops', 'routes: [{prefix: 10.0.0.0/24, nexthops: []}]', 'routes[0].nexthops', /at least 1|too small|>=1/i],
  ['nexthop not an address', 'routes: [{prefix: 10.0.0.0/24, nexthops: [{via: gw}]}]', 'routes[0].nexthops[0].via', /not an IPv4 or IPv6/],
  ['nexthop weight out of range', 'routes: [{prefix: 10.0.0.0/24, nexthops: [{via: 10.1.1.1, weight: 300}]}]', 'routes[0].nexthops[0].weight', /<=256/],
  ['IPv6 prefix via IPv4 nexthop', 'routes: [{prefix: "2001:db8::/32", nexthops: [{via: 10.1.1.1}]}]', 'routes[0].nexthops[0].via', /IPv4 nexthop for an IPv6/],
  ['resilient group mixing families', 'routes: [{prefix: 10.0.0.0/24, resilient: {}, nexthops: [{via: "fe80::1", dev: eth0}]}]', 'routes[0].nexthops[0].via', /IPv6 nexthop/],
  ['duplicate route', 'routes: [{prefix: 10.0.0.0/24, nexthops: [{via: 10.1.1.1}]}, {prefix: 10.0.0.0/24, nexthops: [{via: 10.1.1.2}]}]', 'routes[1].prefix', /duplicate route/],
  ['resilient buckets zero', 'routes: [{prefix: 10.0.0.0/24, resilient: {buckets: 0}, nexthops: [{via: 10.1.1.1}]}]', 'routes[0].resilient.buckets', />=1/],
  ['bad duration', 'kernel: {resyncInterval: 5 seconds}', 'kernel.resyncInterval', /not a duration/],
  ['duration as number', 'kernel: {resyncInterval: 5}', 'kernel.resyncInterval', /expected string/],
  ['unknown scheduler', svc(', scheduler: maglev'), 'ipvs.services[0].scheduler', /Invalid option|expected one of/i],
  ['backend weight too big', svc('', '[{address: 10.0.0.1, weight: 70000}]'), 'ipvs.services[0].backends[0].weight', /<=65535/],
  ['negative backend weight', svc('', '[{address: 10.0.0.1, weight: -1}]'), 'ipvs.services[0].backends[0].weight', />=0/],
  ['backend outside address family', svc('', '[{address: "2001:db8::1"}]'), 'ipvs.services[0].backends[0].address', /IPv6 backend in an IPv4 service/],
  ['duplicate backend', svc('', '[{address: 10.0.0.1}, {address: 10.0.0.1}]'), 'ipvs.services[0].backends[1].address', /duplicate backend/],
  ['port out of range', svc(', port: 70000'), 'ipvs.services[0].port', /<=65535/],
  ['mhPort with another scheduler', svc(', scheduler: rr, mhPort: true'), 'ipvs.services[0].mhPort', /only applies to the mh/],
  ['service without vip or fwmark', 'ipvs: {services: [{name: x, port: 80}]}', 'ipvs.services[0].vip', /required/],
  ['fwmark with port', 'ipvs: {services: [{name: x, fwmark: 1, port: 80}]}', 'ipvs.services[0].port', /no port/],
  ['duplicate service', `ipvs:\n  services:\n    - {name: a, vip: 192.0.2.1, port: 80}\n    - {name: b, vip: 192.0.2.1, port: 80}\n`, 'ipvs.services[1]', /duplicate service/],
  ['duplicate service name', `ipvs:\n  services:\n    - {name: a, vip: 192.0.2.1, port: 80}\n    - {name: a, vip: 192.0.2.1, port: 81}\n`, 'ipvs.services[1].name', /duplicate service name/],
  ['unknown forwarding method', svc(', forwarding: direct'), 'ipvs.services[0].forwarding', /Invalid option|expected one of/i],
  ['quorum above backend count', svc(', quorum: 3'), 'ipvs.services[0].quorum', /needs 3 healthy/],
  ['followAnnouncement without an announcement', 'vips: [{address: 192.0.2.1, followAnnouncement: true}]', 'vips[0].followAnnouncement', /no bgp.announcements prefix covers 192.0.2.1/],
  ['quorumWeight above total weight', svc(', quorumWeight: 5'), 'ipvs.services[0].quorumWeight', /weights sum to 1/],
  ['quorumHysteresis without quorumWeight', svc(', quorumHysteresis: 2'), 'ipvs.services[0].quorumHysteresis', /needs quorumWeight/],
  ['undefined check reference', svc(', check: nosuch'), 'ipvs.services[0].check', /not defined in checks/],
  ['unknown check type', 'checks: {c: {type: icmp}}', 'checks.c.type', /Invalid input|expected/i],
  ['http expect bad status', 'checks: {c: {type: http, expect: [999]}}', 'checks.c.expect[0]', /<=599|status/],
  ['exec command as a string', 'checks: {c: {type: exec, command: "/bin/true --x"}}', 'checks.c.command', /expected array/],
  ['check timeout above interval', 'checks: {c: {type: tcp, address: 10.0.0.1, port: 80, interval: 1s, timeout: 2s}}', 'checks.c.timeout', /must not exceed interval/],
  ['nexthop tcp check without a port', 'routes: [{prefix: 10.0.0.0/24, nexthops: [{via: 10.1.1.1, check: {type: tcp}}]}]', 'routes[0].nexthops[0].check', /needs a port/],
  ['check rise zero', 'checks: {c: {type: tcp, rise: 0}}', 'checks.c.rise', />=1/],
  ['VRID out of range', vrrp(', vrid: 256'), 'vrrp.instances[0].vrid', /<=255/],
  ['VRID zero', vrrp(', vrid: 0'), 'vrrp.instances[0].vrid', />=1/],
  ['VRID duplicated on one interface', `vrrp:\n  instances:\n    - {name: a, interface: eth0, vrid: 7, vips: [192.0.2.5/24]}\n    - {name: b, interface: eth0, vrid: 7, vips: [192.0.2.6/24]}\n`, 'vrrp.instances[1].vrid', /already used on eth0/],
  ['VRRP priority zero', vrrp(', priority: 0'), 'vrrp.instances[0].priority', />=1/],
  ['VRRPv2 fractional interval', vrrp(', advertInterval: 1500ms'), 'vrrp.instances[0].advertInterval', /whole seconds/],
  ['VRRPv2 with IPv6', `vrrp:\n  instances:\n    - {name: a, interface: eth0, vrid: 7, vips: ["2001:db8::5/64"]}\n`, 'vrrp.instances[0].version', /IPv4 only/],
  ['VRRPv3 with auth', vrrp(', version: 3, auth: {type: pass, password: x}'), 'vrrp.instances[0].auth', /no authentication/],
  ['VRRP password too long', vrrp(', auth: {type: pass, password: "123456789"}'), 'vrrp.instances[0].auth.password', /<=8/],
  ['VRRP mixed families', `vrrp:\n  instances:\n    - {name: a, interface: eth0, vrid: 7, version: 3, vips: [192.0.2.5/24, "2001:db8::5/64"]}\n`, 'vrrp.instances[0].vips', /mixes IPv4 and IPv6/],
  ['VRRPv3 interval below 10ms', vrrp(', version: 3, advertInterval: 5ms'), 'vrrp.instances[0].advertInterval', /centiseconds/],
  ['VRRP unicast source other family', vrrp(', unicast: {source: "fd00::1", peers: [10.0.0.2]}'), 'vrrp.instances[0].unicast.source', /IPv6 source/],
  ['VRRP virtual MAC on IPv6', `vrrp:\n  instances:\n    - {name: a, interface: eth0, vrid: 7, version: 3, vips: ["2001:db8::5/64"], useVmac: true}\n`, 'vrrp.instances[0].useVmac', /IPv4 only/],
  ['VRRP unicast peer other family', vrrp(', unicast: {peers: ["2001:db8::1"]}'), 'vrrp.instances[0].unicast.peers[0]', /IPv6 peer/],
  ['sync group with unknown instance', `${vrrp('')}  syncGroups: [{name: g, instances: [v1, v9]}]\n`, 'vrrp.syncGroups[0].instances[1]', /no VRRP instance named "v9"/],
  ['track of unknown service', vrrp(', track: {services: [{name: nosvc}]}'), 'vrrp.instances[0].track.services[0].name', /neither an ipvs service nor a check/],
  ['BGP announcement of unknown service', 'bgp: {announcements: [{prefix: 192.0.2.1/32, services: [nosvc]}]}', 'bgp.announcements[0].services[0]', /no ipvs service named/],
  ['BGP next hop family mismatch', 'bgp: {announcements: [{prefix: 192.0.2.1/32, nextHop: "2001:db8::1"}]}', 'bgp.announcements[0].nextHop', /IPv6 next hop for an IPv4/],
  ['BGP bad community', 'bgp: {announcements: [{prefix: 192.0.2.1/32, attributes: {communities: ["65000"]}}]}', 'bgp.announcements[0].attributes.communities[0]', /not a community/],
  ['duplicate announcement', 'bgp: {announcements: [{prefix: 192.0.2.1/32}, {prefix: 192.0.2.1/32}]}', 'bgp.announcements[1].prefix', /duplicate announcement/],
  ['relative disable file', 'maintenance: {disableFile: etc/lb/disable}', 'maintenance.disableFile', /start with "\/"|startsWith|Invalid string/i],
  ['bad metrics listen', 'metrics: {listen: "localhost"}', 'metrics.listen', /HOST:PORT/],
  ['bad control socket mode', 'control: {mode: "rw-rw----"}', 'control.mode', /octal mode/],
  ['bad log level', 'log: {level: verbose}', 'log.level', /Invalid option|expected one of/i],
  ['host check unknown type', 'host: {checks: [{type: cpu}]}', 'host.checks[0].type', /Invalid input|expected/i],
  ['router id not IPv4', 'node: {routerId: "2001:db8::1"}', 'node.routerId', /not an IPv4/],
];

describe('config validation rejects bad configs with the field path', () => {
  for (const [what, yaml, path, msg] of bad) {
    it(what, () => {
      const issues = issuesOf(yaml);
      const hit = issues.find((i) => i.path === path);
      assert.ok(hit, `expected an issue at ${path}, got: ${JSON.stringify(issues)}`);
      assert.match(hit.message, msg);
    });
  }

  it('has at least 30 bad-config cases', () => assert.ok(bad.length >= 30));

  it('reports every problem at once', () => {
    const issues = issuesOf('vips: [{address: 1.2.3.999}, {address: x}]\nlog: {level: loud}\nbogus: 1\n');
    const paths = issues.map((i) => i.path).sort();
    assert.deepEqual(paths, ['bogus', 'log.level', 'vips[0].address', 'vips[1].address']);
  });

  it('rejects broken YAML with its position', () => {
    const issues = issuesOf('vips: [\n  {address: 1.2.3.4\n');
    assert.match(issues[0].message, /^YAML: .*line \d+/);
  });

  it('rejects duplicate YAML keys', () => {
    const issues = issuesOf('vips: []\nvips: []\n');
    assert.match(issues[0].message, /unique/);
  });
});

describe('config defaults and normalisation', () => {
  it('an empty file is a valid, empty config with defaults', () => {
    const cfg = parseConfig('');
    assert.equal(cfg.control.socket, '/run/lbagent/lbagent.sock');
    assert.equal(cfg.maintenance.disableFile, '/etc/lb/disable');
    assert.equal(cfg.kernel.routeProtocol, 199);
    assert.equal(cfg.kernel.resyncInterval, 30_000);
  });

  it('durations become milliseconds and services get mh defaults', () => {
    const cfg = parseConfig(svc(', check: {type: tcp, interval: 2m, timeout: 1m30s}'));
    const s = cfg.ipvs.services[0];
    assert.equal(s.scheduler, 'mh');
    assert.equal(s.forwarding, 'dr');
    assert.equal(s.onDown, 'weight0');
    assert.equal(typeof s.check, 'object');
    const check = s.check as { interval: number; timeout: number; rise: number; fall: number };
    assert.deepEqual([check.interval, check.timeout, check.rise, check.fall], [120_000, 90_000, 2, 3]);
  });

  it('VIP interface defaults to lo, VRRP to v2 with 1s adverts and preempt', () => {
    const cfg = parseConfig(`vips: [{address: "2001:db8::1"}]\n${vrrp('')}`);
    assert.equal(cfg.vips[0].interface, 'lo');
    const v = cfg.vrrp.instances[0];
    assert.deepEqual(
      [v.version, v.advertInterval, v.preempt, v.priority, v.garp.count],
      [2, 1000, true, 100, 5],
    );
  });

  it('parses durations', () => {
    assert.equal(parseDuration('250ms'), 250);
    assert.equal(parseDuration('1.5s'), 1500);
    assert.equal(parseDuration('1h30m'), 5_400_000);
    assert.equal(parseDuration('5'), null);
    assert.equal(parseDuration('s'), null);
    assert.equal(parseDuration('1s '), null);
  });
});

describe('examples and JSON Schema', () => {
  const dir = join(repoRoot, 'examples');
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
  it('ships the four example configs', () => {
    for (const f of [
      'anycast-lb-host.yaml',
      'ipvs-maglev-director.yaml',
      'vrrp-pair.yaml',
      'ecmp-router.yaml',
    ]) {
      assert.ok(files.includes(f), `examples/${f} missing`);
    }
  });
  for (const f of files) {
    it(`examples/${f} validates`, () => {
      parseConfig(readFileSync(join(dir, f), 'utf8'), f);
    });
  }
  it('docs/lbagent.schema.json is up to date (regenerate: lbagent schema > docs/lbagent.schema.json)', () => {
    const committed = JSON.parse(readFileSync(join(repoRoot, 'docs', 'lbagent.schema.json'), 'utf8'));
    assert.deepEqual(committed, configJsonSchema());
  });
});

describe('generated config reference', () => {
  it('docs/config-reference.md is up to date (regenerate: lbagent config-reference > docs/config-reference.md)', async () => {
    const { configReference } = await import('../../../agent/config/reference.js');
    assert.equal(readFileSync(join(repoRoot, 'docs', 'config-reference.md'), 'utf8'), configReference());
  });
});
