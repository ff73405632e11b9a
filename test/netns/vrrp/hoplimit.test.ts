// IPv6 hop limit on receive (RFC 5798 5.1.2.3): a real sender in the peer namespace sends valid
// VRRPv3 adverts to ff02::12 with hop limit 64, then 255. The first are dropped in the kernel by
// the VRRP socket's BPF filter and counted as ip_ttl_err (count-only socket); the second win
// the election, which shows the same packets are otherwise valid.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { captureOutput, isRoot, waitFor } from '../../lib/netns.js';
import { agentConfig, capture, driverPath, type Lan, makeLan, nodeArgv, startAgent } from './harness.js';

const VIP6 = 'fd00::100';
const senderPath = join(driverPath, '..', driverPath.endsWith('.ts') ? 'sender.ts' : 'sender.js');

async function send(lan: Lan, hops: number, priority: number, count: number): Promise<void> {
  const child = lan.ka.spawn([
    ...nodeArgv,
    senderPath,
    'eth0',
    String(hops),
    '51',
    String(priority),
    '100',
    String(count),
    '20',
    VIP6,
  ]);
  lan.children.push(child);
  const out = captureOutput(child);
  await waitFor(() => child.exitCode !== null, { timeoutMs: 10_000, what: `sender: ${out.text()}` });
  assert.equal(child.exitCode, 0, `sender failed: ${out.text()}`);
}

test('v3 IPv6: adverts with hop limit != 255 are dropped and counted as ip_ttl_err; 255 is accepted', {
  skip: isRoot() ? false : 'needs root (network namespaces)',
  timeout: 60_000,
}, async () => {
  const lan = makeLan('vrhop');
  try {
    const a = await startAgent(
      lan,
      agentConfig({ version: 3, priority: 100, intervalMs: 100, vips: [`${VIP6}/64`] }),
    );
    await a.waitState('master', 3000);
    // Byte 7 of the IPv6 header is the hop limit: the capture holds only the bad adverts.
    const cap = await capture(lan, lan.lb, 'ip6 proto 112 and ip6[7] != 255');
    const before = (await a.status()).stats;

    await send(lan, 64, 200, 5);
    await waitFor(async () => (await a.status()).stats.ip_ttl_err >= 5, {
      timeoutMs: 3000,
      what: 'ip_ttl_err counted for the hop limit 64 adverts',
    });
    let st = await a.status();
    assert.equal(st.stats.ip_ttl_err - before.ip_ttl_err, 5, 'each bad advert counted once');
    assert.equal(st.stats.advert_rcvd, before.advert_rcvd, 'none reached the state machine');
    assert.equal(st.state, 'master', 'a priority 200 advert with hop limit 64 does not win');
    await waitFor(() => cap.lines().filter((l) => / > ff02::12: .*VRRPv3/.test(l)).length >= 5, {
      timeoutMs: 2000,
      what: `the hop limit 64 adverts on the wire:\n${cap.lines().join('\n')}`,
    });

    await send(lan, 255, 200, 3);
    await a.waitState('backup', 3000);
    st = await a.status();
    assert.equal(st.stats.ip_ttl_err - before.ip_ttl_err, 5, 'hop limit 255 is not counted');
    assert.ok(st.stats.advert_rcvd >= before.advert_rcvd + 1, 'hop limit 255 adverts received');
    assert.equal(st.masterSeen?.priority, 200);
    await cap.stop();
    await a.stop();
  } finally {
    await lan.cleanup();
  }
});
