// The demo lab: the whole LB tier in network namespaces, with real traffic.
//
//   client ── router (BIRD, ECMP over BGP paths) ─┬─ lb1 (lbagent + ExaBGP, VIP on lo, IPVS mh)
//                                                  └─ lb2 (lbagent + ExaBGP, VIP on lo, IPVS mh)
//   lb1, lb2 ── lan bridge ── be1, be2, be3 (HTTP backends, IPVS direct routing)
//   lb1/lb2 hold the backends' gateway 10.1.0.1 as a VRRP floating IP.
//
// It prints a short story with live numbers, then removes everything (also on Ctrl-C).
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  captureOutput,
  createNetns,
  destroyNetns,
  type Netns,
  stopChild,
  veth,
  waitFor,
} from '../../test/lib/netns.js';

const dist = join(import.meta.dirname, '..', '..');
const agentBin = join(dist, 'agent', 'main.js');
const lbctlBin = join(dist, 'cli', 'lbctl.js');
const work = '/run/lbdemo';
const VIP = '192.0.2.10';
const GW = '10.1.0.1';
const BACKENDS = [
  { name: 'be1', addr: '10.1.0.11' },
  { name: 'be2', addr: '10.1.0.12' },
  { name: 'be3', addr: '10.1.0.13' },
];
const LBS = [
  { name: 'lb1', uplink: '10.0.1.2', router: '10.0.1.1', lan: '10.1.0.2', priority: 150 },
  { name: 'lb2', uplink: '10.0.2.2', router: '10.0.2.1', lan: '10.1.0.3', priority: 100 },
];

