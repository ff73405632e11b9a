// Real kernel: the observed-state cache. After the start (a dump), a no-op reconcile and a reload
// with one change plan from the cache (no dump) and do exactly what a dump would have led to; the
// watch keeps the cache current with changes made by others, so a foreign route that replaced
// ours is never clobbered by a later reload, and a foreign route that leaves a wanted route's way
// lets ours in at once; a link change makes the next run dump; a re-dump finds nothing to do.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { createNetns, destroyNetns, isRoot, type Netns, uniq, waitFor } from '../../lib/netns.js';
import { KernelAgent } from './driver.js';

const A = '198.51.100.0/24';
const B = '203.0.113.0/24';

function config(weight = 1) {
  return {
    vips: [{ address: '192.0.2.1' }, { address: '192.0.2.2' }],
    routes: [
      {
        prefix: A,
        nexthops: [
          { via: '10.0.1.2', dev: 'x1', weight },
          { via: '10.0.2.2', dev: 'x2' },
        ],
      },
      { prefix: B, nexthops: [{ via: '10.0.1.2' }, { via: '10.0.2.2' }] },
    ],
  };
}

interface IpRoute {
  protocol?: string | number;
  gateway?: string;
  nexthops?: { gateway: string; weight?: number }[];
}

function route(ns: Netns, prefix: string): IpRoute | undefined {
  return (JSON.parse(ns.ip(`-j route show ${prefix}`)) as IpRoute[])[0];
}

const ours = (r?: IpRoute) => r?.protocol === 199 || r?.protocol === '199' || r?.protocol === 'lbagent';

