// Failover bench: SIGKILL the master (keepalived, priority 150) and time the backup (priority 100)
// taking over, with lbagent as the backup vs keepalived as the backup (the anchor), same settings,
// same run. Times come from one tcpdump on the bridge (kernel timestamps, one clock for both):
//   failover  = last advert of the dead master -> first advert of the new master (RFC: Master_Down_Interval)
//   firstGarp = last advert of the dead master -> first gratuitous ARP for the VIP from the new master
// Between runs the master is restarted and preempts back, so the backup keeps running.
// Usage: npx tsx bench/vrrp/failover.ts [--runs 20] [--versions 2,3] [--quick] [--json FILE]
//        npx tsx bench/vrrp/failover.ts --table FILE   (re-renders the table of a saved --json run)
import { readFileSync, writeFileSync } from 'node:fs';
import { masterDownIntervalMs } from '../../agent/vrrp/machine.js';
import { stopChild, waitFor } from '../../test/lib/netns.js';
import {
  agentConfig,
  capture,
  type Keepalived,
  type Lan,
  macOf,
  makeLan,
  startAgent,
  startKeepalived,
  times,
} from '../../test/netns/vrrp/harness.js';

const VIP = '10.77.0.100';
const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const quick = args.includes('--quick');
const runs = Number(opt('runs', quick ? '3' : '20'));
const versions = opt('versions', quick ? '3' : '2,3')
  .split(',')
  .map((v) => Number(v) as 2 | 3);
const jsonOut = opt('json', '');
const tableFrom = opt('table', '');
// Development: time only lbagent's takeovers (no table, no keepalived series).
const lbagentOnly = args.includes('--lbagent-only');

interface Sample {
  failoverMs: number;
  firstGarpMs: number;
  /** lbagent only, from its status (its own clock, from its takeover advert's sendto):
   * state fact published (the kernel layer's VIP add sent inside it), first GARP burst sent. */
  agentFactMs?: number;
  agentGarpMs?: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Nearest-rank percentile (p in 0..1). */
function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.max(0, Math.ceil(p * s.length) - 1)];
}

async function runSeries(version: 2 | 3, backup: 'lbagent' | 'keepalived'): Promise<Sample[]> {
  const intervalMs = version === 2 ? 1000 : 50;
  const mdi = masterDownIntervalMs(version, 100, intervalMs);
  const lan: Lan = makeLan(`vrb${version}${backup[0]}`);
  const samples: Sample[] = [];
  const master = () =>
    startKeepalived(lan, { version, priority: 150, advertInt: intervalMs / 1000, vips: [`${VIP}/24`] });
  try {
    let m: Keepalived = await master();
    await waitFor(() => m.log().includes('Entering MASTER STATE'), {
      timeoutMs: mdi + 5000,
      what: 'master up',
    });
    let agent: Awaited<ReturnType<typeof startAgent>> | undefined;
    if (backup === 'lbagent') {
      agent = await startAgent(lan, agentConfig({ version, priority: 100, intervalMs, vips: [`${VIP}/24`] }));
    } else {
      await startKeepalived(
        lan,
        { version, priority: 100, advertInt: intervalMs / 1000, vips: [`${VIP}/24`] },
        lan.lb,
      );
    }
    for (let i = 0; i < runs; i++) {
      await new Promise((r) => setTimeout(r, Math.max(300, 3 * intervalMs)));
      const cap = await capture(lan, lan.sw, 'vrrp or arp', 'br0', { linkHeaders: true });
      await new Promise((r) => setTimeout(r, 2 * intervalMs + 50));
      const t0 = Date.now();
      await stopChild(m.child, 'SIGKILL');
      const newAdvert = new RegExp(`${lan.lbAddr} > 224.0.0.18: VRRPv${version}.* prio 100,`);
      // Only the new master's GARPs: the restarted master's second burst can land in the window too.
      const garp = new RegExp(`^\\S+ ${macOf(lan.lb)} > .*Request who-has ${VIP} .*tell ${VIP}`);
      await waitFor(
        () => times(cap.lines(), garp).some((t) => t > t0 - 5) && times(cap.lines(), newAdvert).length > 0,
        {
          timeoutMs: mdi + 5000,
          intervalMs: 20,
          what: `failover of run ${i}`,
        },
      );
      await cap.stop();
      const lines = cap.lines();
      const last = times(lines, new RegExp(`${lan.kaAddr} > 224.0.0.18`))
        .filter((t) => t <= t0 + 1)
        .at(-1)!;
      const first = times(lines, newAdvert).find((t) => t > last)!;
      const g = times(lines, garp).find((t) => t > last)!;
      const sample: Sample = { failoverMs: first - last, firstGarpMs: g - last };
      let inside = '';
      if (agent) {
        const la = (await agent.status()).lastAnnounce;
        sample.agentFactMs = la?.factMs;
        sample.agentGarpMs = la?.afterAdvertMs;
        inside = ` (inside: fact +${la?.factMs?.toFixed(3)} ms, GARP burst +${la?.afterAdvertMs?.toFixed(3)} ms after its advert)`;
      }
      samples.push(sample);
      process.stderr.write(
        `v${version} ${backup} run ${i + 1}/${runs}: failover ${(first - last).toFixed(1)} ms, first GARP ${(g - last).toFixed(1)} ms${inside}\n`,
      );
      // Master back (it preempts the priority-100 backup) for the next run.
      m = await master();
      await waitFor(() => m.log().includes('Entering MASTER STATE'), {
        timeoutMs: mdi + 5000,
        what: 'master back',
      });
    }
  } finally {
    await lan.cleanup();
  }
  return samples;
}

