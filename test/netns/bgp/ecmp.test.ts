// Real ExaBGP + BIRD in namespaces: two LB hosts (VIP on lo, HTTP server on the VIP, the real
// lbagent daemon + ExaBGP each) peer with a BIRD router (`merge paths on`) that ECMPs a client's
// requests across them. Checks service down/up, lbctl drain --wait with a client loop,
// a hand-made disable file (latency to the ExaBGP ack), and an ExaBGP kill/restart.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  captureOutput,
  createNetns,
  destroyNetns,
  isRoot,
  type Netns,
  stopChild,
  uniq,
  veth,
  waitFor,
} from '../../lib/netns.js';
import { EXABGP_ENV } from './lab.js';

// Compiled files are what ExaBGP and the namespaces run (run `npx tsc -p .` first).
const here = dirname(fileURLToPath(import.meta.url));
const repo = here.includes('/dist/') ? resolve(here, '../../../..') : resolve(here, '../../..');
const dist = join(repo, 'dist');
const VIP_W = '192.0.2.10'; // withdraw mode
const VIP_M = '192.0.2.11'; // MED mode

const HTTP_SERVER = `
const http = require('node:http');
const [host, name] = process.argv.slice(1);
const srv = http.createServer((req, res) => { res.setHeader('connection', 'close'); res.end(name); });
srv.listen({ host, port: 80 }, () => console.log('listening'));
process.on('SIGTERM', () => process.exit(0));
`;

const CLIENT_LOOP = `
const http = require('node:http');
const [url, count, pauseMs] = process.argv.slice(1);
const counts = {}; let failed = 0; const errors = [];
function one() {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false, timeout: 2000 }, (res) => {
      let b = ''; res.on('data', (d) => (b += d)); res.on('end', () => { counts[b] = (counts[b] || 0) + 1; resolve(); });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => { failed++; errors.push(e.message); resolve(); });
  });
}
(async () => {
  for (let i = 0; i < Number(count); i++) { await one(); await new Promise((r) => setTimeout(r, Number(pauseMs))); }
  console.log(JSON.stringify({ counts, failed, errors: errors.slice(0, 5) }));
})();
`;

interface LbHost {
  ns: Netns;
  name: string;
  addr: string;
  routerAddr: string;
  dir: string;
  http?: ChildProcess;
  exabgp?: ChildProcess;
  exabgpOut?: { text: () => string };
  agent?: ChildProcess;
  agentOut?: { text: () => string };
}

const skip = !isRoot() ? 'needs root' : false;