describe('kernel observed-state cache (netns)', { skip: !isRoot() && 'needs root' }, () => {
  let ns: Netns;
  let agent: KernelAgent;

  before(() => {
    [ns] = createNetns(`lbt-kcache-${uniq()}`);
    ns.ip('link add x1 type veth peer name y1');
    ns.ip('link add x2 type veth peer name y2');
    for (const l of ['x1', 'y1', 'x2', 'y2']) ns.ip(`link set ${l} up`);
    ns.ip('addr add 10.0.1.1/24 dev x1');
    ns.ip('addr add 10.0.2.1/24 dev x2');
  });
  after(async () => {
    await agent?.close().catch(() => {});
    destroyNetns(ns);
  });

  it('plans no-op and one-change runs from the cache, and follows changes made by others', async () => {
    agent = KernelAgent.spawn(ns);
    await agent.call({ cmd: 'start', config: config() });
    let st = await agent.call({ cmd: 'status' });
    assert.equal(st.lastReconcile.observed, 'dump');
    assert.equal(st.lastReconcile.applied, 4);
    const dumps = st.counters.dumps;
    let writes = st.counters.writes;

    // No-op: from the cache, nothing written, nothing dumped.
    await agent.call({ cmd: 'reconcile' });
    st = await agent.call({ cmd: 'status' });
    assert.equal(st.lastReconcile.observed, 'cache');
    assert.equal(st.counters.writes, writes);
    assert.equal(st.counters.dumps, dumps);

    // One change: one write, from the cache.
    await agent.call({ cmd: 'reload', config: config(3) });
    st = await agent.call({ cmd: 'status' });
    assert.equal(st.lastReconcile.observed, 'cache');
    assert.equal(st.counters.writes - writes, 1);
    assert.equal(st.counters.dumps, dumps);
    assert.equal(route(ns, A)?.nexthops?.find((h) => h.gateway === '10.0.1.2')?.weight, 3);
    writes = st.counters.writes;

    // Someone replaces our route B with theirs: the watch tells the cache, the plan sees a
    // foreign route in the way, and a reload that changes B does not touch it.
    ns.ip(`route replace ${B} via 10.0.1.2 proto static`);
    await waitFor(
      async () => {
        await agent.call({ cmd: 'reconcile' });
        const s = await agent.call({ cmd: 'status' });
        return s.objects.some(
          (o: { key: string; actual: string }) => o.key === `254|203.0.113.0/24|0` && o.actual === 'foreign',
        );
      },
      { timeoutMs: 5000, what: 'the cache to see the foreign route at B' },
    );
    const reloadB = {
      ...config(3),
      routes: [config(3).routes[0], { prefix: B, nexthops: [{ via: '10.0.2.2' }] }],
    };
    await agent.call({ cmd: 'reload', config: reloadB });
    st = await agent.call({ cmd: 'status' });
    assert.equal(st.lastReconcile.observed, 'cache');
    assert.equal(st.counters.writes, writes, 'nothing written over the foreign route');
    assert.match(JSON.stringify(st.problems), /protocol 4 .*not replacing it/);
    assert.equal(route(ns, B)?.protocol, 'static');
    assert.equal(route(ns, B)?.gateway, '10.0.1.2');

    // They remove it: our route goes in at once (the watch), not at the next periodic resync.
    ns.ip(`route del ${B} proto static`);
    await waitFor(() => ours(route(ns, B)), {
      timeoutMs: 5000,
      what: 'our route at B after the foreign one left',
    });
    assert.equal(route(ns, B)?.gateway, '10.0.2.2');

    // A VIP removed by hand is restored; the cache is right again afterwards.
    ns.ip('addr del 192.0.2.2/32 dev lo');
    await waitFor(() => ns.ip('addr show dev lo').includes('192.0.2.2/32'), {
      timeoutMs: 5000,
      what: 'the VIP to be restored',
    });

    // A link change: the next run dumps (IPv4 flushes routes of a downed link without events).
    ns.ip('link set y2 down');
    ns.ip('link set y2 up');
    await waitFor(
      async () => (await agent.call({ cmd: 'status' })).lastReconcile.reason.includes('link change'),
      { timeoutMs: 5000, what: 'a reconcile after the link change' },
    );
    st = await agent.call({ cmd: 'status' });
    assert.equal(st.lastReconcile.observed, 'dump');

    // The cache agreed with the kernel all along: a re-dump finds nothing to do.
    writes = st.counters.writes;
    await agent.call({ cmd: 'reconcile', dump: true });
    st = await agent.call({ cmd: 'status' });
    assert.equal(st.lastReconcile.observed, 'dump');
    assert.equal(st.counters.writes, writes, JSON.stringify(st.lastReconcile));
    assert.equal(st.errors.length, 0, JSON.stringify(st.errors));
    assert.ok(st.counters.cachedReconciles >= 3);
  });

  it('a cache that fell behind (events not read yet) is replanned from a dump at once, not reported', async () => {
    // Freeze the netlink listener so that a foreign route's event cannot reach the cache.
    const pids = execFileSync('ip', ['netns', 'pids', ns.name], { encoding: 'utf8' })
      .split(/\s+/)
      .filter(Boolean);
    const watcher = pids.find((p) => readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('watch-child'));
    assert.ok(watcher, 'the netlink listener runs in the namespace');
    process.kill(Number(watcher), 'SIGSTOP');
    try {
      const C = '100.64.0.0/24';
      ns.ip(`route add ${C} via 10.0.1.2 proto static`);
      const before = await agent.call({ cmd: 'status' });
      const cfg = config(3);
      await agent.call({
        cmd: 'reload',
        config: { ...cfg, routes: [...cfg.routes, { prefix: C, nexthops: [{ via: '10.0.2.2' }] }] },
      });
      const st = await agent.call({ cmd: 'status' });
      assert.equal(st.counters.staleCacheReplans - before.counters.staleCacheReplans, 1);
      assert.equal(st.lastReconcile.observed, 'dump');
      assert.equal(st.errors.length, 0, JSON.stringify(st.errors));
      assert.match(JSON.stringify(st.problems), /100\.64\.0\.0\/24.*not replacing it/);
      assert.equal(route(ns, C)?.protocol, 'static', 'the foreign route is left alone');
      ns.ip(`route del ${C}`);
    } finally {
      process.kill(Number(watcher), 'SIGCONT');
    }
  });
});
