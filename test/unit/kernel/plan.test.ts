// Desired state from config + facts, the plan diff, and golden plan text for a few configs.
import assert from 'node:assert/strict';
import { describe, it, test } from 'node:test';
import { type ConfigInput, configSchema } from '../../../agent/config/schema.js';
import { Facts, factKey } from '../../../agent/daemon/facts.js';
import type { AddressMsg, RouteMsg } from '../../../agent/kernel/codec.js';
import { desiredKernelState } from '../../../agent/kernel/desired.js';
import { formatPlan } from '../../../agent/kernel/format.js';
import { groupKey, memberKey, nexthopId, planAddressAdds, planKernel } from '../../../agent/kernel/plan.js';
import type { ObservedKernel } from '../../../agent/kernel/types.js';

const cfgOf = (input: ConfigInput) => configSchema.parse(input);

function baseObserved(): ObservedKernel {
  const addr = (address: string, prefixLen: number, ifindex: number, proto?: number): AddressMsg => ({
    family: address.includes(':') ? 6 : 4,
    address,
    prefixLen,
    ifindex,
    flags: 0x80,
    scope: 0,
    proto,
  });
  return {
    links: [
      { index: 1, name: 'lo', up: true },
      { index: 2, name: 'eth0', up: true },
      { index: 3, name: 'eth1', up: true },
      { index: 4, name: 'eth2', up: true },
    ],
    addresses: [
      addr('127.0.0.1', 8, 1),
      addr('10.0.1.1', 24, 2),
      addr('10.0.2.1', 24, 3),
      addr('10.0.3.1', 24, 4),
    ],
    routes: [],
    nexthops: [],
  };
}

const routeCfg: ConfigInput = {
  routes: [
    {
      prefix: '198.51.100.0/24',
      nexthops: [{ via: '10.0.1.2' }, { via: '10.0.2.2', weight: 2 }, { via: '10.0.3.2', dev: 'eth2' }],
    },
  ],
};

describe('desiredKernelState', () => {
  it('wants config VIPs always and VRRP VIPs only while the vrrp fact is up', () => {
    const cfg = cfgOf({
      vips: [{ address: '192.0.2.1' }, { address: '2001:db8::1', interface: 'eth0', arpTune: ['eth0'] }],
      vrrp: {
        instances: [
          { name: 'VI_1', interface: 'eth0', vipInterface: 'eth1', vrid: 1, vips: ['10.0.2.100/24'] },
        ],
      },
    });
    const facts = new Facts();
    let d = desiredKernelState(cfg, facts);
    assert.deepEqual(
      d.addresses.map((a) => a.key),
      ['lo|192.0.2.1/32', 'eth0|2001:db8::1/128'],
    );
    assert.deepEqual(d.arpTune, ['eth0']);
    facts.set(factKey.vrrp('VI_1'), { up: true });
    d = desiredKernelState(cfg, facts);
    assert.deepEqual(
      d.addresses.map((a) => a.key),
      ['lo|192.0.2.1/32', 'eth0|2001:db8::1/128', 'eth1|10.0.2.100/24'],
    );
    assert.equal(d.addresses[2].source, 'vrrp:VI_1');
  });

  it('a followAnnouncement VIP follows the most specific covering announcement (absent fact keeps it)', () => {
    const cfg = cfgOf({
      vips: [{ address: '192.0.2.1', followAnnouncement: true }, { address: '192.0.2.2' }],
      bgp: { announcements: [{ prefix: '192.0.2.0/24' }, { prefix: '192.0.2.0/30' }] },
    });
    const facts = new Facts();
    const keys = () => desiredKernelState(cfg, facts).addresses.map((a) => a.key);
    assert.deepEqual(keys(), ['lo|192.0.2.1/32', 'lo|192.0.2.2/32'], 'no fact yet: kept');
    facts.set('bgp:192.0.2.0/24', { up: false });
    assert.deepEqual(keys(), ['lo|192.0.2.1/32', 'lo|192.0.2.2/32'], 'the /30 is the one it follows');
    facts.set('bgp:192.0.2.0/30', { up: false });
    assert.deepEqual(keys(), ['lo|192.0.2.2/32'], 'withdrawn: the VIP goes, the other stays');
    facts.set('bgp:192.0.2.0/30', { up: true });
    assert.deepEqual(keys(), ['lo|192.0.2.1/32', 'lo|192.0.2.2/32']);
  });

  it('leaves out nexthops whose fact is down; no nexthop up = no route', () => {
    const cfg = cfgOf(routeCfg);
    const facts = new Facts();
    facts.set(factKey.nexthop('198.51.100.0/24', 254, '10.0.2.2'), { up: false });
    facts.set(factKey.nexthop('198.51.100.0/24', 254, '10.0.3.2'), { up: true });
    let d = desiredKernelState(cfg, facts);
    assert.deepEqual(
      d.routes[0].hops.map((h) => h.via),
      ['10.0.1.2', '10.0.3.2'],
    );
    assert.deepEqual(d.routes[0].downHops, ['10.0.2.2']);
    facts.set(factKey.nexthop('198.51.100.0/24', 254, '10.0.1.2'), { up: false });
    facts.set(factKey.nexthop('198.51.100.0/24', 254, '10.0.3.2'), { up: false });
    d = desiredKernelState(cfg, facts);
    assert.equal(d.routes.length, 0);
    assert.deepEqual(d.withdrawnRoutes, [{ key: '254|198.51.100.0/24|0', source: 'routes[0]' }]);
  });

  it('uses the kernel default metric per family (IPv6 1024)', () => {
    const d = desiredKernelState(
      cfgOf({ routes: [{ prefix: '2001:db8:5::/48', nexthops: [{ via: '2001:db8::2' }] }] }),
      new Facts(),
    );
    assert.equal(d.routes[0].key, '254|2001:db8:5::/48|1024');
  });
});

