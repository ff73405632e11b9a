import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { harness } from './helpers.js';

const WEB = `
ipvs:
  services:
    - name: web
      vip: 192.0.2.1
      port: 80
      quorum: 2
      slowStart: 10s
      check: { type: tcp, interval: 1s, timeout: 500ms, rise: 2, fall: 3, initial: up }
      backends:
        - { address: 10.0.0.1, weight: 10 }
        - { address: 10.0.0.2, weight: 10 }
        - { address: 10.0.0.3, weight: 10 }
`;

let current: ReturnType<typeof harness> | undefined;
afterEach(async () => {
  await current?.health.stop({ removeState: false });
  current = undefined;
});

describe('HealthSubsystem (fake clock, scripted probes)', () => {
  it('a backend goes down after exactly `fall` failures and up after exactly `rise` successes', async () => {
    const h = harness(WEB);
    current = h;
    await h.health.start(h.config);
    const key = 'backend:web/10.0.0.1:80';
    assert.equal(h.facts.get(key)?.up, true);
    await h.advance(2500); // 3 runs ok (t=0,1000,2000)
    h.behaviour.set('10.0.0.1:80', 'fail');
    const before = h.calls.get('10.0.0.1:80')!;
    await h.advance(2000); // 2 failures
    assert.equal(h.facts.get(key)?.up, true, 'still up after fall-1 failures');
    await h.advance(1000);
    assert.equal(h.calls.get('10.0.0.1:80')! - before, 3);
    assert.deepEqual(
      { up: h.facts.get(key)?.up, reason: h.facts.get(key)?.reason },
      { up: false, reason: 'connect ECONNREFUSED' },
    );
    h.behaviour.set('10.0.0.1:80', 'ok');
    await h.advance(1000);
    assert.equal(h.facts.get(key)?.up, false, 'still down after rise-1 successes');
    await h.advance(1000);
    assert.equal(h.facts.get(key)?.up, true);
    // Recovery ramps over slowStart (10 s, 10 steps).
    assert.equal(h.facts.get(key)?.weight, 1);
    await h.advance(5000);
    assert.equal(h.facts.get(key)?.weight, 6);
    await h.advance(6000);
    assert.equal(h.facts.get(key)?.weight, undefined, 'configured weight once the ramp is over');

    const lines = h.logs.filter((l) => l.kind === 'check');
    assert.deepEqual(
      lines.map((l) => [l.id, l.from, l.to, l.reason]),
      [
        ['tcp 10.0.0.1:80', 'up', 'down', 'connect ECONNREFUSED'],
        ['tcp 10.0.0.1:80', 'down', 'up', 'connected'],
      ],
    );
    const st = h.health.status();
    const c = st.checks.find((x) => x.id === 'tcp 10.0.0.1:80')!;
    assert.equal(c.transitions, 2);
    assert.equal(c.state, 'up');
    assert.equal(c.lastResult?.reason, 'connected');
  });

  it('initial down: nothing is up until `rise` successes', async () => {
    const h = harness(WEB.replace('initial: up', 'initial: down'));
    current = h;
    await h.health.start(h.config);
    assert.equal(h.facts.get('backend:web/10.0.0.1:80')?.up, false);
    assert.equal(h.facts.get('service:web')?.up, false);
    await h.advance(1100); // 2 runs: t=0, t=1000
    assert.equal(h.facts.get('backend:web/10.0.0.1:80')?.up, true);
    assert.equal(
      h.facts.get('backend:web/10.0.0.1:80')?.weight,
      undefined,
      'no ramp out of the initial state',
    );
    assert.equal(h.facts.get('service:web')?.up, true);
  });

  it('service quorum: down below quorum, back at quorum (no hidden +1)', async () => {
    const h = harness(WEB);
    current = h;
    await h.health.start(h.config);
    h.behaviour.set('10.0.0.1:80', 'fail');
    h.behaviour.set('10.0.0.2:80', 'fail');
    await h.advance(3100);
    assert.equal(h.facts.get('service:web')?.up, false);
    assert.equal(h.facts.get('service:web')?.reason, '1/3 backends healthy (quorum 2)');
    h.behaviour.set('10.0.0.1:80', 'ok');
    await h.advance(2000);
    assert.equal(h.health.status().services[0].healthy, 2);
    assert.equal(h.facts.get('service:web')?.up, true, 'quorum reached again');
  });

  it('fresh start, 2 backends, quorum 1, one dead from the start: up on the first results (issue 15.2)', async () => {
    const h = harness(`
ipvs:
  services:
    - name: web
      vip: 192.0.2.1
      port: 80
      quorum: 1
      check: { type: tcp, interval: 1s, timeout: 500ms, rise: 2, fall: 3 }
      backends: [{ address: 10.0.0.1 }, { address: 10.0.0.2 }]
`);
    current = h;
    h.behaviour.set('10.0.0.2:80', 'fail');
    await h.health.start(h.config);
    assert.equal(h.facts.get('service:web')?.up, false, 'nothing checked yet');
    await h.advance(1100); // runs at t=0 and t=1000: rise 2 reached for 10.0.0.1
    assert.deepEqual(
      { up: h.facts.get('service:web')?.up, reason: h.facts.get('service:web')?.reason },
      { up: true, reason: '1/2 backends healthy (quorum 1)' },
    );
    // After a real outage it comes back at the same threshold.
    h.behaviour.set('10.0.0.1:80', 'fail');
    await h.advance(3000);
    assert.equal(h.facts.get('service:web')?.up, false);
    h.behaviour.set('10.0.0.1:80', 'ok');
    await h.advance(2000);
    assert.equal(h.facts.get('service:web')?.up, true, 'recovered with 1 of 2');
  });

  it('weight quorum: healthy weight below quorumWeight - hysteresis takes the service down', async () => {
    const h = harness(
      WEB.replace('quorum: 2', 'quorum: 1\n      quorumWeight: 25\n      quorumHysteresis: 5').replace(
        'slowStart: 10s',
        'slowStart: 0s',
      ),
    );
    current = h;
    await h.health.start(h.config);
    h.behaviour.set('10.0.0.1:80', 'fail');
    await h.advance(3100);
    assert.equal(h.facts.get('service:web')?.up, true, '20 >= 25 - 5');
    h.behaviour.set('10.0.0.2:80', 'fail');
    await h.advance(3100);
    assert.equal(h.facts.get('service:web')?.up, false, '10 < 20');
    assert.match(h.facts.get('service:web')?.reason ?? '', /healthy weight 10 \(quorumWeight 25±5\)/);
    h.behaviour.set('10.0.0.1:80', 'ok');
    await h.advance(2000);
    assert.equal(h.facts.get('service:web')?.up, false, '20 < 25 + 5: not back yet');
    h.behaviour.set('10.0.0.2:80', 'ok');
    await h.advance(2000);
    assert.equal(h.facts.get('service:web')?.up, true, '30 >= 30');
    assert.equal(h.health.status().services[0].healthyWeight, 30);
  });

  it('drain sits ahead of the check; undrain ramps over slowStart', async () => {
    const h = harness(WEB);
    current = h;
    await h.health.start(h.config);
    const key = 'backend:web/10.0.0.2:80';
    assert.deepEqual(h.health.drainBackend('web', '10.0.0.2', 80), {
      up: false,
      reason: 'drained',
      since: 0,
    });
    await h.advance(3000);
    assert.equal(h.facts.get(key)?.up, false, 'healthy check does not undo a drain');
    h.health.undrainBackend('web', '10.0.0.2');
    const weights: (number | undefined)[] = [h.facts.get(key)?.weight];
    for (let i = 0; i < 10; i++) {
      await h.advance(1000);
      weights.push(h.facts.get(key)?.weight);
    }
    assert.deepEqual(weights, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, undefined]);
    assert.throws(
      () => h.health.drainBackend('web', '10.0.0.9', 80),
      /service "web" has no backend 10.0.0.9 port 80/,
    );
    assert.throws(() => h.health.drainBackend('nope', '10.0.0.1', 80), /no ipvs service named "nope"/);
  });

  it('drain works for a backend without a check and only then gets a fact', async () => {
    const h = harness(`
ipvs:
  services:
    - name: dns
      vip: 192.0.2.53
      port: 53
      protocol: udp
      backends: [{ address: 10.0.0.1 }, { address: 10.0.0.2 }]
`);
    current = h;
    await h.health.start(h.config);
    assert.equal(h.facts.get('backend:dns/10.0.0.1:53'), undefined, 'unchecked: no fact (absent = up)');
    assert.equal(h.facts.get('service:dns')?.up, true);
    h.health.drainBackend('dns', '10.0.0.1', 53);
    assert.equal(h.facts.get('backend:dns/10.0.0.1:53')?.up, false);
    assert.equal(h.facts.get('service:dns')?.up, true, 'quorum 1 of 2 still met');
    h.health.undrainBackend('dns', '10.0.0.1', 53);
    assert.equal(h.facts.get('backend:dns/10.0.0.1:53')?.up, true);
  });

  it('a probe that hangs fails with a timeout at `timeout`, and the schedule goes on', async () => {
    const h = harness(WEB);
    current = h;
    h.behaviour.set('10.0.0.3:80', 'hang');
    await h.health.start(h.config);
    await h.advance(2900);
    const c = h.health.status().checks.find((x) => x.id === 'tcp 10.0.0.3:80')!;
    assert.equal(c.lastResult?.reason, 'timeout after 500ms');
    assert.equal(c.lastResult?.latencyMs, 500);
    assert.equal(c.runs, 3);
    assert.equal(h.facts.get('backend:web/10.0.0.3:80')?.reason, 'timeout after 500ms');
  });

  it('uses fastInterval while rising or falling', async () => {
    const h = harness(`
checks:
  slow: { type: tcp, address: 10.1.0.1, port: 22, interval: 10s, fastInterval: 1s, rise: 3, fall: 3, initial: up }
bgp:
  announcements: [{ prefix: 192.0.2.1/32, checks: [slow] }]
`);
    current = h;
    await h.health.start(h.config);
    await h.advance(100); // first run at t=0
    assert.equal(h.calls.get('10.1.0.1:22'), 1);
    h.behaviour.set('10.1.0.1:22', 'fail');
    await h.advance(10_000); // t=10000: first failure → falling
    assert.equal(h.calls.get('10.1.0.1:22'), 2);
    await h.advance(2000); // two more at 1 s spacing
    assert.equal(h.calls.get('10.1.0.1:22'), 4);
    assert.equal(h.facts.get('check:slow')?.up, false);
    await h.advance(5000); // down and steady: back to 10 s
    assert.equal(h.calls.get('10.1.0.1:22'), 4);
  });

  it('reload keeps the state of unchanged checks and drops facts of removed objects', async () => {
    const h = harness(WEB);
    current = h;
    await h.health.start(h.config);
    h.behaviour.set('10.0.0.3:80', 'fail');
    await h.advance(3100);
    h.health.drainBackend('web', '10.0.0.2', 80);
    assert.equal(h.facts.get('backend:web/10.0.0.3:80')?.up, false);
    const n = h.changes.length;
    // Same probes, new timing; backend .1 removed.
    const next = WEB.replace('interval: 1s', 'interval: 2s')
      .replace('rise: 2', 'rise: 4')
      .replace('        - { address: 10.0.0.1, weight: 10 }\n', '')
      .replace('quorum: 2', 'quorum: 1');
    await h.health.reload(h.cfg(next));
    assert.equal(h.facts.get('backend:web/10.0.0.3:80')?.up, false, 'kept down');
    assert.equal(h.facts.get('backend:web/10.0.0.2:80')?.reason, 'drained', 'drain survives reload');
    assert.equal(h.facts.get('backend:web/10.0.0.1:80'), undefined, 'removed backend has no fact');
    assert.deepEqual(
      h.changes
        .slice(n)
        .map((c) => c.key)
        .sort(),
      ['backend:web/10.0.0.1:80', 'service:web'],
      'only the removal and the service count changed',
    );
    const c = h.health.status().checks.find((x) => x.id === 'tcp 10.0.0.3:80')!;
    assert.equal(c.intervalMs, 2000);
    assert.equal(c.rise, 4);
  });

  it('publishes nexthop, named-check and host facts; dynamic weight from exec', async () => {
    const h = harness(`
checks:
  api: { type: http, address: 10.2.0.1, port: 8080, path: /health, rise: 1, fall: 1, interval: 1s }
host:
  checks:
    - { type: file, path: /run/lb/ok, rise: 1, fall: 1, interval: 1s }
    - { type: check, name: api }
routes:
  - prefix: 198.51.100.0/24
    nexthops:
      - { via: 10.3.0.1, check: { type: tcp, port: 179, rise: 1, fall: 1, interval: 1s } }
      - { via: 10.3.0.2 }
ipvs:
  services:
    - name: app
      vip: 192.0.2.2
      port: 443
      check: { type: exec, command: [/usr/local/bin/weight], dynamicWeight: exit-code, rise: 1, fall: 1, interval: 1s }
      backends: [{ address: 10.0.0.1 }]
`);
    current = h;
    h.behaviour.set('/usr/local/bin/weight', { ok: true, weight: 5 });
    h.behaviour.set('/run/lb/ok', 'fail');
    await h.health.start(h.config);
    await h.advance(100);
    assert.equal(h.facts.get('nexthop:198.51.100.0/24@254/10.3.0.1')?.up, true);
    assert.equal(
      h.facts.get('nexthop:198.51.100.0/24@254/10.3.0.2'),
      undefined,
      'unchecked nexthop: no fact',
    );
    assert.equal(h.facts.get('check:api')?.up, true);
    assert.equal(h.facts.get('host')?.up, false);
    assert.match(h.facts.get('host')!.reason!, /file \/run\/lb\/ok: connect ECONNREFUSED/);
    const { since: _since, ...app } = h.facts.get('backend:app/10.0.0.1:443')!;
    assert.deepEqual(app, { up: true, weight: 5, reason: 'healthy' });
    h.behaviour.set('/usr/local/bin/weight', { ok: true, weight: 9 });
    await h.advance(1000);
    assert.equal(h.facts.get('backend:app/10.0.0.1:443')?.weight, 9);
    h.behaviour.set('/run/lb/ok', 'ok');
    h.behaviour.set('10.3.0.1:179', 'fail');
    await h.advance(1000);
    assert.equal(h.facts.get('host')?.up, true);
    assert.equal(h.facts.get('nexthop:198.51.100.0/24@254/10.3.0.1')?.up, false);
    const hostLine = h.logs.find((l) => l.kind === 'host');
    assert.deepEqual(hostLine && [hostLine.id, hostLine.from, hostLine.to], ['host', 'down', 'up']);
  });
});