describe('BGP through ExaBGP to BIRD with ECMP', { skip, timeout: 180_000 }, () => {
  const id = uniq();
  let router: Netns;
  let client: Netns;
  let bird: ChildProcess | undefined;
  let birdOut: { text: () => string } | undefined;
  const work = mkdtempSync(join(tmpdir(), 'lbt-bgp-'));
  const lbs: LbHost[] = [];

  const routeVia = (vip: string): string[] => {
    const out = router.exec(['ip', '-4', 'route', 'show', `${vip}/32`], { allowFail: true });
    return [...out.matchAll(/via (\d+\.\d+\.\d+\.\d+)/g)].map((m) => m[1]).sort();
  };
  const waitRoute = (vip: string, want: string[], what: string) =>
    waitFor(() => JSON.stringify(routeVia(vip)) === JSON.stringify([...want].sort()), {
      timeoutMs: 20_000,
      intervalMs: 50,
      what: `${what}: route ${vip} via ${want.join(',') || 'nothing'} (now ${routeVia(vip).join(',') || 'none'})`,
    });

  const lbctl = (lb: LbHost, args: string[], allowFail = false) =>
    lb.ns.exec(['node', join(dist, 'cli/lbctl.js'), '-s', join(lb.dir, 'lbagent.sock'), ...args], {
      allowFail,
    });

  const startHttp = async (lb: LbHost) => {
    lb.http = lb.ns.spawn(['node', '-e', HTTP_SERVER, VIP_W, lb.name]);
    // One server on 0.0.0.0 would do, but per-VIP servers let us take one prefix's service down.
    const out = captureOutput(lb.http);
    await waitFor(() => out.text().includes('listening'), { timeoutMs: 10_000, what: `${lb.name} http` });
  };

  const writeAgentConfig = (lb: LbHost, withMedPrefix: boolean) =>
    writeFileSync(
      join(lb.dir, 'lbagent.yaml'),
      `log: { level: info }
control: { socket: ${join(lb.dir, 'lbagent.sock')} }
metrics: { enabled: false }
checks: { web: { type: tcp, address: ${VIP_W}, port: 80, interval: 200ms, timeout: 150ms, rise: 2, fall: 2 } }
maintenance: { disableFile: ${join(lb.dir, 'disable')}, pollInterval: 1s, drainTimeout: 20s }
bgp:
  stopGrace: 3s
  announcements:
    - { prefix: ${VIP_W}/32, checks: [web], withdrawOnDown: true, withdrawOnDisabled: true }
${withMedPrefix ? `    - { prefix: ${VIP_M}/32, checks: [web] }\n` : ''}`,
    );

  const startAgent = async (lb: LbHost) => {
    // The real agent: health checks, drain, BGP, kernel, all wired as in production.
    lb.agent = lb.ns.spawn([
      'node',
      join(dist, 'agent/main.js'),
      'run',
      '--config',
      join(lb.dir, 'lbagent.yaml'),
    ]);
    lb.agentOut = captureOutput(lb.agent);
    await waitFor(() => lb.agentOut?.text().includes('lbagent running'), {
      timeoutMs: 15_000,
      what: `${lb.name} agent`,
    }).catch((err) => {
      throw new Error(`${err.message}\n${lb.agentOut?.text()}`);
    });
  };

  const startExabgp = (lb: LbHost) => {
    lb.exabgp = lb.ns.spawn(['exabgp', join(lb.dir, 'exabgp.conf')], {
      env: EXABGP_ENV,
      cwd: lb.dir,
    });
    lb.exabgpOut = captureOutput(lb.exabgp);
  };

  const clientLoop = (count: number, pauseMs: number) =>
    new Promise<{ counts: Record<string, number>; failed: number; errors: string[] }>(
      (resolveLoop, reject) => {
        const c = client.spawn([
          'node',
          '-e',
          CLIENT_LOOP,
          `http://${VIP_W}/`,
          String(count),
          String(pauseMs),
        ]);
        const out = captureOutput(c);
        c.once('exit', () => {
          try {
            resolveLoop(JSON.parse(out.text().trim().split('\n').pop() ?? ''));
          } catch {
            reject(new Error(`client loop output: ${out.text()}`));
          }
        });
      },
    );

  const agentStatus = (lb: LbHost) =>
    JSON.parse(lbctl(lb, ['--json', 'bgp'])) as {
      counters: { commandsSent: number };
      bridges: { neighbors: Record<string, { state: string }> }[];
      announcements: {
        prefix: string;
        state: string;
        announced: boolean;
        acked: boolean;
        attributes: { med?: number };
        lastAck: { at: number; latencyMs: number } | null;
      }[];
    };

  before(async () => {
    [router, client] = createNetns(`lbt-bgp-r-${id}`, `lbt-bgp-c-${id}`);
    for (const [i, name] of ['lb1', 'lb2'].entries()) {
      const [ns] = createNetns(`lbt-bgp-${name}-${id}`);
      const dir = join(work, name);
      const lb: LbHost = { ns, name, addr: `10.0.${i + 1}.2`, routerAddr: `10.0.${i + 1}.1`, dir };
      lbs.push(lb);
      veth(router, `r${i + 1}`, ns, 'eth0');
      router.ip(`addr add ${lb.routerAddr}/24 dev r${i + 1}`);
      ns.ip(`addr add ${lb.addr}/24 dev eth0`);
      ns.ip(`route add default via ${lb.routerAddr}`);
      ns.ip(`addr add ${VIP_W}/32 dev lo`);
      ns.ip(`addr add ${VIP_M}/32 dev lo`);
    }
    veth(router, 'rc', client, 'eth0');
    router.ip('addr add 10.0.9.1/24 dev rc');
    client.ip('addr add 10.0.9.2/24 dev eth0');
    client.ip('route add default via 10.0.9.1');
    router.exec(['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    // Hash on ports too, so one client address spreads over both nexthops.
    router.exec(['sysctl', '-qw', 'net.ipv4.fib_multipath_hash_policy=1']);

    writeFileSync(
      join(work, 'bird.conf'),
      `router id 10.0.9.1;
protocol device { scan time 10; }
protocol kernel { ipv4 { export all; import none; }; merge paths on; }
template bgp lb {
  local as 65000;
  ipv4 { import all; export none; };
  connect retry time 1; connect delay time 1; error wait time 1, 2;
}
protocol bgp lb1 from lb { neighbor 10.0.1.2 as 65001; }
protocol bgp lb2 from lb { neighbor 10.0.2.2 as 65001; }
`,
    );
    bird = router.spawn(['bird', '-f', '-c', join(work, 'bird.conf'), '-s', join(work, 'bird.ctl')]);
    birdOut = captureOutput(bird);

    for (const lb of lbs) {
      rmSync(lb.dir, { recursive: true, force: true });
      const { mkdirSync } = await import('node:fs');
      mkdirSync(lb.dir, { recursive: true });
      writeAgentConfig(lb, true);
      writeFileSync(
        join(lb.dir, 'exabgp.conf'),
        `process lbagent {
  run /usr/bin/node ${join(dist, 'agent/main.js')} exabgp-bridge --socket ${join(lb.dir, 'exabgp.sock')};
  encoder text;
}
neighbor ${lb.routerAddr} {
  router-id ${lb.addr};
  local-address ${lb.addr};
  local-as 65001;
  peer-as 65000;
  api { processes [ lbagent ]; neighbor-changes; }
}
`,
      );
      await startHttp(lb);
      await startAgent(lb);
      startExabgp(lb);
    }
  });

  after(async () => {
    for (const lb of lbs)
      for (const c of [lb.agent, lb.exabgp, lb.http]) if (c) await stopChild(c, 'SIGTERM', 2000);
    if (bird) await stopChild(bird, 'SIGTERM', 2000);
    destroyNetns(router, client, ...lbs.map((l) => l.ns));
    rmSync(work, { recursive: true, force: true });
  });

  const dump = () =>
    [
      birdOut?.text(),
      ...lbs.flatMap((l) => [
        `--- ${l.name} exabgp`,
        l.exabgpOut?.text().slice(-3000),
        `--- ${l.name} agent`,
        l.agentOut?.text().slice(-3000),
      ]),
    ].join('\n');

  it('ECMP: the router has two nexthops for the VIP and HTTP reaches both hosts', async () => {
    try {
      await waitRoute(VIP_W, ['10.0.1.2', '10.0.2.2'], 'both announced');
      await waitRoute(VIP_M, ['10.0.1.2', '10.0.2.2'], 'both announced (MED)');
    } catch (err) {
      console.error(dump());
      throw err;
    }
    const r = await clientLoop(40, 0);
    assert.equal(r.failed, 0, JSON.stringify(r));
    assert.ok(
      (r.counts.lb1 ?? 0) > 0 && (r.counts.lb2 ?? 0) > 0,
      `both hosts serve: ${JSON.stringify(r.counts)}`,
    );
    const st = agentStatus(lbs[0]);
    assert.equal(st.bridges[0]?.neighbors['10.0.1.1']?.state, 'up');
    assert.ok(st.announcements.every((a) => a.acked && a.announced));
  });

  it('service down withdraws (withdraw mode) and loses best path (MED mode); back up returns', async () => {
    const lb1 = lbs[0];
    await stopChild(lb1.http!, 'SIGTERM', 2000);
    await waitRoute(VIP_W, ['10.0.2.2'], 'lb1 withdrawn');
    await waitRoute(VIP_M, ['10.0.2.2'], 'lb1 MED 1000 loses');
    const st = agentStatus(lb1);
    const m = st.announcements.find((a) => a.prefix === `${VIP_M}/32`);
    assert.equal(m?.state, 'down');
    assert.equal(m?.attributes.med, 1000);
    assert.equal(m?.announced, true);
    await startHttp(lb1);
    await waitRoute(VIP_W, ['10.0.1.2', '10.0.2.2'], 'lb1 back');
    await waitRoute(VIP_M, ['10.0.1.2', '10.0.2.2'], 'lb1 back (MED)');
  });

  it('lbctl drain --wait moves traffic away with no failed requests; undrain brings it back', async () => {
    const lb1 = lbs[0];
    const loop = clientLoop(150, 10);
    await new Promise((r) => setTimeout(r, 300));
    // Progress goes to stderr (stdout is for the result): read both.
    const out = lb1.ns.exec(
      [
        'node',
        join(dist, 'cli/lbctl.js'),
        '-s',
        join(lb1.dir, 'lbagent.sock'),
        'drain',
        '--reason',
        'test',
        '--wait',
        '--timeout',
        '15s',
      ],
      { stderr: true },
    );
    assert.match(out, /drained: announcements ok/);
    assert.deepEqual(routeVia(VIP_W), ['10.0.2.2']);
    const r = await loop;
    assert.equal(r.failed, 0, `failed requests during drain: ${JSON.stringify(r)}`);
    const after1 = await clientLoop(30, 0);
    assert.equal(
      after1.counts.lb1 ?? 0,
      0,
      `no new requests reach the drained host: ${JSON.stringify(after1.counts)}`,
    );
    lbctl(lb1, ['undrain']);
    await waitRoute(VIP_W, ['10.0.1.2', '10.0.2.2'], 'undrained');
  });

  it('a disable file touched by hand withdraws; the ExaBGP ack arrives within milliseconds', async () => {
    const lb2 = lbs[1];
    const before = agentStatus(lb2).announcements.find((a) => a.prefix === `${VIP_W}/32`);
    const t0 = Date.now();
    writeFileSync(join(lb2.dir, 'disable'), '');
    const acked = await waitFor(
      () => {
        const a = agentStatus(lb2).announcements.find((x) => x.prefix === `${VIP_W}/32`);
        return a && !a.announced && a.acked && a.lastAck && a.lastAck.at !== before?.lastAck?.at
          ? a
          : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 20, what: 'withdraw acked' },
    );
    const latency = (acked.lastAck?.at ?? 0) - t0;
    console.log(
      `# disable file -> withdraw acked by ExaBGP: ${latency.toFixed(1)} ms (agent-side ${acked.lastAck?.latencyMs} ms)`,
    );
    assert.ok(latency < 2000, `latency ${latency} ms`);
    await waitRoute(VIP_W, ['10.0.1.2'], 'lb2 withdrawn');
    rmSync(join(lb2.dir, 'disable'));
    await waitRoute(VIP_W, ['10.0.1.2', '10.0.2.2'], 'lb2 back');
  });

  it('ExaBGP killed and restarted: announcements restored without restarting the agent', async () => {
    const lb1 = lbs[0];
    await stopChild(lb1.exabgp!, 'SIGKILL', 1000);
    await waitRoute(VIP_W, ['10.0.2.2'], 'lb1 session gone');
    startExabgp(lb1);
    try {
      await waitRoute(VIP_W, ['10.0.1.2', '10.0.2.2'], 'lb1 restored');
      await waitRoute(VIP_M, ['10.0.1.2', '10.0.2.2'], 'lb1 restored (MED)');
    } catch (err) {
      console.error(dump());
      throw err;
    }
    assert.ok(agentStatus(lb1).announcements.every((a) => a.acked));
  });

  it('agent killed: the bridge keeps the routes for stopGrace, then withdraws; a new agent re-announces', async () => {
    const lb2 = lbs[1];
    const t0 = Date.now();
    await stopChild(lb2.agent!, 'SIGKILL', 1000);
    await new Promise((r) => setTimeout(r, 1000));
    assert.deepEqual(routeVia(VIP_W), ['10.0.1.2', '10.0.2.2'], 'routes kept within the grace (3s)');
    await waitRoute(VIP_W, ['10.0.1.2'], 'withdrawn after the grace');
    await waitRoute(VIP_M, ['10.0.1.2'], 'MED prefix withdrawn after the grace');
    const held = Date.now() - t0;
    console.log(`# agent killed -> routes withdrawn by the bridge after ${held} ms (stopGrace 3s)`);
    assert.ok(held >= 2500, `held ${held} ms`);
    await startAgent(lb2);
    await waitRoute(VIP_W, ['10.0.1.2', '10.0.2.2'], 'restarted agent re-announces');
  });

  it('reload is hitless: unchanged prefixes are not resent, a removed prefix is withdrawn', async () => {
    const lb1 = lbs[0];
    const sent0 = agentStatus(lb1).counters.commandsSent;
    writeAgentConfig(lb1, false);
    process.kill(lb1.agent!.pid!, 'SIGHUP');
    await waitRoute(VIP_M, ['10.0.2.2'], 'removed prefix withdrawn');
    assert.deepEqual(routeVia(VIP_W), ['10.0.1.2', '10.0.2.2']);
    assert.equal(agentStatus(lb1).counters.commandsSent - sent0, 1, 'only the withdraw was sent');
    writeAgentConfig(lb1, true);
    process.kill(lb1.agent!.pid!, 'SIGHUP');
    await waitRoute(VIP_M, ['10.0.1.2', '10.0.2.2'], 'prefix back after reload');
  });
});