interface Row {
  version: number;
  intervalMs: number;
  runs: number;
  rfcLimitMs: number;
  keepalived: Sample;
  lbagent: Sample;
  ratio: { failover: number; firstGarp: number };
  samples: { keepalived: Sample[]; lbagent: Sample[] };
}

async function measure(): Promise<Row[]> {
  const rows: Row[] = [];
  for (const version of versions) {
    const intervalMs = version === 2 ? 1000 : 50;
    const limit = masterDownIntervalMs(version, 100, intervalMs);
    const ka = lbagentOnly ? [] : await runSeries(version, 'keepalived');
    const lb = await runSeries(version, 'lbagent');
    if (lbagentOnly) continue;
    const med = (xs: Sample[]) => ({
      failoverMs: median(xs.map((s) => s.failoverMs)),
      firstGarpMs: median(xs.map((s) => s.firstGarpMs)),
    });
    rows.push({
      version,
      intervalMs,
      runs,
      rfcLimitMs: Math.round(limit * 10) / 10,
      keepalived: med(ka),
      lbagent: med(lb),
      ratio: {
        failover: med(lb).failoverMs / med(ka).failoverMs,
        firstGarp: med(lb).firstGarpMs / med(ka).firstGarpMs,
      },
      samples: { keepalived: ka, lbagent: lb },
    });
  }
  return rows;
}

/** The table of docs/vrrp.md: medians, p90/max, distance to the RFC limit, GARP after own advert. */
function printTable(rows: Row[]): void {
  const f = (x: number) => `${x.toFixed(1)} ms`;
  const d = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(1)} ms`;
  console.log(
    '| VRRP | interval | RFC limit (MDI, prio 100) | backup | failover median | vs limit | failover p90 / max | first GARP median | vs limit | GARP p90 / max | GARP − own advert | lbagent ÷ keepalived (failover / GARP) |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    for (const who of ['keepalived', 'lbagent'] as const) {
      const ss = r.samples[who];
      const fo = ss.map((s) => s.failoverMs);
      const ga = ss.map((s) => s.firstGarpMs);
      const after = median(ss.map((s) => s.firstGarpMs - s.failoverMs));
      const ratio =
        who === 'lbagent' ? `${r.ratio.failover.toFixed(3)} / ${r.ratio.firstGarp.toFixed(3)}` : 'anchor';
      const iv = r.intervalMs >= 1000 ? `${r.intervalMs / 1000} s` : `${r.intervalMs} ms`;
      console.log(
        `| v${r.version} | ${iv} | ${f(r.rfcLimitMs)} | ${who} | ${f(median(fo))} | ${d(median(fo) - r.rfcLimitMs)} | ${percentile(fo, 0.9).toFixed(1)} / ${f(Math.max(...fo))} | ${f(median(ga))} | ${d(median(ga) - r.rfcLimitMs)} | ${percentile(ga, 0.9).toFixed(1)} / ${f(Math.max(...ga))} | ${d(after)} | ${ratio} |`,
      );
    }
  }
}

const results: Row[] = tableFrom ? JSON.parse(readFileSync(tableFrom, 'utf8')) : await measure();
printTable(results);
if (jsonOut) writeFileSync(jsonOut, JSON.stringify(results, null, 2));
process.exit(0);
