// Real kernel: a router namespace R with three next hops H1..H3 on their own veth links and a
// client C. The agent runs in R. (1) A multipath route with three nexthops; one taken out by its
// health fact leaves two; a route deleted by hand is restored by the watch. (2) Flows: many UDP
// flows (distinct source ports, fib_multipath_hash_policy=1 inside R) go C → R → H1..H3; the
// receivers record which source ports they saw. Taking H3 out moves some flows between H1 and H2
// with a plain (hash-threshold) multipath route, and none with a resilient nexthop group.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { createNetns, destroyNetns, isRoot, type Netns, uniq, veth, waitFor } from '../../lib/netns.js';
import { KernelAgent } from './driver.js';

const PREFIX = '198.51.100.0/24';
const TARGET = '198.51.100.1';
const FLOWS = 600;
const FIRST_PORT = 20000;

const RECEIVER = `
const dgram = require('node:dgram');
const s = dgram.createSocket('udp4');
let ports = new Set();
s.on('message', (_m, r) => ports.add(r.port));
s.bind(9999, '${TARGET}', () => console.log('ready'));
require('node:readline').createInterface({ input: process.stdin }).on('line', (l) => {
  if (l === 'reset') { ports = new Set(); console.log('[]'); }
  else console.log(JSON.stringify([...ports]));
});`;

const SENDER = `
const dgram = require('node:dgram');
(async () => {
  for (let p = ${FIRST_PORT}; p < ${FIRST_PORT + FLOWS}; p++) {
    const s = dgram.createSocket('udp4');
    await new Promise((r) => s.bind(p, '10.9.0.2', r));
    await new Promise((r) => s.send('x', 9999, '${TARGET}', r));
    s.close();
  }
})();`;

class Receiver {
  private queue: ((line: string) => void)[] = [];
  private constructor(readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (l) => this.queue.shift()?.(l));
  }
  static async start(ns: Netns): Promise<Receiver> {
    const r = new Receiver(ns.spawn([process.execPath, '-e', RECEIVER]));
    await r.next(); // 'ready'
    return r;
  }
  private next(): Promise<string> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('receiver did not answer')), 5000);
      this.queue.push((l) => {
        clearTimeout(t);
        resolve(l);
      });
    });
  }
  async ports(): Promise<number[]> {
    const p = this.next();
    this.child.stdin!.write('dump\n');
    return JSON.parse(await p) as number[];
  }
  async reset(): Promise<void> {
    const p = this.next();
    this.child.stdin!.write('reset\n');
    await p;
  }
}

function routeHops(ns: Netns): string[] {
  const [r] = JSON.parse(ns.ip(`-j route show ${PREFIX}`)) as {
    gateway?: string;
    nexthops?: { gateway: string }[];
  }[];
  if (!r) return [];
  return (r.nexthops?.map((n) => n.gateway) ?? [r.gateway ?? '']).sort();
}

