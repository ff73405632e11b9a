// Kernel apply bench: N VIPs on lo + N multipath routes (two nexthops) in a fresh namespace,
// the agent (agent/kernel/standalone inside the namespace) vs `ip -batch` doing the same work in
// the same run. Reports medians and ratios (agent / ip; below 1 = agent faster).
//   node dist/bench/kernel/apply.bench.js            # full: 1,000 + 1,000, 3 rounds
//   node dist/bench/kernel/apply.bench.js --quick    # CI: 100 + 100, 1 round
// Agent times are measured inside the agent (observe + plan + apply, socket already open; observe
// is a dump for the cold apply and the observed-state cache for the later steps, as in service);
// ip times are wall time of one `ip -batch` process (its start is part of what scripts pay).
// "cold apply" is the first apply of a fresh agent process (JavaScript not yet optimised by the
// JIT); "warm re-apply" is the same 2,000 writes by the same process after removing everything.
import { writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNetns, destroyNetns, isRoot, type Netns, stopChild, uniq } from '../../test/lib/netns.js';
import { KernelAgent } from '../../test/netns/kernel/driver.js';

const quick = process.argv.includes('--quick');
const nArg = process.argv.indexOf('--n');
const N = nArg > 0 ? Number(process.argv[nArg + 1]) : quick ? 100 : 1000;
const ROUNDS = quick ? 1 : 3;

function vip(i: number): string {
  return `10.200.${i >> 8}.${i & 255}`;
}
function prefix(i: number): string {
  return `172.${16 + (i >> 8)}.${i & 255}.0/24`;
}

function config(weightOfFirst = 1) {
  return {
    vips: Array.from({ length: N }, (_, i) => ({ address: vip(i) })),
    routes: Array.from({ length: N }, (_, i) => ({
      prefix: prefix(i),
      nexthops: [
        { via: '10.0.1.2', dev: 'x1', weight: i === 0 ? weightOfFirst : 1 },
        { via: '10.0.2.2', dev: 'x2' },
      ],
    })),
  };
}

function ipBatch(verb: 'add' | 'replace', only?: number): string {
  const lines: string[] = [];
  for (let i = 0; i < N; i++) {
    if (only !== undefined && i !== only) continue;
    if (only === undefined) lines.push(`address ${verb} ${vip(i)}/32 dev lo`);
    const w = only !== undefined ? 2 : 1;
    lines.push(
      `route ${verb} ${prefix(i)} proto 199 nexthop via 10.0.1.2 dev x1 weight ${w} nexthop via 10.0.2.2 dev x2 weight 1`,
    );
  }
  return `${lines.join('\n')}\n`;
}

function freshNs(): Netns {
  const [ns] = createNetns(`lbt-kbench-${uniq()}`);
  ns.ip('link add x1 type veth peer name y1');
  ns.ip('link add x2 type veth peer name y2');
  for (const l of ['x1', 'y1', 'x2', 'y2']) ns.ip(`link set ${l} up`);
  ns.ip('addr add 10.0.1.1/24 dev x1');
  ns.ip('addr add 10.0.2.1/24 dev x2');
  return ns;
}

function timeIp(ns: Netns, script: string): number {
  const file = join(tmpdir(), `lbt-kbench-${uniq()}.batch`);
  writeFileSync(file, script);
  const t0 = performance.now();
  ns.ip(`-batch ${file}`);
  return performance.now() - t0;
}

