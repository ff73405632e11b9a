// Clients that connect and then hold on, against the real daemon:
// - metrics: a half-sent HTTP request is cut off by the server; with one held, SIGTERM still
//   stops the agent promptly and a reload that moves metrics.listen completes;
// - control socket: silent connections are closed after the idle timeout and their number is
//   capped (the rest are answered "busy"), so they cannot pin file descriptors; lbctl works after.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { lbctl, startAgent } from '../../lib/agent.js';
import {
  createNetns,
  destroyNetns,
  isRoot,
  type Netns,
  nsExec,
  stopChild,
  uniq,
  waitFor,
} from '../../lib/netns.js';

/** A TCP connection opened from inside the namespace: a tiny relay in `ip netns exec`. */
const HOLDER = `
const net = require('node:net');
const [host, port, partial] = process.argv.slice(1);
const s = net.connect(Number(port), host, () => { s.write(partial); console.log('sent'); });
s.on('data', () => {});
s.on('close', () => { console.log('closed'); process.exit(0); });
s.on('error', (e) => { console.log('error ' + e.code); });
`;

function holdHttp(ns: Netns, port: number) {
  const child = ns.spawn([
    process.execPath,
    '-e',
    HOLDER,
    '127.0.0.1',
    String(port),
    'GET /metrics HTTP/1.1\r\nHost: x\r\n',
  ]);
  let out = '';
  child.stdout?.on('data', (d) => {
    out += d;
  });
  return { child, out: () => out };
}

function openSilent(path: string, n: number): Promise<Socket[]> {
  return Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<Socket>((resolve) => {
          const s = connect(path);
          s.on('error', () => {});
          s.resume(); // read what the agent says (a "busy" answer), so its close is seen
          s.once('connect', () => resolve(s));
          s.once('close', () => resolve(s));
        }),
    ),
  );
}

describe('held connections cannot stall or exhaust the agent', { skip: !isRoot() && 'needs root' }, () => {
  let ns: Netns;
  let dir: string;
  before(() => {
    [ns] = createNetns(`lbt-hold-${uniq()}`);
    dir = mkdtempSync(join(tmpdir(), 'lbt-hold-'));
  });
  after(() => {
    destroyNetns(ns);
    rmSync(dir, { recursive: true, force: true });
  });

  const config = (sock: string, port: number) => `node: {name: hold}
control: {socket: ${sock}}
metrics: {listen: "127.0.0.1:${port}"}
maintenance: {disableFile: ${join(dir, 'disable')}}
`;

  it('metrics: a half-sent request is cut off; reload moving metrics.listen and SIGTERM do not wait for it', async () => {
    const sock = join(dir, 'm.sock');
    const cfgPath = join(dir, 'm.yaml');
    writeFileSync(cfgPath, config(sock, 9475));
    const agent = await startAgent(ns, cfgPath, sock);
    const holders = [];
    try {
      const h1 = holdHttp(ns, 9475);
      holders.push(h1);
      await waitFor(() => h1.out().includes('sent'), { what: 'held request sent' });
      // The server closes the half request itself (headersTimeout), not the client.
      await waitFor(() => h1.out().includes('closed'), {
        timeoutMs: 20_000,
        what: 'server to cut the held request',
      });

      // A reload that moves the endpoint while a request is held.
      const h2 = holdHttp(ns, 9475);
      holders.push(h2);
      await waitFor(() => h2.out().includes('sent'), { what: 'second held request sent' });
      writeFileSync(cfgPath, config(sock, 9476));
      const rl = await lbctl(ns, sock, ['reload']);
      assert.equal(rl.code, 0, rl.stdout + rl.stderr);
      assert.match(nsExec(ns.name, ['curl', '-sf', 'http://127.0.0.1:9476/metrics']), /lbagent_build_info/);
      assert.equal(
        nsExec(ns.name, ['curl', '-sf', 'http://127.0.0.1:9475/metrics'], { allowFail: true }),
        '',
      );

      // SIGTERM with a request held on the new port: the agent exits, and cleanly.
      const h3 = holdHttp(ns, 9476);
      holders.push(h3);
      await waitFor(() => h3.out().includes('sent'), { what: 'third held request sent' });
      const t0 = Date.now();
      const code = await stopChild(agent.child, 'SIGTERM', 20_000);
      assert.equal(
        code,
        0,
        `exit code after SIGTERM (${Date.now() - t0} ms): ${agent.output().slice(-1500)}`,
      );
    } finally {
      await stopChild(agent.child, 'SIGKILL');
      for (const h of holders) await stopChild(h.child, 'SIGKILL');
    }
  });

  it('control: silent connections are capped and closed when idle; lbctl works after', async () => {
    const sock = join(dir, 'c.sock');
    const cfgPath = join(dir, 'c.yaml');
    writeFileSync(cfgPath, config(sock, 9477));
    const agent = await startAgent(ns, cfgPath, sock);
    const fds = () => readdirSync(`/proc/${agent.child.pid}/fd`).length;
    try {
      const base = fds();
      const socks = await openSilent(sock, 100);
      // Beyond the cap, connections are answered "busy" and closed at once.
      await waitFor(() => socks.filter((s) => s.destroyed || s.readableEnded).length >= 30, {
        timeoutMs: 10_000,
        what: 'connections beyond the cap closed',
      });
      assert.ok(fds() < base + 80, `agent fds ${fds()} (baseline ${base}) stay bounded`);
      // The rest are closed by the idle timeout.
      await waitFor(() => socks.every((s) => s.destroyed || s.readableEnded), {
        timeoutMs: 40_000,
        what: 'idle control connections closed by the agent',
      });
      for (const s of socks) s.destroy();
      const st = await lbctl(ns, sock, ['status', '--json']);
      assert.equal(st.code, 0, st.stderr);
      await waitFor(() => fds() <= base + 2, {
        timeoutMs: 5000,
        what: `fds back to baseline (${fds()} vs ${base})`,
      });
    } finally {
      await stopChild(agent.child, 'SIGTERM', 10_000);
    }
  });
});
