// Issue 15.2 with the real daemon: a service with 2 backends, quorum 1, one backend dead from the
// start. The service must come up with the other backend's first rise (a fresh start is judged on
// the first results, not as a recovery), and so must the BGP announcement that follows it. Before
// the fix the service stayed "1/2 backends healthy (quorum 1)" down for good. Runs on a kernel
// without IPVS too (the health and BGP facts do not need it; loadModules is off).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import {
  captureOutput,
  createNetns,
  destroyNetns,
  isRoot,
  type Netns,
  stopChild,
  uniq,
  waitFor,
} from '../../lib/netns.js';

const run = promisify(execFile);
const dist = join(import.meta.dirname, '..', '..', '..');
const LISTENER = `require('net').createServer((s) => { s.on('error', () => {}); s.end(); }).listen(80, '10.9.0.1', () => console.log('listening'))`;

interface HealthJson {
  checks: { id: string; state: string; transitions: number; runs: number }[];
  services: { name: string; up: boolean; healthy: number; total: number }[];
}
interface BgpJson {
  announcements: { prefix: string; state: string; reasons?: string[] }[];
}

describe('quorum at a fresh start (real daemon)', {
  skip: !isRoot() && 'needs root',
  timeout: 60_000,
}, () => {
  let ns: Netns;
  let dir: string;
  before(() => {
    [ns] = createNetns(`lbt-quorum-${uniq()}`);
    dir = mkdtempSync(join(tmpdir(), 'lbt-quorum-'));
    ns.ip('addr add 10.9.0.1/32 dev lo');
    ns.ip('addr add 10.9.0.2/32 dev lo');
  });
  after(() => {
    destroyNetns(ns);
    rmSync(dir, { recursive: true, force: true });
  });

  const lbctl = async <T>(sock: string, ...args: string[]): Promise<T> => {
    const r = await run(
      'ip',
      [
        'netns',
        'exec',
        ns.name,
        process.execPath,
        join(dist, 'cli', 'lbctl.js'),
        '-s',
        sock,
        '--json',
        ...args,
      ],
      { timeout: 20_000 },
    );
    return JSON.parse(r.stdout) as T;
  };

  it('2 backends, quorum 1, one dead from the start: service and announcement up on the first rise', async () => {
    const listener = ns.spawn([process.execPath, '-e', LISTENER]);
    const lout = captureOutput(listener);
    await waitFor(() => lout.text().includes('listening'), { timeoutMs: 10_000, what: 'listener' });
    const sock = join(dir, 'lbagent.sock');
    const cfg = join(dir, 'lbagent.yaml');
    writeFileSync(
      cfg,
      `control: { socket: ${sock} }
metrics: { enabled: false }
maintenance: { disableFile: ${join(dir, 'disable')} }
ipvs:
  loadModules: false
  services:
    - name: web
      vip: 192.0.2.80
      port: 80
      quorum: 1
      check: { type: tcp, interval: 300ms, timeout: 200ms, rise: 2, fall: 2 }
      backends: [{ address: 10.9.0.1 }, { address: 10.9.0.2 }]
bgp:
  announcements:
    - { prefix: 192.0.2.80/32, services: [web], withdrawOnDown: true }
`,
    );
    const agent = ns.spawn([process.execPath, join(dist, 'agent', 'main.js'), 'run', '--config', cfg]);
    const out = captureOutput(agent);
    try {
      await waitFor(() => out.text().includes('lbagent running'), { timeoutMs: 20_000, what: 'agent' });
      // The first moment the service is up, the live backend's check has risen exactly once and the
      // dead one never: the service was judged on the first results.
      const h = await waitFor(
        async () => {
          const s = await lbctl<HealthJson>(sock, 'health');
          return s.services[0]?.up ? s : undefined;
        },
        { timeoutMs: 15_000, intervalMs: 50, what: 'service web up' },
      );
      assert.deepEqual(
        { healthy: h.services[0].healthy, total: h.services[0].total },
        { healthy: 1, total: 2 },
      );
      const live = h.checks.find((c) => c.id.includes('10.9.0.1'));
      const dead = h.checks.find((c) => c.id.includes('10.9.0.2'));
      assert.equal(live?.state, 'up');
      assert.equal(live?.transitions, 1, 'up on the first rise of the live backend');
      assert.equal(dead?.state, 'down');
      assert.equal(dead?.transitions, 0);
      const b = await waitFor(
        async () => {
          const s = await lbctl<BgpJson>(sock, 'bgp');
          return s.announcements[0]?.state === 'up' ? s : undefined;
        },
        { timeoutMs: 5_000, intervalMs: 50, what: 'announcement up' },
      );
      assert.equal(b.announcements[0].prefix, '192.0.2.80/32');
      // And it stays up (nothing flips it back while the dead backend keeps failing).
      await new Promise((r) => setTimeout(r, 1000));
      assert.equal((await lbctl<HealthJson>(sock, 'health')).services[0].up, true);
    } catch (err) {
      console.error(out.text().slice(-4000));
      throw err;
    } finally {
      await stopChild(agent, 'SIGTERM', 5000);
      await stopChild(listener, 'SIGKILL', 1000);
    }
  });
});
