// Real kernel: the listener's socket filter (agent/kernel/watch-filter.ts) keeps the echo of the
// agent's own bulk apply out of the listener, while what others do still reaches it. Without the
// filter (LBAGENT_WATCH_FILTER=off) the same apply is read, event by event, by the listener.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createNetns, destroyNetns, isRoot, type Netns, uniq, waitFor } from '../../lib/netns.js';
import { KernelAgent } from './driver.js';

const N = 100;
const config = {
  vips: Array.from({ length: N }, (_, i) => ({ address: `10.200.0.${i + 1}` })),
  routes: Array.from({ length: N }, (_, i) => ({
    prefix: `172.16.${i}.0/24`,
    nexthops: [{ via: '10.0.1.2' }, { via: '10.0.1.3' }],
  })),
};

describe('kernel watch echo filter (netns)', { skip: !isRoot() && 'needs root' }, () => {
  const spaces: Netns[] = [];
  const agents: KernelAgent[] = [];

  function freshNs(): Netns {
    const [ns] = createNetns(`lbt-kwf-${uniq()}`);
    spaces.push(ns);
    ns.ip('link add x1 type veth peer name y1');
    ns.ip('link set x1 up');
    ns.ip('link set y1 up');
    ns.ip('addr add 10.0.1.1/24 dev x1');
    return ns;
  }

  after(async () => {
    for (const a of agents) await a.close().catch(() => {});
    for (const ns of spaces) destroyNetns(ns);
  });

  async function applyAndCount(env: NodeJS.ProcessEnv) {
    const ns = freshNs();
    const agent = KernelAgent.spawn(ns, env);
    agents.push(agent);
    await agent.call({ cmd: 'start', config }, 60_000);
    const st = await agent.call({ cmd: 'status' });
    assert.equal(st.lastReconcile.applied, 2 * N);
    // The listener reads its socket on its own event loop: give it time to drain what it got.
    let stats = await agent.call({ cmd: 'watchStats' });
    await waitFor(
      async () => {
        const again = await agent.call({ cmd: 'watchStats' });
        const settled = again.received === stats.received;
        stats = again;
        return settled;
      },
      { timeoutMs: 10_000, intervalMs: 300, what: 'the listener to settle' },
    );
    return { ns, agent, stats };
  }

  it('the kernel drops the echo of a bulk apply; a foreign change still reaches the agent', async () => {
    const { ns, agent, stats } = await applyAndCount({});
    assert.equal(stats.echoDrop, 'kernel');
    // 100 NEWADDR + 100 local routes + 100 NEWROUTE of ours: none may reach the listener.
    assert.equal(stats.received, 0, `listener read ${stats.received} notifications of our own apply`);
    ns.ip('addr add 10.99.0.1/32 dev lo');
    ns.ip('addr del 10.200.0.1/32 dev lo');
    await waitFor(() => ns.ip('addr show dev lo').includes('10.200.0.1/32'), {
      timeoutMs: 5000,
      what: 'the removed VIP to be restored by the watch',
    });
    const after = await agent.call({ cmd: 'watchStats' });
    assert.ok(after.forwarded >= 2, `foreign add and our VIP's removal forwarded (${after.forwarded})`);
    assert.ok(ns.ip('addr show dev lo').includes('10.99.0.1/32'), 'the foreign address is left alone');
    console.log(`# with the filter: ${stats.received} of ${3 * N} echo notifications read`);
  });

  it('a new kernel.routeProtocol gets a new program: its echo is dropped, the old one is foreign', async () => {
    const ns = freshNs();
    const agent = KernelAgent.spawn(ns);
    agents.push(agent);
    await agent.call({ cmd: 'start', config: { vips: [] } });
    await agent.call({ cmd: 'reload', config: { ...config, kernel: { routeProtocol: 42 } } }, 60_000);
    assert.equal((await agent.call({ cmd: 'status' })).lastReconcile.applied, 2 * N);
    assert.ok(ns.ip('route show proto 42').includes('172.16.0.0/24'));
    // The reload waited for the child's new program before writing; give the child time to
    // read anything the kernel queued for it anyway.
    await new Promise((r) => setTimeout(r, 300));
    const stats = await agent.call({ cmd: 'watchStats' });
    assert.equal(stats.echoDrop, 'kernel');
    assert.equal(stats.received, 0, `listener read ${stats.received} notifications of the protocol-42 apply`);
    ns.ip('route add 198.51.100.0/24 via 10.0.1.2 proto 199');
    await waitFor(async () => (await agent.call({ cmd: 'watchStats' })).forwarded >= 1, {
      timeoutMs: 5000,
      what: 'a protocol-199 route (foreign now) to reach the agent',
    });
  });

  it('without the filter the listener reads every echo itself', async () => {
    const { stats } = await applyAndCount({ LBAGENT_WATCH_FILTER: 'off' });
    assert.match(stats.echoDrop, /^child: /);
    assert.ok(stats.received >= 3 * N, `read ${stats.received}`);
    assert.equal(stats.forwarded, 0);
    console.log(
      `# without the filter: ${stats.received} echo notifications read, ${stats.forwarded} forwarded`,
    );
  });
});
