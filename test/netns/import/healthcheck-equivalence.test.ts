// ExaBGP's own healthcheck vs lbagent with the config `lbagent import exabgp-healthcheck` made
// from the same flags, each in its own lab (an LB namespace with ExaBGP, a router namespace with
// BIRD), side by side: the service fails, recovers, the disable file appears and goes. What BIRD
// holds for the prefix (absent, or the MED) must go through the same sequence. Start-up differs
// by design (the healthcheck announces nothing before its first rise, lbagent announces "down"
// first) and is left out: the sequences are compared from the first "up".
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { importHealthcheck } from '../../../agent/import/exabgp-healthcheck.js';
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
} from '../../lib/netns.js';

const dist = join(import.meta.dirname, '..', '..', '..');
const PREFIX = '192.0.2.77/32';
const HEALTHCHECK = '/usr/lib/python3/dist-packages/exabgp/application/healthcheck.py';
const have = (() => {
  try {
    execFileSync('bird', ['--version'], { stdio: 'ignore' });
    execFileSync('exabgp', ['--version'], { stdio: 'ignore' });
    execFileSync('test', ['-f', HEALTHCHECK]);
    return true;
  } catch {
    return false;
  }
})();

interface Lab {
  name: string;
  router: Netns;
  lb: Netns;
  dir: string;
  children: ChildProcess[];
  outputs: { text: () => string }[];
  /** What BIRD held for the prefix, each change once: "absent" or "med N". */
  seen: string[];
  poller?: NodeJS.Timeout;
}

function birdState(lab: Lab): string {
  let out = '';
  try {
    out = execFileSync(
      'ip',
      [
        'netns',
        'exec',
        lab.router.name,
        'birdc',
        '-s',
        join(lab.dir, 'bird.ctl'),
        'show',
        'route',
        'for',
        PREFIX,
        'all',
      ],
      { encoding: 'utf8', timeout: 5000 },
    );
  } catch {
    return 'absent';
  }
  if (!out.includes(PREFIX.split('/')[0])) return 'absent';
  const med = /BGP\.med:\s*(\d+)/.exec(out);
  return med ? `med ${med[1]}` : 'present';
}

function makeLab(name: string, id: string): Lab {
  const [router, lb] = createNetns(`lbt-hc-r${name}-${id}`, `lbt-hc-l${name}-${id}`);
  veth(router, 'r0', lb, 'eth0');
  router.ip('addr add 10.77.0.1/24 dev r0');
  lb.ip('addr add 10.77.0.2/24 dev eth0');
  const dir = mkdtempSync(join(tmpdir(), `lbt-hc-${name}-`));
  writeFileSync(
    join(dir, 'bird.conf'),
    `router id 10.77.0.1;
protocol device { scan time 10; }
protocol bgp lb {
  local as 65000; neighbor 10.77.0.2 as 65001;
  ipv4 { import all; export none; };
  connect retry time 1; connect delay time 1; error wait time 1, 2;
}
`,
  );
  const lab: Lab = { name, router, lb, dir, children: [], outputs: [], seen: [] };
  const bird = router.spawn(['bird', '-f', '-c', join(dir, 'bird.conf'), '-s', join(dir, 'bird.ctl')]);
  lab.children.push(bird);
  lab.outputs.push(captureOutput(bird));
  return lab;
}

function startExabgp(lab: Lab, run: string): void {
  writeFileSync(
    join(lab.dir, 'exabgp.conf'),
    `process announcer {
  run ${run};
  encoder text;
}
neighbor 10.77.0.1 {
  router-id 10.77.0.2;
  local-address 10.77.0.2;
  local-as 65001;
  peer-as 65000;
  api { processes [ announcer ]; }
}
`,
  );
  const ex = lab.lb.spawn(['exabgp', join(lab.dir, 'exabgp.conf')], {
    env: {
      'exabgp.daemon.user': 'root',
      'exabgp.daemon.daemonize': 'false',
      'exabgp.log.destination': 'stdout',
      'exabgp.api.cli': 'false',
      'exabgp.daemon.pid': '',
    },
    cwd: lab.dir,
  });
  lab.children.push(ex);
  lab.outputs.push(captureOutput(ex));
}

function poll(lab: Lab): void {
  lab.poller = setInterval(() => {
    const s = birdState(lab);
    if (lab.seen[lab.seen.length - 1] !== s) lab.seen.push(s);
  }, 100);
}

async function stopLab(lab: Lab): Promise<void> {
  if (lab.poller) clearInterval(lab.poller);
  for (const c of lab.children.reverse()) await stopChild(c, 'SIGTERM', 3000);
  destroyNetns(lab.router, lab.lb);
  rmSync(lab.dir, { recursive: true, force: true });
}

/** The healthcheck's flags for one lab (its state files live in that lab's directory). */
const flags = (dir: string, extra: string[]) => [
  '--cmd',
  `test -f ${join(dir, 'ok')}`,
  '--interval',
  '1',
  '--fast-interval',
  '0.3',
  '--rise',
  '2',
  '--fall',
  '2',
  '--timeout',
  '1',
  '--disable',
  join(dir, 'disable'),
  '--ip',
  PREFIX.split('/')[0],
  '--no-syslog',
  ...extra,
];

