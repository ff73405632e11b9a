// Benchmark: disable-file creation -> withdraw acked by ExaBGP (lbagent), and -> the BGP UPDATE
// on the wire, for lbagent and for ExaBGP's own healthcheck with its default settings (its
// anchor), in the same run on the same machine. Real ExaBGP + BIRD in namespaces (root).
//   node dist/bench/bgp/disable-latency.js [--runs 20] [--quick]
// Prints a markdown table; ratios are healthcheck / lbagent.
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  captureOutput,
  createNetns,
  destroyNetns,
  isRoot,
  type Netns,
  stopChild,
  uniq,
  veth,
  waitFor,
} from '../../test/lib/netns.js';

const here = dirname(fileURLToPath(import.meta.url));
const repo = here.includes('/dist/') ? resolve(here, '../../..') : resolve(here, '../..');
const dist = join(repo, 'dist');
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const runs = args.includes('--runs') ? Number(args[args.indexOf('--runs') + 1]) : quick ? 3 : 20;

if (!isRoot()) {
  console.error('needs root (network namespaces)');
  process.exit(1);
}

const EXABGP_ENV = {
  'exabgp.daemon.user': 'root',
  'exabgp.daemon.daemonize': 'false',
  'exabgp.log.destination': 'stdout',
  'exabgp.api.cli': 'false',
};

interface Host {
  ns: Netns;
  addr: string;
  peer: string;
  dir: string;
  /** Epoch ms of BGP UPDATE-sized packets sent to the router. */
  updates: number[];
}

function exabgpConf(h: Host, run: string): string {
  return `process p {
  run ${run};
  encoder text;
}
neighbor ${h.peer} {
  router-id ${h.addr};
  local-address ${h.addr};
  local-as 65001;
  peer-as 65000;
  api { processes [ p ]; }
}
`;
}

/** tcpdump -tt prints epoch seconds; UPDATEs are the packets with more than a KEEPALIVE (19 bytes). */
function watchUpdates(h: Host): ChildProcess {
  const td = h.ns.spawn([
    'tcpdump',
    '-l',
    '-n',
    '-tt',
    '-i',
    'eth0',
    `tcp dst port 179 and src host ${h.addr}`,
  ]);
  let buf = '';
  td.stdout?.on('data', (d) => {
    buf += d;
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      const m = /^(\d+\.\d+) .* length (\d+)/.exec(line);
      if (m && Number(m[2]) > 19) h.updates.push(Number(m[1]) * 1000);
    }
  });
  return td;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));

