// Real ExaBGP 4.2 + BIRD 2 in namespaces, the real agent and bridge: faults the world throws
// (issues 15.3, 16.3, 16.5). An IPv6 announcement no neighbor carries is REJECTED, not "acked";
// the bridge socket removed is re-created and a restarted ExaBGP gets the routes back; the bridge
// says so while it cannot reach the agent; ExaBGP SIGKILLed: the bridge exits at once without
// blaming the agent or dying on EPIPE; after an agent restart the neighbors are shown at once.
import assert from 'node:assert/strict';
import { existsSync, unlinkSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { isRoot, stopChild, waitFor } from '../../lib/netns.js';
import { BgpLab } from './lab.js';

const VIP4 = '192.0.2.11';
const VIP6 = '2001:db8::11';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('BGP faults with real ExaBGP and BIRD', {
  skip: !isRoot() && 'needs root',
  timeout: 240_000,
}, () => {
  const lab = new BgpLab({
    families: 'ipv4 unicast;',
    agentYaml: `bgp:
  stopGrace: 10s
  announcements:
    - { prefix: ${VIP4}/32 }
    - { prefix: ${VIP6}/128 }
`,
  });
  const ann = (p: string) => lab.bgp().announcements.find((a) => a.prefix === p);

  before(async () => {
    await lab.setUp();
    await waitFor(() => lab.routerMed(`${VIP4}/32`) === 100, {
      timeoutMs: 30_000,
      what: 'IPv4 VIP at the router',
    }).catch((err) => {
      throw new Error(`${err.message}\n${lab.dump()}`);
    });
  });
  after(() => lab.tearDown());

  it('an IPv6 announcement with only ipv4 unicast configured is REJECTED, never "acked"', async () => {
    const v6 = await waitFor(() => (ann(`${VIP6}/128`)?.rejected ? ann(`${VIP6}/128`) : undefined), {
      timeoutMs: 10_000,
      what: 'IPv6 rejected',
    }).catch((err) => {
      throw new Error(`${err.message}\n${JSON.stringify(lab.bgp(), null, 2)}`);
    });
    assert.equal(v6.acked, false);
    assert.equal(v6.onWire, false);
    assert.equal(v6.wire, 'rejected: ipv6 unicast not configured on any neighbor');
    const v4 = ann(`${VIP4}/32`);
    assert.equal(v4?.onWire, true, JSON.stringify(v4));
    assert.match(lab.lbctl(['bgp']), /2001:db8::11\/128 +up +announced REJECTED/);
    // (Output of the children is read between the synchronous lbctl calls: wait for it.)
    await waitFor(
      () =>
        /"event":"announcement_rejected".*ipv6 unicast not configured on any neighbor/.test(
          lab.agentOut?.text() ?? '',
        ),
      { timeoutMs: 5_000, what: 'the rejection logged' },
    );
    // ExaBGP itself only logs it, and acked `done`.
    await waitFor(() => /the route family is not configured on neighbor/.test(lab.exabgpOut?.text() ?? ''), {
      timeoutMs: 5_000,
      what: "ExaBGP's own log line",
    });
    // lbctl drain --wait completes (nothing of it attracts traffic) and says so.
    const out = lab.lbctl(['drain', '--wait', '--timeout', '15s'], { stderr: true });
    assert.match(out, /drained: announcements ok \(2\/2 acked, 1 never on the wire\)/);
    assert.match(out, /note: 2001:db8::11\/128: never on the wire \(rejected: ipv6 unicast not configured/);
    await waitFor(() => lab.routerMed(`${VIP4}/32`) === 500, {
      timeoutMs: 10_000,
      what: 'disabled MED at the router',
    });
    lab.lbctl(['undrain']);
    await waitFor(() => lab.routerMed(`${VIP4}/32`) === 100, { timeoutMs: 10_000, what: 'MED 100 again' });
  });

  it('after an agent restart lbctl bgp shows the neighbors (session up) at once', async () => {
    await stopChild(lab.agent!, 'SIGKILL', 1000);
    await lab.startAgent();
    const st = await waitFor(
      () => {
        const s = lab.bgp();
        return s.bridges.length > 0 && s.bridges[0].neighbors[lab.routerAddr] ? s : undefined;
      },
      { timeoutMs: 10_000, what: 'neighbors after restart' },
    );
    assert.equal(st.bridges[0].neighbors[lab.routerAddr].state, 'up');
    assert.deepEqual(st.bridges[0].neighbors[lab.routerAddr].families, ['ipv4 unicast']);
    await waitFor(() => ann(`${VIP4}/32`)?.onWire, { timeoutMs: 10_000, what: 'on the wire again' });
  });

  it('the bridge socket removed: the agent listens again; a restarted ExaBGP gets the routes back', async () => {
    unlinkSync(lab.bridgeSocket);
    await waitFor(() => existsSync(lab.bridgeSocket), { timeoutMs: 10_000, what: 'socket re-created' });
    await waitFor(() => /"event":"bridge_socket_missing"/.test(lab.agentOut?.text() ?? ''), {
      timeoutMs: 5_000,
      what: 'logged',
    });
    await stopChild(lab.exabgp!, 'SIGKILL', 1000);
    await waitFor(() => lab.routerMed(`${VIP4}/32`) === undefined, {
      timeoutMs: 20_000,
      what: 'session gone',
    });
    lab.startExabgp();
    await waitFor(() => lab.routerMed(`${VIP4}/32`) === 100, {
      timeoutMs: 30_000,
      what: 'routes back after the ExaBGP restart',
    }).catch((err) => {
      throw new Error(`${err.message}\n${lab.dump()}`);
    });
  });

  it('the bridge logs while it cannot reach the agent, and reconnects', async () => {
    await stopChild(lab.agent!, 'SIGKILL', 1000);
    await waitFor(
      () =>
        /cannot reach the agent at .*exabgp\.sock \((ECONNREFUSED|ENOENT)\)/.test(
          lab.exabgpOut?.text() ?? '',
        ),
      {
        timeoutMs: 10_000,
        what: 'the bridge saying it cannot reach the agent',
      },
    );
    await lab.startAgent();
    await waitFor(
      () => /connected to agent at .* after \d+ failed attempt/.test(lab.exabgpOut?.text() ?? ''),
      {
        timeoutMs: 10_000,
        what: 'the bridge reconnecting',
      },
    );
    await waitFor(() => ann(`${VIP4}/32`)?.onWire, { timeoutMs: 10_000, what: 'on the wire again' });
  });

  it('ExaBGP SIGKILLed: the bridge exits at once, without "agent gone" and without an EPIPE crash', async () => {
    const bridgePid = lab.bgp().bridges[0].pid;
    assert.ok(bridgePid > 0 && alive(bridgePid));
    const before = (lab.exabgpOut?.text() ?? '').length;
    await stopChild(lab.exabgp!, 'SIGKILL', 1000);
    // stopGrace is 10 s: a bridge waiting out the grace would still be there.
    await waitFor(() => !alive(bridgePid), { timeoutMs: 3_000, what: 'the bridge to exit' });
    await new Promise((r) => setTimeout(r, 300));
    const said = (lab.exabgpOut?.text() ?? '').slice(before);
    assert.match(said, /ExaBGP closed our stdin; exiting|ExaBGP's pipe broke/);
    assert.doesNotMatch(said, /agent gone/);
    assert.doesNotMatch(said, /EPIPE|Unhandled|at .*\.js:\d+/);
    lab.startExabgp();
    await waitFor(() => lab.routerMed(`${VIP4}/32`) === 100, {
      timeoutMs: 30_000,
      what: 'back after restart',
    });
  });
});
