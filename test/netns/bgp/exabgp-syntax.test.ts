// Every attribute form the policy renders is accepted by the real ExaBGP (acked `done`), through
// the real bridge: announcements with neighbor selection, path-information, communities of all
// three kinds, as-path, local-preference, explicit next-hop, IPv6; then the drained forms.
// ExaBGP runs in an isolated namespace (its peers are unreachable; commands go to its RIB).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  captureOutput,
  createNetns,
  destroyNetns,
  isRoot,
  stopChild,
  uniq,
  waitFor,
} from '../../lib/netns.js';
import { EXABGP_ENV } from './lab.js';

const here = dirname(fileURLToPath(import.meta.url));
const repo = here.includes('/dist/') ? resolve(here, '../../../..') : resolve(here, '../../..');
const dist = join(repo, 'dist');

interface Status {
  counters: { acksDone: number; acksError: number };
  announcements: {
    prefix: string;
    state: string;
    acked: boolean;
    command: string;
    lastAck: { ok: boolean } | null;
  }[];
}

describe('ExaBGP accepts every command form lbagent renders', {
  skip: !isRoot() ? 'needs root' : false,
  timeout: 60_000,
}, () => {
  const [ns] = createNetns(`lbt-bgp-syn-${uniq()}`);
  const dir = mkdtempSync(join(tmpdir(), 'lbt-bgpsyn-'));
  after(() => {
    destroyNetns(ns);
    rmSync(dir, { recursive: true, force: true });
  });

  it('announces, drains and acks with no error', async () => {
    ns.ip('addr add 10.0.1.2/32 dev lo');
    ns.ip('addr add 10.0.2.2/32 dev lo');
    writeFileSync(
      join(dir, 'lbagent.yaml'),
      `control: { socket: ${join(dir, 'lbagent.sock')} }
metrics: { enabled: false }
maintenance: { disableFile: ${join(dir, 'disable')} }
bgp:
  announcements:
    - { prefix: 192.0.2.10/32 }
    - prefix: 192.0.2.11/32
      nextHop: 10.0.1.2
      neighbors: [10.0.1.1]
      attributes: { localPreference: 200, communities: ['65000:1', no-export], largeCommunities: ['65000:1:2'], extendedCommunities: ['target:65000:1'], asPath: [65001, 65001] }
      disabled: { communities: ['65000:666'] }
    - { prefix: 192.0.2.12/32, neighbors: [10.0.1.1, 10.0.2.1], pathId: 7, withdrawOnDisabled: true }
    - { prefix: '2001:db8::10/128', med: { up: 10, disabled: 20 } }
`,
    );
    writeFileSync(
      join(dir, 'exabgp.conf'),
      `process lbagent { run /usr/bin/node ${join(dist, 'agent/main.js')} exabgp-bridge --socket ${join(dir, 'exabgp.sock')}; encoder text; }
template { neighbor t { local-as 65001; peer-as 65000; family { ipv4 unicast; ipv6 unicast; } api { processes [ lbagent ]; } } }
neighbor 10.0.1.1 { inherit t; router-id 10.0.1.2; local-address 10.0.1.2; }
neighbor 10.0.2.1 { inherit t; router-id 10.0.1.2; local-address 10.0.2.2; }
`,
    );
    const agent = ns.spawn([
      'node',
      join(dist, 'agent/main.js'),
      'run',
      '--config',
      join(dir, 'lbagent.yaml'),
    ]);
    const agentOut = captureOutput(agent);
    await waitFor(() => agentOut.text().includes('lbagent running'), { timeoutMs: 15_000, what: 'lbagent' });
    const exabgp = ns.spawn(['exabgp', join(dir, 'exabgp.conf')], {
      env: EXABGP_ENV,
      cwd: dir,
    });
    const exaOut = captureOutput(exabgp);
    const status = () =>
      JSON.parse(
        ns.exec(['node', join(dist, 'cli/lbctl.js'), '-s', join(dir, 'lbagent.sock'), '--json', 'bgp']),
      ) as Status;
    try {
      await waitFor(() => status().announcements.every((a) => a.acked), {
        timeoutMs: 20_000,
        what: 'all acked',
      });
      let st = status();
      assert.equal(st.counters.acksError, 0);
      assert.deepEqual(
        st.announcements.map((a) => a.command),
        [
          'announce route 192.0.2.10/32 next-hop self med 100',
          'neighbor 10.0.1.1 announce route 192.0.2.11/32 next-hop 10.0.1.2 med 100 local-preference 200 community [ 65000:1 no-export ] extended-community [ target:65000:1 ] large-community [ 65000:1:2 ] as-path [ 65001 65001 ]',
          'neighbor 10.0.1.1, neighbor 10.0.2.1 announce route 192.0.2.12/32 next-hop self med 100 path-information 7',
          'announce route 2001:db8::10/128 next-hop self med 10',
        ],
      );
      writeFileSync(join(dir, 'disable'), 'reason: syntax test\n');
      await waitFor(() => status().announcements.every((a) => a.state === 'disabled' && a.acked), {
        timeoutMs: 10_000,
        what: 'drained forms acked',
      });
      st = status();
      assert.equal(st.counters.acksError, 0);
      assert.deepEqual(
        st.announcements.map((a) => a.command),
        [
          'announce route 192.0.2.10/32 next-hop self med 500',
          'neighbor 10.0.1.1 announce route 192.0.2.11/32 next-hop 10.0.1.2 med 500 local-preference 200 community [ 65000:666 ] extended-community [ target:65000:1 ] large-community [ 65000:1:2 ] as-path [ 65001 65001 ]',
          'neighbor 10.0.1.1, neighbor 10.0.2.1 withdraw route 192.0.2.12/32 next-hop self path-information 7',
          'announce route 2001:db8::10/128 next-hop self med 20',
        ],
      );
    } catch (err) {
      console.error(exaOut.text().slice(-4000), agentOut.text().slice(-3000));
      throw err;
    } finally {
      await stopChild(exabgp, 'SIGTERM', 2000);
      await stopChild(agent, 'SIGTERM', 2000);
    }
  });
});