const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const say = (s: string) => process.stdout.write(`${s}\n`);
const step = (n: number, s: string) => say(`\n${bold(`${n}. ${s}`)}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Lb {
  name: string;
  ns: Netns;
  agent?: ChildProcess;
  exabgp?: ChildProcess;
  sock: string;
  cfg: string;
  disableFile: string;
}

export class DemoLab {
  private nss: Netns[] = [];
  private procs: ChildProcess[] = [];
  client!: Netns;
  router!: Netns;
  lan!: Netns;
  lbs: Lb[] = [];
  backends: { name: string; addr: string; ns: Netns; downFile: string }[] = [];

  build(): void {
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work, { recursive: true });
    const names = ['client', 'router', 'lan', ...LBS.map((l) => l.name), ...BACKENDS.map((b) => b.name)];
    this.nss = createNetns(...names.map((n) => `lbdemo-${n}`));
    const by = (n: string) => this.nss.find((x) => x.name === `lbdemo-${n}`)!;
    this.client = by('client');
    this.router = by('router');
    this.lan = by('lan');

    veth(this.client, 'eth0', this.router, 'client0');
    this.client.ip('addr add 10.0.0.2/24 dev eth0');
    this.client.ip('route add default via 10.0.0.1');
    this.router.ip('addr add 10.0.0.1/24 dev client0');
    for (const ns of [this.router, ...LBS.map((l) => by(l.name))]) {
      ns.exec(['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
      ns.exec(['sysctl', '-qw', 'net.ipv4.conf.all.rp_filter=0']);
      ns.exec(['sysctl', '-qw', 'net.ipv4.conf.default.rp_filter=0']);
    }
    // The LB hosts are also the backends' gateway (the VRRP floating IP): direct-routing replies
    // come back through them with the VIP as source, which they hold on lo. Without accept_local
    // the kernel drops those as martians.
    for (const l of LBS) by(l.name).exec(['sysctl', '-qw', 'net.ipv4.conf.all.accept_local=1']);
    // Behind ECMP, a withdrawn LB host's flows move to the other one mid-connection; with the same
    // Maglev table there, sloppy_tcp lets IPVS schedule those non-SYN packets to the same backend.
    for (const l of LBS) by(l.name).exec(['sysctl', '-qw', 'net.ipv4.vs.sloppy_tcp=1'], { allowFail: true });
    // Hash on L4 ports so the router spreads connections from one client over both LB hosts.
    this.router.exec(['sysctl', '-qw', 'net.ipv4.fib_multipath_hash_policy=1']);

    this.lan.ip('link add br0 type bridge');
    this.lan.ip('link set br0 up');
    for (const l of LBS) {
      const ns = by(l.name);
      veth(this.router, l.name, ns, 'eth0');
      this.router.ip(`addr add ${l.router}/24 dev ${l.name}`);
      ns.ip(`addr add ${l.uplink}/24 dev eth0`);
      ns.ip(`route add default via ${l.router}`);
      veth(ns, 'eth1', this.lan, `p-${l.name}`);
      this.lan.ip(`link set p-${l.name} master br0`);
      ns.ip(`addr add ${l.lan}/24 dev eth1`);
      this.lbs.push({
        name: l.name,
        ns,
        sock: join(work, l.name, 'lbagent.sock'),
        cfg: join(work, l.name, 'lbagent.yaml'),
        disableFile: join(work, l.name, 'disable'),
      });
      mkdirSync(join(work, l.name), { recursive: true });
    }
    for (const b of BACKENDS) {
      const ns = by(b.name);
      veth(ns, 'eth0', this.lan, `p-${b.name}`);
      this.lan.ip(`link set p-${b.name} master br0`);
      ns.ip(`addr add ${b.addr}/24 dev eth0`);
      ns.ip(`route add default via ${GW}`);
      // Direct routing: the backend accepts the VIP on lo but never answers ARP for it.
      ns.ip(`addr add ${VIP}/32 dev lo`);
      ns.exec(['sysctl', '-qw', 'net.ipv4.conf.all.arp_ignore=1']);
      ns.exec(['sysctl', '-qw', 'net.ipv4.conf.all.arp_announce=2']);
      this.backends.push({ ...b, ns, downFile: join(work, `${b.name}.down`) });
    }
  }

  private spawn(ns: Netns, argv: string[], label: string, env?: NodeJS.ProcessEnv): ChildProcess {
    const child = ns.spawn(argv, { env });
    const out = captureOutput(child);
    child.once('exit', (code, sig) => {
      if (process.env.LBDEMO_DEBUG) say(`[${label} exited ${code ?? sig}]\n${out.text().slice(-2000)}`);
    });
    this.procs.push(child);
    return child;
  }

  startBackends(): void {
    for (const b of this.backends) {
      this.spawn(
        b.ns,
        [process.execPath, join(dist, 'scripts', 'demo', 'backend.js'), b.name, '0.0.0.0', '80', b.downFile],
        b.name,
      );
    }
  }

  agentConfig(lb: Lb): string {
    const l = LBS.find((x) => x.name === lb.name)!;
    return `# demo config for ${lb.name}
node: {name: ${lb.name}}
control: {socket: ${lb.sock}}
metrics: {listen: "127.0.0.1:9475"}
maintenance: {disableFile: ${lb.disableFile}, drainTimeout: 30s}
vips:
  - address: ${VIP}
ipvs:
  services:
    - name: web
      vip: ${VIP}
      port: 80
      scheduler: mh
      mhPort: true
      forwarding: dr
      quorum: 1
      check: {type: http, path: /healthz, interval: 1s, timeout: 500ms, rise: 2, fall: 2}
      backends:
${BACKENDS.map((b) => `        - {address: ${b.addr}, weight: 100}`).join('\n')}
vrrp:
  instances:
    - name: gw
      interface: eth1
      vrid: 10
      priority: ${l.priority}
      advertInterval: 1s
      vips: [${GW}/24]
bgp:
  announcements:
    - prefix: ${VIP}/32
      services: [web]
      withdrawOnDown: true
      withdrawOnDisabled: true
`;
  }

  birdConfig(): string {
    return `router id 10.0.0.1;
protocol device { scan time 5; }
protocol kernel { ipv4 { export all; import none; }; merge paths on; }
${LBS.map(
  (l) => `protocol bgp ${l.name} {
  local ${l.router} as 65000;
  neighbor ${l.uplink} as 65001;
  hold time 9;
  ipv4 { import all; export none; };
}`,
).join('\n')}
`;
  }

  startRouter(): void {
    const conf = join(work, 'bird.conf');
    writeFileSync(conf, this.birdConfig());
    this.spawn(
      this.router,
      ['bird', '-f', '-c', conf, '-s', join(work, 'bird.ctl'), '-P', join(work, 'bird.pid')],
      'bird',
    );
  }

  startExabgp(lb: Lb): void {
    const l = LBS.find((x) => x.name === lb.name)!;
    const conf = join(work, lb.name, 'exabgp.conf');
    writeFileSync(
      conf,
      `process lbagent {
  run ${process.execPath} ${agentBin} exabgp-bridge --socket ${join(work, lb.name, 'exabgp.sock')};
  encoder text;
}
neighbor ${l.router} {
  router-id ${l.uplink};
  local-address ${l.uplink};
  local-as 65001;
  peer-as 65000;
  family { ipv4 unicast; }
  api { processes [ lbagent ]; neighbor-changes; }
}
`,
    );
    lb.exabgp = this.spawn(lb.ns, ['exabgp', conf], `${lb.name} exabgp`, {
      'exabgp.daemon.user': 'root',
      'exabgp.daemon.daemonize': 'false',
      'exabgp.daemon.pid': '',
      'exabgp.log.destination': 'stdout',
      'exabgp.api.cli': 'false',
    });
  }

  startAgent(lb: Lb): void {
    writeFileSync(lb.cfg, this.agentConfig(lb));
    lb.agent = this.spawn(lb.ns, [process.execPath, agentBin, 'run', '--config', lb.cfg], `${lb.name} agent`);
  }

  lbctl(lb: Lb, ...args: string[]): string {
    return lb.ns.exec([process.execPath, lbctlBin, '-s', lb.sock, ...args], { allowFail: true });
  }

  routerRoute(): string {
    return this.router.exec(['ip', 'route', 'show', `${VIP}/32`], { allowFail: true }).trim();
  }

  async teardown(): Promise<void> {
    for (const p of this.procs.reverse()) await stopChild(p, 'SIGTERM', 3000).catch(() => {});
    destroyNetns(...this.nss);
    rmSync(work, { recursive: true, force: true });
  }
}

interface ClientReport {
  ok: number;
  failed: number;
  counts: Record<string, number>;
  lastError: string;
}

/** A client run in the background: new connection per request, counts per backend. */
class TrafficRun {
  private last: ClientReport = { ok: 0, failed: 0, counts: {}, lastError: '' };
  readonly child: ChildProcess;
  constructor(lab: DemoLab, rate: number, seconds: number) {
    this.child = lab.client.spawn([
      process.execPath,
      join(dist, 'scripts', 'demo', 'client.js'),
      `http://${VIP}/`,
      String(rate),
      String(seconds),
    ]);
    let buf = '';
    this.child.stdout?.on('data', (d) => {
      buf += d;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        try {
          this.last = JSON.parse(buf.slice(0, nl));
        } catch {}
        buf = buf.slice(nl + 1);
      }
    });
  }
  get report(): ClientReport {
    return this.last;
  }
  async stop(): Promise<ClientReport> {
    await sleep(700); // let the last report arrive
    await stopChild(this.child, 'SIGTERM', 2000);
    return this.last;
  }
}

