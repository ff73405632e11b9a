// Real kernel: VIPs on lo in a namespace, restored by the watch, foreign addresses left alone,
// hitless restart (no delete event during restart), VRRP VIPs following the vrrp:<name> fact,
// followAnnouncement VIPs following the bgp:<prefix> fact,
// removeOnStop removing only what the agent owns.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createNetns, destroyNetns, isRoot, type Netns, uniq, veth, waitFor } from '../../lib/netns.js';
import { KernelAgent } from './driver.js';

interface IpAddr {
  ifname: string;
  addr_info: { local: string; prefixlen: number; protocol?: string | number; family: string }[];
}

function addresses(ns: Netns, ifname: string): string[] {
  const list = JSON.parse(ns.ip(`-j addr show dev ${ifname}`)) as IpAddr[];
  return list.flatMap((l) => l.addr_info.map((a) => `${a.local}/${a.prefixlen}`)).sort();
}

const config = {
  vips: [
    { address: '192.0.2.10', arpTune: ['eth0'] },
    { address: '192.0.2.11/32' },
    { address: '2001:db8::10' },
  ],
  vrrp: {
    instances: [{ name: 'VI_1', interface: 'eth0', vrid: 51, vips: ['10.1.0.100/24', '2001:db8:1::100/64'] }],
  },
  // Routes and a resilient group too, so the restart test covers every kind of object.
  routes: [
    { prefix: '198.51.100.0/24', nexthops: [{ via: '10.1.0.2' }, { via: '10.1.0.3' }] },
    {
      prefix: '203.0.113.0/24',
      nexthops: [{ via: '10.1.0.4' }, { via: '10.1.0.5' }],
      resilient: { buckets: 16 },
    },
    {
      prefix: '2001:db8:100::/64',
      nexthops: [{ via: '2001:db8:9::2' }, { via: '2001:db8:9::3', weight: 2 }],
    },
    {
      prefix: '2001:db8:200::/64',
      nexthops: [{ via: '2001:db8:9::4' }, { via: '2001:db8:9::5' }],
      resilient: {},
    },
  ],
};

function ownedKernelObjects(ns: Netns): string {
  return ns.ip('route show proto 199') + ns.ip('-6 route show proto 199') + ns.ip('nexthop show');
}