describe('ExaBGP healthcheck vs lbagent from the imported flags, at a BIRD peer', {
  skip: !isRoot() ? 'needs root' : !have ? 'bird, exabgp or its healthcheck missing' : false,
  timeout: 240_000,
}, () => {
  const labs: Lab[] = [];
  after(async () => {
    for (const l of labs) await stopLab(l);
  });

  for (const variant of [
    { name: 'med', extra: ['--up-metric', '100', '--down-metric', '1000', '--disabled-metric', '500'] },
    { name: 'withdraw', extra: ['--withdraw-on-down'] },
  ]) {
    it(`${variant.name}: the same announce / withdraw / MED sequence through fail, recover, disable, enable`, async () => {
      const id = uniq();
      const hc = makeLab(`h${variant.name[0]}`, id);
      const lb = makeLab(`a${variant.name[0]}`, id);
      labs.push(hc, lb);
      for (const l of [hc, lb]) writeFileSync(join(l.dir, 'ok'), '');

      // The healthcheck, as operators run it: a process of ExaBGP (through a script: ExaBGP's
      // `run` takes no shell constructs).
      const wrapper = join(hc.dir, 'healthcheck.sh');
      writeFileSync(
        wrapper,
        `#!/bin/sh\nexec /usr/bin/python3 ${HEALTHCHECK} ${flags(hc.dir, variant.extra)
          .map((a) => `'${a}'`)
          .join(' ')}\n`,
      );
      chmodSync(wrapper, 0o755);
      startExabgp(hc, wrapper);

      // lbagent with the imported config, ExaBGP running its bridge.
      const imported = importHealthcheck(flags(lb.dir, variant.extra));
      assert.deepEqual(
        imported.findings.list.filter((f) => f.kind !== 'note'),
        [],
        'the flags convert completely',
      );
      const cfg = {
        ...imported.config,
        control: { socket: join(lb.dir, 'lbagent.sock') },
        metrics: { enabled: false },
        maintenance: { ...(imported.config.maintenance as object), pollInterval: '1s' },
        bgp: { ...(imported.config.bgp as object), stopGrace: '0s' },
      };
      mkdirSync(lb.dir, { recursive: true });
      writeFileSync(join(lb.dir, 'lbagent.yaml'), stringify(cfg));
      const agent = lb.lb.spawn([
        process.execPath,
        join(dist, 'agent', 'main.js'),
        'run',
        '-c',
        join(lb.dir, 'lbagent.yaml'),
      ]);
      lb.children.push(agent);
      lb.outputs.push(captureOutput(agent));
      startExabgp(
        lb,
        `${process.execPath} ${join(dist, 'agent', 'main.js')} exabgp-bridge --socket ${join(lb.dir, 'exabgp.sock')}`,
      );
      for (const l of [hc, lb]) poll(l);

      const up = variant.name === 'med' ? 'med 100' : 'med 100';
      const down = variant.name === 'med' ? 'med 1000' : 'absent';
      const disabled = variant.name === 'med' ? 'med 500' : 'absent';
      const both = async (state: string, what: string) => {
        try {
          await waitFor(() => [hc, lb].every((l) => l.seen[l.seen.length - 1] === state), {
            timeoutMs: 30_000,
            intervalMs: 100,
            what: `${what}: both at "${state}" (healthcheck ${hc.seen.join(' > ')}; lbagent ${lb.seen.join(' > ')})`,
          });
        } catch (err) {
          for (const l of [hc, lb])
            console.error(`--- ${l.name}\n${l.outputs.map((o) => o.text().slice(-2500)).join('\n')}`);
          throw err;
        }
      };
      await both(up, 'start');
      const from = [hc.seen.length - 1, lb.seen.length - 1];
      for (const l of [hc, lb]) rmSync(join(l.dir, 'ok'));
      await both(down, 'service fails');
      for (const l of [hc, lb]) writeFileSync(join(l.dir, 'ok'), '');
      await both(up, 'service recovers');
      for (const l of [hc, lb]) writeFileSync(join(l.dir, 'disable'), '');
      await both(disabled, 'disable file');
      for (const l of [hc, lb]) rmSync(join(l.dir, 'disable'));
      await both(up, 'disable file removed');
      const seqH = hc.seen.slice(from[0]);
      const seqA = lb.seen.slice(from[1]);
      console.log(`# ${variant.name}: healthcheck ${seqH.join(' > ')}; lbagent ${seqA.join(' > ')}`);
      assert.deepEqual(seqA, seqH);
      assert.deepEqual(
        seqH,
        variant.name === 'med'
          ? ['med 100', 'med 1000', 'med 100', 'med 500', 'med 100']
          : ['med 100', 'absent', 'med 100', 'absent', 'med 100'],
      );
    });
  }
});
