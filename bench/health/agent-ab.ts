// Bench: the agent's health checks alone, TCP fast path on vs off (LBAGENT_TCP_FASTPATH=0),
// alternating in one run against the same listeners (the bench's namespace and listener
// processes), so that a noisy shared host affects both sides alike. Per round: the agent starts,
// 5 s settle, CPU (utime+stime from /proc) over --seconds, then its report (lateness, false downs).
//   flock /work/bench.lock node dist/bench/health/agent-ab.js [--endpoints 20000] [--seconds 30] [--rounds 3]
// Needs root (namespace). Only touches the namespace it creates.
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import { createNetns, destroyNetns, siblingScript, stopChild, uniq } from '../../test/lib/netns.js';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
};
const N = arg('endpoints', 20_000);
const SECONDS = arg('seconds', 30);
const ROUNDS = arg('rounds', 3);
const INTERVAL = 5000;
const BASE_PORT = 10_000;
const PER_LISTENER = 5000;
const TICK = 100; // USER_HZ
const node = (script: string, ...args: string[]) => siblingScript(import.meta.url, script, ...args);

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}

async function nextLine(it: AsyncIterator<string>, want: (l: string) => boolean): Promise<string> {
  for (let i = 0; i < 10_000; i++) {
    const n = await it.next();
    if (n.done) break;
    if (want(n.value)) return n.value;
  }
  throw new Error('agent output ended');
}

const [ns] = createNetns(`lbt-hab-${uniq()}`);
const listeners = [];
try {
  for (let from = 0; from < N; from += PER_LISTENER) {
    const c = ns.spawn(
      node('listeners', String(BASE_PORT + from), String(BASE_PORT + Math.min(N, from + PER_LISTENER))),
    );
    listeners.push(c);
    await nextLine(createInterface({ input: c.stdout! })[Symbol.asyncIterator](), (l) => l === 'ready');
  }
  const cpu: Record<string, number[]> = { fast: [], slow: [] };
  for (let r = 0; r < ROUNDS; r++) {
    for (const mode of ['fast', 'slow']) {
      const a = ns.spawn(node('agent-run', String(BASE_PORT), String(N), String(INTERVAL)), {
        env: { LBAGENT_TCP_FASTPATH: mode === 'fast' ? '1' : '0' },
      });
      try {
        const out = createInterface({ input: a.stdout! })[Symbol.asyncIterator]();
        await nextLine(out, (l) => l === 'ready');
        await new Promise((res) => setTimeout(res, 5000));
        const t0 = cpuTicks(a.pid!);
        const w0 = performance.now();
        const load = loadavg()[0];
        await new Promise((res) => setTimeout(res, SECONDS * 1000));
        const pct = (100 * (cpuTicks(a.pid!) - t0)) / TICK / ((performance.now() - w0) / 1000);
        a.stdin!.write('report\n');
        const rep = JSON.parse(await nextLine(out, (l) => l.startsWith('{')));
        cpu[mode].push(pct);
        console.log(
          `${new Date().toISOString().slice(11, 19)} ${mode} CPU ${pct.toFixed(1)} % p99 lateness ${rep.lateness.p99} ms false downs ${rep.falseDowns} load ${load.toFixed(2)}`,
        );
      } finally {
        await stopChild(a, 'SIGTERM', 2000);
      }
    }
  }
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
  console.log(
    `median CPU %: fast path ${median(cpu.fast).toFixed(1)}, LBAGENT_TCP_FASTPATH=0 ${median(cpu.slow).toFixed(1)} (${N} endpoints every ${INTERVAL / 1000} s, ${SECONDS} s per round)`,
  );
} finally {
  for (const l of listeners) await stopChild(l, 'SIGTERM', 1000);
  destroyNetns(ns);
}