describe('kernel addresses (netns)', { skip: !isRoot() && 'needs root' }, () => {
  let ns: Netns;
  let peer: Netns;
  const agents: KernelAgent[] = [];

  before(() => {
    [ns, peer] = createNetns(`lbt-kaddr-${uniq()}`, `lbt-kaddrp-${uniq()}`);
    veth(ns, 'eth0', peer, 'eth0');
    ns.ip('addr add 10.1.0.1/24 dev eth0');
    ns.ip('addr add 2001:db8:9::1/64 dev eth0 nodad');
  });
  after(async () => {
    for (const a of agents) await a.close().catch(() => {});
    destroyNetns(ns, peer);
  });

  it('puts VIPs on lo, restores a removed one from the watch, leaves a foreign one alone', async () => {
    ns.ip('addr add 192.0.2.99/32 dev lo'); // foreign: not ours, never touched
    const agent = KernelAgent.spawn(ns);
    agents.push(agent);
    await agent.call({ cmd: 'start', config });
    assert.deepEqual(addresses(ns, 'lo'), [
      '127.0.0.1/8',
      '192.0.2.10/32',
      '192.0.2.11/32',
      '192.0.2.99/32',
      '2001:db8::10/128',
      '::1/128',
    ]);
    // DSR: ARP tuned on the client-facing interface, inside this namespace only.
    assert.equal(ns.exec(['sysctl', '-n', 'net.ipv4.conf.eth0.arp_ignore']).trim(), '1');
    assert.equal(ns.exec(['sysctl', '-n', 'net.ipv4.conf.eth0.arp_announce']).trim(), '2');
    // Marked as ours with IFA_PROTO 199 and read back from the kernel (iproute2 6.1 cannot show
    // it; the agent reports what its dump saw: a reconcile that re-dumps).
    await agent.call({ cmd: 'reconcile', dump: true });
    assert.equal((await agent.call({ cmd: 'status' })).addressProto, 'supported');

    ns.ip('addr del 192.0.2.11/32 dev lo');
    await waitFor(() => addresses(ns, 'lo').includes('192.0.2.11/32'), {
      timeoutMs: 5000,
      what: 'watch to restore 192.0.2.11',
    });
    const st = await agent.call({ cmd: 'status' });
    assert.ok(st.counters.restoredByWatch >= 1);

    // A reconcile and a reload with one VIP less: the foreign address stays, ours goes.
    await agent.call({
      cmd: 'reload',
      config: { ...config, vips: config.vips.slice(0, 1).concat(config.vips.slice(2)) },
    });
    assert.deepEqual(addresses(ns, 'lo'), [
      '127.0.0.1/8',
      '192.0.2.10/32',
      '192.0.2.99/32',
      '2001:db8::10/128',
      '::1/128',
    ]);
    await agent.call({ cmd: 'reload', config });

    // Plan without applying: what a config without the second VIP would do.
    const before = addresses(ns, 'lo');
    const planned = await agent.call({
      cmd: 'plan',
      config: { ...config, vips: [config.vips[0], config.vips[2]] },
    });
    assert.equal(planned.text, '- address 192.0.2.11/32 dev lo\n');
    assert.deepEqual(addresses(ns, 'lo'), before, 'plan applies nothing');
  });

  it('restarts without a flap: no delete event, zero writes on the second start', async () => {
    const before = ownedKernelObjects(ns);
    const st0 = await agents[agents.length - 1].call({ cmd: 'status' });
    assert.deepEqual([st0.errors, st0.problems], [[], []]);
    assert.match(before, /nhid/);
    assert.match(before, /2001:db8:100::\/64 metric 1024[\s\S]*nexthop via 2001:db8:9::3 dev eth0 weight 2/);
    const monitor = ns.spawn(['ip', 'monitor', 'address', 'route', 'nexthop']);
    let events = '';
    monitor.stdout?.on('data', (d) => {
      events += d;
    });
    await new Promise((r) => setTimeout(r, 200)); // let ip monitor subscribe
    await agents.pop()?.close(false);
    const agent = KernelAgent.spawn(ns);
    agents.push(agent);
    await agent.call({ cmd: 'start', config });
    const st = await agent.call({ cmd: 'status' });
    assert.equal(st.counters.writes, 0, 'adopting must not write');
    assert.equal(st.lastReconcile.planned, 0);
    await new Promise((r) => setTimeout(r, 200));
    monitor.kill('SIGTERM');
    assert.doesNotMatch(events, /Deleted/, `events during restart:\n${events}`);
    assert.equal(ownedKernelObjects(ns), before);
    assert.deepEqual(addresses(ns, 'lo'), [
      '127.0.0.1/8',
      '192.0.2.10/32',
      '192.0.2.11/32',
      '192.0.2.99/32',
      '2001:db8::10/128',
      '::1/128',
    ]);
  });

  it('adds VRRP VIPs while master and removes them when the fact goes down', async () => {
    const agent = agents[agents.length - 1];
    const before = await agent.call({ cmd: 'status' });
    const t = await agent.call({ cmd: 'fact', key: 'vrrp:VI_1', fact: { up: true } });
    assert.ok(addresses(ns, 'eth0').includes('10.1.0.100/24'));
    assert.ok(addresses(ns, 'eth0').includes('2001:db8:1::100/64'));
    const v6 = (JSON.parse(ns.ip('-j addr show dev eth0')) as IpAddr[])[0].addr_info.find(
      (a) => a.local === '2001:db8:1::100',
    ) as { nodad?: boolean } | undefined;
    assert.equal(v6?.nodad, true, 'IPv6 VRRP VIP without DAD');
    console.log(`# vrrp master → VIPs in place: ${t.ms.toFixed(1)} ms (fact to acked write, in the agent)`);
    const st = await agent.call({ cmd: 'status' });
    assert.equal(st.lastReconcile.scope, 'addresses');
    assert.equal(st.lastReconcile.planned, 2);
    // The takeover's adds went ahead of the plan (from the cache), and the plan did not repeat them.
    assert.equal(
      st.counters.takeoverFastAdds - before.counters.takeoverFastAdds,
      2,
      JSON.stringify(st.counters),
    );
    // ...through the synchronous writer (acked inside the fact listener, encoded ahead of time),
    // so the pipelined socket wrote nothing.
    assert.equal(st.counters.takeoverSyncAdds - before.counters.takeoverSyncAdds, 2);
    assert.equal(st.counters.writes - before.counters.writes, 0);
    assert.equal(st.counters.staleCacheReplans, before.counters.staleCacheReplans);
    // ...and it told the VRRP instance so, inside the fact publication (its GARP needs no probe).
    const acked = (await agent.call({ cmd: 'facts', key: 'vrrp-vips:' })) as Record<string, { up: boolean }>;
    assert.equal(acked['vrrp-vips:VI_1']?.up, true, JSON.stringify(acked));
    assert.equal(st.errors.length, 0, JSON.stringify(st.errors));
    await agent.call({ cmd: 'reconcile' });
    assert.equal((await agent.call({ cmd: 'status' })).counters.writes, st.counters.writes, 'then a no-op');
    await agent.call({ cmd: 'fact', key: 'vrrp:VI_1', fact: { up: false } });
    assert.ok(!addresses(ns, 'eth0').includes('10.1.0.100/24'));
    const gone = (await agent.call({ cmd: 'facts', key: 'vrrp-vips:' })) as Record<string, { up: boolean }>;
    assert.equal(gone['vrrp-vips:VI_1']?.up, false, JSON.stringify(gone));
    assert.ok(addresses(ns, 'eth0').includes('10.1.0.1/24'), 'the interface address is not ours and stays');
  });

  it('a followAnnouncement VIP leaves lo while its BGP announcement is withdrawn', async () => {
    const agent = agents[agents.length - 1];
    const follow = {
      ...config,
      vips: [...config.vips, { address: '192.0.2.12', followAnnouncement: true }],
      bgp: { announcements: [{ prefix: '192.0.2.0/24' }] },
    };
    await agent.call({ cmd: 'reload', config: follow });
    assert.ok(addresses(ns, 'lo').includes('192.0.2.12/32'), 'no bgp fact yet: the VIP is there');
    await agent.call({ cmd: 'fact', key: 'bgp:192.0.2.0/24', fact: { up: false } });
    assert.ok(!addresses(ns, 'lo').includes('192.0.2.12/32'), 'withdrawn: VIP removed');
    assert.ok(addresses(ns, 'lo').includes('192.0.2.10/32'), 'VIPs without followAnnouncement stay');
    await agent.call({ cmd: 'fact', key: 'bgp:192.0.2.0/24', fact: { up: true } });
    assert.ok(addresses(ns, 'lo').includes('192.0.2.12/32'), 'announced again: VIP back');
    await agent.call({ cmd: 'reload', config });
    assert.ok(!addresses(ns, 'lo').includes('192.0.2.12/32'), 'gone from the config: removed');
  });

  it('removeOnStop removes only what the agent owns', async () => {
    const agent = agents.pop()!;
    await agent.close(true);
    assert.deepEqual(addresses(ns, 'lo'), ['127.0.0.1/8', '192.0.2.99/32', '::1/128']);
    assert.equal(ownedKernelObjects(ns), '');
  });
});
