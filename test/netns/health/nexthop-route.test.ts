// End to end on the real kernel: a TCP health check on a route's nexthop takes that nexthop out of
// the multipath route when its target stops listening and puts it back when it listens again, each
// flip one route message from the kernel. Namespaces: lb (agent) ─veth─ r1, r2 (nexthop routers).
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  captureOutput,
  createNetns,
  destroyNetns,
  isRoot,
  type Netns,
  siblingScript,
  stopChild,
  uniq,
  veth,
  waitFor,
} from '../../lib/netns.js';

const _here = dirname(fileURLToPath(import.meta.url));
const nodeArgv = (script: string, ...args: string[]) => siblingScript(import.meta.url, script, ...args);

const LISTENER = `require('net').createServer(s => { s.on('error', () => {}); s.destroy(); }).listen(8080, '0.0.0.0', () => console.log('listening'))`;

describe('health → kernel: nexthop check drives the multipath route', {
  skip: !isRoot() && 'needs root',
}, () => {
  let lb: Netns;
  let r1: Netns;
  let r2: Netns;
  const children: ChildProcess[] = [];
  before(() => {
    const id = uniq();
    [lb, r1, r2] = createNetns(`lbt-health-lb-${id}`, `lbt-health-r1-${id}`, `lbt-health-r2-${id}`);
    veth(lb, 'a1', r1, 'b1');
    veth(lb, 'a2', r2, 'b2');
    lb.ip('addr add 10.0.1.1/24 dev a1');
    lb.ip('addr add 10.0.2.1/24 dev a2');
    r1.ip('addr add 10.0.1.2/24 dev b1');
    r2.ip('addr add 10.0.2.2/24 dev b2');
  });
  after(async () => {
    for (const c of children) await stopChild(c, 'SIGKILL', 1000);
    destroyNetns(lb, r1, r2);
  });

  const listen = async (ns: Netns) => {
    const c = ns.spawn([process.execPath, '-e', LISTENER]);
    children.push(c);
    const out = captureOutput(c);
    await waitFor(() => out.text().includes('listening'), {
      timeoutMs: 10_000,
      what: `listener in ${ns.name}`,
    });
    return c;
  };

  const routeVias = () =>
    [...lb.ip('route show 198.51.100.0/24').matchAll(/via (10\.0\.\d\.\d)/g)].map((m) => m[1]).sort();

  it('takes the nexthop out after `fall` failures and back after `rise` successes, one route write per flip', async () => {
    let l1 = await listen(r1);
    await listen(r2);
    const check = {
      type: 'tcp',
      port: 8080,
      interval: '500ms',
      timeout: '400ms',
      rise: 2,
      fall: 2,
      initial: 'up',
    };
    const cfg = {
      routes: [
        {
          prefix: '198.51.100.0/24',
          nexthops: [
            { via: '10.0.1.2', check },
            { via: '10.0.2.2', check },
          ],
        },
      ],
    };
    const monitor = lb.spawn(['ip', '-o', 'monitor', 'route']);
    children.push(monitor);
    const mon = captureOutput(monitor);
    const agent = lb.spawn(nodeArgv('lb-child', JSON.stringify(cfg)));
    children.push(agent);
    const errs = captureOutput(agent);
    const events: { event: string; key?: string; up?: boolean; reason?: string }[] = [];
    createInterface({ input: agent.stdout! }).on('line', (l) => {
      try {
        events.push(JSON.parse(l));
      } catch {}
    });
    try {
      await waitFor(() => events.some((e) => e.event === 'ready'), {
        timeoutMs: 20_000,
        what: 'agent ready',
      });
      await waitFor(() => routeVias().length === 2, { timeoutMs: 15_000, what: 'route with both nexthops' });
      const routeMsgs = () =>
        mon
          .text()
          .split('\n')
          .filter((l) => l.includes('198.51.100.0/24')).length;
      // The monitor prints asynchronously: count from after it has shown the route's creation.
      await waitFor(() => routeMsgs() >= 1, { timeoutMs: 15_000, what: 'monitor shows the route' });
      const before0 = routeMsgs();

      await stopChild(l1, 'SIGKILL', 1000);
      await waitFor(() => routeVias().join() === '10.0.2.2', {
        timeoutMs: 15_000,
        what: 'nexthop 10.0.1.2 out',
      });
      const down = await waitFor(() => events.find((e) => e.event === 'fact' && e.up === false), {
        timeoutMs: 15_000,
        what: 'down fact',
      });
      assert.deepEqual(down, {
        event: 'fact',
        key: 'nexthop:198.51.100.0/24@254/10.0.1.2',
        up: false,
        reason: 'connect ECONNREFUSED',
      });
      // The monitor prints asynchronously (late on a busy machine): wait for the flip's message,
      // then a little longer so that an extra one would be counted too.
      await waitFor(() => routeMsgs() > before0, { timeoutMs: 15_000, what: 'monitor shows the flip' });
      await new Promise((r) => setTimeout(r, 300));
      const afterDown = routeMsgs();

      l1 = await listen(r1);
      await waitFor(() => routeVias().length === 2, { timeoutMs: 15_000, what: 'nexthop 10.0.1.2 back' });
      await waitFor(() => routeMsgs() > afterDown, { timeoutMs: 15_000, what: 'monitor shows the way back' });
      await new Promise((r) => setTimeout(r, 300));
      const afterUp = routeMsgs();
      assert.deepEqual(
        [afterDown - before0, afterUp - afterDown],
        [1, 1],
        `route messages per flip:\n${mon.text()}`,
      );
      agent.stdin!.write('stop\n');
      await waitFor(() => agent.exitCode !== null, { timeoutMs: 10_000, what: 'agent exit' });
    } catch (err) {
      (err as Error).message += `\nagent stderr:\n${errs.text().slice(-2000)}`;
      throw err;
    }
  });
});
