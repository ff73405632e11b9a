// The keepalived interop cases, run once per VRRP version (interop-v2.test.ts, interop-v3.test.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { masterDownIntervalMs, skewTimeMs } from '../../../agent/vrrp/machine.js';
import { isRoot, stopChild, waitFor } from '../../lib/netns.js';
import {
  agentConfig,
  capture,
  hasVip,
  type KaOpts,
  keepalivedStats,
  type Lan,
  linkLocal,
  makeLan,
  startAgent,
  startKeepalived,
  times,
} from './harness.js';

const VIP = '10.77.0.100';
/** Slack for a shared, noisy 2-core machine: process wake-ups, not protocol time. */
const TOLERANCE_MS = 300;

/** keepalived log lines that would mean it disliked our packets. */
const KA_COMPLAINT = /invalid|mismatch|bad |error|incorrect|wrong|ttl|checksum|discard|malformed/i;

async function withLan(
  area: string,
  opts: { lbHigher?: boolean },
  fn: (lan: Lan) => Promise<void>,
): Promise<void> {
  const lan = makeLan(area, opts);
  try {
    await fn(lan);
  } finally {
    await lan.cleanup();
  }
}

export type Part = 'failover' | 'election' | 'all';

export function interopSuite(version: 2 | 3, part: Part = 'all'): void {
  const failover = part !== 'election';
  const election = part !== 'failover';
  const intervalMs = version === 2 ? 1000 : 100;
  const ka = (o: Partial<KaOpts>): KaOpts => ({
    version,
    priority: 100,
    advertInt: intervalMs / 1000,
    vips: [`${VIP}/24`],
    ...o,
  });
  const lb = (o: { priority: number; password?: string; unicast?: { source: string; peers: string[] } }) =>
    agentConfig({ version, intervalMs, vips: [`${VIP}/24`], ...o });
  const mdi = (prio: number) => masterDownIntervalMs(version, prio, intervalMs);
  const skew = (prio: number) => skewTimeMs(version, prio, intervalMs);
  const area = `vr${version}`;
  const opts = { skip: isRoot() ? false : 'needs root (network namespaces)', timeout: 60_000 };
  const kaMaster = (log: () => string, n = 1) =>
    waitFor(() => log().split('Entering MASTER STATE').length - 1 >= n, {
      timeoutMs: mdi(100) + 5000,
      what: 'keepalived master',
    });

  if (failover)
    test(
      `v${version}: lbagent backup of keepalived; SIGKILL keepalived -> lbagent master within Master_Down_Interval, VIP, GARP`,
      opts,
      async () => {
        await withLan(area, {}, async (lan) => {
          const k = await startKeepalived(lan, ka({ priority: 150, state: 'MASTER' }));
          await kaMaster(k.log);
          const a = await startAgent(lan, lb({ priority: 100 }));
          await waitFor(async () => (await a.status()).masterSeen?.address === lan.kaAddr, {
            timeoutMs: 3 * intervalMs + 2000,
            what: 'lbagent sees keepalived as master',
          });
          assert.equal(a.state(), 'backup');
          const cap = await capture(lan, lan.lb);
          const t0 = Date.now();
          await stopChild(k.child, 'SIGKILL');
          const ev = await a.waitState('master', mdi(100) + 3000);
          const failover = ev.t - t0;
          assert.ok(
            failover <= mdi(100) + TOLERANCE_MS,
            `failover ${failover}ms > MDI ${mdi(100)}ms + ${TOLERANCE_MS}`,
          );
          await waitFor(() => hasVip(lan.lb, VIP), { timeoutMs: 2000, what: 'VIP on lbagent eth0' });
          await waitFor(
            () =>
              // keepalived's form: ARP request, sender = target = VIP, target MAC broadcast.
              times(
                cap.lines(),
                new RegExp(`Request who-has ${VIP} \\(ff:ff:ff:ff:ff:ff\\) tell ${VIP}`),
              ).some((t) => t >= ev.t - 5),
            {
              timeoutMs: 3000,
              what: `gratuitous ARP from lbagent in capture\n${cap.lines().join('\n')}\n${a.stderr().slice(-3000)}`,
            },
          );
          await cap.stop();
          const st = await a.status();
          assert.equal(st.stats.become_master, 1);
          assert.equal(st.garpVia, 'af_packet', 'GARP from the AF_PACKET socket, not the arping fallback');
          // The kernel layer added the VIP inside the state change and confirmed the ack
          // (vrrp-vips:<name>): the first GARP left in the same event-loop turn as the first advert.
          assert.equal(st.lastAnnounce?.via, 'kernel ack', JSON.stringify(st.lastAnnounce));
          // keepalived's adverts were timed from the kernel's receive stamp (rx-stamp.ts): the
          // lag from the kernel to the state machine is measured, so it is above zero.
          assert.ok((st.masterSeen?.lagMs ?? 0) > 0, JSON.stringify(st.masterSeen));
          // The takeover's own timings are reported (no figure asserted: shared machine).
          assert.ok(
            (st.lastAnnounce?.factMs ?? -1) >= 0 &&
              (st.lastAnnounce?.afterAdvertMs ?? -1) >= (st.lastAnnounce?.factMs ?? 0),
            JSON.stringify(st.lastAnnounce),
          );
          await a.stop();
        });
      },
    );

  if (failover)
    test(
      `v${version}: keepalived SIGTERM sends priority 0 -> lbagent takes over after skew time`,
      opts,
      async () => {
        await withLan(area, {}, async (lan) => {
          const k = await startKeepalived(lan, ka({ priority: 150, state: 'MASTER' }));
          await kaMaster(k.log);
          const a = await startAgent(lan, lb({ priority: 100 }));
          await waitFor(async () => (await a.status()).masterSeen?.address === lan.kaAddr, {
            timeoutMs: 3 * intervalMs + 2000,
            what: 'lbagent sees keepalived as master',
          });
          const cap = await capture(lan, lan.lb, 'vrrp');
          await stopChild(k.child, 'SIGTERM');
          const ev = await a.waitState('master', mdi(100) + 3000);
          await cap.stop();
          // Timed from keepalived's priority 0 advert on the wire, not from the signal: how long
          // keepalived takes to wake up and shut down on a busy machine is not lbagent's takeover.
          const lines = cap.lines();
          const zero = times(lines, new RegExp(`${lan.kaAddr} > 224.0.0.18: VRRPv${version}.* prio 0,`))[0];
          assert.ok(zero, `priority 0 advert from keepalived captured:\n${lines.join('\n')}`);
          const took = ev.t - zero;
          assert.ok(
            took <= skew(100) + TOLERANCE_MS,
            `takeover ${took}ms after keepalived's priority 0 > skew ${skew(100)}ms + ${TOLERANCE_MS}`,
          );
          const st = await a.status();
          assert.ok(st.stats.pri_zero_rcvd >= 1, 'priority 0 advert counted');
          await a.stop();
        });
      },
    );

  if (election)
    test(
      `v${version}: lbagent with higher priority preempts keepalived; keepalived counts our adverts cleanly; lbagent stop -> keepalived back after skew`,
      opts,
      async () => {
        await withLan(area, {}, async (lan) => {
          const k = await startKeepalived(lan, ka({ priority: 100, state: 'MASTER' }));
          await kaMaster(k.log);
          assert.ok(hasVip(lan.ka, VIP));
          const logBefore = k.log().length;
          const a = await startAgent(lan, lb({ priority: 150 }));
          await a.waitState('master', mdi(150) + 3000);
          await waitFor(() => k.log().includes('Entering BACKUP STATE', logBefore), {
            timeoutMs: 3000,
            what: 'keepalived backup',
          });
          await waitFor(() => !hasVip(lan.ka, VIP), { timeoutMs: 3000, what: 'keepalived removed its VIP' });
          await waitFor(() => hasVip(lan.lb, VIP), { timeoutMs: 3000, what: 'VIP on lbagent' });
          // A few adverts later keepalived's counters show them received and no error of any kind.
          await new Promise((r) => setTimeout(r, 3 * intervalMs));
          const stats = await keepalivedStats(k);
          assert.ok(
            stats['Advertisements/Received'] >= 2,
            `keepalived received our adverts: ${JSON.stringify(stats)}`,
          );
          for (const key of Object.keys(stats)) {
            if (key.startsWith('Packet Errors/') || key.startsWith('Authentication Errors/')) {
              assert.equal(stats[key], 0, `keepalived ${key}`);
            }
          }
          const complaints = k
            .log()
            .slice(logBefore)
            .split('\n')
            .filter((l) => KA_COMPLAINT.test(l));
          assert.deepEqual(complaints, [], 'keepalived log complains about our packets');
          // lbagent stops: priority 0, keepalived takes over after its skew time.
          const cap = await capture(lan, lan.lb, 'vrrp');
          await a.stop();
          await kaMaster(k.log, 2);
          await cap.stop();
          const lines = cap.lines();
          const zero = times(lines, new RegExp(`${lan.lbAddr} > 224.0.0.18: VRRPv${version}.* prio 0,`))[0];
          assert.ok(zero, `priority 0 advert from lbagent captured:\n${lines.join('\n')}`);
          const kaFirst = times(lines, new RegExp(`${lan.kaAddr} > 224.0.0.18: VRRPv${version}`)).find(
            (t) => t > zero,
          );
          assert.ok(kaFirst, 'keepalived advert after our priority 0');
          assert.ok(
            kaFirst - zero <= skew(100) + TOLERANCE_MS,
            `keepalived took ${kaFirst - zero}ms > skew ${skew(100)}`,
          );
        });
      },
    );

  // v2 with lbagent on the higher address, v3 with keepalived on it: each implementation loses once.
  const lbHigher = version === 2;
  if (election)
    test(
      `v${version}: equal priorities, both master after a partition -> the higher primary address (${lbHigher ? 'lbagent' : 'keepalived'}) wins`,
      opts,
      async () => {
        await withLan(area, { lbHigher }, async (lan) => {
          lan.partition();
          const k = await startKeepalived(lan, ka({ priority: 100 }));
          const a = await startAgent(lan, lb({ priority: 100 }));
          await kaMaster(k.log);
          await a.waitState('master', mdi(100) + 3000);
          const logBefore = k.log().length;
          lan.heal();
          if (lbHigher) {
            await waitFor(() => k.log().includes('Entering BACKUP STATE', logBefore), {
              timeoutMs: 3 * intervalMs + 3000,
              what: 'keepalived yields to the higher address',
            });
            await new Promise((r) => setTimeout(r, 3 * intervalMs));
            assert.equal(a.state(), 'master');
          } else {
            await a.waitState('backup', 3 * intervalMs + 3000);
            await new Promise((r) => setTimeout(r, 3 * intervalMs));
            assert.equal(a.state(), 'backup');
            assert.ok(!k.log().includes('Entering BACKUP STATE', logBefore), 'keepalived stays master');
          }
          await a.stop();
        });
      },
    );

  if (version === 2 && election) {
    test(
      'v2: auth PASS mismatch -> both drop and count (auth_failure), lbagent says so loudly, both master',
      opts,
      async () => {
        await withLan(area, {}, async (lan) => {
          const k = await startKeepalived(lan, ka({ priority: 150, state: 'MASTER', password: 'kapass' }));
          await kaMaster(k.log);
          const a = await startAgent(lan, lb({ priority: 100, password: 'lbpass' }));
          await a.waitState('master', mdi(100) + 3000);
          await new Promise((r) => setTimeout(r, 2 * intervalMs));
          const st = await a.status();
          assert.ok(st.stats.auth_failure >= 2, `lbagent auth_failure ${st.stats.auth_failure}`);
          assert.equal(st.authProblem?.reason, 'auth_failure');
          assert.equal(st.authProblem?.from, lan.kaAddr);
          assert.match(a.stderr(), /authentication mismatch/);
          const stats = await keepalivedStats(k);
          assert.ok(
            stats['Authentication Errors/Failure'] >= 1,
            `keepalived auth failures: ${JSON.stringify(stats)}`,
          );
          assert.ok(hasVip(lan.ka, VIP) && hasVip(lan.lb, VIP), 'both act as master');
          await a.stop();
        });
      },
    );
  }

  if (version === 3 && failover) {
    test(
      'v3: IPv6: lbagent backup of keepalived, SIGKILL -> master, VIP without DAD, unsolicited NA; then preempts keepalived cleanly',
      opts,
      async () => {
        await withLan(area, {}, async (lan) => {
          const VIP6 = 'fd00::100';
          const k = await startKeepalived(lan, ka({ priority: 150, state: 'MASTER', vips: [`${VIP6}/64`] }));
          await kaMaster(k.log);
          const a = await startAgent(
            lan,
            agentConfig({ version: 3, intervalMs, vips: [`${VIP6}/64`], priority: 100 }),
          );
          const kaLl = linkLocal(lan.ka);
          await waitFor(async () => (await a.status()).masterSeen?.address === kaLl, {
            timeoutMs: 3 * intervalMs + 2000,
            what: `lbagent sees keepalived (${kaLl}) as master over IPv6`,
          });
          const cap = await capture(lan, lan.lb, 'ip6 proto 112 or icmp6');
          const t0 = Date.now();
          await stopChild(k.child, 'SIGKILL');
          const ev = await a.waitState('master', mdi(100) + 3000);
          assert.ok(ev.t - t0 <= mdi(100) + TOLERANCE_MS, `failover ${ev.t - t0}ms`);
          await waitFor(() => hasVip(lan.lb, VIP6), { timeoutMs: 2000, what: 'IPv6 VIP on lbagent' });
          assert.doesNotMatch(lan.lb.ip('-o -6 addr show dev eth0'), /tentative/, 'VIP added without DAD');
          await waitFor(() => cap.lines().some((l) => /neighbor advertisement, tgt is fd00::100/.test(l)), {
            timeoutMs: 2000,
            what: 'unsolicited NA in capture',
          });
          assert.ok(
            times(cap.lines(), new RegExp(`${linkLocal(lan.lb)} > ff02::12: .*VRRPv3`)).length > 0,
            `our VRRPv3 adverts over IPv6 from the link-local address:\n${cap.lines().join('\n')}`,
          );
          await cap.stop();
          // keepalived comes back with a lower priority and must accept us as master without complaint.
          const k2 = await startKeepalived(lan, ka({ priority: 50, vips: [`${VIP6}/64`] }));
          await new Promise((r) => setTimeout(r, mdi(50) + 5 * intervalMs));
          assert.ok(!k2.log().includes('Entering MASTER STATE'), 'keepalived stays backup behind lbagent');
          const stats = await keepalivedStats(k2);
          assert.ok(
            stats['Advertisements/Received'] >= 3,
            `keepalived received our IPv6 adverts: ${JSON.stringify(stats)}`,
          );
          assert.deepEqual(
            k2
              .log()
              .split('\n')
              .filter((l) => KA_COMPLAINT.test(l)),
            [],
          );
          await a.stop();
        });
      },
    );

    test('v3: unicast peers: lbagent backup of keepalived, SIGKILL -> lbagent master', opts, async () => {
      await withLan(area, {}, async (lan) => {
        const k = await startKeepalived(
          lan,
          ka({ priority: 150, state: 'MASTER', unicast: { src: lan.kaAddr, peers: [lan.lbAddr] } }),
        );
        await kaMaster(k.log);
        const a = await startAgent(
          lan,
          lb({ priority: 100, unicast: { source: lan.lbAddr, peers: [lan.kaAddr] } }),
        );
        await waitFor(async () => (await a.status()).masterSeen?.address === lan.kaAddr, {
          timeoutMs: 3 * intervalMs + 2000,
          what: 'lbagent sees keepalived (unicast)',
        });
        const cap = await capture(lan, lan.lb, 'vrrp');
        const t0 = Date.now();
        await stopChild(k.child, 'SIGKILL');
        const ev = await a.waitState('master', mdi(100) + 3000);
        assert.ok(ev.t - t0 <= mdi(100) + TOLERANCE_MS, `failover ${ev.t - t0}ms`);
        await waitFor(
          () => times(cap.lines(), new RegExp(`${lan.lbAddr} > ${lan.kaAddr}: VRRPv3`)).length > 0,
          {
            timeoutMs: 2000,
            what: 'unicast advert to the peer',
          },
        );
        await cap.stop();
        await a.stop();
      });
    });
  }
}
