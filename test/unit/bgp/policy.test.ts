import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseExabgpLine, renderCommand, renderWithdraw } from '../../../agent/bgp/commands.js';
import { announcementState, nextLoadLevel, routeIntent } from '../../../agent/bgp/policy.js';
import { announcement } from '../../../agent/config/schema.js';
import { Facts } from '../../../agent/daemon/facts.js';

const ann = (o: Record<string, unknown>) => announcement.parse({ prefix: '192.0.2.10/32', ...o });
const env = { readyRequired: false, readySeen: false };

describe('announcement state', () => {
  it('is up when every service and check is up', () => {
    const f = new Facts();
    f.set('service:web', { up: true });
    f.set('check:ping', { up: true });
    assert.deepEqual(announcementState(ann({ services: ['web'], checks: ['ping'] }), f, env), {
      state: 'up',
      reasons: [],
    });
  });
  it('is down when a service is down or has no verdict yet', () => {
    const f = new Facts();
    f.set('service:web', { up: false });
    const d = announcementState(ann({ services: ['web', 'api'] }), f, env);
    assert.equal(d.state, 'down');
    assert.deepEqual(d.reasons, ['service web down', 'service api: no state yet']);
  });
  it('is down when host checks are down; absent host/drain facts mean up', () => {
    const f = new Facts();
    assert.equal(announcementState(ann({}), f, env).state, 'up');
    f.set('host', { up: false });
    assert.equal(announcementState(ann({}), f, env).state, 'down');
  });
  it('drain beats down, not-ready beats drain', () => {
    const f = new Facts();
    f.set('host', { up: false });
    f.set('drain', { up: false, reason: 'kernel upgrade' });
    assert.deepEqual(announcementState(ann({}), f, env), {
      state: 'disabled',
      reasons: ['drained: kernel upgrade'],
    });
    assert.equal(announcementState(ann({}), f, { readyRequired: true, readySeen: false }).state, 'not-ready');
    assert.equal(announcementState(ann({}), f, { readyRequired: true, readySeen: true }).state, 'disabled');
    f.set('ready', { up: true });
    assert.equal(announcementState(ann({}), f, { readyRequired: true, readySeen: false }).state, 'disabled');
  });
});

