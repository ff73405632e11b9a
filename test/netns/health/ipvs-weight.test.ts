// End to end on the real kernel with IPVS (runs in the VM harness: `bash test/vm/run-vm-suite.sh
// dist/test/netns/health/ipvs-weight.test.js`; skipped where the kernel has no IPVS): a backend
// whose TCP check fails gets IPVS weight 0 (onDown weight0) with one netlink write, and its weight
// back with one write when it listens again.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
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

function ipvsAvailable(): boolean {
  if (!isRoot()) return false;
  try {
    execFileSync('modprobe', ['ip_vs'], { stdio: 'ignore' });
  } catch {}
  return existsSync('/proc/net/ip_vs');
}

const _here = dirname(fileURLToPath(import.meta.url));
const nodeArgv = (script: string, ...args: string[]) => siblingScript(import.meta.url, script, ...args);
const LISTENER = `require('net').createServer(s => { s.on('error', () => {}); s.destroy(); }).listen(8080, '0.0.0.0', () => console.log('listening'))`;

describe('health → IPVS: a failing backend gets weight 0', {
  skip: !ipvsAvailable() && 'kernel has no IPVS (VM suite)',
}, () => {
  let director: Netns;
  let b1: Netns;
  let b2: Netns;
  const children: ChildProcess[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'lbt-health-ipvs-'));
  before(() => {
    const id = uniq();
    [director, b1, b2] = createNetns(`lbt-health-d-${id}`, `lbt-health-b1-${id}`, `lbt-health-b2-${id}`);
    veth(director, 'd1', b1, 'e1');
    veth(director, 'd2', b2, 'e2');
    director.ip('addr add 10.20.1.1/24 dev d1');
    director.ip('addr add 10.20.2.1/24 dev d2');
    b1.ip('addr add 10.20.1.2/24 dev e1');
    b2.ip('addr add 10.20.2.2/24 dev e2');
  });
  after(async () => {
    for (const c of children) await stopChild(c, 'SIGKILL', 1000);
    destroyNetns(director, b1, b2);
    rmSync(dir, { recursive: true, force: true });
  });

  const listen = async (ns: Netns) => {
    const c = ns.spawn([process.execPath, '-e', LISTENER]);
    children.push(c);
    const out = captureOutput(c);
    await waitFor(() => out.text().includes('listening'), {
      timeoutMs: 60_000,
      what: `listener in ${ns.name}`,
    });
    return c;
  };

  /** Weights by "address:port" from ipvsadm -Ln in the director. */
  const weights = () => {
    const out = director.exec(['ipvsadm', '-Ln']);
    return Object.fromEntries(
      [...out.matchAll(/->\s+(\d+\.\d+\.\d+\.\d+:\d+)\s+\S+\s+(\d+)/g)].map((m) => [m[1], Number(m[2])]),
    );
  };

  it('weight 0 after `fall` failures, weight back after `rise` successes; one IPVS write each', async () => {
    let l1 = await listen(b1);
    await listen(b2);
    const check = { type: 'tcp', interval: '500ms', timeout: '400ms', rise: 2, fall: 2, initial: 'up' };
    const cfg = {
      ipvs: {
        services: [
          {
            name: 'web',
            vip: '10.10.0.100',
            port: 80,
            forwarding: 'nat',
            check,
            backends: [
              { address: '10.20.1.2', port: 8080, weight: 3 },
              { address: '10.20.2.2', port: 8080, weight: 1 },
            ],
          },
        ],
      },
    };
    const agent = director.spawn(nodeArgv('ipvs-child', JSON.stringify(cfg), join(dir, 'owned.json')));
    children.push(agent);
    const errs = captureOutput(agent);
    const events: { event: string; key?: string; up?: boolean; weight?: number; writes?: number }[] = [];
    createInterface({ input: agent.stdout! }).on('line', (l) => {
      try {
        events.push(JSON.parse(l));
      } catch {}
    });
    try {
      await waitFor(() => events.some((e) => e.event === 'ready'), {
        timeoutMs: 60_000,
        what: 'agent ready',
      });
      assert.deepEqual(weights(), { '10.20.1.2:8080': 3, '10.20.2.2:8080': 1 });

      await stopChild(l1, 'SIGKILL', 1000);
      const down = await waitFor(() => events.find((e) => e.event === 'fact' && e.up === false), {
        timeoutMs: 30_000,
        what: 'backend down',
      });
      assert.equal(down.key, 'backend:web/10.20.1.2:8080');
      assert.deepEqual(weights(), { '10.20.1.2:8080': 0, '10.20.2.2:8080': 1 });
      const writesDown = down.writes!;

      l1 = await listen(b1);
      const downAt = events.indexOf(down);
      const up = await waitFor(
        () => events.find((e, i) => i > downAt && e.event === 'fact' && e.up === true),
        {
          timeoutMs: 30_000,
          what: 'backend up',
        },
      );
      assert.deepEqual(weights(), { '10.20.1.2:8080': 3, '10.20.2.2:8080': 1 });
      const ready = events.find((e) => e.event === 'ready')!;
      assert.deepEqual([writesDown - ready.writes!, up.writes! - writesDown], [1, 1], 'IPVS writes per flip');
      agent.stdin!.write('stop\n');
      await waitFor(() => agent.exitCode !== null, { timeoutMs: 30_000, what: 'agent exit' });
    } catch (err) {
      (err as Error).message += `\nagent stderr:\n${errs.text().slice(-2000)}`;
      throw err;
    }
  });
});