describe('kernel routes (netns)', { skip: !isRoot() && 'needs root' }, () => {
  const id = uniq();
  let c: Netns;
  let r: Netns;
  let hosts: Netns[];
  let agent: KernelAgent;
  let receivers: Receiver[];

  const routeConfig = (resilient: boolean) => ({
    routes: [
      {
        prefix: PREFIX,
        nexthops: [1, 2, 3].map((i) => ({ via: `10.0.${i}.2`, dev: `h${i}` })),
        ...(resilient ? { resilient: { buckets: 256, idleTimer: '300s' } } : {}),
      },
    ],
  });

  before(async () => {
    [c, r] = createNetns(`lbt-krt-c-${id}`, `lbt-krt-r-${id}`);
    hosts = createNetns(`lbt-krt-h1-${id}`, `lbt-krt-h2-${id}`, `lbt-krt-h3-${id}`);
    veth(c, 'eth0', r, 'c0');
    c.ip('addr add 10.9.0.2/24 dev eth0');
    c.ip('route add default via 10.9.0.1');
    r.ip('addr add 10.9.0.1/24 dev c0');
    for (const [k, h] of hosts.entries()) {
      const i = k + 1;
      veth(r, `h${i}`, h, 'eth0');
      r.ip(`addr add 10.0.${i}.1/24 dev h${i}`);
      h.ip(`addr add 10.0.${i}.2/24 dev eth0`);
      h.ip(`addr add ${TARGET}/32 dev lo`);
      h.ip(`route add default via 10.0.${i}.1`);
      // A permanent neighbor so no first packet waits on ARP.
      const [link] = JSON.parse(h.ip('-j link show eth0')) as { address: string }[];
      r.ip(`neigh replace 10.0.${i}.2 lladdr ${link.address} dev h${i} nud permanent`);
      h.exec(['sysctl', '-qw', 'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.eth0.rp_filter=0']);
    }
    // Sysctls only inside the test namespaces.
    r.exec([
      'sysctl',
      '-qw',
      'net.ipv4.ip_forward=1',
      'net.ipv4.fib_multipath_hash_policy=1',
      'net.ipv4.conf.all.rp_filter=0',
    ]);
    receivers = await Promise.all(hosts.map((h) => Receiver.start(h)));
    agent = KernelAgent.spawn(r);
  });

  after(async () => {
    await agent?.close().catch(() => {});
    destroyNetns(c, r, ...hosts);
  });

  it('multipath route with three nexthops; one taken out leaves two; a manual delete is restored', async () => {
    await agent.call({ cmd: 'start', config: routeConfig(false) });
    assert.deepEqual(routeHops(r), ['10.0.1.2', '10.0.2.2', '10.0.3.2']);
    const [rt] = JSON.parse(r.ip(`-j route show ${PREFIX}`)) as { protocol: string | number }[];
    assert.ok(
      rt.protocol === 199 || rt.protocol === '199' || rt.protocol === 'lbagent',
      `protocol ${rt.protocol}`,
    );

    await agent.call({ cmd: 'fact', key: `nexthop:${PREFIX}@254/10.0.3.2`, fact: { up: false } });
    assert.deepEqual(routeHops(r), ['10.0.1.2', '10.0.2.2']);
    await agent.call({ cmd: 'fact', key: `nexthop:${PREFIX}@254/10.0.3.2`, fact: { up: true } });
    assert.deepEqual(routeHops(r), ['10.0.1.2', '10.0.2.2', '10.0.3.2']);

    r.ip(`route del ${PREFIX}`);
    await waitFor(() => routeHops(r).length === 3, { timeoutMs: 5000, what: 'watch to restore the route' });
    const st = await agent.call({ cmd: 'status' });
    assert.ok(st.counters.restoredByWatch >= 1);
    const noop = await agent.call({ cmd: 'status' }).then(async (before) => {
      await agent.call({ cmd: 'reconcile' });
      return (await agent.call({ cmd: 'status' })).counters.writes - before.counters.writes;
    });
    assert.equal(noop, 0, 'a no-op reconcile sends zero writes');
  });

  it('partial failure is reported per object and retried; a foreign route in the way is left alone', async () => {
    r.ip('route add 192.0.2.0/24 via 10.0.1.2'); // proto boot: not ours
    const cfg = {
      routes: [
        ...routeConfig(false).routes,
        { prefix: '203.0.113.0/24', nexthops: [{ via: '10.77.0.2' }] }, // not on a connected network (yet)
        { prefix: '192.0.2.0/24', nexthops: [{ via: '10.0.2.2' }] },
      ],
    };
    await agent.call({ cmd: 'reload', config: cfg });
    const st = await agent.call({ cmd: 'status' });
    assert.equal(st.errors.length, 1, JSON.stringify(st.errors));
    assert.match(
      st.errors[0].message,
      /route 203\.0\.113\.0\/24 table 254 via 10\.77\.0\.2 {2}\(routes\[1\]\): ENETUNREACH/,
    );
    assert.ok(st.retryInMs >= 1000, 'a retry is scheduled');
    assert.deepEqual(routeHops(r), ['10.0.1.2', '10.0.2.2', '10.0.3.2'], 'the rest was applied');
    assert.match(JSON.stringify(st.problems), /protocol 3 .*not replacing it/);
    assert.match(r.ip('route show 192.0.2.0/24'), /via 10\.0\.1\.2 dev h1/);

    // Once the gateway becomes reachable, the retry (backoff) installs the route.
    r.ip('addr add 10.77.0.1/24 dev h1');
    await waitFor(() => r.ip('route show 203.0.113.0/24').includes('10.77.0.2'), {
      timeoutMs: 8000,
      what: 'retry to install',
    });
    await waitFor(async () => (await agent.call({ cmd: 'status' })).errors.length === 0, {
      timeoutMs: 3000,
      what: 'errors to clear',
    });
    r.ip('route del 192.0.2.0/24');
    r.ip('addr del 10.77.0.1/24 dev h1');
    await agent.call({ cmd: 'reload', config: routeConfig(false) });
  });

  async function sendFlows(): Promise<Map<number, number>> {
    await Promise.all(receivers.map((x) => x.reset()));
    const sender = c.spawn([process.execPath, '-e', SENDER]);
    await new Promise((res) => sender.once('exit', res));
    const where = new Map<number, number>();
    await waitFor(
      async () => {
        const seen = await Promise.all(receivers.map((x) => x.ports()));
        where.clear();
        seen.forEach((ports, h) => {
          for (const p of ports) where.set(p, h + 1);
        });
        return where.size >= FLOWS;
      },
      { timeoutMs: 10_000, intervalMs: 100, what: `${FLOWS} flows at the receivers` },
    ).catch(() => {}); // counted below; a lost datagram must not hide the result
    return where;
  }

  async function moved(
    resilient: boolean,
  ): Promise<{ before: number[]; after: number[]; movedOnSurvivors: number; seen: number }> {
    await agent.call({ cmd: 'fact', key: `nexthop:${PREFIX}@254/10.0.3.2`, fact: { up: true } });
    await agent.call({ cmd: 'reload', config: routeConfig(resilient) });
    const a = await sendFlows();
    await agent.call({ cmd: 'fact', key: `nexthop:${PREFIX}@254/10.0.3.2`, fact: { up: false } });
    const b = await sendFlows();
    let movedOnSurvivors = 0;
    let seen = 0;
    for (const [port, h] of a) {
      const now = b.get(port);
      if (now === undefined || h === 3) continue;
      seen++;
      if (now !== h) movedOnSurvivors++;
    }
    const count = (m: Map<number, number>) =>
      [1, 2, 3].map((h) => [...m.values()].filter((x) => x === h).length);
    return { before: count(a), after: count(b), movedOnSurvivors, seen };
  }

  it('resilient group keeps survivors’ flows in place; hash-threshold multipath moves some', async () => {
    const mp = await moved(false);
    const res = await moved(true);
    console.log(`# flows per next hop H1/H2/H3 (${FLOWS} flows), before → after taking H3 out:`);
    console.log(
      `#   multipath (hash-threshold): ${mp.before.join('/')} → ${mp.after.join('/')}; moved between survivors: ${mp.movedOnSurvivors} of ${mp.seen}`,
    );
    console.log(
      `#   resilient group (256 buckets): ${res.before.join('/')} → ${res.after.join('/')}; moved between survivors: ${res.movedOnSurvivors} of ${res.seen}`,
    );
    assert.ok(mp.seen > FLOWS / 2 && res.seen > FLOWS / 2, 'most flows were observed on both runs');
    assert.ok(mp.before[2] > 0 && res.before[2] > 0, 'H3 carried flows before');
    assert.equal(mp.after[2] + res.after[2], 0, 'H3 carries nothing after');
    assert.equal(res.movedOnSurvivors, 0, 'resilient: no flow on H1/H2 moved');
    assert.ok(mp.movedOnSurvivors > 0, 'hash-threshold: some flows on H1/H2 moved');
  });
});
