// Helpers for the VRRP interop tests: a two-namespace LAN (keepalived side "ka", lbagent side
// "lb"), keepalived and lbagent drivers as children, tcpdump captures, bounded waits.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
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
const isTs = import.meta.url.endsWith('.ts');
export const driverPath = join(here, isTs ? 'driver.ts' : 'driver.js');
/** argv prefix that runs a sibling script the way this file runs (tsx in development, plain node when compiled). */
export const nodeArgv = isTs ? [process.execPath, '--import', 'tsx'] : [process.execPath];

export interface Lan {
  ka: Netns;
  lb: Netns;
  /** The "switch": a bridge joining ka's and lb's eth0. */
  sw: Netns;
  kaAddr: string;
  lbAddr: string;
  dir: string;
  children: ChildProcess[];
  /** Cuts lb off the bridge (carrier stays up on both sides) / joins it again. */
  partition(): void;
  heal(): void;
  cleanup(): Promise<void>;
}

/** ka and lb on one bridged "LAN" (eth0 in each); `lbHigher` gives lbagent the higher address. */
export function makeLan(area: string, opts: { lbHigher?: boolean } = {}): Lan {
  const u = uniq();
  const [ka, lb, sw] = createNetns(`lbt-${area}-k${u}`, `lbt-${area}-l${u}`, `lbt-${area}-s${u}`);
  // Link-local addresses usable at once (no DAD wait) inside these test namespaces only.
  for (const ns of [ka, lb]) ns.exec(['sysctl', '-q', '-w', 'net.ipv6.conf.default.accept_dad=0']);
  sw.ip('link add br0 type bridge mcast_snooping 0');
  sw.ip('link set br0 up');
  veth(ka, 'eth0', sw, 'pk');
  veth(lb, 'eth0', sw, 'pl');
  sw.ip('link set pk master br0');
  sw.ip('link set pl master br0');
  const kaAddr = opts.lbHigher ? '10.77.0.1' : '10.77.0.2';
  const lbAddr = opts.lbHigher ? '10.77.0.2' : '10.77.0.1';
  ka.ip(`addr add ${kaAddr}/24 dev eth0`);
  lb.ip(`addr add ${lbAddr}/24 dev eth0`);
  const dir = mkdtempSync(join(tmpdir(), 'lbt-vrrp-'));
  const children: ChildProcess[] = [];
  return {
    ka,
    lb,
    sw,
    kaAddr,
    lbAddr,
    dir,
    children,
    partition: () => sw.ip('link set pl nomaster'),
    heal: () => sw.ip('link set pl master br0'),
    async cleanup() {
      for (const c of children) await stopChild(c, 'SIGKILL', 1000);
      destroyNetns(ka, lb, sw);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface KaOpts {
  version: 2 | 3;
  priority: number;
  advertInt: number; // seconds, fractional for v3
  vrid?: number;
  vips: string[];
  nopreempt?: boolean;
  password?: string;
  state?: 'MASTER' | 'BACKUP';
  unicast?: { src: string; peers: string[] };
  /** Use this configuration text as is (several instances, sync groups, ...). */
  rawConf?: string;
}

export function keepalivedConf(o: KaOpts): string {
  if (o.rawConf) return o.rawConf;
  return `global_defs {
  router_id ka
  vrrp_version ${o.version}
  script_user root
}
vrrp_instance VI_1 {
  state ${o.state ?? 'BACKUP'}
  interface eth0
  virtual_router_id ${o.vrid ?? 51}
  priority ${o.priority}
  advert_int ${o.advertInt}
  ${o.nopreempt ? 'nopreempt' : ''}
  ${o.password ? `authentication {\n    auth_type PASS\n    auth_pass ${o.password}\n  }` : ''}
  ${o.unicast ? `unicast_src_ip ${o.unicast.src}\n  unicast_peer {\n    ${o.unicast.peers.join('\n    ')}\n  }` : ''}
  virtual_ipaddress {
    ${o.vips.map((v) => `${v} dev eth0`).join('\n    ')}
  }
}
`;
}

export interface Keepalived {
  child: ChildProcess;
  log: () => string;
  /** PID of the VRRP child process (the one that speaks VRRP). */
  vrrpPid: () => number;
  confPath: string;
}

export async function startKeepalived(lan: Lan, o: KaOpts, ns: Netns = lan.ka): Promise<Keepalived> {
  const id = uniq();
  const confPath = join(lan.dir, `keepalived-${id}.conf`);
  writeFileSync(confPath, keepalivedConf(o));
  const pid = join(lan.dir, `ka-${id}.pid`);
  const vpid = join(lan.dir, `ka-vrrp-${id}.pid`);
  const child = ns.spawn(['keepalived', '-n', '-l', '-D', '--vrrp', '-f', confPath, '-p', pid, '-r', vpid]);
  lan.children.push(child);
  const out = captureOutput(child);
  await waitFor(() => out.text().includes('Startup complete') || out.text().includes('Entering'), {
    timeoutMs: 10_000,
    what: `keepalived startup: ${out.text()}`,
  });
  const vrrpPid = () => Number(readFileSync(vpid, 'utf8').trim());
  await waitFor(() => vrrpPid() > 0, { timeoutMs: 5000, what: 'keepalived vrrp pid file' });
  return { child, log: out.text, vrrpPid, confPath };
}

/** keepalived's stats for its instance (SIGUSR2 writes /tmp/keepalived.stats). */
export async function keepalivedStats(ka: Keepalived): Promise<Record<string, number>> {
  const file = '/tmp/keepalived.stats';
  rmSync(file, { force: true });
  process.kill(ka.vrrpPid(), 'SIGUSR2');
  const text = await waitFor(
    () => {
      try {
        const t = readFileSync(file, 'utf8');
        return t.includes('Priority Zero') ? t : '';
      } catch {
        return '';
      }
    },
    { timeoutMs: 5000, what: 'keepalived stats file' },
  );
  // "  Advertisements:" opens a section; "    Received: 6" is inside it; "  Became master: 4" is top level.
  const stats: Record<string, number> = {};
  let section = '';
  for (const line of text.split('\n')) {
    const m = /^( +)(\S[^:]*):\s*(\d*)\s*$/.exec(line);
    if (!m) continue;
    const [, indent, key, value] = m;
    if (value === '') section = key.trim();
    else if (indent.length <= 2) stats[key.trim()] = Number(value);
    else stats[`${section}/${key.trim()}`] = Number(value);
  }
  return stats;
}

export interface AgentEvent {
  t: number;
  ev: string;
  key?: string;
  fact?: { up: boolean; reason?: string };
  status?: { instances: InstanceStatus[] };
  message?: string;
}
export interface InstanceStatus {
  name: string;
  state: string;
  priority: { configured: number; effective: number; reasons: string[] };
  masterSeen: { address: string; priority: number; intervalMs: number; lagMs?: number } | null;
  authProblem: { reason: string; from: string; count: number } | null;
  garpVia?: 'af_packet' | 'arping' | null;
  lastAnnounce?: { via: string; waitedMs: number; factMs?: number; afterAdvertMs?: number } | null;
  stats: Record<string, number>;
}

export interface Agent {
  child: ChildProcess;
  events: AgentEvent[];
  stderr: () => string;
  /** Latest state from the vrrp:VI_1 fact. */
  state: () => string | undefined;
  /** Latest state of any instance. */
  stateOf: (name: string) => string | undefined;
  waitState: (s: string, timeoutMs: number) => Promise<AgentEvent>;
  status: () => Promise<InstanceStatus>;
  fact: (key: string, up: boolean) => void;
  reload: (cfg: object) => Promise<void>;
  stop: () => Promise<void>;
}

export function agentConfig(o: {
  version: 2 | 3;
  priority: number;
  intervalMs: number;
  vips: string[];
  preempt?: boolean;
  password?: string;
  unicast?: { source: string; peers: string[] };
  checksumAsV2?: boolean;
  /** More instance fields (track, notify, garp, ...). */
  extra?: Record<string, unknown>;
}): object {
  return {
    vrrp: {
      instances: [
        {
          name: 'VI_1',
          interface: 'eth0',
          vrid: 51,
          version: o.version,
          priority: o.priority,
          advertInterval: `${o.intervalMs}ms`,
          preempt: o.preempt ?? true,
          vips: o.vips,
          ...(o.password ? { auth: { type: 'pass', password: o.password } } : {}),
          ...(o.unicast ? { unicast: o.unicast } : {}),
          ...(o.checksumAsV2 ? { checksumAsV2: true } : {}),
          ...o.extra,
        },
      ],
    },
  };
}

export async function startAgent(lan: Lan, cfg: object, extra: string[] = []): Promise<Agent> {
  const cfgPath = join(lan.dir, `lb-${uniq()}.json`);
  writeFileSync(cfgPath, JSON.stringify(cfg));
  const child = lan.lb.spawn([...nodeArgv, driverPath, cfgPath, ...extra]);
  lan.children.push(child);
  const events: AgentEvent[] = [];
  let err = '';
  let buf = '';
  const waiters = new Set<() => void>();
  child.stdout!.on('data', (d) => {
    buf += d;
    let i = buf.indexOf('\n');
    while (i >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        events.push(JSON.parse(line));
      } catch {}
      i = buf.indexOf('\n');
    }
    for (const w of waiters) w();
  });
  child.stderr!.on('data', (d) => {
    err += d;
  });
  const stateOf = (name: string) => {
    for (let i = events.length - 1; i >= 0; i--) {
      if (events[i].ev === 'fact' && events[i].key === `vrrp:${name}`) return events[i].fact?.reason;
    }
    return undefined;
  };
  const state = () => stateOf('VI_1');
  const waitEvent = (pred: (e: AgentEvent) => boolean, timeoutMs: number, what: string, from = 0) =>
    waitFor(() => events.slice(from).find(pred), {
      timeoutMs,
      intervalMs: 5,
      what: `${what}; stderr: ${err.slice(-2000)}`,
    });
  await waitEvent((e) => e.ev === 'ready' || e.ev === 'error', 15_000, 'lbagent driver ready');
  const failed = events.find((e) => e.ev === 'error');
  if (failed) throw new Error(`driver failed: ${failed.message}\n${err}`);
  return {
    child,
    events,
    stderr: () => err,
    state,
    stateOf,
    waitState: (s, timeoutMs) =>
      state() === s
        ? Promise.resolve(events[events.length - 1])
        : waitEvent(
            (e) => e.ev === 'fact' && e.key === 'vrrp:VI_1' && e.fact?.reason === s,
            timeoutMs,
            `lbagent state ${s}`,
            events.length,
          ),
    async status() {
      const n = events.length;
      child.stdin!.write('status\n');
      const e = await waitEvent((x) => x.ev === 'status', 5000, 'status', n);
      return e.status!.instances[0];
    },
    async reload(next) {
      const p = join(lan.dir, `lb-${uniq()}.json`);
      writeFileSync(p, JSON.stringify(next));
      const n = events.length;
      child.stdin!.write(`reload ${p}\n`);
      const e = await waitEvent((x) => x.ev === 'reloaded' || x.ev === 'error', 5000, 'reload', n);
      if (e.ev === 'error') throw new Error(`reload failed: ${e.message}`);
    },
    fact(key, up) {
      child.stdin!.write(`fact ${key} ${up ? 'up' : 'down'}\n`);
    },
    async stop() {
      child.stdin!.write('stop\n');
      await waitFor(() => child.exitCode !== null || child.signalCode !== null, {
        timeoutMs: 5000,
        what: 'agent exit',
      });
    },
  };
}

/** Does the namespace have `addr` on eth0? */
export function hasVip(ns: Netns, addr: string): boolean {
  return ns.ip('-o addr show dev eth0').includes(` ${addr}/`);
}

/** MAC address of eth0 in `ns`. */
export function macOf(ns: Netns): string {
  const m = /link\/ether ([0-9a-f:]{17})/.exec(ns.ip('link show dev eth0'));
  if (!m) throw new Error(`no MAC on eth0 in ${ns.name}`);
  return m[1];
}

/** The link-local IPv6 address of eth0 in `ns`. */
export function linkLocal(ns: Netns): string {
  const m = /inet6 (fe80::[0-9a-f:]+)\//.exec(ns.ip('-o -6 addr show dev eth0'));
  if (!m) throw new Error(`no link-local address on eth0 in ${ns.name}`);
  return m[1];
}

export interface Capture {
  lines: () => string[];
  stop: () => Promise<void>;
}

/** tcpdump -tt (epoch timestamps) of VRRP and ARP on eth0 of `ns`. */
export async function capture(
  lan: Lan,
  ns: Netns,
  filter = 'vrrp or arp',
  ifname = 'eth0',
  opts: { linkHeaders?: boolean } = {},
): Promise<Capture> {
  const child = ns.spawn([
    'tcpdump',
    '-ni',
    ifname,
    '-tt',
    '-l',
    ...(opts.linkHeaders ? ['-e'] : []),
    filter,
  ]);
  lan.children.push(child);
  const out = captureOutput(child);
  await waitFor(() => out.text().includes('listening on'), { timeoutMs: 5000, what: 'tcpdump start' });
  return {
    lines: () => out.text().split('\n'),
    stop: async () => {
      await new Promise((r) => setTimeout(r, 100));
      await stopChild(child, 'SIGINT', 2000);
    },
  };
}

/** Epoch ms of capture lines matching `re` (tcpdump -tt prefixes each packet with epoch seconds). */
export function times(lines: string[], re: RegExp): number[] {
  return lines.filter((l) => re.test(l) && /^\d+\.\d+ /.test(l)).map((l) => Number(l.split(' ')[0]) * 1000);
}