describe('route intent and ExaBGP commands', () => {
  it('uses healthcheck-compatible MEDs 100/1000/500 by default', () => {
    const a = ann({});
    assert.equal(renderCommand(routeIntent(a, 'up')), 'announce route 192.0.2.10/32 next-hop self med 100');
    assert.equal(
      renderCommand(routeIntent(a, 'down')),
      'announce route 192.0.2.10/32 next-hop self med 1000',
    );
    assert.equal(
      renderCommand(routeIntent(a, 'disabled')),
      'announce route 192.0.2.10/32 next-hop self med 500',
    );
    assert.equal(renderCommand(routeIntent(a, 'not-ready')), 'withdraw route 192.0.2.10/32 next-hop self');
  });
  it('withdraws on down / disabled when asked', () => {
    const a = ann({ withdrawOnDown: true, withdrawOnDisabled: true, nextHop: '10.0.1.2', pathId: 7 });
    assert.equal(
      renderCommand(routeIntent(a, 'down')),
      'withdraw route 192.0.2.10/32 next-hop 10.0.1.2 path-information 7',
    );
    assert.equal(routeIntent(a, 'disabled').withdraw, true);
    assert.equal(routeIntent(a, 'up').withdraw, false);
  });
  it('renders every attribute in the order ExaBGP healthcheck does, with neighbor selection', () => {
    const a = ann({
      prefix: '2001:db8::10',
      neighbors: ['10.0.0.2', '10.0.0.1'],
      pathId: 3,
      attributes: { communities: ['65000:1'], localPreference: 200, asPath: [65001, 65001] },
      down: {
        communities: ['65000:666'],
        largeCommunities: ['65000:1:2'],
        extendedCommunities: ['target:65000:1'],
      },
    });
    assert.equal(
      renderCommand(routeIntent(a, 'up')),
      'neighbor 10.0.0.1, neighbor 10.0.0.2 announce route 2001:db8::10/128 next-hop self med 100 local-preference 200 community [ 65000:1 ] as-path [ 65001 65001 ] path-information 3',
    );
    assert.equal(
      renderCommand(routeIntent(a, 'down')),
      'neighbor 10.0.0.1, neighbor 10.0.0.2 announce route 2001:db8::10/128 next-hop self med 1000 local-preference 200 community [ 65000:666 ] extended-community [ target:65000:1 ] large-community [ 65000:1:2 ] as-path [ 65001 65001 ] path-information 3',
    );
    assert.equal(routeIntent(a, 'up').key, '10.0.0.1,10.0.0.2|2001:db8::10/128|3');
    assert.equal(
      renderWithdraw(routeIntent(a, 'up')),
      'neighbor 10.0.0.1, neighbor 10.0.0.2 withdraw route 2001:db8::10/128 next-hop self path-information 3',
    );
  });
  it('multi-service MED: primary for one VIP, backup for another', () => {
    const primary = ann({ prefix: '192.0.2.1/32', med: { up: 100 } });
    const backup = ann({ prefix: '192.0.2.2/32', med: { up: 200, down: 1200 } });
    assert.equal(routeIntent(primary, 'up').med, 100);
    assert.equal(routeIntent(backup, 'up').med, 200);
    assert.equal(routeIntent(backup, 'down').med, 1200);
  });
  it('per-state med overrides, dynamic MED adds while up, overload withdraws', () => {
    const a = ann({ up: { med: 50 } });
    assert.equal(routeIntent(a, 'up').med, 50);
    const b = ann({});
    assert.equal(routeIntent(b, 'up', { medDelta: 30, overloaded: false }).med, 130);
    assert.equal(routeIntent(b, 'up', { medDelta: 30, overloaded: true }).withdraw, true);
  });
  it('classifies what ExaBGP writes to the process', () => {
    assert.deepEqual(parseExabgpLine('done'), { kind: 'ack', ok: true });
    assert.deepEqual(parseExabgpLine('error\n'), { kind: 'ack', ok: false });
    assert.deepEqual(parseExabgpLine('neighbor 10.0.1.1 up'), {
      kind: 'neighbor',
      neighbor: '10.0.1.1',
      event: 'up',
      detail: undefined,
    });
    assert.deepEqual(parseExabgpLine('neighbor 10.0.1.1 down - peer reset'), {
      kind: 'neighbor',
      neighbor: '10.0.1.1',
      event: 'down',
      detail: 'peer reset',
    });
    assert.deepEqual(parseExabgpLine('shutdown 12 1'), { kind: 'shutdown' });
  });
});

describe('dynamic MED load levels', () => {
  const cfg = { step: 10, hysteresis: 3, overload: 90 };
  it('moves up only past the boundary plus hysteresis', () => {
    let l = { level: 0, overloaded: false };
    l = nextLoadLevel(l, 11, cfg);
    assert.equal(l.level, 0);
    l = nextLoadLevel(l, 14, cfg);
    assert.equal(l.level, 1);
    l = nextLoadLevel(l, 57, cfg);
    assert.equal(l.level, 5);
  });
  it('moves down only below the boundary minus hysteresis', () => {
    let l = { level: 5, overloaded: false };
    l = nextLoadLevel(l, 48, cfg);
    assert.equal(l.level, 5);
    l = nextLoadLevel(l, 46, cfg);
    assert.equal(l.level, 4);
    l = nextLoadLevel(l, 0, cfg);
    assert.equal(l.level, 0);
  });
  it('overload with hysteresis', () => {
    let l = { level: 0, overloaded: false };
    l = nextLoadLevel(l, 90, cfg);
    assert.equal(l.overloaded, true);
    l = nextLoadLevel(l, 88, cfg);
    assert.equal(l.overloaded, true);
    l = nextLoadLevel(l, 86, cfg);
    assert.equal(l.overloaded, false);
  });
});
