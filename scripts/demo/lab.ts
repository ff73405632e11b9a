// The demo lab: the whole LB tier in network namespaces, with real traffic.
//
//   client ── router (BIRD, ECMP over BGP paths) ─┬─ lb1 (lbagent + ExaBGP, VIP on lo, IPVS mh)
//                                                  └─ lb2 (lbagent + ExaBGP, VIP on lo, IPVS mh)
//   lb1, lb2 ── lan bridge ── be1, be2, be3 (HTTP backends, IPVS direct routing)
//   lb1/lb2 hold the backends' gateway 10.1.0.1 as a VRRP floating IP.
//
// It prints a short story with live numbers, then removes everything (also on Ctrl-C).
import { type ChildProcess, execFileSync } from 'node:child_process';
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

  private spawn(ns: Netns, argv: string[], label: string): ChildProcess {
    const child = ns.spawn(argv);
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
  try {
    step(1, 'Building the lab: client, router (BIRD), two LB hosts, a LAN bridge, three backends');
    lab.build();
    lab.startBackends();
    lab.startRouter();
    for (const lb of lab.lbs) lab.startAgent(lb);
    await waitFor(() => lab.lbs.every((lb) => lab.lbctl(lb, 'status').startsWith('lbagent')), {
      timeoutMs: 120_000,
      intervalMs: 500,
      what: 'both agents to answer lbctl status',
    });
    say(lab.lbctl(lab.lbs[0], 'status'));
    if (interrupted) return 130;
    return 0;
  } finally {
    if (!interrupted) {
      step(99, 'Tearing the lab down');
      await lab.teardown();
      say('all namespaces and processes removed');
    }
  }
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  process.exitCode = await runDemo();
}
