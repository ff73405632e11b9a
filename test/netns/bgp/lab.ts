// One LB host (the real agent + real ExaBGP running the real bridge) peering with a BIRD 2
// router, each in a namespace the lab creates. Shared by the BGP fault and flap tests.
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  captureOutput,
  createNetns,
  destroyNetns,
  type Netns,
  stopChild,
  uniq,
  veth,
  waitFor,
} from '../../lib/netns.js';

const here = dirname(fileURLToPath(import.meta.url));
const repo = here.includes('/dist/') ? resolve(here, '../../../..') : resolve(here, '../../..');
export const dist = join(repo, 'dist');

/** ExaBGP as the tests run it: as root, in the foreground, logging to stdout, no CLI pipes. */
export const EXABGP_ENV = {
  'exabgp.daemon.user': 'root',
  'exabgp.daemon.daemonize': 'false',
  'exabgp.log.destination': 'stdout',
  'exabgp.api.cli': 'false',
  'exabgp.daemon.pid': '',
};

export interface BgpStatusJson {
  summary: string;
  socketListening: boolean;
  counters: Record<string, number>;
  bridges: {
    pid: number;
    exabgpPid: number;
    neighbors: Record<string, { state: string; families?: string[] }>;
  }[];
  announcements: {
    prefix: string;
    state: string;
    announced: boolean;
    acked: boolean;
    onWire: boolean;
    rejected: boolean;
    wire: string;
    attributes: { med?: number };
  }[];
}

export class BgpLab {
  readonly id = uniq();
  readonly work = mkdtempSync(join(tmpdir(), 'lbt-bgplab-'));
  router!: Netns;
  lb!: Netns;
  bird?: ChildProcess;
  birdOut?: { text: () => string };
  agent?: ChildProcess;
  agentOut?: { text: () => string };
  exabgp?: ChildProcess;
  exabgpOut?: { text: () => string };
  readonly lbAddr = '10.0.1.2';
  readonly routerAddr = '10.0.1.1';

  constructor(private opts: { families: string; agentYaml: string; stopGrace?: string }) {}

  get dir(): string {
    return join(this.work, 'lb');
  }
  get disableFile(): string {
    return join(this.dir, 'disable');
  }
  get bridgeSocket(): string {
    return join(this.dir, 'exabgp.sock');
  }

  async setUp(): Promise<void> {
    [this.router, this.lb] = createNetns(`lbt-bgpr-${this.id}`, `lbt-bgplb-${this.id}`);
    veth(this.router, 'r1', this.lb, 'eth0');
    this.router.ip(`addr add ${this.routerAddr}/24 dev r1`);
    this.lb.ip(`addr add ${this.lbAddr}/24 dev eth0`);
    mkdirSync(this.dir, { recursive: true });
    writeFileSync(
      join(this.work, 'bird.conf'),
      `router id ${this.routerAddr};
protocol device { scan time 10; }
protocol kernel { ipv4 { export all; import none; }; }
protocol bgp lb1 {
  local as 65000; neighbor ${this.lbAddr} as 65001;
  ipv4 { import all; export none; };
  connect retry time 1; connect delay time 1; error wait time 1, 2;
}
`,
    );
    this.bird = this.router.spawn([
      'bird',
      '-f',
      '-c',
      join(this.work, 'bird.conf'),
      '-s',
      join(this.work, 'bird.ctl'),
    ]);
    this.birdOut = captureOutput(this.bird);
    writeFileSync(
      join(this.dir, 'lbagent.yaml'),
      `log: { level: info }
control: { socket: ${join(this.dir, 'lbagent.sock')} }
metrics: { enabled: false }
maintenance: { disableFile: ${this.disableFile}, pollInterval: 1s, drainTimeout: 20s }
${this.opts.agentYaml}`,
    );
    writeFileSync(
      join(this.dir, 'exabgp.conf'),
      `process lbagent {
  run /usr/bin/node ${join(dist, 'agent/main.js')} exabgp-bridge --socket ${this.bridgeSocket};
  encoder text;
}
neighbor ${this.routerAddr} {
  router-id ${this.lbAddr};
  local-address ${this.lbAddr};
  local-as 65001;
  peer-as 65000;
  family { ${this.opts.families} }
  api { processes [ lbagent ]; neighbor-changes; }
}
`,
    );
    await this.startAgent();
    this.startExabgp();
  }

  async tearDown(): Promise<void> {
    for (const c of [this.agent, this.exabgp, this.bird]) if (c) await stopChild(c, 'SIGTERM', 2000);
    destroyNetns(this.router, this.lb);
    rmSync(this.work, { recursive: true, force: true });
  }

  async startAgent(): Promise<void> {
    this.agent = this.lb.spawn([
      'node',
      join(dist, 'agent/main.js'),
      'run',
      '--config',
      join(this.dir, 'lbagent.yaml'),
    ]);
    this.agentOut = captureOutput(this.agent);
    await waitFor(() => this.agentOut?.text().includes('lbagent running'), {
      timeoutMs: 15_000,
      what: 'agent running',
    }).catch((err) => {
      throw new Error(`${err.message}\n${this.agentOut?.text()}`);
    });
  }

  startExabgp(): void {
    this.exabgp = this.lb.spawn(['exabgp', join(this.dir, 'exabgp.conf')], {
      env: EXABGP_ENV,
      cwd: this.dir,
    });
    this.exabgpOut = captureOutput(this.exabgp);
  }

  /** lbctl in the LB namespace: stdout (with `stderr`, stdout then stderr). */
  lbctl(args: string[], opts: { allowFail?: boolean; stderr?: boolean } = {}): string {
    return this.lb.exec(
      ['node', join(dist, 'cli/lbctl.js'), '-s', join(this.dir, 'lbagent.sock'), ...args],
      opts,
    );
  }

  bgp(): BgpStatusJson {
    return JSON.parse(this.lbctl(['--json', 'bgp'])) as BgpStatusJson;
  }

  /** The router's view of a prefix: undefined when it has no route, else the MED (or -1). */
  routerMed(prefix: string): number | undefined {
    const out = this.router.exec(
      ['birdc', '-s', join(this.work, 'bird.ctl'), 'show', 'route', 'for', prefix, 'all'],
      {
        allowFail: true,
      },
    );
    if (!/\svia\s/.test(out)) return undefined;
    const m = /BGP\.med:\s*(\d+)/.exec(out);
    return m ? Number(m[1]) : -1;
  }

  dump(): string {
    return [
      '--- bird',
      this.birdOut?.text().slice(-2000),
      '--- exabgp',
      this.exabgpOut?.text().slice(-4000),
      '--- agent',
      this.agentOut?.text().slice(-4000),
    ].join('\n');
  }
}

/** Busy-waits about `ms` milliseconds (1 ms apart: a timer cannot be trusted that fine). */
export function spinMs(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {}
}
