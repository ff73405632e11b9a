// IPVS apply benchmark (run inside the VM: `npm run build && test/vm/run-in-vm.sh 'node dist/bench/ipvs/apply.js'`):
// cold apply of N services × 5 destinations by the agent vs `ipvsadm -R` of the same table, in the
// same run, each in a fresh network namespace; then a no-op reconcile (must send no write) and one
// destination weight change (must be one request). Results are ratios against ipvsadm -R.
// Options: --quick (500 services, for CI), --services N.
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { configSchema } from '../../agent/config/schema.js';
import { Facts, factKey } from '../../agent/daemon/facts.js';
import { IpvsSubsystem } from '../../agent/ipvs/index.js';
import { systemClock } from '../../agent/lib/clock.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const si = args.indexOf('--services');
const N = si >= 0 ? Number(args[si + 1]) : quick ? 500 : 10_000;
const DESTS = 5;

const vip = (i: number) => `10.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
const rip = (j: number) => `10.200.0.${10 + j}`;

function configObject() {
  return configSchema.parse({
    log: { level: 'error' },
    // No periodic resync during the measurement (a 10,000-service apply outlasts the 30 s default).
    kernel: { resyncInterval: '1h' },
    ipvs: {
      loadModules: false,
      services: Array.from({ length: N }, (_, i) => ({
        name: `s${i}`,
        vip: vip(i),
        port: 80,
        mhPort: true,
        forwarding: 'nat',
        backends: Array.from({ length: DESTS }, (_, j) => ({ address: rip(j), port: 8080 })),
      })),
    },
  });
}

function ipvsadmRules(): string {
  const lines: string[] = [];
  for (let i = 0; i < N; i++) {
    lines.push(`-A -t ${vip(i)}:80 -s mh -b mh-port`);
    // Highest first, as the agent orders them (ipvsadm inserts each at the head too).
    for (let j = 0; j < DESTS; j++) lines.push(`-a -t ${vip(i)}:80 -r ${rip(j)}:8080 -m -w 1`);
  }
  return `${lines.join('\n')}\n`;
}

async function inner(): Promise<void> {
  const cfg = configObject();
  const facts = new Facts();
  const log = pino({ level: 'error' }, pino.destination(2));
  const sub = new IpvsSubsystem(
    { log, clock: systemClock, facts },
    { stateFile: join(tmpdir(), `lbt-bench-owned-${process.pid}.json`) },
  );
  const t0 = performance.now();
  await sub.start(cfg);
  const cold = performance.now() - t0;
  const c0 = { ...sub.socketCounters()! };
  const st = sub.status();
  process.stderr.write(`cold phases ${JSON.stringify(st.lastReconcile?.phasesMs)}\n`);
  if (st.lastReconcile?.errors.length)
    throw new Error(`cold apply errors: ${st.lastReconcile.errors.slice(0, 3).join('; ')}`);
  const t1 = performance.now();
  await sub.reconcile();
  const noop = performance.now() - t1;
  process.stderr.write(`noop phases ${JSON.stringify(sub.status().lastReconcile?.phasesMs)}\n`);
  const c1 = { ...sub.socketCounters()! };
  // What the fact's own (coalesced) trigger runs: a reconcile scoped to the service concerned.
  facts.set(factKey.backend('s7', rip(2), 8080), { up: true, weight: 7 });
  const t2 = performance.now();
  await sub.reconcile(new Set(['s7']));
  const change = performance.now() - t2;
  const c2 = { ...sub.socketCounters()! };
  await sub.stop({ removeState: false });
  process.stdout.write(
    `${JSON.stringify({
      cold,
      coldWrites: c0.writes,
      coldRequests: c0.requests,
      coldDatagrams: c0.datagrams,
      noop,
      noopWrites: c1.writes - c0.writes,
      noopRequests: c1.requests - c0.requests,
      change,
      changeWrites: c2.writes - c1.writes,
      changeRequests: c2.requests - c1.requests,
    })}\n`,
  );
  process.exit(0);
}

function ns(name: string, argv: string[], input?: string): string {
  return execFileSync('ip', ['netns', 'exec', name, ...argv], {
    encoding: 'utf8',
    input,
    maxBuffer: 64 << 20,
    timeout: 3_600_000,
  });
}

async function outer(): Promise<void> {
  const id = Math.random().toString(16).slice(2, 8);
  const nsAgent = `lbt-bench-a-${id}`;
  const nsAdm = `lbt-bench-r-${id}`;
  const self = fileURLToPath(import.meta.url);
  try {
    execFileSync('ip', ['netns', 'add', nsAgent]);
    execFileSync('ip', ['netns', 'add', nsAdm]);
    // Lo up creates the local routing table the kernel consults to accept NAT destinations.
    for (const n of [nsAgent, nsAdm]) ns(n, ['ip', 'link', 'set', 'lo', 'up']);
    const rules = join(tmpdir(), `lbt-bench-rules-${id}.txt`);
    writeFileSync(rules, ipvsadmRules());
    // Anchor: ipvsadm -R of the same table.
    const ta = performance.now();
    const r = spawnSync('ip', ['netns', 'exec', nsAdm, 'sh', '-c', `ipvsadm -R < ${rules}`], {
      encoding: 'utf8',
      timeout: 3_600_000,
    });
    const adm = performance.now() - ta;
    if (r.status !== 0) throw new Error(`ipvsadm -R failed: ${r.stderr}`);
    const admCount = ns(nsAdm, ['sh', '-c', 'ipvsadm -Ln | grep -c -- "->"']).trim();
    const agent = JSON.parse(
      ns(nsAgent, [process.execPath, self, '--inner', ...args])
        .trim()
        .split('\n')
        .pop()!,
    );
    const agentCount = ns(nsAgent, ['sh', '-c', 'ipvsadm -Ln | grep -c -- "->"']).trim();
    const rows = [
      [
        'cold apply',
        `${N} services × ${DESTS} dests`,
        `${(agent.cold / 1000).toFixed(2)} s`,
        `${(adm / 1000).toFixed(2)} s`,
        (agent.cold / adm).toFixed(3),
        `${agent.coldWrites} writes in ${agent.coldDatagrams} datagrams`,
      ],
      [
        'no-op reconcile',
        '',
        `${(agent.noop / 1000).toFixed(2)} s`,
        '',
        (agent.noop / adm).toFixed(3),
        `${agent.noopWrites} writes, ${agent.noopRequests} reads`,
      ],
      [
        'one weight change',
        '',
        `${(agent.change / 1000).toFixed(2)} s`,
        '',
        (agent.change / adm).toFixed(3),
        `${agent.changeWrites} write, ${agent.changeRequests} requests incl. reads`,
      ],
    ];
    console.log(
      `kernel ${execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim()}; destinations: agent ${agentCount}, ipvsadm ${admCount}`,
    );
    console.log('| step | size | agent | ipvsadm -R | ratio (agent / ipvsadm -R) | notes |');
    console.log('|---|---|---|---|---|---|');
    for (const row of rows) console.log(`| ${row.join(' | ')} |`);
    console.log(JSON.stringify({ N, DESTS, ipvsadmMs: adm, ...agent }));
    if (agent.noopWrites !== 0) throw new Error('no-op reconcile wrote');
    if (agent.changeWrites !== 1) throw new Error(`weight change took ${agent.changeWrites} writes`);
    if (Number(agentCount) !== N * DESTS + 1 || Number(admCount) !== N * DESTS + 1)
      throw new Error('destination counts differ');
  } finally {
    spawnSync('ip', ['netns', 'del', nsAgent]);
    spawnSync('ip', ['netns', 'del', nsAdm]);
  }
}

if (args.includes('--inner')) await inner();
else await outer();
