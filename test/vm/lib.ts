// Helpers for the in-VM IPVS tests: the standalone IPVS driver as a child process, ipvsadm
// read-back, and the probe/backend fixtures. Everything runs in namespaces the tests create.
import { type ChildProcess, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { type Netns, stopChild } from '../lib/netns.js';

const here = dirname(fileURLToPath(import.meta.url)); // dist/test/vm
export const distRoot = join(here, '..', '..');
export const fixture = (name: string) => join(here, 'fixtures', `${name}.js`);
export const driverPath = join(distRoot, 'agent', 'ipvs', 'driver.js');

/** Whether this kernel has IPVS (loads the module if needed); tests skip outside the VM. */
export function ipvsAvailable(): boolean {
  // Load modules only inside the throw-away VM (stage2.sh sets LBVM), never on a host.
  if (process.env.LBVM) {
    try {
      execFileSync('modprobe', ['ip_vs'], { stdio: 'ignore' });
    } catch {}
  }
  return existsSync('/proc/net/ip_vs');
}

export const skipReason = (): string | false =>
  ipvsAvailable() ? false : 'kernel has no IPVS (run with npm run test:vm)';

const workDir = mkdtempSync(join(tmpdir(), 'lbt-ipvs-'));
let fileSeq = 0;
export function writeTemp(name: string, text: string): string {
  const p = join(workDir, `${++fileSeq}-${name}`);
  writeFileSync(p, text);
  return p;
}

/** Runs a command in a namespace with a generous timeout (TCG is slow); returns stdout. */
export function nsRun(ns: Netns, argv: string[], timeoutMs = 120_000): string {
  try {
    return execFileSync('ip', ['netns', 'exec', ns.name, ...argv], {
      encoding: 'utf8',
      timeout: timeoutMs,
      maxBuffer: 64 << 20,
    });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${ns.name}: ${argv.join(' ')} failed: ${e.stderr?.trim() || e.message}`);
  }
}

export interface DriverReply {
  ok?: boolean;
  ready?: boolean;
  error?: string;
  // biome-ignore lint/suspicious/noExplicitAny: test-side JSON
  status?: any;
  socket?: { requests: number; writes: number; datagrams: number };
  before?: { requests: number; writes: number; datagrams: number };
}

/** The IPVS subsystem driver running inside a namespace, spoken to over JSON lines. */
export class Driver {
  private lines: string[] = [];
  private waiters: ((l: string) => void)[] = [];
  private stderr = '';
  readonly child: ChildProcess;

  constructor(
    readonly ns: Netns,
    configPath: string,
    stateFile: string,
  ) {
    this.child = ns.spawn(['node', driverPath, configPath, '--state', stateFile]);
    const rl = createInterface({ input: this.child.stdout! });
    rl.on('line', (l) => {
      const w = this.waiters.shift();
      if (w) w(l);
      else this.lines.push(l);
    });
    this.child.stderr!.on('data', (d) => {
      this.stderr += d;
    });
  }

  logs(): string {
    return this.stderr;
  }

  next(timeoutMs = 120_000): Promise<DriverReply> {
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(JSON.parse(l));
    return new Promise((resolve, reject) => {
      const t = setTimeout(
        () =>
          reject(
            new Error(
              `driver in ${this.ns.name}: no reply in ${timeoutMs} ms; stderr: ${this.stderr.slice(-2000)}`,
            ),
          ),
        timeoutMs,
      );
      this.waiters.push((line) => {
        clearTimeout(t);
        resolve(JSON.parse(line));
      });
    });
  }

  async ready(): Promise<DriverReply> {
    const r = await this.next();
    if (!r.ready) throw new Error(`driver not ready: ${JSON.stringify(r)} ${this.stderr}`);
    return r;
  }

  async cmd(c: Record<string, unknown>): Promise<DriverReply> {
    this.child.stdin!.write(`${JSON.stringify(c)}\n`);
    const r = await this.next();
    if (!r.ok) throw new Error(`driver ${JSON.stringify(c)}: ${r.error} ${this.stderr.slice(-2000)}`);
    return r;
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    await stopChild(this.child, signal, 5000);
  }
}

export interface IpvsadmDest {
  address: string;
  port: number;
  forwarding: string;
  weight: number;
  activeConns: number;
  inactConns: number;
}
export interface IpvsadmService {
  key: string;
  scheduler: string;
  flags: string;
  dests: IpvsadmDest[];
}

const FWD: Record<string, string> = { Masq: 'nat', Route: 'dr', Tunnel: 'tun', Local: 'local' };

/** Parses `ipvsadm -Ln` (services and destinations; ipvsadm sorts both). */
export function ipvsadmLn(ns: Netns): IpvsadmService[] {
  const out: IpvsadmService[] = [];
  for (const line of nsRun(ns, ['ipvsadm', '-Ln']).split('\n')) {
    const s = /^(TCP|UDP|SCTP|FWM)\s+(\S+)\s+(\S+)\s*(.*)$/.exec(line);
    if (s) {
      const proto = s[1].toLowerCase();
      out.push({
        key: proto === 'fwm' ? `fwmark:${s[2]}` : `${proto}:${s[2]}`,
        scheduler: s[3],
        flags: s[4].trim(),
        dests: [],
      });
      continue;
    }
    const d = /^\s+->\s+(\S+):(\d+)\s+(\w+)\s+(\d+)\s+(\d+)\s+(\d+)/.exec(line);
    if (d && out.length) {
      out[out.length - 1].dests.push({
        address: d[1].replace(/^\[|\]$/g, ''),
        port: Number(d[2]),
        forwarding: FWD[d[3]] ?? d[3],
        weight: Number(d[4]),
        activeConns: Number(d[5]),
        inactConns: Number(d[6]),
      });
    }
  }
  return out;
}

/** Source → destination address of every IPVS connection entry (`ipvsadm -Lnc`). */
export function ipvsConnections(ns: Netns): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of nsRun(ns, ['ipvsadm', '-Lnc']).split('\n')) {
    const c = /^(TCP|UDP)\s+\S+\s+\S+\s+(\S+):(\d+)\s+(\S+):(\d+)\s+(\S+):(\d+)/.exec(line);
    if (c) m.set(`${c[2]}:${c[3]}`, c[6]);
  }
  return m;
}

export interface ProbeResult {
  src: string;
  backend: string | null;
}

export function probe(
  ns: Netns,
  spec: {
    host: string;
    port: number;
    sources: { address?: string; port?: number }[];
    mode?: 'probe' | 'syn';
    timeoutMs?: number;
    concurrency?: number;
  },
): ProbeResult[] {
  const out = nsRun(ns, ['node', fixture('probe'), JSON.stringify({ mode: 'probe', ...spec })], 300_000);
  return JSON.parse(out.trim().split('\n').pop()!);
}

export function countBy<T>(xs: T[], f: (x: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[f(x)] = (out[f(x)] ?? 0) + 1;
  return out;
}
