import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { parseConfig } from '../../../agent/config/load.js';
import { configSchema } from '../../../agent/config/schema.js';
import { buildPlan, HealthPlanError } from '../../../agent/health/plan.js';

// The schema only (not parseConfig): config validation runs buildPlan itself, and these tests are
// about buildPlan's own errors.
function issuesOf(text: string): string[] {
  try {
    buildPlan(configSchema.parse(parseYaml(text)));
  } catch (err) {
    assert.ok(err instanceof HealthPlanError);
    return err.issues.map((i) => `${i.path}: ${i.message}`);
  }
  return [];
}

describe('buildPlan', () => {
  it('targets default to the backend; a check port overrides (health port); ids dedupe shared probes', () => {
    const plan = buildPlan(
      parseConfig(`
checks:
  web: { type: http, path: /healthz, port: 8081 }
  central: { type: tcp, address: 10.9.9.9, port: 5432 }
ipvs:
  services:
    - name: web
      vip: 2001:db8::1
      port: 80
      check: web
      backends:
        - { address: 2001:db8:0:0::10 }
        - { address: 2001:db8::11, check: central }
    - name: web2
      vip: 2001:db8::2
      port: 80
      backends: [{ address: 2001:db8::11, check: central }]
`),
    );
    assert.deepEqual(
      plan.backends.map((b) => [b.key, b.checkId]),
      [
        [
          'backend:web/2001:db8::10:80',
          'http [2001:db8::10]:8081 #' + plan.backends[0].checkId!.split('#')[1],
        ],
        ['backend:web/2001:db8::11:80', 'tcp 10.9.9.9:5432'],
        ['backend:web2/2001:db8::11:80', 'tcp 10.9.9.9:5432'],
      ],
    );
    const central = plan.checks.get('tcp 10.9.9.9:5432')!;
    assert.deepEqual(central.origins, [
      'ipvs.services[0].backends[1].check',
      'ipvs.services[1].backends[0].check',
      'checks.central',
    ]);
    assert.deepEqual(
      plan.named.map((n) => n.key),
      ['check:central'],
      'a named check without an address is only a template',
    );
    assert.deepEqual(
      plan.services.map((s) => [s.key, s.backendKeys.length, s.quorum]),
      [
        ['service:web', 2, 1],
        ['service:web2', 1, 1],
      ],
    );
    assert.equal(plan.host, undefined);
  });

  it('keys nexthops by canonical prefix, table and via', () => {
    const plan = buildPlan(
      parseConfig(`
routes:
  - prefix: 2001:db8:0:0::/64
    table: 100
    nexthops: [{ via: 'fe80::1', dev: eth0, check: { type: tcp, port: 179 } }]
`),
    );
    assert.deepEqual(plan.nexthops, [
      { key: 'nexthop:2001:db8::/64@100/fe80::1', checkId: 'tcp [fe80::1]:179' },
    ]);
  });

  it('names the field when a nexthop tcp/http check has no port', () => {
    assert.deepEqual(
      issuesOf(`
routes:
  - prefix: 198.51.100.0/24
    nexthops: [{ via: 10.0.0.1, check: { type: http, path: /x } }, { via: 10.0.0.2, check: { type: tcp } }]
`),
      [
        'routes[0].nexthops[0].check: a http check needs a port here (set port)',
        'routes[0].nexthops[1].check: a tcp check needs a port here (set port)',
      ],
    );
  });

  it('reports a bad body regex, sni on http, and a template check that must run alone', () => {
    assert.deepEqual(
      issuesOf(`
checks:
  tmpl: { type: tcp, port: 80 }
bgp:
  announcements: [{ prefix: 192.0.2.1/32, checks: [tmpl] }]
ipvs:
  services:
    - name: s
      vip: 192.0.2.1
      port: 53
      backends:
        - { address: 10.0.0.2, check: { type: http, body: '(' } }
        - { address: 10.0.0.3, check: { type: http, sni: a.example } }
        - { address: 10.0.0.5, check: { type: http, expect: ['399-200'] } }
        - { address: 10.0.0.4, check: { type: exec, command: [/bin/true], user: no-such-user-xyz } }
`),
      [
        'ipvs.services[0].backends[0].check.body: is not a regular expression: Invalid regular expression: /(/: Unterminated group',
        'ipvs.services[0].backends[1].check.sni: only applies to https checks',
        'ipvs.services[0].backends[2].check.expect: status range "399-200" is reversed',
        'ipvs.services[0].backends[3].check.user: user "no-such-user-xyz" not found (NSS: getent passwd no-such-user-xyz)',
        'checks.tmpl: needs an address: it runs on its own for bgp.announcements[0].checks[0]',
      ],
    );
  });

  it('host checks: systeminformation kinds, files and named checks', () => {
    const plan = buildPlan(
      parseConfig(`
checks:
  db: { type: tcp, address: 127.0.0.1, port: 5432 }
host:
  checks:
    - { type: disk, path: /var, minFreePercent: 10 }
    - { type: memory }
    - { type: load, maxPerCpu: 2 }
    - { type: file, path: /etc/lb/ready }
    - { type: check, name: db }
`),
    );
    assert.deepEqual(plan.host, [
      'disk /var >= 10% free',
      'memory >= 5% available',
      'load <= 2 per cpu',
      'file /etc/lb/ready',
      'tcp 127.0.0.1:5432',
    ]);
  });
});