const id = uniq();
const work = mkdtempSync(join(tmpdir(), 'lbt-bgpbench-'));
const [router, nsA, nsB] = createNetns(`lbt-bgpb-r-${id}`, `lbt-bgpb-a-${id}`, `lbt-bgpb-b-${id}`);
const children: ChildProcess[] = [];
try {
  const hosts: Host[] = [nsA, nsB].map((ns, i) => ({
    ns,
    addr: `10.0.${i + 1}.2`,
    peer: `10.0.${i + 1}.1`,
    dir: join(work, `h${i}`),
    updates: [],
  }));
  for (const [i, h] of hosts.entries()) {
    mkdirSync(h.dir, { recursive: true });
    veth(router, `r${i}`, h.ns, 'eth0');
    router.ip(`addr add ${h.peer}/24 dev r${i}`);
    h.ns.ip(`addr add ${h.addr}/24 dev eth0`);
  }
  const [a, b] = hosts;
  nsA.ip('addr add 192.0.2.10/32 dev lo');
  nsB.ip('addr add 192.0.2.20/32 dev lo');
  writeFileSync(
    join(work, 'bird.conf'),
    `router id 10.0.9.1;
protocol device {}
template bgp lb { local as 65000; ipv4 { import all; export none; }; connect retry time 1; error wait time 1, 2; }
protocol bgp a from lb { neighbor ${a.addr} as 65001; }
protocol bgp b from lb { neighbor ${b.addr} as 65001; }
`,
  );
  children.push(router.spawn(['bird', '-f', '-c', join(work, 'bird.conf'), '-s', join(work, 'bird.ctl')]));

  // Host A: lbagent (the real daemon) + ExaBGP running its bridge; withdraw on disable.
  writeFileSync(
    join(a.dir, 'lbagent.yaml'),
    `log: { level: warn }
control: { socket: ${join(a.dir, 'lbagent.sock')} }
metrics: { enabled: false }
maintenance: { disableFile: ${join(a.dir, 'disable')} }
bgp: { announcements: [ { prefix: 192.0.2.10/32, withdrawOnDisabled: true } ] }
`,
  );
  const agent = nsA.spawn([
    'node',
    join(dist, 'agent/main.js'),
    'run',
    '--config',
    join(a.dir, 'lbagent.yaml'),
  ]);
  children.push(agent);
  const agentOut = captureOutput(agent);
  await waitFor(() => agentOut.text().includes('lbagent running'), {
    timeoutMs: 15_000,
    what: 'lbagent',
  });
  writeFileSync(
    join(a.dir, 'exabgp.conf'),
    exabgpConf(
      a,
      `/usr/bin/node ${join(dist, 'agent/main.js')} exabgp-bridge --socket ${join(a.dir, 'exabgp.sock')}`,
    ),
  );
  children.push(nsA.spawn(['exabgp', join(a.dir, 'exabgp.conf')], { env: EXABGP_ENV, cwd: a.dir }));

  // Host B: ExaBGP's healthcheck with its defaults (interval 5s, rise/fall 3, disabled MED 500).
  writeFileSync(
    join(b.dir, 'exabgp.conf'),
    exabgpConf(
      b,
      `/usr/bin/exabgp-healthcheck --no-syslog --disable ${join(b.dir, 'disable')} --ip 192.0.2.20/32`,
    ),
  );
  children.push(nsB.spawn(['exabgp', join(b.dir, 'exabgp.conf')], { env: EXABGP_ENV, cwd: b.dir }));

  children.push(watchUpdates(a), watchUpdates(b));
  const birdRoutes = () =>
    router.exec(['birdc', '-s', join(work, 'bird.ctl'), 'show', 'route', 'all'], { allowFail: true });
  const medOf = (vip: string) => {
    const out = birdRoutes();
    const i = out.indexOf(vip);
    if (i < 0) return undefined;
    const m = /BGP\.med: (\d+)/.exec(out.slice(i));
    return m ? Number(m[1]) : 0;
  };
  await waitFor(() => birdRoutes().includes('192.0.2.10/32') && medOf('192.0.2.20/32') === 100, {
    timeoutMs: 60_000,
    intervalMs: 200,
    what: 'both hosts announced',
  });

  const ackMs: number[] = [];
  const wireA: number[] = [];
  const wireB: number[] = [];
  const status = () =>
    JSON.parse(
      nsA.exec(['node', join(dist, 'cli/lbctl.js'), '-s', join(a.dir, 'lbagent.sock'), '--json', 'bgp']),
    ) as {
      announcements: { announced: boolean; acked: boolean; lastAck: { at: number } | null }[];
    };
  for (let i = 0; i < runs; i++) {
    // lbagent
    const seenA = a.updates.length;
    let t0 = Date.now();
    writeFileSync(join(a.dir, 'disable'), '');
    const ann = await waitFor(
      () => {
        const x = status().announcements[0];
        return !x.announced && x.acked && x.lastAck && x.lastAck.at >= t0 ? x : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 10, what: 'lbagent withdraw acked' },
    );
    ackMs.push((ann.lastAck?.at ?? 0) - t0);
    await waitFor(() => a.updates.length > seenA, {
      timeoutMs: 5000,
      intervalMs: 5,
      what: 'lbagent UPDATE on the wire',
    });
    wireA.push(a.updates[seenA] - t0);
    rmSync(join(a.dir, 'disable'));
    await waitFor(
      () =>
        status().announcements[0].announced &&
        status().announcements[0].acked &&
        birdRoutes().includes('192.0.2.10/32'),
      { timeoutMs: 10_000, intervalMs: 20, what: 'lbagent back' },
    );

    // ExaBGP healthcheck: it polls the file every `interval` (5s by default); touch it at a random
    // phase of that loop, or every run would land right after its last check (a worst case).
    await new Promise((r) => setTimeout(r, Math.random() * 5000));
    const seenB = b.updates.length;
    t0 = Date.now();
    writeFileSync(join(b.dir, 'disable'), '');
    await waitFor(() => b.updates.length > seenB, {
      timeoutMs: 20_000,
      intervalMs: 5,
      what: 'healthcheck UPDATE on the wire',
    });
    wireB.push(b.updates[seenB] - t0);
    await waitFor(() => medOf('192.0.2.20/32') === 500, {
      timeoutMs: 10_000,
      intervalMs: 50,
      what: 'healthcheck MED 500 at the router',
    });
    rmSync(join(b.dir, 'disable'));
    await waitFor(() => medOf('192.0.2.20/32') === 100, {
      timeoutMs: 60_000,
      intervalMs: 100,
      what: 'healthcheck back up',
    });
    process.stderr.write(
      `run ${i + 1}/${runs}: lbagent ack ${fmt(ackMs[i])} ms, wire ${fmt(wireA[i])} ms; healthcheck wire ${fmt(wireB[i])} ms\n`,
    );
  }
  const row = (what: string, xs: number[]) =>
    `| ${what} | ${xs.length} | ${fmt(median(xs))} | ${fmt(Math.max(...xs))} |`;
  console.log(`\nDisable file created -> ... (ms), ${runs} runs, ${new Date().toISOString()}\n`);
  console.log('| measurement | runs | median ms | max ms |');
  console.log('|---|---|---|---|');
  console.log(row('lbagent: withdraw acked by ExaBGP', ackMs));
  console.log(row('lbagent: UPDATE on the wire', wireA));
  console.log(row('ExaBGP healthcheck (defaults): UPDATE on the wire', wireB));
  console.log(
    `\nratio healthcheck / lbagent (wire, median): ${(median(wireB) / median(wireA)).toFixed(0)}x; goal lbagent ack median < 50 ms: ${median(ackMs) < 50 ? 'met' : 'NOT met'}`,
  );
} finally {
  for (const c of children) await stopChild(c, 'SIGTERM', 1000);
  destroyNetns(router, nsA, nsB);
  rmSync(work, { recursive: true, force: true });
}
