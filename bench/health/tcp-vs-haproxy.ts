// Bench: the agent's health checks vs HAProxy (Debian) on the same TCP endpoints in the same run.
// N endpoints on loopback in a namespace the bench creates (listener processes, 5,000 ports each),
// checked every interval; one after the other, the agent then HAProxy (nbthread 1), each for the
// same duration. Reports CPU % (utime+stime from /proc), peak RSS, p99 lateness of agent checks
// vs their schedule, false downs, and the CPU ratio agent/HAProxy.
//   full:  node --import tsx bench/health/tcp-vs-haproxy.ts            (20,000 endpoints, 5 s, 120 s)
//   quick: node --import tsx bench/health/tcp-vs-haproxy.ts --quick    (2,000 endpoints, 5 s, 20 s)
// Needs root (namespace). Only touches the namespace it creates.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import {
  createNetns,
  destroyNetns,
  type Netns,
  siblingScript,
  stopChild,
  uniq,
  waitFor,
} from '../../test/lib/netns.js';

const quick = process.argv.includes('--quick');
const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
};
const N = arg('endpoints', quick ? 2000 : 20_000);
const INTERVAL = arg('interval', 5000);
const DURATION = arg('duration', quick ? 20_000 : 120_000);
const BASE_PORT = 10_000;
const PER_LISTENER = 5000;
const TICK = 100; // USER_HZ

const _here = dirname(fileURLToPath(import.meta.url));
const nodeArgv = (script: string, ...args: string[]) => siblingScript(import.meta.url, script, ...args);

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]); // utime + stime
}

function rssMiB(pid: number): { rss: number; peak: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1] ?? 0);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

function lines(child: ChildProcess): AsyncIterator<string> {
  return createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
}

async function expectLine(
  it: AsyncIterator<string>,
  want: (l: string) => boolean,
  what: string,
  ms: number,
): Promise<string> {
  const deadline = Date.now() + ms;
  for (let i = 0; i < 10_000; i++) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    const next = await Promise.race([it.next(), new Promise<null>((r) => setTimeout(() => r(null), left))]);
    if (next === null || next.done) break;
    if (want(next.value)) return next.value;
  }
  throw new Error(`timed out waiting for ${what}`);
}

interface Measure {
  cpuPct: number;
  rssMiB: number;
  peakRssMiB: number;
}

async function measure(pid: number, ms: number): Promise<Measure> {
  const t0 = cpuTicks(pid);
  const w0 = performance.now();
  await new Promise((r) => setTimeout(r, ms));
  const cpu = cpuTicks(pid) - t0;
  const wall = (performance.now() - w0) / 1000;
  const m = rssMiB(pid);
  return { cpuPct: (100 * cpu) / TICK / wall, rssMiB: m.rss, peakRssMiB: m.peak };
}

async function runAgent(ns: Netns) {
  const child = ns.spawn(nodeArgv('agent-run', String(BASE_PORT), String(N), String(INTERVAL)));
  child.stderr?.on('data', (d) => process.stderr.write(`agent: ${d}`));
  const out = lines(child);
  try {
    await expectLine(out, (l) => l === 'ready', 'agent ready', 60_000);
    const m = await measure(child.pid!, DURATION);
    child.stdin!.write('report\n');
    const report = JSON.parse(await expectLine(out, (l) => l.startsWith('{'), 'agent report', 30_000));
    return { ...m, ...report };
  } finally {
    await stopChild(child, 'SIGTERM', 2000);
  }
}

// HAProxy reserves one fd per checked server on top of 2 x maxconn, and the fd hard limit here is
// 20,000: the anchor is therefore ceil(N / 10,000) HAProxy processes; CPU and RSS are summed.
const PER_HAPROXY = 10_000;

function haproxyConfig(sock: string, from: number, to: number): string {
  const out = [
    'global',
    '  maxconn 2000',
    '  nbthread 1',
    `  stats socket ${sock} mode 600 level admin`,
    'defaults',
    '  mode tcp',
    '  timeout connect 2s',
    '  timeout check 2s',
    '  timeout client 10s',
    '  timeout server 10s',
  ];
  for (let s = from; s < to; s += 1000) {
    out.push(`backend b${s}`, `  default-server check inter ${INTERVAL} rise 2 fall 3`);
    for (let i = s; i < Math.min(to, s + 1000); i++)
      out.push(`  server p${BASE_PORT + i} 127.0.0.1:${BASE_PORT + i}`);
  }
  return `${out.join('\n')}\n`;
}

function haproxyCommand(sock: string, cmd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ path: sock });
    let buf = '';
    s.setTimeout(10_000, () => s.destroy(new Error('stats socket timeout')));
    s.on('data', (d) => {
      buf += d;
    });
    s.on('end', () => resolve(buf));
    s.on('error', reject);
    s.end(`${cmd}\n`);
  });
}