describe('planKernel', () => {
  it('golden: cold apply of VIPs and a multipath route', () => {
    const cfg = cfgOf({ vips: [{ address: '192.0.2.1' }, { address: '2001:db8::1' }], ...routeCfg });
    const obs = baseObserved();
    const plan = planKernel(desiredKernelState(cfg, new Facts()), obs);
    assert.equal(
      formatPlan(plan, obs.links),
      [
        '+ address 192.0.2.1/32 dev lo  (vips[0])',
        '+ address 2001:db8::1/128 dev lo  (vips[1])',
        '+ route 198.51.100.0/24 table 254 nexthop via 10.0.1.2 weight 1 nexthop via 10.0.2.2 weight 2 nexthop via 10.0.3.2 dev eth2 weight 1  (routes[0])',
        '',
      ].join('\n'),
    );
    assert.equal(plan.ops[2].op, 'add-route');
  });

  it('golden: adopts what matches (no ops), deletes only owned stale objects, leaves foreign ones', () => {
    const cfg = cfgOf({ vips: [{ address: '192.0.2.1' }], ...routeCfg });
    const obs = baseObserved();
    obs.addresses.push(
      { family: 4, address: '192.0.2.1', prefixLen: 32, ifindex: 1, flags: 0x80, scope: 0, proto: 199 },
      { family: 4, address: '192.0.2.2', prefixLen: 32, ifindex: 1, flags: 0x80, scope: 0, proto: 199 }, // ours, stale
      { family: 4, address: '192.0.2.3', prefixLen: 32, ifindex: 1, flags: 0x80, scope: 0 }, // foreign
    );
    const route = (dst: string, protocol: number, hops: RouteMsg['hops']): RouteMsg => ({
      family: 4,
      dst,
      dstLen: 24,
      table: 254,
      protocol,
      type: 1,
      hops,
    });
    obs.routes.push(
      route('198.51.100.0', 199, [
        { via: '10.0.3.2', ifindex: 4, weight: 1 },
        { via: '10.0.1.2', ifindex: 2, weight: 1 },
        { via: '10.0.2.2', ifindex: 3, weight: 2 },
      ]),
      route('203.0.113.0', 199, [{ via: '10.0.1.9', ifindex: 2, weight: 1 }]), // ours, stale
      route('192.0.2.0', 3, [{ via: '10.0.1.7', ifindex: 2, weight: 1 }]), // foreign (boot)
    );
    const plan = planKernel(desiredKernelState(cfg, new Facts()), obs);
    assert.equal(
      formatPlan(plan, obs.links),
      ['- address 192.0.2.2/32 dev lo', '- route 203.0.113.0/24 table 254', ''].join('\n'),
    );
    assert.deepEqual(
      plan.objects.filter((o) => o.desired).map((o) => [o.key, o.actual]),
      [
        ['lo|192.0.2.1/32', 'ok'],
        ['254|198.51.100.0/24|0', 'ok'],
      ],
    );
  });

  it('golden: a changed weight is one atomic replace; a foreign route in the way is a problem, not an op', () => {
    const cfg = cfgOf({
      routes: [
        { prefix: '198.51.100.0/24', nexthops: [{ via: '10.0.1.2', weight: 5 }, { via: '10.0.2.2' }] },
        { prefix: '192.0.2.0/24', nexthops: [{ via: '10.0.1.2' }] },
      ],
    });
    const obs = baseObserved();
    obs.routes.push(
      {
        family: 4,
        dst: '198.51.100.0',
        dstLen: 24,
        table: 254,
        protocol: 199,
        type: 1,
        hops: [
          { via: '10.0.1.2', ifindex: 2, weight: 1 },
          { via: '10.0.2.2', ifindex: 3, weight: 1 },
        ],
      },
      {
        family: 4,
        dst: '192.0.2.0',
        dstLen: 24,
        table: 254,
        protocol: 4,
        type: 1,
        hops: [{ via: '10.0.1.7', ifindex: 2, weight: 1 }],
      },
    );
    const plan = planKernel(desiredKernelState(cfg, new Facts()), obs);
    assert.equal(
      formatPlan(plan, obs.links),
      [
        '~ route 198.51.100.0/24 table 254 nexthop via 10.0.1.2 weight 5 nexthop via 10.0.2.2 weight 1  (routes[0])',
        "! route 192.0.2.0/24 table 254 metric 0 (routes[1]): the kernel has a route with protocol 4 (not lbagent's 199) at this prefix and metric; not replacing it",
        '',
      ].join('\n'),
    );
  });

  it('golden: resilient group: members, group, route in order; a member going down replaces the group then deletes the member', () => {
    const cfg = cfgOf({
      routes: [{ ...(routeCfg.routes as object[])[0], resilient: { buckets: 64 } }] as ConfigInput['routes'],
    });
    const obs = baseObserved();
    const d0 = desiredKernelState(cfg, new Facts());
    const ids = d0.routes[0].hops.map((h) => nexthopId(memberKey(d0.routes[0], h.via)));
    const gid = nexthopId(groupKey(d0.routes[0]));
    const cold = planKernel(d0, obs);
    assert.deepEqual(
      cold.ops.map((o) => o.op),
      ['add-nexthop', 'add-nexthop', 'add-nexthop', 'add-nexthop', 'add-route'],
    );
    assert.equal(
      formatPlan(cold, obs.links).split('\n')[3],
      `+ nexthop id ${gid} group ${ids[0]}/${ids[1]},2/${ids[2]} type resilient buckets 64 idle_timer 120 unbalanced_timer 0  (routes[0])`,
    );
    // Pretend it was applied, then take 10.0.3.2 out.
    obs.nexthops = cold.ops.flatMap((o) => (o.op === 'add-nexthop' ? [o.msg] : []));
    obs.routes = cold.ops.flatMap((o) => (o.op === 'add-route' ? [o.msg] : []));
    assert.equal(planKernel(d0, obs).ops.length, 0, 'applied state plans nothing');
    const facts = new Facts();
    facts.set(factKey.nexthop('198.51.100.0/24', 254, '10.0.3.2'), { up: false });
    const down = planKernel(desiredKernelState(cfg, facts), obs);
    assert.equal(
      formatPlan(down, obs.links),
      [
        `~ nexthop id ${gid} group ${ids[0]}/${ids[1]},2 type resilient buckets 64 idle_timer 120 unbalanced_timer 0  (routes[0])`,
        `- nexthop id ${ids[2]}`,
        '',
      ].join('\n'),
    );
  });

  it('reports a missing interface and a nexthop that cannot be resolved to a device', () => {
    const cfg = cfgOf({
      vips: [{ address: '192.0.2.1', interface: 'eth9' }],
      routes: [{ prefix: '198.51.100.0/24', nexthops: [{ via: '172.16.0.1' }], resilient: {} }],
    });
    const plan = planKernel(desiredKernelState(cfg, new Facts()), baseObserved());
    assert.equal(plan.ops.length, 0);
    assert.deepEqual(
      plan.problems.map((p) => `${p.object}: ${p.message}`),
      [
        'address 192.0.2.1/32 (vips[0]): interface "eth9" does not exist',
        'route 198.51.100.0/24 table 254 (routes[0].nexthops[0]): no interface has a connected prefix containing 172.16.0.1; set dev (resilient groups need a device)',
      ],
    );
  });

  it('address ownership without IFA_PROTO comes from the record of addresses this process created', () => {
    const obs = baseObserved();
    obs.addresses.push({ family: 4, address: '192.0.2.9', prefixLen: 32, ifindex: 1, flags: 0x80, scope: 0 });
    const d = desiredKernelState(cfgOf({}), new Facts());
    assert.equal(planKernel(d, obs).ops.length, 0);
    assert.equal(
      planKernel(d, obs, { ownedAddressKeys: new Set(['lo|192.0.2.9/32']) }).ops[0].op,
      'del-address',
    );
  });

  it('addressesOnly plans no route or nexthop work', () => {
    const cfg = cfgOf({ vips: [{ address: '192.0.2.1' }], ...routeCfg });
    const plan = planKernel(desiredKernelState(cfg, new Facts()), baseObserved(), { addressesOnly: true });
    assert.deepEqual(
      plan.ops.map((o) => o.op),
      ['add-address'],
    );
  });

  it('nexthop ids are stable and in the agent range', () => {
    const id = nexthopId('grp|254|198.51.100.0/24|128');
    assert.equal(id, nexthopId('grp|254|198.51.100.0/24|128'));
    assert.ok(id >= 0x10000000 && id < 0x80000000);
  });
});

