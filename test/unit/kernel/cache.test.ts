// The observed-state cache: a dump resets it, acked ops and watch events update it, and the plan
// made from it equals the plan made from the kernel state it follows.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ObservedCache } from '../../../agent/kernel/cache.js';
import type { AddressMsg, RouteMsg } from '../../../agent/kernel/codec.js';
import { planKernel } from '../../../agent/kernel/plan.js';
import type { DesiredKernelState, ObservedKernel } from '../../../agent/kernel/types.js';

const links = [
  { index: 1, name: 'lo', up: true },
  { index: 2, name: 'eth0', up: true },
];
const addr = (address: string, proto?: number): AddressMsg => ({
  family: 4,
  address,
  prefixLen: 32,
  ifindex: 1,
  flags: 0,
  proto,
  scope: 0,
});
const route = (dst: string, protocol: number, via = '10.0.0.2'): RouteMsg => ({
  family: 4,
  dst,
  dstLen: 24,
  table: 254,
  protocol,
  type: 1,
  metric: 0,
  hops: [{ via, ifindex: 0, weight: 1 }],
});
const empty: ObservedKernel = { links, addresses: [], routes: [], nexthops: [] };
const desired: DesiredKernelState = {
  protocol: 199,
  addresses: [
    {
      key: 'lo|192.0.2.1/32',
      family: 4,
      address: '192.0.2.1',
      prefixLen: 32,
      interface: 'lo',
      source: 'vips[0]',
    },
  ],
  routes: [
    {
      key: '254|198.51.100.0/24|0',
      family: 4,
      dst: '198.51.100.0',
      dstLen: 24,
      table: 254,
      metric: 0,
      hops: [{ via: '10.0.0.2', weight: 1, source: 'routes[0].nexthops[0]' }],
      downHops: [],
      source: 'routes[0]',
    },
  ],
  arpTune: [],
  withdrawnRoutes: [],
};
const FULL = { addresses: true, routes: true };

describe('ObservedCache', () => {
  it('is invalid until a dump, then per part', () => {
    const c = new ObservedCache();
    assert.equal(c.valid(FULL), false);
    c.reset(empty, { addresses: true, routes: false });
    assert.equal(c.valid({ addresses: true, routes: false }), true);
    assert.equal(c.valid(FULL), false);
    c.reset(empty, FULL);
    assert.equal(c.valid(FULL), true);
    c.invalidate('routes');
    assert.equal(c.valid({ addresses: true, routes: false }), true);
    assert.equal(c.valid(FULL), false);
    c.invalidate();
    assert.equal(c.valid({ addresses: true, routes: false }), false);
  });

  it('follows acked ops: the next plan from the cache is empty', () => {
    const c = new ObservedCache();
    c.reset(empty, FULL);
    const first = planKernel(desired, c.view());
    assert.deepEqual(
      first.ops.map((o) => o.op),
      ['add-address', 'add-route'],
    );
    c.applied(first.ops, 199);
    assert.deepEqual(planKernel(desired, c.view()).ops, []);
    // Everything removed (want nothing): the deletions are followed too.
    const none = { ...desired, addresses: [], routes: [] };
    const del = planKernel(none, c.view());
    assert.equal(del.ops.length, 2);
    c.applied(del.ops, 199);
    assert.deepEqual(c.view().addresses, []);
    assert.deepEqual(c.view().routes, []);
  });

  it('follows foreign events: a replace takes the key, a foreign deletion clears the way', () => {
    const c = new ObservedCache();
    c.reset({ ...empty, routes: [route('198.51.100.0', 199)], addresses: [addr('192.0.2.1', 199)] }, FULL);
    assert.deepEqual(planKernel(desired, c.view()).ops, []);
    // `ip route replace … proto static`: NEWROUTE with NLM_F_REPLACE.
    c.routeAdded(route('198.51.100.0', 4, '10.0.0.9'), true);
    const p = planKernel(desired, c.view());
    assert.deepEqual(p.ops, [], 'never replaces a foreign route');
    assert.match(p.problems[0].message, /protocol 4/);
    c.routeDeleted(route('198.51.100.0', 4, '10.0.0.9'));
    assert.deepEqual(
      planKernel(desired, c.view()).ops.map((o) => o.op),
      ['add-route'],
    );
    // Non-unicast routes (local, broadcast) are never part of the model.
    c.routeAdded({ ...route('10.0.0.0', 2), type: 2 }, false);
    assert.equal(c.view().routes.length, 0);
    // A foreign address equal to a wanted VIP counts as present; its deletion makes it missing.
    c.addressDeleted(addr('192.0.2.1', 199));
    c.addressAdded(addr('192.0.2.1'));
    assert.equal(planKernel(desired, c.view()).objects.find((o) => o.kind === 'address')?.actual, 'foreign');
    c.addressDeleted(addr('192.0.2.1'));
    assert.equal(planKernel(desired, c.view()).objects.find((o) => o.kind === 'address')?.actual, 'missing');
  });

  it('keeps a foreign route that shares the key when ours is replaced', () => {
    const c = new ObservedCache();
    c.reset({ ...empty, routes: [route('198.51.100.0', 199), route('198.51.100.0', 3)] }, FULL);
    c.applied(
      [
        {
          op: 'replace-route',
          key: '254|198.51.100.0/24|0',
          phase: 2,
          msg: route('198.51.100.0', 199, '10.0.0.3'),
        },
      ],
      199,
    );
    const protos = c
      .view()
      .routes.map((r) => `${r.protocol} ${r.hops[0].via}`)
      .sort();
    assert.deepEqual(protos, ['199 10.0.0.3', '3 10.0.0.2']);
  });
});

describe('ObservedCache keys', () => {
  it('an op key is the key the kernel view gets (events find what acked ops put in)', () => {
    const c = new ObservedCache();
    c.reset(empty, FULL);
    const plan = planKernel(desired, c.view());
    c.applied(plan.ops, 199);
    // The echo of a deletion by someone else, decoded from the kernel: found by its own key.
    c.routeDeleted(route('198.51.100.0', 199));
    assert.deepEqual(c.view().routes, []);
  });
});
