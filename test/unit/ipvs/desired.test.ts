import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseConfig } from '../../../agent/config/load.js';
import { Facts, factKey } from '../../../agent/daemon/facts.js';
import { compareDests, desiredIpvs, maglevOrder } from '../../../agent/ipvs/desired.js';

const yaml = (extra = '') => `
ipvs:
  services:
    - name: web
      vip: 192.0.2.10
      port: 80
      mhPort: true
      forwarding: nat
${extra}
      backends:
        - { address: 10.0.0.2, weight: 5 }
        - { address: 10.0.0.10 }
        - { address: 10.0.0.3, port: 8080 }
    - name: dns6
      vip: 2001:db8::53
      port: 53
      protocol: udp
      scheduler: sh
      persistence: { timeout: 90s, netmask: 64 }
      backends:
        - { address: 2001:db8::2 }
    - name: mark
      fwmark: 7
      scheduler: wlc
      forwarding: tun
      tunnel: { type: gue, port: 6080, checksum: csum }
      backends:
        - { address: 10.0.0.7 }
`;

describe('desiredIpvs', () => {
  it('builds services with flags, persistence and canonical destination order', () => {
    const d = desiredIpvs(parseConfig(yaml()), new Facts());
    const web = d.services[0];
    assert.equal(web.key, 'tcp:192.0.2.10:80');
    // mh-port as configured, plus mh-fallback, which is on by default with mh.
    assert.equal(web.spec.flags, 0x18);
    assert.equal(web.spec.scheduler, 'mh');
    const noFallback = desiredIpvs(parseConfig(yaml('      mhFallback: false')), new Facts()).services[0];
    assert.equal(noFallback.spec.flags, 0x10);
    assert.deepEqual(
      web.dests.map((x) => `${x.address}:${x.port}/${x.weight}/${x.forwarding}`),
      ['10.0.0.10:80/1/nat', '10.0.0.3:8080/1/nat', '10.0.0.2:80/5/nat'],
    );
    const dns = d.services[1];
    assert.equal(dns.key, 'udp:[2001:db8::53]:53');
    assert.deepEqual([dns.spec.flags, dns.spec.timeout, dns.spec.netmask], [1, 90, 64]);
    const mark = d.services[2];
    assert.equal(mark.key, 'fwmark:7/v4');
    assert.deepEqual(
      { ...mark.dests[0] },
      {
        family: 4,
        address: '10.0.0.7',
        port: 0,
        forwarding: 'tun',
        weight: 1,
        upperThreshold: 0,
        lowerThreshold: 0,
        tunnelType: 'gue',
        tunnelPort: 6080,
        tunnelFlags: 1,
      },
    );
  });

  it('health facts: down → weight 0 by default, fact weight overrides, absent = configured', () => {
    const facts = new Facts();
    facts.set(factKey.backend('web', '10.0.0.2', 80), { up: false });
    facts.set(factKey.backend('web', '10.0.0.3', 8080), { up: true, weight: 2.6 });
    const web = desiredIpvs(parseConfig(yaml()), facts).services[0];
    assert.deepEqual(
      web.dests.map((x) => `${x.address}/${x.weight}`),
      ['10.0.0.10/1', '10.0.0.3/3', '10.0.0.2/0'],
    );
  });

  it('onDown remove drops the destination', () => {
    const facts = new Facts();
    facts.set(factKey.backend('web', '10.0.0.2', 80), { up: false });
    const web = desiredIpvs(parseConfig(yaml('      onDown: remove')), facts).services[0];
    assert.deepEqual(
      web.dests.map((x) => x.address),
      ['10.0.0.10', '10.0.0.3'],
    );
  });

  it('errors name the service and the field', () => {
    const cfg = parseConfig(yaml());
    cfg.ipvs.services[0].backends.push({ ...cfg.ipvs.services[0].backends[0] });
    assert.throws(() => desiredIpvs(cfg, new Facts()), /ipvs service web: backend 10.0.0.2:80 listed twice/);
    const cfg2 = parseConfig(yaml());
    cfg2.ipvs.services[1].vip = '192.0.2.10';
    cfg2.ipvs.services[1].protocol = 'tcp';
    cfg2.ipvs.services[1].port = 80;
    cfg2.ipvs.services[1].persistence = undefined;
    assert.throws(
      () => desiredIpvs(cfg2, new Facts()),
      /ipvs service dns6: same virtual service tcp:192.0.2.10:80 as service web/,
    );
  });

  it('maglevOrder sorts highest first by family, address bytes, port', () => {
    const o = maglevOrder([
      { family: 4 as const, address: '10.0.0.9', port: 80 },
      { family: 4 as const, address: '10.0.0.10', port: 80 },
      { family: 4 as const, address: '10.0.0.10', port: 81 },
      { family: 6 as const, address: '::1', port: 1 },
    ]);
    assert.deepEqual(
      o.map((x) => `${x.address}:${x.port}`),
      ['::1:1', '10.0.0.10:81', '10.0.0.10:80', '10.0.0.9:80'],
    );
  });

  it('property: maglevOrder is the compareDests order, highest first', () => {
    const dest = fc.oneof(
      fc.record({
        family: fc.constant(4 as const),
        address: fc.ipV4(),
        port: fc.integer({ min: 0, max: 65535 }),
      }),
      fc.record({
        family: fc.constant(6 as const),
        address: fc.constantFrom('::1', '2001:db8::1', '2001:db8::a:1', 'fe80::1', '::'),
        port: fc.integer({ min: 0, max: 65535 }),
      }),
    );
    fc.assert(
      fc.property(fc.array(dest, { maxLength: 12 }), (ds) => {
        assert.deepEqual(
          maglevOrder(ds),
          [...ds].sort((a, b) => compareDests(b, a)),
        );
      }),
      { numRuns: 500 },
    );
  });
});