function bar(n: number, total: number, width = 30): string {
  const w = total ? Math.round((n / total) * width) : 0;
  return `${'#'.repeat(w)}${'.'.repeat(width - w)}`;
}

function showCounts(label: string, r: ClientReport, perLb: Record<string, number>): void {
  const total = Object.values(r.counts).reduce((a, b) => a + b, 0);
  say(`   ${label}: ${r.ok} ok, ${r.failed} failed${r.failed ? ` (last error: ${r.lastError})` : ''}`);
  for (const b of BACKENDS) {
    const n = r.counts[b.name] ?? 0;
    say(`     backend ${b.name}  ${bar(n, total)} ${String(n).padStart(5)}`);
  }
  const lbTotal = Object.values(perLb).reduce((a, b) => a + b, 0);
  for (const [name, n] of Object.entries(perLb))
    say(`     via ${name}     ${bar(n, lbTotal)} ${String(n).padStart(5)}`);
}

/** Connections each LB host's IPVS scheduled for the web service (kernel counters via lbctl). */
function ipvsConns(lab: DemoLab): Record<string, number> {
  const out: Record<string, number> = {};
  for (const lb of lab.lbs) {
    try {
      const st = JSON.parse(lab.lbctl(lb, 'ipvs', '--json')) as {
        services: { dests: { stats?: { conns: number } }[] }[];
      };
      out[lb.name] = st.services.reduce(
        (n, s) => n + s.dests.reduce((m, d) => m + (d.stats?.conns ?? 0), 0),
        0,
      );
    } catch {
      out[lb.name] = 0;
    }
  }
  return out;
}

const diff = (a: Record<string, number>, b: Record<string, number>) =>
  Object.fromEntries(Object.keys(a).map((k) => [k, a[k] - (b[k] ?? 0)]));