function phases(r: { observeMs?: number; planMs?: number; applyMs?: number; observed?: string }): string {
  const f = (x?: number) => (x ?? Number.NaN).toFixed(1);
  return `${f(r.observeMs)} (${r.observed}) / ${f(r.planMs)} / ${f(r.applyMs)}`;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main(): Promise<void> {
  if (!isRoot()) {
    console.log('kernel bench: needs root (network namespaces); skipped');
    return;
  }
  const row = () => ({
    agent: [] as number[],
    ip: [] as number[],
    ipWatched: [] as number[],
    writes: [] as number[],
    phases: [] as string[],
  });
  const rows = { 'cold apply': row(), 'no-op reconcile': row(), 'one change': row(), 'warm re-apply': row() };
  for (let round = 0; round < ROUNDS; round++) {
    // ip -batch: cold add, re-apply everything (replace: what scripts do), one replace, flush and
    // add again. Twice: alone, and with a listener on the route/address groups (`ip monitor`),
    // since the agent always has one (its watch) and the kernel pays for every notification.
    for (const watched of [false, true]) {
      const ipNs = freshNs();
      const monitor = watched ? ipNs.spawn(['ip', 'monitor', 'address', 'route', 'nexthop']) : undefined;
      monitor?.stdout?.resume();
      if (monitor) await new Promise((r) => setTimeout(r, 200));
      const col = watched ? 'ipWatched' : 'ip';
      try {
        rows['cold apply'][col].push(timeIp(ipNs, ipBatch('add')));
        rows['no-op reconcile'][col].push(timeIp(ipNs, ipBatch('replace')));
        rows['one change'][col].push(timeIp(ipNs, ipBatch('replace', 0)));
        ipNs.ip('route flush proto 199');
        ipNs.ip('addr flush dev lo scope global');
        rows['warm re-apply'][col].push(timeIp(ipNs, ipBatch('add')));
      } finally {
        if (monitor) await stopChild(monitor);
        destroyNetns(ipNs);
      }
    }
    const ns = freshNs();
    const agent = KernelAgent.spawn(ns, { LBAGENT_LOG_LEVEL: 'warn' });
    try {
      await agent.call({ cmd: 'status' }); // process up, modules loaded
      await agent.call({ cmd: 'start', config: config() }, 120_000);
      let st = await agent.call({ cmd: 'status' });
      if (st.lastReconcile.failed)
        throw new Error(`cold apply failed: ${JSON.stringify(st.errors.slice(0, 3))}`);
      rows['cold apply'].agent.push(st.lastReconcile.durationMs);
      rows['cold apply'].phases.push(phases(st.lastReconcile));
      rows['cold apply'].writes.push(st.counters.writes);
      let w0 = st.counters.writes;
      await agent.call({ cmd: 'reconcile' }, 120_000);
      st = await agent.call({ cmd: 'status' });
      rows['no-op reconcile'].agent.push(st.lastReconcile.durationMs);
      rows['no-op reconcile'].phases.push(phases(st.lastReconcile));
      rows['no-op reconcile'].writes.push(st.counters.writes - w0);
      w0 = st.counters.writes;
      await agent.call({ cmd: 'reload', config: config(2) }, 120_000);
      st = await agent.call({ cmd: 'status' });
      rows['one change'].agent.push(st.lastReconcile.durationMs);
      rows['one change'].phases.push(phases(st.lastReconcile));
      rows['one change'].writes.push(st.counters.writes - w0);
      // Everything removed (by the agent) and applied again by the same, warmed-up process.
      await agent.call({ cmd: 'reload', config: { vips: [], routes: [] } }, 120_000);
      w0 = (await agent.call({ cmd: 'status' })).counters.writes;
      await agent.call({ cmd: 'reload', config: config() }, 120_000);
      st = await agent.call({ cmd: 'status' });
      rows['warm re-apply'].agent.push(st.lastReconcile.durationMs);
      rows['warm re-apply'].phases.push(phases(st.lastReconcile));
      rows['warm re-apply'].writes.push(st.counters.writes - w0);
    } finally {
      await agent.close();
      destroyNetns(ns);
    }
  }
  console.log(
    `\nkernel apply bench: ${N} VIPs + ${N} two-way multipath routes, ${ROUNDS} round(s), medians\n`,
  );
  console.log(
    '| step            | agent ms | agent writes | ip -batch ms | ip -batch + listener ms | agent/ip | agent/(ip + listener) |',
  );
  console.log(
    '|-----------------|---------:|-------------:|-------------:|------------------------:|---------:|----------------------:|',
  );
  for (const [name, r] of Object.entries(rows)) {
    const a = median(r.agent);
    const i = median(r.ip);
    const iw = median(r.ipWatched);
    console.log(
      `| ${name.padEnd(15)} | ${a.toFixed(1).padStart(8)} | ${String(median(r.writes)).padStart(12)} | ${i.toFixed(1).padStart(12)} | ${iw.toFixed(1).padStart(23)} | ${(a / i).toFixed(2).padStart(8)} | ${(a / iw).toFixed(2).padStart(21)} |`,
    );
  }
  console.log('\nWhere the agent time went (observe / desired + plan / writes, ms; every round):');
  for (const [name, r] of Object.entries(rows)) console.log(`- ${name}: ${r.phases.join(' | ')}`);
  console.log(
    `\n(load average at the end: ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}; ${cpus().length} CPUs)`,
  );
  const noopWrites = median(rows['no-op reconcile'].writes);
  if (noopWrites !== 0) {
    console.error(`no-op reconcile sent ${noopWrites} writes (goal: 0)`);
    process.exitCode = 1;
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
