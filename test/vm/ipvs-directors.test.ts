// Two directors, same backend set, different histories: the agent's destination ordering must give
// both the same Maglev table. Each director gets SYNs from the same 1,000 client source addresses
// (real packets; the scheduling decision is read from the IPVS connection table, so backends need
// not answer) and every source must map to the same backend on both.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createNetns, destroyNetns, type Netns, uniq, veth } from '../lib/netns.js';
import { Driver, ipvsConnections, nsRun, probe, skipReason, writeTemp } from './lib.js';

const VIP = '10.40.0.100';
const N_SOURCES = 1000;
const BACKENDS = Array.from({ length: 10 }, (_, i) => `10.50.0.${11 + i}`);
const SOURCES = Array.from({ length: N_SOURCES }, (_, i) => `10.30.${Math.floor(i / 250)}.${(i % 250) + 1}`);

const configWith = (addrs: string[], extra = '') => `
log: { level: warn }
ipvs:
  services:
    - name: web
      vip: ${VIP}
      port: 80
      forwarding: nat
      mhFallback: true
${extra}
      backends:
${addrs.map((a) => `        - { address: ${a} }`).join('\n')}
`;

function addSources(client: Netns): void {
  const batch = SOURCES.map((a) => `addr add ${a}/32 dev c0`).join('\n');
  client.exec(['ip', '-batch', '-'], { input: `${batch}\n` });
}

/** Sends one SYN per source address from source port `port`; returns source address → backend. */
function schedule(client: Netns, director: Netns, port: number): Map<string, string> {
  probe(client, {
    host: VIP,
    port: 80,
    mode: 'syn',
    timeoutMs: 1500,
    concurrency: 200,
    sources: SOURCES.map((address) => ({ address, port })),
  });
  const out = new Map<string, string>();
  for (const [src, dest] of ipvsConnections(director)) {
    const [addr, p] = src.split(':');
    if (Number(p) === port) out.set(addr, dest);
  }
  return out;
}

function diff(a: Map<string, string>, b: Map<string, string>): number {
  let n = 0;
  for (const s of SOURCES) if (a.get(s) !== b.get(s)) n++;
  return n;
}

describe('two directors, one Maglev table (VM)', { skip: skipReason() }, () => {
  const id = uniq();
  let c1: Netns;
  let d1: Netns;
  let c2: Netns;
  let d2: Netns;
  const drivers: Driver[] = [];

  before(() => {
    [c1, d1, c2, d2] = createNetns(
      `lbt-ipvs-c1-${id}`,
      `lbt-ipvs-d1-${id}`,
      `lbt-ipvs-c2-${id}`,
      `lbt-ipvs-d2-${id}`,
    );
    for (const [c, d] of [
      [c1, d1],
      [c2, d2],
    ] as const) {
      veth(c, 'c0', d, 'd0');
      c.ip('addr add 10.30.255.1/16 dev c0');
      addSources(c);
      d.ip('addr add 10.30.255.254/16 dev d0');
      d.ip(`addr add ${VIP}/32 dev lo`);
      c.ip(`route add ${VIP}/32 via 10.30.255.254`);
      d.ip('link add dum0 type dummy');
      d.ip('addr add 10.50.0.1/16 dev dum0');
      d.ip('link set dum0 up');
      nsRun(d, ['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    }
  });

  after(() => {
    for (const d of drivers) d.child.kill('SIGKILL');
    destroyNetns(c1, d1, c2, d2);
  });

  it('same backends, different histories → identical choice for 1,000 sources', async () => {
    // Director 2 starts from a table built by hand in another order (e.g. left by keepalived or an
    // older agent): destinations added lowest first, so the kernel list is the reverse of director 1's.
    nsRun(d2, ['ipvsadm', '-A', '-t', `${VIP}:80`, '-s', 'mh', '-b', 'mh-fallback']);
    for (const a of [...BACKENDS].reverse())
      nsRun(d2, ['ipvsadm', '-a', '-t', `${VIP}:80`, '-r', `${a}:80`, '-m', '-w', '1']);

    // Director 1: fresh agent with all ten backends.
    const full = writeTemp('full.yaml', configWith(BACKENDS));
    const one = new Driver(d1, full, `/run/lbagent/lbt-d1-${id}.json`);
    drivers.push(one);
    await one.ready();
    const m1 = schedule(c1, d1, 40001);
    assert.equal(m1.size, N_SOURCES, 'director 1 scheduled every source');
    const used = new Set(m1.values());
    console.log(`# director 1 spread: ${used.size} of ${BACKENDS.length} backends used`);
    assert.equal(used.size, BACKENDS.length);

    // Baseline: the hand-built table on director 2, before the agent touches it.
    const before2 = schedule(c2, d2, 40001);
    const baseline = diff(m1, before2);
    console.log(
      `# without the agent's ordering (reverse insertion order): ${baseline} of ${N_SOURCES} sources differ`,
    );

    // Director 2's agent history: start with a subset in shuffled config order, grow to all ten,
    // drop one from the config and bring it back, quiesce one (weight 0) and restore, restart.
    const shuffled = [BACKENDS[7], BACKENDS[2], BACKENDS[9], BACKENDS[0], BACKENDS[5], BACKENDS[3]];
    const two = new Driver(
      d2,
      writeTemp('subset.yaml', configWith(shuffled)),
      `/run/lbagent/lbt-d2-${id}.json`,
    );
    drivers.push(two);
    await two.ready();
    await two.cmd({ cmd: 'reload', config: writeTemp('full2.yaml', configWith([...BACKENDS].reverse())) });
    await two.cmd({
      cmd: 'reload',
      config: writeTemp('minus.yaml', configWith(BACKENDS.filter((a) => a !== BACKENDS[4]))),
    });
    await two.cmd({ cmd: 'reload', config: full });
    await two.cmd({ cmd: 'fact', key: `backend:web/${BACKENDS[6]}:80`, fact: { up: false } });
    await two.cmd({ cmd: 'fact', key: `backend:web/${BACKENDS[6]}:80`, fact: { up: true } });
    await two.kill('SIGKILL');
    const again = new Driver(d2, full, `/run/lbagent/lbt-d2-${id}.json`);
    drivers.push(again);
    const r = await again.ready();
    assert.equal(r.status.lastReconcile.writes, 0, 'restart writes nothing');

    const st1 = (await one.cmd({ cmd: 'refresh' })).status.services[0].dests.map(
      (d: { address: string }) => d.address,
    );
    const st2 = r.status.services[0].dests.map((d: { address: string }) => d.address);
    assert.deepEqual(st2, st1, 'same kernel list order on both directors');

    const m2 = schedule(c2, d2, 40002);
    assert.equal(m2.size, N_SOURCES, 'director 2 scheduled every source');
    const differing = diff(m1, m2);
    console.log(
      `# with the agent's ordering, after different histories: ${differing} of ${N_SOURCES} sources differ`,
    );
    assert.equal(differing, 0);
  });
});