async function traffic(lab: DemoLab, label: string, seconds: number, rate = 40): Promise<ClientReport> {
  const before = ipvsConns(lab);
  const run = new TrafficRun(lab, rate, seconds + 5);
  await sleep(seconds * 1000);
  const r = await run.stop();
  showCounts(label, r, diff(ipvsConns(lab), before));
  return r;
}

function vrrpMaster(lab: DemoLab): string {
  for (const lb of lab.lbs) {
    try {
      const st = JSON.parse(lab.lbctl(lb, 'vrrp', '--json')) as { instances: { state: string }[] };
      if (st.instances.some((i) => i.state === 'master')) return lb.name;
    } catch {}
  }
  return 'none';
}

/** The story. Each step prints what it does and what the numbers show. */
export async function runDemo(): Promise<number> {
  const lab = new DemoLab();
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
    say('\ninterrupted: tearing the lab down');
    void lab.teardown().then(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const problems: string[] = [];
  const expect = (ok: boolean, what: string) => {
    if (!ok) problems.push(what);
    say(`   ${ok ? 'OK ' : 'NOT OK'} ${what}`);
  };
  try {
    step(1, 'Building the lab: client, router (BIRD), two LB hosts, a LAN bridge, three HTTP backends');
    lab.build();
    lab.startBackends();
    lab.startRouter();
    for (const lb of lab.lbs) {
      lab.startExabgp(lb);
      lab.startAgent(lb);
    }
    await waitFor(() => lab.lbs.every((lb) => lab.lbctl(lb, 'status').startsWith('lbagent')), {
      timeoutMs: 180_000,
      intervalMs: 1000,
      what: 'both agents to answer lbctl status',
    });
    say('   both agents are up; lbctl status on lb1:');
    say(lab.lbctl(lab.lbs[0], 'status').replace(/^/gm, '     '));

    step(2, 'Health checks pass, both LB hosts announce the VIP, the router spreads flows with ECMP');
    const route = await waitFor(
      () => {
        const r = lab.routerRoute();
        return (r.match(/nexthop/g) ?? []).length === 2 ? r : '';
      },
      { timeoutMs: 180_000, intervalMs: 1000, what: 'the router to learn two BGP paths' },
    );
    say(`   router: ${route.replace(/\n\s*/g, '\n           ')}`);
    await waitFor(() => vrrpMaster(lab) !== 'none', {
      timeoutMs: 60_000,
      intervalMs: 500,
      what: 'a VRRP master',
    });
    say(`   VRRP: the backends' gateway ${GW} is on ${vrrpMaster(lab)} (master)`);

    step(3, 'Traffic: a client opens a new connection per request to the VIP');
    const base = await traffic(lab, '8 s of traffic', 8);
    expect(
      base.failed === 0 && BACKENDS.every((b) => (base.counts[b.name] ?? 0) > 0),
      'every backend serves, no request fails',
    );

    step(4, 'Backend be2 fails its health check (its /healthz answers 503)');
    writeFileSync(lab.backends[1].downFile, '');
    // Both LB hosts check on their own (ECMP sends the client through either): wait for both.
    await waitFor(() => lab.lbs.every((lb) => lab.lbctl(lb, 'facts').includes('10.1.0.12:80  down')), {
      timeoutMs: 60_000,
      intervalMs: 500,
      what: 'be2 to be marked down',
    });
    say('   lb1 after `fall` failed checks (lbctl ipvs): be2 has weight 0, its connections are kept');
    say(lab.lbctl(lab.lbs[0], 'ipvs').replace(/^/gm, '     '));
    const down = await traffic(lab, '6 s of traffic', 6);
    expect(
      (down.counts.be2 ?? 0) === 0 && down.failed === 0,
      'be2 gets no new connections, no request fails',
    );

    step(5, 'be2 recovers and comes back after `rise` good checks');
    rmSync(lab.backends[1].downFile, { force: true });
    await waitFor(() => lab.lbctl(lab.lbs[0], 'facts').includes('10.1.0.12:80  up'), {
      timeoutMs: 60_000,
      intervalMs: 500,
      what: 'be2 to be marked up',
    });
    const back = await traffic(lab, '6 s of traffic', 6);
    expect((back.counts.be2 ?? 0) > 0, 'be2 serves again');

    step(6, 'Maintenance: `lbctl drain --wait` on lb1 while the client keeps going');
    const run = new TrafficRun(lab, 40, 120);
    await sleep(2000);
    const before = ipvsConns(lab);
    const drainOut = lab.lbs[0].ns.exec(
      [
        process.execPath,
        lbctlBin,
        '-s',
        lab.lbs[0].sock,
        'drain',
        '--reason',
        'demo maintenance',
        '--wait',
        '--timeout',
        '60s',
      ],
      { allowFail: true, stderr: true },
    );
    say(drainOut.trimEnd().replace(/^/gm, '     '));
    await sleep(4000);
    const mid = ipvsConns(lab);
    await sleep(4000);
    const after = ipvsConns(lab);
    const r6 = await run.stop();
    showCounts('during and after the drain', r6, diff(after, before));
    say(
      `   new connections through lb1 in the last 4 s: ${after.lb1 - mid.lb1}, through lb2: ${after.lb2 - mid.lb2}`,
    );
    expect(r6.failed === 0, 'no request failed through the drain');
    expect(after.lb1 - mid.lb1 === 0, 'the drained host gets no new connections');

    step(7, 'lbctl undrain: lb1 announces the VIP again');
    say(`   ${lab.lbctl(lab.lbs[0], 'undrain').trim()}`);
    await waitFor(() => (lab.routerRoute().match(/nexthop/g) ?? []).length === 2, {
      timeoutMs: 60_000,
      intervalMs: 500,
      what: 'two paths again',
    });
    say(`   router: ${lab.routerRoute().replace(/\n\s*/g, '\n           ')}`);
    await waitFor(() => vrrpMaster(lab) === 'lb1', {
      timeoutMs: 30_000,
      intervalMs: 250,
      what: 'lb1 to preempt',
    });
    say(`   VRRP: lb1's priority is back to 150, it preempted: ${GW} is on lb1 again`);

    step(8, `The VRRP master (${vrrpMaster(lab)}) dies: its agent is killed with SIGKILL`);
    const master = lab.lbs.find((l) => l.name === vrrpMaster(lab)) ?? lab.lbs[0];
    const other = lab.lbs.find((l) => l !== master)!;
    const run8 = new TrafficRun(lab, 20, 120);
    await sleep(1500);
    const t0 = Date.now();
    await stopChild(master.agent!, 'SIGKILL', 1000);
    await waitFor(() => other.ns.ip('-4 addr show dev eth1').includes(`${GW}/24`), {
      timeoutMs: 30_000,
      intervalMs: 50,
      what: `${GW} to move to ${other.name}`,
    });
    say(
      `   ${GW} moved to ${other.name} after ${((Date.now() - t0) / 1000).toFixed(1)} s (3 adverts + skew at 1 s)`,
    );
    say(`   ${master.name}'s VIP and IPVS table stay in the kernel, so its ECMP share keeps being served`);
    await sleep(3000);
    const r8 = await run8.stop();
    showCounts('while the master died', r8, {});

    step(
      9,
      `${master.name}'s agent restarts: it adopts the VIP and IPVS table it left (no IPVS write) and preempts back`,
    );
    lab.startAgent(master);
    await waitFor(() => vrrpMaster(lab) === master.name, {
      timeoutMs: 60_000,
      intervalMs: 500,
      what: 'preemption',
    });
    say(`   ${GW} is back on ${master.name}; writes since the restart: ${kernelWrites(lab, master)}`);
    say('   (the kernel writes are the floating IP: removed while backup at start, added back as master)');
    const fin = await traffic(lab, '6 s of traffic', 6);
    expect(fin.failed === 0 && BACKENDS.every((b) => (fin.counts[b.name] ?? 0) > 0), 'everything restored');

    say(
      problems.length
        ? `\n${problems.length} check(s) did not hold: ${problems.join('; ')}`
        : '\nevery check held',
    );
    return interrupted ? 130 : problems.length ? 1 : 0;
  } finally {
    if (!interrupted) {
      step(10, 'Tearing the lab down');
      await lab.teardown();
      say('   all namespaces and processes removed');
    }
  }
}

function kernelWrites(lab: DemoLab, lb: Lb): string {
  try {
    const st = JSON.parse(lab.lbctl(lb, 'status', '--json'));
    const k = st.subsystems.kernel?.counters?.writes;
    const i = st.subsystems.ipvs?.counters?.writes;
    return `kernel ${k ?? '?'}, ipvs ${i ?? '?'}`;
  } catch {
    return 'unknown';
  }
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  process.exitCode = await runDemo();
}