async function runHaproxy(ns: Netns, dir: string) {
  const procs: { child: ChildProcess; sock: string; out: () => string }[] = [];
  try {
    for (let from = 0; from < N; from += PER_HAPROXY) {
      const sock = join(dir, `haproxy-${from}.sock`);
      const cfg = join(dir, `haproxy-${from}.cfg`);
      writeFileSync(cfg, haproxyConfig(sock, from, Math.min(N, from + PER_HAPROXY)));
      const child = ns.spawn(['haproxy', '-db', '-f', cfg]);
      let text = '';
      for (const st of [child.stdout, child.stderr]) {
        st?.on('data', (d) => {
          text += d;
        });
      }
      procs.push({ child, sock, out: () => text });
    }
    for (const p of procs) {
      await waitFor(
        () => {
          if (p.child.exitCode !== null) throw new Error(`haproxy exited: ${p.out().slice(0, 500)}`);
          return haproxyCommand(p.sock, 'show info').then((t) => t.includes('Pid:'));
        },
        { timeoutMs: 60_000, what: 'haproxy stats socket' },
      );
    }
    const ms = await Promise.all(procs.map((p) => measure(p.child.pid!, DURATION)));
    let falseDowns = 0;
    let downNow = 0;
    let checked = 0;
    for (const p of procs) {
      const csv = (await haproxyCommand(p.sock, 'show stat')).trim().split('\n');
      const head = csv[0].replace(/^# /, '').split(',');
      const col = (n: string) => head.indexOf(n);
      for (const row of csv.slice(1)) {
        const f = row.split(',');
        if (f[col('type')] !== '2') continue;
        checked++;
        falseDowns += Number(f[col('chkdown')] || 0);
        if (!String(f[col('status')]).startsWith('UP')) downNow++;
      }
    }
    const sum = (k: keyof Measure) => ms.reduce((a, m) => a + m[k], 0);
    return {
      processes: procs.length,
      cpuPct: sum('cpuPct'),
      rssMiB: sum('rssMiB'),
      peakRssMiB: sum('peakRssMiB'),
      falseDowns,
      downNow,
      checked,
    };
  } finally {
    for (const p of procs) await stopChild(p.child, 'SIGTERM', 2000);
  }
}

async function main() {
  const [ns] = createNetns(`lbt-hbench-${uniq()}`);
  const dir = mkdtempSync(join(tmpdir(), 'lbt-hbench-'));
  const listeners: ChildProcess[] = [];
  try {
    for (let from = 0; from < N; from += PER_LISTENER) {
      const c = ns.spawn(
        nodeArgv('listeners', String(BASE_PORT + from), String(BASE_PORT + Math.min(N, from + PER_LISTENER))),
      );
      c.stderr?.on('data', (d) => process.stderr.write(`listener: ${d}`));
      listeners.push(c);
      await expectLine(lines(c), (l) => l === 'ready', 'listeners ready', 60_000);
    }
    console.error(
      `${N} endpoints, interval ${INTERVAL} ms, ${DURATION / 1000} s each; agent first, then haproxy`,
    );
    const load0 = loadavg()[0];
    const agent = await runAgent(ns);
    console.error(`agent: ${JSON.stringify(agent)}`);
    const haproxy = await runHaproxy(ns, dir);
    console.error(`haproxy: ${JSON.stringify(haproxy)}`);
    const checksPerSec = N / (INTERVAL / 1000);
    const fmt = (x: number) => x.toFixed(1);
    const table = [
      `| ${N} endpoints, every ${INTERVAL / 1000} s, ${DURATION / 1000} s | CPU % | RSS MiB (peak) | p99 lateness ms | false downs |`,
      '|---|---|---|---|---|',
      `| lbagent health | ${fmt(agent.cpuPct)} | ${fmt(agent.rssMiB)} (${fmt(agent.peakRssMiB)}) | ${agent.lateness.p99} (max ${agent.lateness.max}) | ${agent.falseDowns} |`,
      `| HAProxy 2.6 nbthread 1 (x${haproxy.processes}) | ${fmt(haproxy.cpuPct)} | ${fmt(haproxy.rssMiB)} (${fmt(haproxy.peakRssMiB)}) | n/a | ${haproxy.falseDowns} |`,
      '',
      `CPU ratio agent/HAProxy: ${(agent.cpuPct / haproxy.cpuPct).toFixed(2)} (${checksPerSec.toFixed(0)} checks/s; agent ran ${agent.runs} checks)`,
      `Agent event-loop delay p99 ${agent.eventLoopDelay.p99} ms, max ${agent.eventLoopDelay.max} ms; host load average ${load0.toFixed(1)} → ${loadavg()[0].toFixed(1)} on ${availableParallelism()} CPUs`,
    ].join('\n');
    console.log(table);
    console.log(
      JSON.stringify({
        endpoints: N,
        intervalMs: INTERVAL,
        durationMs: DURATION,
        agent,
        haproxy,
        cpuRatio: agent.cpuPct / haproxy.cpuPct,
      }),
    );
  } finally {
    for (const l of listeners) await stopChild(l, 'SIGTERM', 1000);
    destroyNetns(ns);
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
