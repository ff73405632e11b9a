// TUN forwarding (IPIP): the director encapsulates, the backend decapsulates on tunl0 and answers
// the client directly with the VIP as source.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createNetns, destroyNetns, type Netns, uniq, veth, waitFor } from '../lib/netns.js';
import { countBy, Driver, fixture, nsRun, probe, skipReason, writeTemp } from './lib.js';

const VIP = '10.10.0.100';

describe('IPVS TUN ipip (VM)', { skip: skipReason() }, () => {
  const id = uniq();
  let client: Netns;
  let director: Netns;
  let backends: Netns[] = [];
  let driver: Driver | undefined;

  before(async () => {
    [client, director, ...backends] = createNetns(
      `lbt-ipvs-tc-${id}`,
      `lbt-ipvs-td-${id}`,
      `lbt-ipvs-t1-${id}`,
      `lbt-ipvs-t2-${id}`,
    );
    veth(client, 'c0', director, 'd0');
    client.ip('addr add 10.10.0.2/24 dev c0');
    director.ip('addr add 10.10.0.1/24 dev d0');
    director.ip(`addr add ${VIP}/32 dev lo`);
    client.ip(`route add ${VIP}/32 via 10.10.0.1`);
    nsRun(director, [
      'sysctl',
      '-qw',
      'net.ipv4.ip_forward=1',
      'net.ipv4.conf.all.accept_local=1',
      'net.ipv4.conf.all.rp_filter=0',
    ]);
    nsRun(director, ['modprobe', 'ipip']);
    for (const [i, b] of backends.entries()) {
      veth(director, `t${i + 1}`, b, 'e0');
      director.ip(`addr add 10.21.${i + 1}.1/24 dev t${i + 1}`);
      b.ip(`addr add 10.21.${i + 1}.2/24 dev e0`);
      b.ip(`route add default via 10.21.${i + 1}.1`);
      // The ipip fallback device decapsulates; the VIP on it makes the inner packet local.
      b.ip('link set tunl0 up');
      b.ip(`addr add ${VIP}/32 dev tunl0`);
      nsRun(b, ['sysctl', '-qw', 'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.tunl0.rp_filter=0']);
      const srv = b.spawn(['node', fixture('backend'), `t${i + 1}`, '82']);
      let out = '';
      srv.stdout!.on('data', (d) => {
        out += d;
      });
      await waitFor(() => out.includes('listening'), { timeoutMs: 60_000, what: 'tun backend listening' });
    }
  });

  after(() => {
    driver?.child.kill('SIGKILL');
    destroyNetns(client, director, ...backends);
  });

  it('mh + mh-port over IPIP reaches both backends and the replies come back', async () => {
    const cfg = writeTemp(
      'tun.yaml',
      `
log: { level: warn }
ipvs:
  services:
    - name: webtun
      vip: ${VIP}
      port: 82
      mhPort: true
      mhFallback: true
      forwarding: tun
      tunnel: { type: ipip }
      backends:
        - { address: 10.21.1.2 }
        - { address: 10.21.2.2 }
`,
    );
    driver = new Driver(director, cfg, `/run/lbagent/lbt-tun-${id}.json`);
    const r = await driver.ready();
    assert.deepEqual(r.status.lastReconcile.errors, []);
    assert.deepEqual(
      r.status.services[0].dests.map(
        (d: { forwarding: string; tunnelType?: string }) => `${d.forwarding}/${d.tunnelType}`,
      ),
      ['tun/ipip', 'tun/ipip'],
    );
    const res = probe(client, {
      host: VIP,
      port: 82,
      sources: Array.from({ length: 40 }, (_, i) => ({ port: 23000 + i })),
    });
    const counts = countBy(res, (x) => x.backend ?? 'none');
    console.log('# TUN ipip spread over 40 source ports:', JSON.stringify(counts));
    assert.equal(counts.none, undefined);
    assert.ok(counts.t1 > 0 && counts.t2 > 0);
  });
});