test('planAddressAdds: only the missing ones, written as planKernel writes them; unknown interface skipped', () => {
  const wanted = [
    {
      key: 'eth0|10.1.0.100/24',
      family: 4 as const,
      address: '10.1.0.100',
      prefixLen: 24,
      interface: 'eth0',
      source: 'vrrp:VI_1',
    },
    {
      key: 'eth0|10.1.0.101/24',
      family: 4 as const,
      address: '10.1.0.101',
      prefixLen: 24,
      interface: 'eth0',
      source: 'vrrp:VI_1',
    },
    {
      key: 'eth0|2001:db8:1::100/64',
      family: 6 as const,
      address: '2001:db8:1::100',
      prefixLen: 64,
      interface: 'eth0',
      source: 'vrrp:VI_1',
    },
    {
      key: 'nope|10.9.0.1/32',
      family: 4 as const,
      address: '10.9.0.1',
      prefixLen: 32,
      interface: 'nope',
      source: 'vrrp:VI_2',
    },
  ];
  const ops = planAddressAdds(
    wanted,
    (n) => (n === 'eth0' ? 2 : undefined),
    (i, a, l) => i === 2 && a === '10.1.0.101' && l === 24,
    199,
  );
  assert.deepEqual(
    ops.map((o) => [o.op, o.key, o.op === 'add-address' ? o.msg : undefined]),
    [
      [
        'add-address',
        'eth0|10.1.0.100/24',
        { family: 4, address: '10.1.0.100', prefixLen: 24, ifindex: 2, flags: 0, proto: 199, scope: 0 },
      ],
      [
        'add-address',
        'eth0|2001:db8:1::100/64',
        { family: 6, address: '2001:db8:1::100', prefixLen: 64, ifindex: 2, flags: 2, proto: 199, scope: 0 },
      ],
    ],
  );
  // The same ops as the full plan for these addresses.
  const full = planKernel(
    { protocol: 199, addresses: wanted.slice(0, 1), routes: [], arpTune: [], withdrawnRoutes: [] },
    {
      links: [{ index: 2, name: 'eth0', up: true }],
      addresses: [],
      routes: [],
      nexthops: [],
    } satisfies ObservedKernel,
    { addressesOnly: true },
  );
  assert.deepEqual(full.ops, ops.slice(0, 1));
});
