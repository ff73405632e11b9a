// Issue 16.4 with the real thing: fast flaps of the disable file must leave the router (BIRD) on
// the agent's final state, and the agent must not report a state as acked that the router does
// not end on. ExaBGP 4.2.21 sends both of two changes of one prefix queued before its peer loop
// runs, in insertion order, so relaying every intermediate state left the router on MED 100
// while the agent said "disabled, MED 500, acked". Rounds: 10 x (touch; rm), 1 ms apart; every
// other round ends with one more touch, so the final state alternates (undrained / drained).
// LBT_FLAP_ROUNDS sets the number of rounds (default 100).
import assert from 'node:assert/strict';
import { unlinkSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { isRoot, waitFor } from '../../lib/netns.js';
import { BgpLab, spinMs } from './lab.js';

const VIP = '192.0.2.11';
const ROUNDS = Number(process.env.LBT_FLAP_ROUNDS ?? 100);

describe('fast disable-file flaps against a real router', {
  skip: !isRoot() && 'needs root',
  timeout: 900_000,
}, () => {
  const lab = new BgpLab({
    families: 'ipv4 unicast;',
    agentYaml: `bgp:
  stopGrace: 0s
  announcements:
    - { prefix: ${VIP}/32 }
`,
  });
  const ann = () => lab.bgp().announcements.find((a) => a.prefix === `${VIP}/32`);

  before(async () => {
    await lab.setUp();
    await waitFor(() => lab.routerMed(`${VIP}/32`) === 100, {
      timeoutMs: 30_000,
      what: 'VIP at the router',
    }).catch((err) => {
      throw new Error(`${err.message}\n${lab.dump()}`);
    });
  });
  after(() => lab.tearDown());

  it(`the router converges on the agent's final state in ${ROUNDS} of ${ROUNDS} rounds`, async () => {
    let converged = 0;
    const failures: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < 10; i++) {
        writeFileSync(lab.disableFile, '');
        spinMs(1);
        unlinkSync(lab.disableFile);
        spinMs(1);
      }
      const drained = round % 2 === 1;
      if (drained) writeFileSync(lab.disableFile, '');
      const want = drained ? 500 : 100;
      // The agent's own claim first: its final state, reported as acked (checked in ExaBGP).
      const a = await waitFor(
        () => {
          const x = ann();
          return x?.acked && x.state === (drained ? 'disabled' : 'up') ? x : undefined;
        },
        { timeoutMs: 15_000, intervalMs: 20, what: `round ${round}: agent acked its final state` },
      );
      assert.equal(a.attributes.med, want);
      // Then the router: it must end on what the agent says, and stay there.
      let med: number | undefined;
      try {
        await waitFor(
          () => {
            med = lab.routerMed(`${VIP}/32`);
            return med === want;
          },
          { timeoutMs: 5_000, intervalMs: 10 },
        );
        await new Promise((r) => setTimeout(r, 300));
        med = lab.routerMed(`${VIP}/32`);
        if (med === want) converged++;
        else failures.push(`round ${round}: router moved to MED ${med} after reaching ${want}`);
      } catch {
        failures.push(`round ${round}: agent says MED ${want} acked, router has ${med ?? 'no route'}`);
      }
      if (drained) unlinkSync(lab.disableFile);
    }
    const st = lab.bgp();
    console.log(
      `# flap convergence: ${converged}/${ROUNDS} rounds (agent: ${st.counters.cycles} cycles, ${st.counters.coalesced} changes coalesced, ${st.counters.commandsSent} commands)`,
    );
    assert.equal(converged, ROUNDS, failures.slice(0, 10).join('\n'));
  });
});
