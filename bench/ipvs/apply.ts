// IPVS apply benchmark (run inside the VM: `npm run build && test/vm/run-in-vm.sh 'node dist/bench/ipvs/apply.js'`):
// cold apply of N services × 5 destinations by the agent vs `ipvsadm -R` of the same table, in the
// same run, each in a fresh network namespace; then a no-op reconcile (must send no write) and one
// destination weight change (must be one request). Results are ratios against ipvsadm -R.
// Options: --quick (500 services, for CI), --services N; --profile also times ipvsadm -R with the
// rr and none schedulers; --floor also times the kernel's share (pre-encoded requests, see floor()).
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { configSchema } from '../../agent/config/schema.js';
import { Facts, factKey } from '../../agent/daemon/facts.js';
import { desiredIpvs, IpvsSubsystem } from '../../agent/ipvs/index.js';
import { type IpvsOp, opRequest, planIpvs } from '../../agent/ipvs/plan.js';
import { IpvsSocket } from '../../agent/ipvs/socket.js';
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

function ipvsadmRules(sched = 'mh'): string {
  const lines: string[] = [];
  for (let i = 0; i < N; i++) {
    lines.push(`-A -t ${vip(i)}:80 -s ${sched}${sched === 'mh' ? ' -b mh-port' : ''}`);
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
  const cpu0 = process.cpuUsage();
  await sub.start(cfg);
  const cold = performance.now() - t0;
  const coldCpu = process.cpuUsage(cpu0);
  const c0 = { ...sub.socketCounters()! };
  const st = sub.status();
  process.stderr.write(
    `cold phases ${JSON.stringify(st.lastReconcile?.phasesMs)} cpu ${JSON.stringify(coldCpu)} ${cold} ms\n`,
  );
  // --cold-only: stop after the cold apply (for --cpu-prof of just that path).
  if (args.includes('--cold-only')) process.exit(0);
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
      coldUserMs: coldCpu.user / 1000,
      coldSysMs: coldCpu.system / 1000,
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

/**
 * --floor: the kernel's share. The cold apply's requests are encoded beforehand (untimed), then only
 * the socket run is timed: once as the agent plans it (new mh services filled without a scheduler,
 * then one SET_SERVICE) and once adding destinations to a live mh service (a table build each).
 */
async function floor(): Promise<void> {
  const desired = desiredIpvs(configObject(), new Facts());
  const specs = new Map(desired.services.map((s) => [s.key, s.spec]));
  const once = planIpvs(desired, { services: new Map() }, new Set());
  const direct: IpvsOp[] = once
    .filter((o) => o.kind !== 'setService')
    .map((o) => (o.kind === 'newService' ? { ...o, service: specs.get(o.key)! } : o));
  // One variant per process and fresh namespace: deleted destinations stay in the namespace's IPVS
  // trash for a minute, and every NEW_DEST walks that list, so a second run in one namespace is
  // several times slower (measured: 34.6 s instead of ~9 s at 10,000 services).
  const variant = args[args.indexOf('--variant') + 1];
  const ops = variant === 'direct' ? direct : once;
  const reqs = ops.map(opRequest);
  const sock = await IpvsSocket.open();
  const t = performance.now();
  const c = process.cpuUsage();
  const res = await sock.runWrites(reqs.length, (i) => reqs[i]);
  const cpu = process.cpuUsage(c);
  const out = {
    ms: performance.now() - t,
    userMs: cpu.user / 1000,
    sysMs: cpu.system / 1000,
    requests: reqs.length,
  };
  const errs = res.filter((r) => r.error);
  if (errs.length)
    throw new Error(`floor ${variant}: ${errs.length} errors, first ${errs[0].error!.message}`);
  sock.close();
  process.stdout.write(`${JSON.stringify(out)}\n`);
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

/** `ipvsadm -R < rules` in a namespace: wall time and the child's user / system CPU (GNU time). */
function ipvsadmRestore(nsName: string, rules: string): { ms: number; userMs: number; sysMs: number } {
  const t = performance.now();
  const r = spawnSync(
    'ip',
    ['netns', 'exec', nsName, '/usr/bin/time', '-f', 'LBTIME %U %S', 'sh', '-c', `ipvsadm -R < ${rules}`],
    { encoding: 'utf8', timeout: 3_600_000 },
  );
  const ms = performance.now() - t;
  if (r.status !== 0) throw new Error(`ipvsadm -R failed: ${r.stderr}`);
  const m = /LBTIME ([\d.]+) ([\d.]+)/.exec(r.stderr);
  return { ms, userMs: m ? Number(m[1]) * 1000 : Number.NaN, sysMs: m ? Number(m[2]) * 1000 : Number.NaN };
}

/** --profile: the same table restored by ipvsadm with other schedulers (what the mh rebuilds cost). */
function profileAnchors(id: string): Record<string, { ms: number; userMs: number; sysMs: number }> {
  const out: Record<string, { ms: number; userMs: number; sysMs: number }> = {};
  for (const sched of ['rr', 'none']) {
    const n = `lbt-bench-p-${sched}-${id}`;
    try {
      execFileSync('ip', ['netns', 'add', n]);
      ns(n, ['ip', 'link', 'set', 'lo', 'up']);
      const rules = join(tmpdir(), `lbt-bench-rules-${sched}-${id}.txt`);
      writeFileSync(rules, ipvsadmRules(sched));
      out[sched] = ipvsadmRestore(n, rules);
    } finally {
      spawnSync('ip', ['netns', 'del', n]);
    }
  }
  return out;
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
    const anchor = ipvsadmRestore(nsAdm, rules);
    const adm = anchor.ms;
    const admCount = ns(nsAdm, ['sh', '-c', 'ipvsadm -Ln | grep -c -- "->"']).trim();
    const agent = JSON.parse(
      ns(nsAgent, [process.execPath, self, '--inner', ...args.filter((a) => a !== '--floor')])
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
    const cpu = (x: { userMs: number; sysMs: number }) =>
      `user ${(x.userMs / 1000).toFixed(2)} s, sys ${(x.sysMs / 1000).toFixed(2)} s`;
    console.log(
      `cold apply CPU: agent ${cpu({ userMs: agent.coldUserMs, sysMs: agent.coldSysMs })}; ipvsadm -R ${cpu(anchor)}`,
    );
    const anchors = args.includes('--profile') ? profileAnchors(id) : {};
    let floorFigures: unknown;
    if (args.includes('--floor')) {
      const f: Record<string, { ms: number; userMs: number; sysMs: number; requests: number }> = {};
      for (const variant of ['direct', 'once']) {
        const nsFloor = `lbt-bench-f-${variant}-${id}`;
        try {
          execFileSync('ip', ['netns', 'add', nsFloor]);
          ns(nsFloor, ['ip', 'link', 'set', 'lo', 'up']);
          const v = JSON.parse(
            ns(nsFloor, [process.execPath, self, '--inner', ...args, '--variant', variant])
              .trim()
              .split('\n')
              .pop()!,
          );
          f[variant] = v;
          console.log(
            `floor (${variant === 'once' ? 'agent plan: no scheduler, then one SET_SERVICE' : 'mh bound before the destinations'}): ${v.requests} pre-encoded requests, ${(v.ms / 1000).toFixed(2)} s wall (${(v.ms / adm).toFixed(3)}× ipvsadm -R), ${cpu(v)}`,
          );
        } finally {
          spawnSync('ip', ['netns', 'del', nsFloor]);
        }
      }
      floorFigures = f;
    }
    for (const [sched, a] of Object.entries(anchors))
      console.log(`ipvsadm -R with -s ${sched}: ${(a.ms / 1000).toFixed(2)} s wall, ${cpu(a)}`);
    console.log(
      JSON.stringify({
        N,
        DESTS,
        ipvsadmMs: adm,
        ipvsadmUserMs: anchor.userMs,
        ipvsadmSysMs: anchor.sysMs,
        anchors,
        floor: floorFigures,
        ...agent,
      }),
    );
    if (agent.noopWrites !== 0) throw new Error('no-op reconcile wrote');
    if (agent.changeWrites !== 1) throw new Error(`weight change took ${agent.changeWrites} writes`);
    if (Number(agentCount) !== N * DESTS + 1 || Number(admCount) !== N * DESTS + 1)
      throw new Error('destination counts differ');
  } finally {
    spawnSync('ip', ['netns', 'del', nsAgent]);
    spawnSync('ip', ['netns', 'del', nsAdm]);
  }
}

if (args.includes('--inner')) await (args.includes('--floor') ? floor() : inner());
else await outer();
